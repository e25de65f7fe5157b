public import AsyncHTTPClient
public import BlobStore
import ExhibitCrypto
public import Foundation
public import NIOCore
import NIOHTTP1

/// Where chunks and manifests live in S3-compatible object storage: `s3://bucket/prefix` at an endpoint.
public struct S3Location: Sendable, Equatable {
    public var endpoint: URL
    public var bucket: String
    /// Prepended to every object name (`prefix/chunks/ab/cd/<hex>`); empty for the bucket's root.
    public var prefix: String
    public var region: String
    public var accessKey: String
    public var secretKey: String

    public init(endpoint: URL, bucket: String, prefix: String = "", region: String = "us-east-1", accessKey: String, secretKey: String) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// Parses `s3://bucket[/prefix]`; the keys come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and the
    /// region from `AWS_REGION`) unless given.
    public static func parse(
        _ url: String, endpoint: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(BlobStoreError) -> S3Location {
        guard url.hasPrefix("s3://") else { throw BlobStoreError(.unavailable, "'\(url)' is not an s3://bucket/prefix address") }
        let rest = url.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        guard bucket.range(of: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", options: .regularExpression) != nil else {
            throw BlobStoreError(.unavailable, "'\(bucket)' is not a valid bucket name")
        }
        guard let endpointURL = URL(string: endpoint), let scheme = endpointURL.scheme, ["http", "https"].contains(scheme), endpointURL.host != nil else {
            throw BlobStoreError(.unavailable, "'\(endpoint)' is not an http(s) endpoint URL")
        }
        guard let access = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"], !access.isEmpty, !secret.isEmpty else {
            throw BlobStoreError(.unavailable, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the object store")
        }
        return S3Location(
            endpoint: endpointURL, bucket: bucket, prefix: String(rest.dropFirst(bucket.count)),
            region: environment["AWS_REGION"] ?? "us-east-1", accessKey: access, secretKey: secret)
    }
}

/// Chunks and manifests as objects in an S3-compatible store (AWS, Ceph RADOS Gateway, MinIO), named as on disk.
///
/// Every PUT carries the payload's SHA-256 in its signature (for a chunk that is its name), so the store
/// rejects bytes that changed on the way; objects are written with `If-None-Match: *`, so one is never
/// replaced (`repair` aside). An object is durable when its PUT returns, so a batch commits trivially. Requests
/// are retried with backoff on 5xx answers and network failures.
public final class S3Backend: ObjectBackend {
    public let location: S3Location
    let client: HTTPClient
    let signer: S3Signer
    let host: String
    static let attempts = 5

    /// The client of every backend in the process. Its connect timeout is short because AsyncHTTPClient retries a
    /// refused connection until that timeout, not failing at once: a stopped gateway must turn into a clear
    /// error within seconds, after the retries below.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(60))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(location: S3Location, client: HTTPClient = S3Backend.sharedClient) {
        self.location = location
        self.client = client
        self.signer = S3Signer(accessKey: location.accessKey, secretKey: location.secretKey, region: location.region)
        let port = location.endpoint.port.map { ":\($0)" } ?? ""
        self.host = (location.endpoint.host ?? "") + port
    }

    /// `relative` under the prefix (the object name in the bucket).
    func prefixed(_ relative: String) -> String { location.prefix.isEmpty ? relative : location.prefix + "/" + relative }

    func objectName(_ key: ObjectKey) -> String { prefixed(key.path) }

    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: ByteBuffer
    }

    /// One signed request, retried on 5xx and network failures.
    func send(
        _ method: HTTPMethod, object: String?, query: [(String, String)] = [], headers: [String: String] = [:],
        body: ByteBuffer? = nil, payloadSHA256: String? = nil, maxBody: Int = 64 << 20
    ) async throws -> Response {
        var path = "/" + S3Signer.encode(location.bucket, keepSlash: false)
        if let object { path += "/" + S3Signer.encode(object, keepSlash: true) }
        let base = location.endpoint.absoluteString.hasSuffix("/") ? String(location.endpoint.absoluteString.dropLast()) : location.endpoint.absoluteString
        let queryText = query.map { "\(S3Signer.encode($0.0, keepSlash: false))=\(S3Signer.encode($0.1, keepSlash: false))" }.joined(separator: "&")
        let url = base + path + (queryText.isEmpty ? "" : "?" + queryText)
        let payload = payloadSHA256 ?? (body.map { buffer in buffer.withUnsafeReadableBytes { SHA256.hash($0).hex } } ?? SHA256.hash([UInt8]()).hex)
        var lastError: (any Error)?
        for attempt in 0..<Self.attempts {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(100 << min(attempt, 6))) }
            var request = HTTPClientRequest(url: url)
            request.method = method
            var lower: [String: String] = [:]
            for (name, value) in headers { lower[name.lowercased()] = value }
            for (name, value) in signer.sign(method: method.rawValue, host: host, path: path, query: query, headers: lower, payloadSHA256: payload) {
                request.headers.add(name: name, value: value)
            }
            for (name, value) in lower { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(body) }
            do {
                let response = try await client.execute(request, timeout: .seconds(60))
                let bytes = try await response.body.collect(upTo: maxBody)
                let status = Int(response.status.code)
                if status >= 500 {
                    lastError = BlobStoreError(.unavailable, "the object store answered \(status) to \(method) \(object ?? location.bucket)")
                    continue
                }
                return Response(status: status, headers: response.headers, body: bytes)
            } catch {
                lastError = error
            }
        }
        throw BlobStoreError(.unavailable, "the object store at \(location.endpoint.absoluteString) is unavailable: \(lastError.map { "\($0)" } ?? "?")")
    }

    /// A clear error for an answer that is neither success nor an expected status.
    func failure(_ response: Response, _ what: String) -> BlobStoreError {
        let text = String(buffer: response.body)
        let code = text.range(of: "(?<=<Code>)[^<]+", options: .regularExpression).map { String(text[$0]) } ?? "\(response.status)"
        switch code {
        case "NoSuchBucket":
            return BlobStoreError(.unavailable, "the bucket '\(location.bucket)' does not exist at \(location.endpoint.absoluteString)")
        case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied":
            return BlobStoreError(.permissionDenied, "the object store refused the credentials for \(what) (\(code))")
        default:
            return BlobStoreError(.io, "the object store answered \(response.status) (\(code)) to \(what)")
        }
    }

    /// Checks that the bucket is there and the keys work (a start-up check).
    public func checkAvailable() async throws {
        let response = try await send(.HEAD, object: nil)
        guard response.status == 200 else {
            if response.status == 404 { throw BlobStoreError(.unavailable, "the bucket '\(location.bucket)' does not exist at \(location.endpoint.absoluteString)") }
            if response.status == 403 { throw BlobStoreError(.permissionDenied, "the object store refused the credentials (403)") }
            throw failure(response, "HEAD of the bucket")
        }
    }

    /// Creates the bucket (tests and first setup); no error when it exists and is ours.
    public func createBucket() async throws {
        let response = try await send(.PUT, object: nil)
        guard response.status == 200 || String(buffer: response.body).contains("BucketAlreadyOwnedByYou") else {
            throw failure(response, "creating the bucket")
        }
    }

    public func batch() -> any ObjectBatch { S3Batch(backend: self) }

    /// Reads kept in flight by a blob reader: each is a round trip, so several overlap (about 8 MiB of 1 MiB
    /// pieces).
    public var readAhead: Int { 8 }

    func put(_ key: ObjectKey, parts: [ByteBuffer], length: Int, onlyIfAbsent: Bool) async throws -> Bool {
        var body = ByteBuffer()
        body.reserveCapacity(length)
        for part in parts { body.writeImmutableBuffer(part) }
        // A chunk's name is the SHA-256 of its bytes: the signature commits to exactly those bytes.
        let payload = key.kind == .chunk ? key.digest.hex : nil
        let response = try await send(
            .PUT, object: objectName(key), headers: onlyIfAbsent ? ["If-None-Match": "*"] : [:], body: body, payloadSHA256: payload)
        switch response.status {
        case 200: return true
        case 412: return false  // already there: never replaced
        default: throw failure(response, "PUT \(key)")
        }
    }

    public func read(_ key: ObjectKey, offset: Int64, length: Int) async throws -> ByteBuffer {
        guard let bytes = try await read(object: objectName(key), offset: offset, length: length, what: key.description) else {
            throw BlobStoreError(.missingChunk, "\(key) is not in the object store")
        }
        return bytes
    }

    public func size(of key: ObjectKey) async throws -> Int64? {
        try await size(object: objectName(key), what: key.description)
    }

    public func delete(_ key: ObjectKey) async throws {
        try await delete(object: objectName(key), what: key.description)
    }

    /// `length` bytes of an object from `offset` (fewer at its end), or nil when it is not there.
    func read(object: String, offset: Int64, length: Int, what: String) async throws -> ByteBuffer? {
        guard length > 0 else { return ByteBuffer() }
        // Room for an error's XML body, whatever the length asked for.
        let response = try await send(
            .GET, object: object, headers: ["Range": "bytes=\(offset)-\(offset + Int64(length) - 1)"], maxBody: max(length + 1, 64 << 10))
        switch response.status {
        case 200, 206: return response.body
        case 416: return ByteBuffer()
        case 404: return nil
        default: throw failure(response, "GET \(what)")
        }
    }

    /// An object's size, or nil when it is not there.
    func size(object: String, what: String) async throws -> Int64? {
        let response = try await send(.HEAD, object: object)
        switch response.status {
        case 200: return response.headers.first(name: "Content-Length").flatMap { Int64($0) }
        case 404: return nil
        default: throw failure(response, "HEAD \(what)")
        }
    }

    /// Removes an object; no error when it is already gone.
    func delete(object: String, what: String) async throws {
        let response = try await send(.DELETE, object: object)
        guard [200, 204, 404].contains(response.status) else { throw failure(response, "DELETE \(what)") }
    }

    public func keys(_ kind: ObjectKey.Kind) -> AsyncThrowingStream<ObjectKey, any Error> {
        listing(prefixed(kind.rawValue + "/")) { key in
            SHA256Digest(hex: key.split(separator: "/").last.map(String.init) ?? "").map { ObjectKey(kind: kind, digest: $0) }
        }
    }

    public func repair(_ key: ObjectKey, parts: [ByteBuffer], length: Int) async throws {
        _ = try await put(key, parts: parts, length: length, onlyIfAbsent: false)
    }
}

/// Writes into object storage: each object is durable when its PUT returns, so `commit` only reports.
final class S3Batch: ObjectBatch, @unchecked Sendable {
    // `created` is guarded by `lock`.
    private let backend: S3Backend
    private let lock = NSLock()
    private var created = Set<ObjectKey>()

    init(backend: S3Backend) { self.backend = backend }

    func store(_ key: ObjectKey, parts: [ByteBuffer], length: Int) async throws -> Bool {
        let wrote = try await backend.put(key, parts: parts, length: length, onlyIfAbsent: true)
        if wrote { lock.withLock { _ = created.insert(key) } }
        return wrote
    }

    func commit() async throws -> Set<ObjectKey> { lock.withLock { created } }

    /// Objects already stored stay (another upload may rely on them); garbage collection removes them if nothing
    /// comes to need them.
    func abort() async {}
}
