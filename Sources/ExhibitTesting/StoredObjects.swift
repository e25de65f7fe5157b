public import Foundation

/// The chunks and manifests of a test store, wherever it keeps them (under its root, or in the S3 bucket its
/// `deployment.json` names), so a test can list, damage or remove them the same way on both. S3 requests go
/// through curl's own SigV4 signing: an independent client, not Exhibit's.
public struct StoredObjects: Sendable {
    public enum Kind: String, Sendable {
        case chunks, manifests
    }

    let storage: String
    let s3: (endpoint: String, bucket: String, prefix: String)?

    public init(storage: String) {
        let record = FileManager.default.contents(atPath: storage + "/deployment.json")
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: String] }
        if let chunks = record?["chunks"], chunks.hasPrefix("s3://"), let endpoint = record?["s3_endpoint"] {
            self.init(target: chunks, endpoint: endpoint)
        } else {
            self.init(target: storage, endpoint: nil)
        }
    }

    /// The objects of a backup target: a folder, or `s3://bucket/prefix` at `endpoint`.
    public init(target: String, endpoint: String?) {
        if target.hasPrefix("s3://"), let endpoint {
            let rest = target.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            storage = ""
            s3 = (endpoint, bucket, String(rest.dropFirst(bucket.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
        } else {
            storage = target
            s3 = nil
        }
    }

    /// Makes the bucket (object storage only); an error unless it is made or already ours.
    public func createBucket() async throws {
        guard let s3 else { return }
        let result = try await curl("PUT", "/\(s3.bucket)")
        let text = String(decoding: result.body, as: UTF8.self)
        guard result.status == 200 || text.contains("BucketAlreadyOwnedByYou") else {
            throw TestSupportError("creating bucket \(s3.bucket) answered \(result.status): \(text)")
        }
    }

    public var inObjectStorage: Bool { s3 != nil }

    /// `<kind>/ab/cd/<hex>`, relative to the store's root or the bucket's prefix.
    static func relative(_ kind: Kind, _ hex: String) -> String {
        let chars = Array(hex)
        return "\(kind.rawValue)/\(String(chars[0..<2]))/\(String(chars[2..<4]))/\(hex)"
    }

    /// The hex names of every object of a kind, sorted.
    public func list(_ kind: Kind) async throws -> [String] {
        guard let s3 else {
            let all = FileManager.default.enumerator(atPath: storage + "/" + kind.rawValue)?.allObjects as? [String] ?? []
            return all.compactMap { $0.split(separator: "/").last.map(String.init) }.filter { $0.count == 64 }.sorted()
        }
        var names: [String] = []
        var token: String?
        repeat {
            // Query values percent-encoded as SigV4 canonicalises them (curl signs the query as written).
            func encoded(_ value: String) -> String {
                value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")) ?? value
            }
            var query = "list-type=2&prefix=" + encoded("\(s3.prefix)/\(kind.rawValue)/")
            if let token { query = "continuation-token=" + encoded(token) + "&" + query }
            let result = try await curl("GET", "/\(s3.bucket)?\(query)")
            let text = String(decoding: result.body, as: UTF8.self)
            guard result.status == 200 else { throw TestSupportError("listing \(kind) failed: \(result.status) \(text)") }
            for match in text.matches(of: /<Key>([^<]+)<\/Key>/) {
                if let name = match.1.split(separator: "/").last, name.count == 64 { names.append(String(name)) }
            }
            token = text.contains("<IsTruncated>true</IsTruncated>")
                ? text.firstMatch(of: /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/).map { String($0.1) } : nil
        } while token != nil
        return names.sorted()
    }

    public func read(_ kind: Kind, _ hex: String) async throws -> Data {
        guard let s3 else { return try Data(contentsOf: URL(fileURLWithPath: storage + "/" + Self.relative(kind, hex))) }
        let result = try await curl("GET", "/\(s3.bucket)/\(s3.prefix)/\(Self.relative(kind, hex))")
        guard result.status == 200 else { throw TestSupportError("GET \(hex) answered \(result.status)") }
        return result.body
    }

    /// Replaces an object's bytes (to damage it), bypassing every check of Exhibit's.
    public func overwrite(_ kind: Kind, _ hex: String, with bytes: Data) async throws {
        guard let s3 else {
            let path = storage + "/" + Self.relative(kind, hex)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
            try bytes.write(to: URL(fileURLWithPath: path))
            return
        }
        let result = try await curl("PUT", "/\(s3.bucket)/\(s3.prefix)/\(Self.relative(kind, hex))", body: bytes)
        guard result.status == 200 else { throw TestSupportError("PUT \(hex) answered \(result.status)") }
    }

    public func remove(_ kind: Kind, _ hex: String) async throws {
        guard let s3 else {
            try FileManager.default.removeItem(atPath: storage + "/" + Self.relative(kind, hex))
            return
        }
        _ = try await curl("DELETE", "/\(s3.bucket)/\(s3.prefix)/\(Self.relative(kind, hex))")
    }

    func curl(_ method: String, _ path: String, body: Data? = nil) async throws -> (status: Int, body: Data) {
        guard let s3 else { throw TestSupportError("not in object storage") }
        let environment = ProcessInfo.processInfo.environment
        guard let access = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else {
            throw TestSupportError("no AWS keys in the environment")
        }
        let folder = try TemporaryDirectory("s3curl")
        let out = folder.appending("body")
        let payload = folder.appending("request")
        try (body ?? Data()).write(to: URL(fileURLWithPath: payload))
        let hash = try await Subprocess.run("/usr/bin/sha256sum", [payload]).out.prefix(64)
        var arguments = ["-s", "-g", "-X", method, "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "\(access):\(secret)",
                         "-H", "x-amz-content-sha256: \(hash)", "-o", out, "-w", "%{http_code}"]
        if body != nil { arguments += ["--data-binary", "@" + payload] }
        let result = try await Subprocess.run("/usr/bin/curl", arguments + [s3.endpoint + path])
        let status = Int(result.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return (status, (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data())
    }
}

extension TestStore {
    /// The store's chunks and manifests, local or in object storage.
    public var objects: StoredObjects { StoredObjects(storage: storage) }
}
