import CheckedInput
import Custody
import Exhibit
import ExhibitCrypto
import ExhibitModel
import ExhibitPolicies
import Foundation
import HTTPTypes
import Hummingbird
import MediaProbe
import NIOCore
import Synchronization

/// Footage requests over HTTP (README, "Footage requests"): the investigators' API under `/v1`, and the tus endpoint
/// at `/r/{token}/uploads` through which the owner's browser uploads. The owner's pages are the web app's
/// (`WebApp+Requests.swift`).
struct RequestController: Sendable {
    let store: EvidenceStore
    let tus: TusController
    let publicURL: PublicURL
    let limiter: RequestUploadLimiter

    // MARK: API

    struct NewRequest: Decodable {
        let from: String
        let to: String
        let location: String
        let camera: String?
        let owner: String
        let contact: String?
        let note: String?
        let prefix: String?
        let expiresIn: ShareController.ExpiresIn?
        let maxFiles: Int?
        let maxFileSize: JSONSize?
        let maxTotalSize: JSONSize?
        let maxSubmissions: Int?

        enum CodingKeys: String, CodingKey {
            case from, to, location, camera, owner, contact, note, prefix
            case expiresIn = "expires_in"
            case maxFiles = "max_files"
            case maxFileSize = "max_file_size"
            case maxTotalSize = "max_total_size"
            case maxSubmissions = "max_submissions"
        }
    }

    /// A size as bytes (a number) or a size text (`60GiB`).
    struct JSONSize: Decodable {
        let bytes: Int64
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            let field = decoder.codingPath.last?.stringValue ?? "size"
            if let number = try? container.decode(Int64.self) {
                bytes = number
            } else if let text = try? container.decode(String.self), let parsed = ByteSize.parse(text) {
                bytes = parsed
            } else {
                throw InputError(field: field, "must be a number of bytes or a size such as 60GiB")
            }
        }
    }

    static func draft(_ input: NewRequest, caseName: String) -> EvidenceStore.RequestDraft {
        var draft = EvidenceStore.RequestDraft(caseName: caseName, from: input.from, to: input.to, location: input.location, ownerName: input.owner)
        draft.camera = input.camera
        draft.ownerContact = input.contact
        draft.note = input.note
        draft.prefix = input.prefix
        draft.expiresIn = input.expiresIn?.duration
        draft.maxFiles = input.maxFiles
        draft.maxFileSize = input.maxFileSize?.bytes
        draft.maxTotalSize = input.maxTotalSize?.bytes
        draft.maxSubmissions = input.maxSubmissions
        return draft
    }

    /// `POST /v1/cases/{case}/requests`.
    func create(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try TusController.actor(request, context)
        let input = try await decodeJSON(NewRequest.self, from: request, context: context)
        let created = try await store.createRequest(Self.draft(input, caseName: try context.parameters.decoded("case")), by: actor)
        let files: [ExhibitRecord] = []
        return try jsonResponse(
            RequestJSON(created.request, now: CustodyTime.string(store.now()), link: publicURL.current + created.path, files: files, zone: store.policies.requests.timeZone),
            status: .created, headers: [.location: "/v1/requests/\(created.request.id)"])
    }

    /// `GET /v1/cases/{case}/requests`.
    func list(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let requests = try await store.requests(in: try context.parameters.decoded("case"), for: actor)
        var out: [RequestJSON] = []
        for item in requests { out.append(try await json(item, for: actor)) }
        return try jsonResponse(out)
    }

    /// `GET /v1/requests/{request}`.
    func show(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        return try jsonResponse(try await json(try await store.findRequest(try context.parameters.decoded("request"), for: actor), for: actor))
    }

    /// `DELETE /v1/requests/{request}` (`?reason=`): revokes it.
    func revoke(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try TusController.actor(request, context)
        let reason = request.uri.queryValue("reason").map { String($0.prefix(600)) }
        let revoked = try await store.revokeRequest(try context.parameters.decoded("request"), reason: reason, by: actor)
        return try jsonResponse(try await json(revoked, for: actor, withLink: false))
    }

    func json(_ item: FootageRequest, for actor: Actor, withLink: Bool = true) async throws -> RequestJSON {
        let link = withLink && store.maySeeRequestLinks(for: actor) ? try store.token(for: item).map { publicURL.current + "/r/" + $0 } : nil
        return RequestJSON(item, now: CustodyTime.string(store.now()), link: link, files: try await store.requestFiles(item), zone: store.policies.requests.timeZone)
    }

    struct RequestJSON: Encodable {
        let request: FootageRequest
        let now: String
        let link: String?
        let files: [ExhibitRecord]
        let coverage: RequestCoverage?

        init(_ request: FootageRequest, now: String, link: String?, files: [ExhibitRecord], zone: TimeZone) {
            self.request = request
            self.now = now
            self.link = link
            self.files = files
            self.coverage = RequestCoverage.of(request, files: files, zone: zone)
        }

        enum Keys: String, CodingKey {
            case state, exhibits, coverage, link
        }

        func encode(to encoder: any Encoder) throws {
            try request.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(request.state(at: now), forKey: .state)
            try c.encode(files.map { ["id": $0.id.rawValue, "reference": $0.reference, "filename": $0.filename, "verdict": $0.verdict] }, forKey: .exhibits)
            if let coverage {
                try c.encode(["summary": coverage.sentence, "covered_seconds": String(Int(coverage.coveredSeconds))], forKey: .coverage)
            }
            try c.encodeIfPresent(link, forKey: .link)
        }
    }

    // MARK: The owner's tus endpoint

    /// The request a link stands for, when it takes uploads; a problem otherwise (404 for anything not a genuine
    /// link, 410 for one expired, revoked or used up, each refusal of a genuine link recorded).
    func open(_ request: Request, _ context: ExhibitRequestContext) async throws -> FootageRequest {
        do {
            return try await store.openRequestLink(context.parameters.get("token") ?? "", client: clientDescription(request, context))
        } catch let refused as EvidenceStore.RequestLinkRefused {
            switch refused.reason {
            case .invalid: throw Problem(.notFound, "no such request link")
            case .expired: throw Problem(.gone, "this request expired at \(refused.request?.expiresAt ?? "?"); ask the investigator for a new link")
            case .revoked: throw Problem(.gone, "this request was withdrawn; ask the investigator")
            case .answered: throw Problem(.gone, "this request has been answered: it takes no more footage")
            }
        }
    }

    func base(_ context: ExhibitRequestContext) -> String { "/r/\(context.parameters.get("token") ?? "")/uploads" }

    /// `OPTIONS /r/{token}/uploads`.
    func options(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let found = try await open(request, context)
        return Response(status: .noContent, headers: [
            TusController.Header.resumable: TusController.version, TusController.Header.version: TusController.version,
            TusController.Header.extensionList: TusController.extensions,
            TusController.Header.maxSize: String(min(found.limits.fileSize, store.policies.storage.maxUploadSize)),
            TusController.Header.checksumAlgorithm: "sha256",
        ])
    }

    /// `POST /r/{token}/uploads`: starts an upload into the request's case (`Upload-Metadata` names the file; the
    /// case comes from the request, never from the client), within the request's limits and the rate limits.
    func createUpload(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try TusController.checkVersion(request)
        let found = try await open(request, context)
        let length = try TusController.uploadLength(request)
        let raw = request.headers[TusController.Header.uploadMetadata] ?? ""
        guard raw.utf8.count <= 8192 else { throw Problem(.badRequest, "Upload-Metadata is too long") }
        let metadata = try TusController.metadata(raw)
        let filename = metadata["filename"] ?? metadata["name"] ?? ""
        guard !filename.isEmpty else { throw Problem(.badRequest, "Upload-Metadata must carry the file's name: filename <base64>") }
        let policy = store.policies.requests
        try limiter.admit(
            link: found.id.rawValue, address: context.remoteAddress, perLink: policy.uploadsPerMinutePerLink, perAddress: policy.uploadsPerMinutePerAddress)
        let client = clientDescription(request, context)
        let created = try await store.createRequestUpload(
            found, filename: filename, length: length, metadata: raw, expectedSHA256: try TusController.sha256(metadata), client: client)
        var fields = tus.headers(created)
        let location = base(context) + "/" + created.id.rawValue
        fields[.location] = location
        if request.headers[.contentType] == "application/offset+octet-stream" {
            let progress = try await tus.append(created.id.rawValue, offset: 0, request: request, context: context, actor: store.requestActor(found, client: client))
            fields = tus.headers(progress.upload)
            fields[.location] = location
        }
        return Response(status: .created, headers: fields)
    }

    /// `HEAD /r/{token}/uploads/{upload}`.
    func head(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try TusController.checkVersion(request)
        let found = try await open(request, context)
        var response = tus.headResponse(try await store.findUpload(try context.parameters.decoded("upload"), for: store.requestActor(found, client: "")))
        // The case's exhibit is not the owner's to know.
        response.headers[TusController.Header.exhibitID] = nil
        return response
    }

    /// `PATCH /r/{token}/uploads/{upload}`.
    func patch(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try TusController.checkVersion(request)
        let offset = try TusController.patchOffset(request)
        let found = try await open(request, context)
        let actor = store.requestActor(found, client: clientDescription(request, context))
        let progress = try await tus.append(try context.parameters.decoded("upload"), offset: offset, request: request, context: context, actor: actor)
        return Response(status: .noContent, headers: tus.headers(progress.upload))
    }

    /// `DELETE /r/{token}/uploads/{upload}`: the owner cancels a file.
    func delete(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try TusController.checkVersion(request)
        let found = try await open(request, context)
        try await store.terminateUpload(try context.parameters.decoded("upload"), by: store.requestActor(found, client: clientDescription(request, context)))
        return Response(status: .noContent, headers: [TusController.Header.resumable: TusController.version])
    }

    /// `GET /r/{token}/uploads/{upload}`: where the upload stands and, once received, what the owner may know of
    /// the file (its name, size, SHA-256, verdict in words) and of the request's coverage so far.
    func showUpload(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let found = try await open(request, context)
        let upload = try await store.findUpload(try context.parameters.decoded("upload"), for: store.requestActor(found, client: ""))
        var file: OwnerFileJSON?
        var coverage: String?
        if upload.exhibitID != nil {
            let files = try await store.requestFiles(found)
            if let exhibit = files.first(where: { $0.id == upload.exhibitID }) { file = OwnerFileJSON(exhibit, zone: store.policies.requests.timeZone) }
            coverage = RequestCoverage.of(found, files: files, zone: store.policies.requests.timeZone)?.sentence
        }
        return try jsonResponse(OwnerUploadJSON(
            id: upload.id.rawValue, filename: upload.filename, length: upload.length, offset: upload.offset, state: upload.state.rawValue,
            error: upload.error, file: file, coverage: coverage))
    }

    struct OwnerUploadJSON: Encodable {
        let id: String
        let filename: String
        let length: Int64
        let offset: Int64
        let state: String
        let error: String?
        let file: OwnerFileJSON?
        let coverage: String?
    }

    /// A received file as its sender sees it: never the case's data beyond what they sent.
    struct OwnerFileJSON: Encodable {
        let name: String
        let size: Int64
        let sha256: String
        let receivedAt: String
        let verdict: String
        let verdictWords: String
        let recorded: String

        init(_ exhibit: ExhibitRecord, zone: TimeZone) {
            name = exhibit.filename
            size = exhibit.size
            sha256 = exhibit.sha256.hex
            receivedAt = exhibit.uploadedAt
            verdict = exhibit.verdict
            verdictWords = Self.words(exhibit)
            recorded = Self.recorded(exhibit, zone: zone)
        }

        enum CodingKeys: String, CodingKey {
            case name, size, sha256, verdict, recorded
            case receivedAt = "received_at"
            case verdictWords = "verdict_words"
        }

        /// The verdict as the person who sent the file reads it, with what to do about it.
        static func words(_ exhibit: ExhibitRecord) -> String {
            switch exhibit.verdict {
            case "complete": return "Received whole: the video is all there."
            case "truncated": return "Received, but the video is cut short: the file ends before its recording does. Please export it again from the recorder and send the new copy too."
            case "damaged": return "Received, but parts of the video are damaged. Please export it again if you can, and send the new copy too."
            case "not-media": return "Received and kept, but it is not a video the store can read. If the recorder exported a player program or an index, send the video files too."
            default: return "Received; it is still being checked."
            }
        }

        /// What the file covers, in the force's zone, or why that is unknown.
        static func recorded(_ exhibit: ExhibitRecord, zone: TimeZone) -> String {
            guard let start = exhibit.coverage?.trueStart, let end = exhibit.coverage?.trueEnd else {
                return exhibit.verdict == "not-media" ? "" : "Its recording time could not be read from the file."
            }
            let format = RequestCoverageText(zone: zone)
            return "Recorded \(format.span(start, end))."
        }
    }
}

/// Times as the owner's page shows them (in the force's zone).
struct RequestCoverageText {
    let zone: TimeZone

    func span(_ from: Date, _ to: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let a = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: from)
        let b = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: to)
        let day = String(format: "%04d-%02d-%02d", a.year ?? 0, a.month ?? 0, a.day ?? 0)
        let sameDay = a.year == b.year && a.month == b.month && a.day == b.day
        let end = (sameDay ? "" : String(format: "%04d-%02d-%02d ", b.year ?? 0, b.month ?? 0, b.day ?? 0))
            + String(format: "%02d:%02d:%02d", b.hour ?? 0, b.minute ?? 0, b.second ?? 0)
        return "\(day) " + String(format: "%02d:%02d:%02d", a.hour ?? 0, a.minute ?? 0, a.second ?? 0) + "–" + end
    }
}

/// Uploads started per minute through one link and from one client address (`uploads_per_minute_per_link`,
/// `uploads_per_minute_per_address` in Policies/requests.yaml): more are refused with 429 until the minute ends.
/// Memory is bounded: the table is emptied when it holds too many keys (a flood of addresses then starts afresh,
/// which only ever admits, never refuses, wrongly).
final class RequestUploadLimiter: Sendable {
    private let windows = Mutex<[String: (minute: Int64, count: Int)]>([:])
    let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    func admit(link: String, address: String, perLink: Int, perAddress: Int) throws {
        let minute = Int64(now().timeIntervalSince1970) / 60
        let refused: String? = windows.withLock { table in
            if table.count > 50_000 { table.removeAll(keepingCapacity: true) }
            let keys = [("link:" + link, perLink, "this link"), ("addr:" + address, perAddress, "your address")]
            for (key, limit, what) in keys {
                let current = table[key].flatMap { $0.minute == minute ? $0.count : nil } ?? 0
                if current >= limit { return "\(what) has started \(current) uploads this minute, the most allowed; try again in a minute" }
            }
            for (key, _, _) in keys {
                let current = table[key].flatMap { $0.minute == minute ? $0.count : nil } ?? 0
                table[key] = (minute, current + 1)
            }
            return nil
        }
        if let refused { throw Problem(.tooManyRequests, refused, headers: [.retryAfter: "60"]) }
    }
}
