import BlobStore
import CoreMetrics
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import HTTPTypes
import Hummingbird
import MediaProbe
import NIOCore
import Logging
import ServiceLifecycle

/// Resumable uploads: tus 1.0.0 core with `creation`, `creation-with-upload`, `termination`, `expiration` and
/// `checksum` (sha256), under `/v1/uploads`, authenticated like every route (README, "Uploading").
struct TusController: Sendable {
    let store: EvidenceStore
    let controllers: Controllers

    static let version = "1.0.0"
    static let extensions = "creation,creation-with-upload,termination,expiration,checksum"

    enum Header {
        static let resumable = HTTPField.Name("Tus-Resumable")!
        static let version = HTTPField.Name("Tus-Version")!
        static let extensionList = HTTPField.Name("Tus-Extension")!
        static let maxSize = HTTPField.Name("Tus-Max-Size")!
        static let checksumAlgorithm = HTTPField.Name("Tus-Checksum-Algorithm")!
        static let uploadOffset = HTTPField.Name("Upload-Offset")!
        static let uploadLength = HTTPField.Name("Upload-Length")!
        static let uploadDeferLength = HTTPField.Name("Upload-Defer-Length")!
        static let uploadMetadata = HTTPField.Name("Upload-Metadata")!
        static let uploadExpires = HTTPField.Name("Upload-Expires")!
        static let uploadChecksum = HTTPField.Name("Upload-Checksum")!
        static let exhibitID = HTTPField.Name("Exhibit-Id")!
        static let exhibitReference = HTTPField.Name("Exhibit-Reference")!
    }

    /// Every tus request but OPTIONS names the protocol version; every response says it.
    static func checkVersion(_ request: Request) throws {
        guard request.method == .options || request.headers[Header.resumable] == version else {
            throw Problem(
                .preconditionFailed, "this server speaks tus \(version): send Tus-Resumable: \(version)",
                headers: [Header.version: version, Header.resumable: version])
        }
    }

    /// The caller, recorded with the client that sent this request (the address and user agent).
    static func actor(_ request: Request, _ context: ExhibitRequestContext) throws -> Actor {
        let user = try context.requireActor()
        return Actor(name: user.name, role: user.role, client: clientDescription(request, context))
    }

    /// `OPTIONS /v1/uploads`: what the server supports.
    func options(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        _ = try context.requireActor()
        return Response(status: .noContent, headers: [
            Header.resumable: Self.version, Header.version: Self.version, Header.extensionList: Self.extensions,
            Header.maxSize: String(store.policies.storage.maxUploadSize), Header.checksumAlgorithm: "sha256",
        ])
    }

    /// `Upload-Metadata`: comma-separated `key base64(value)` pairs (a key alone has no value).
    static func metadata(_ text: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            guard let key = parts.first, parts.count <= 2, !key.isEmpty else {
                throw Problem(.badRequest, "Upload-Metadata: '\(pair.prefix(60))' is not 'key base64value'")
            }
            var value = ""
            if parts.count == 2 {
                guard let data = Data(base64Encoded: String(parts[1])) else {
                    throw Problem(.badRequest, "Upload-Metadata: the value of '\(key.prefix(40))' is not base64")
                }
                value = String(decoding: data, as: UTF8.self)
            }
            guard out.updateValue(value, forKey: String(key)) == nil else {
                throw Problem(.badRequest, "Upload-Metadata: '\(key.prefix(40))' appears twice")
            }
        }
        return out
    }

    /// The whole file's SHA-256 from the metadata: 64 hex digits (or base64 of the 32 bytes).
    static func sha256(_ metadata: [String: String]) throws -> SHA256Digest? {
        guard let text = metadata["sha256"], !text.isEmpty else { return nil }
        if let digest = SHA256Digest(prefixedHex: text) { return digest }
        if let data = Data(base64Encoded: text), let digest = SHA256Digest(bytes: data) { return digest }
        throw Problem(.badRequest, "Upload-Metadata: sha256 must be the file's SHA-256 as 64 hex digits")
    }

    func headers(_ upload: UploadRecord) -> HTTPFields {
        var fields: HTTPFields = [
            Header.resumable: Self.version, Header.uploadOffset: String(upload.offset), .cacheControl: "no-store",
        ]
        if upload.state == .open, let expires = CustodyTime.parse(upload.expiresAt) {
            fields[Header.uploadExpires] = ContentResponse.httpDate(expires)
        }
        return fields
    }

    /// `POST /v1/uploads`: creates an upload (`Upload-Length`, `Upload-Metadata` with at least `case` and
    /// `filename`), with its first bytes when the body carries them (creation-with-upload).
    func create(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try Self.checkVersion(request)
        let actor = try Self.actor(request, context)
        let length = try Self.uploadLength(request)
        guard length <= store.policies.storage.maxUploadSize else {
            throw Problem(.tooLarge, "the upload is \(length) bytes; the limit is \(store.policies.storage.maxUploadSize)",
                          headers: [Header.resumable: Self.version, Header.maxSize: String(store.policies.storage.maxUploadSize)])
        }
        let raw = request.headers[Header.uploadMetadata] ?? ""
        guard raw.utf8.count <= 8192 else { throw Problem(.badRequest, "Upload-Metadata is too long") }
        let metadata = try Self.metadata(raw)
        guard let caseName = metadata["case"], !caseName.isEmpty else {
            throw Problem(.badRequest, "Upload-Metadata must name the case: case <base64 of the case reference>")
        }
        let filename = metadata["filename"] ?? metadata["name"] ?? ""
        guard !filename.isEmpty else { throw Problem(.badRequest, "Upload-Metadata must carry the file's name: filename <base64>") }
        let created = try await store.createUpload(
            EvidenceStore.UploadRequest(
                caseName: caseName, filename: filename, length: length, metadata: raw, expectedSHA256: try Self.sha256(metadata),
                time: try Controllers.timeInputs { metadata[$0] }),
            by: actor)
        var fields = headers(created)
        fields[.location] = "/v1/uploads/\(created.id)"
        let hasBody = request.headers[.contentType] == "application/offset+octet-stream"
        if hasBody || length == 0 {
            let progress = try await append(created.id.rawValue, offset: 0, request: request, context: context, actor: actor)
            fields = headers(progress.upload)
            fields[.location] = "/v1/uploads/\(created.id)"
            if let ingested = progress.ingested { add(ingested, to: &fields) }
        }
        return Response(status: .created, headers: fields)
    }

    /// `Upload-Length` of a creation request (`Upload-Defer-Length` is refused).
    static func uploadLength(_ request: Request) throws -> Int64 {
        if request.headers[Header.uploadDeferLength] != nil {
            throw Problem(.badRequest, "Upload-Defer-Length is not supported: send Upload-Length")
        }
        guard let text = request.headers[Header.uploadLength], text.utf8.count <= 20, let length = Int64(text), length >= 0 else {
            throw Problem(.badRequest, "Upload-Length (the file's size in bytes) is required")
        }
        return length
    }

    /// `Upload-Offset` of a PATCH, which must carry `Content-Type: application/offset+octet-stream`.
    static func patchOffset(_ request: Request) throws -> Int64 {
        guard request.headers[.contentType] == "application/offset+octet-stream" else {
            throw Problem(.unsupportedMediaType, "a PATCH carries Content-Type: application/offset+octet-stream")
        }
        guard let text = request.headers[Header.uploadOffset], text.utf8.count <= 20, let offset = Int64(text), offset >= 0 else {
            throw Problem(.badRequest, "Upload-Offset (where these bytes go) is required")
        }
        return offset
    }

    /// The answer to `HEAD` on an upload: where it stands.
    func headResponse(_ upload: UploadRecord) -> Response {
        var fields = headers(upload)
        fields[Header.uploadLength] = String(upload.length)
        if !upload.metadata.isEmpty { fields[Header.uploadMetadata] = upload.metadata }
        if let exhibit = upload.exhibitID { fields[Header.exhibitID] = exhibit.rawValue }
        return Response(status: .ok, headers: fields)
    }

    func add(_ ingested: EvidenceStore.Ingested, to fields: inout HTTPFields) {
        fields[Header.exhibitID] = ingested.exhibit.id.rawValue
        fields[Header.exhibitReference] = ingested.exhibit.reference
    }

    func append(
        _ id: String, offset: Int64, request: Request, context: ExhibitRequestContext, actor: Actor
    ) async throws -> EvidenceStore.UploadProgress {
        let checksum = try request.headers[Header.uploadChecksum].map(Self.checksum)
        let declared = request.headers[.contentLength].flatMap(Int.init)
        // A body that breaks off ends the stream after the bytes that arrived (kept unless they carried a checksum).
        let body = Coalesced(CountedBody(
            base: request.body, expectedLength: declared, metrics: controllers.metrics, allowsEmpty: true,
            cut: { received, _ in BodyCut(received: received) }))
        let progress = try await store.appendUpload(id, offset: offset, body: body, checksum: checksum, by: actor)
        if let ingested = progress.ingested {
            controllers.metrics.uploads.increment()
            try await controllers.afterUpload(ingested.exhibit, by: actor.name)
        }
        return progress
    }

    /// `Upload-Checksum: sha256 <base64>`.
    static func checksum(_ text: String) throws -> SHA256Digest {
        let parts = text.split(separator: " ")
        guard parts.count == 2 else { throw Problem(.badRequest, "Upload-Checksum must be '<algorithm> <base64 digest>'") }
        guard parts[0] == "sha256" else {
            throw Problem(.badRequest, "Upload-Checksum: '\(parts[0].prefix(20))' is not supported; use sha256")
        }
        guard let data = Data(base64Encoded: String(parts[1])), let digest = SHA256Digest(bytes: data) else {
            throw Problem(.badRequest, "Upload-Checksum: the digest is not the base64 of 32 bytes")
        }
        return digest
    }

    /// `HEAD /v1/uploads/{id}`: where the upload stands.
    func head(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try Self.checkVersion(request)
        return headResponse(try await store.findUpload(try context.parameters.decoded("upload"), for: try context.requireActor()))
    }

    /// `PATCH /v1/uploads/{id}`: the next bytes, at `Upload-Offset`.
    func patch(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try Self.checkVersion(request)
        let offset = try Self.patchOffset(request)
        let actor = try Self.actor(request, context)
        let progress = try await append(try context.parameters.decoded("upload"), offset: offset, request: request, context: context, actor: actor)
        var fields = headers(progress.upload)
        if let ingested = progress.ingested { add(ingested, to: &fields) }
        return Response(status: .noContent, headers: fields)
    }

    /// `DELETE /v1/uploads/{id}`: abandons the upload (termination).
    func delete(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try Self.checkVersion(request)
        try await store.terminateUpload(try context.parameters.decoded("upload"), by: try context.requireActor())
        return Response(status: .noContent, headers: [Header.resumable: Self.version])
    }

    struct UploadJSON: Encodable {
        let id: String
        let `case`: String
        let filename: String
        let length: Int64
        let offset: Int64
        let state: UploadState
        let expiresAt: String
        let requests: Int
        let resumptions: Int
        let error: String?
        let exhibit: ExhibitJSON?

        enum CodingKeys: String, CodingKey {
            case id, `case`, filename, length, offset, state
            case expiresAt = "expires_at"
            case requests, resumptions, error, exhibit
        }
    }

    /// `GET /v1/uploads/{id}`: the upload as JSON, with its exhibit once complete (not part of tus).
    func show(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let upload = try await store.findUpload(try context.parameters.decoded("upload"), for: actor)
        var exhibit: ExhibitJSON?
        if let id = upload.exhibitID {
            exhibit = ExhibitJSON(try await store.findExhibit(id.rawValue, for: actor))
        }
        let caseReference = try await store.findCase(upload.caseID.rawValue, for: actor, needing: .exhibitUpload).reference
        return try jsonResponse(UploadJSON(
            id: upload.id.rawValue, case: caseReference, filename: upload.filename, length: upload.length, offset: upload.offset,
            state: upload.state, expiresAt: upload.expiresAt, requests: upload.patches, resumptions: upload.resumptions,
            error: upload.error, exhibit: exhibit))
    }
}

/// A tus request body that broke off after `received` bytes.
struct BodyCut: Error {
    let received: Int
}

/// Adds `Tus-Resumable` to every response under `/v1/uploads` and `/r/{token}/uploads` (problems included).
struct TusHeaderMiddleware: RouterMiddleware {
    typealias Context = ExhibitRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/v1/uploads") || (path.hasPrefix("/r/") && path.contains("/uploads")) else { return try await next(request, context) }
        do {
            var response = try await next(request, context)
            response.headers[TusController.Header.resumable] = TusController.version
            return response
        } catch var problem as Problem {
            problem.headers[TusController.Header.resumable] = TusController.version
            throw problem
        } catch {
            var problem = Problem.from(error)
            problem.headers[TusController.Header.resumable] = TusController.version
            throw problem
        }
    }
}

/// Expires resumable uploads with no request for `uploads.expire_after` (Policies/storage.yaml) and reclaims
/// their bytes, and records footage requests that ran out; runs every few minutes.
/// The scheduled scrub (`scrub:` in Policies/storage.yaml), stopped at a graceful shutdown.
struct ScrubService: Service {
    let store: EvidenceStore

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await ScheduledScrub(store: store).run()
        }
    }
}

struct UploadExpiryService: Service {
    let store: EvidenceStore
    let logger: Logger

    func run() async throws {
        let expiry = store.policies.storage.uploadExpiry
        let interval = min(Duration.seconds(300), expiry / 4)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let expired = try await store.exclusiveJob("upload-expiry", { try await store.expireUploads() }) ?? 0
                    if expired > 0 { logger.info("expired \(expired) abandoned upload(s); their bytes were reclaimed") }
                } catch {
                    logger.error("cannot expire uploads: \(error)")
                }
                do {
                    // Footage requests past their expiry get their `request.expired` event (once each).
                    _ = try await store.exclusiveJob("request-expiry", { try await store.recordExpiredRequests() })
                } catch {
                    logger.error("cannot record expired footage requests: \(error)")
                }
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}
