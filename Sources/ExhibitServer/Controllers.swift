import CheckedInput
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
import HummingbirdCore
import Logging
import MediaProbe
import NIOCore

/// Translates HTTP to `EvidenceStore` use-cases; no storage or SQL here.
struct Controllers: Sendable {
    let store: EvidenceStore
    let metrics: ExhibitMetrics
    let openAPI: String
    let workingCopies: WorkingCopyService?

    // MARK: Users

    struct NewUser: Decodable {
        let name: String
        let role: String
        let fullName: String?
        let initials: String?
        enum CodingKeys: String, CodingKey {
            case name, role, initials
            case fullName = "full_name"
        }
    }

    struct CreatedUser: Encodable {
        let user: User
        let token: String
    }

    func addUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewUser.self, from: request, context: context)
        let (user, token) = try await store.addUser(
            name: input.name, role: input.role, fullName: input.fullName, initials: input.initials, by: try context.requireActor())
        return try jsonResponse(CreatedUser(user: user, token: token), status: .created)
    }

    func users(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.users(by: try context.requireActor()))
    }

    struct Disabling: Decodable {
        let reason: String
    }

    /// `POST /v1/users/{name}/disable` (and `DELETE /v1/users/{name}`): the user's token is refused at once.
    func disableUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(Disabling.self, from: request, context: context)
        return try jsonResponse(try await store.disableUser(
            try context.parameters.decoded("name"), reason: input.reason, by: try context.requireActor()))
    }

    func enableUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.enableUser(try context.parameters.decoded("name"), by: try context.requireActor()))
    }

    /// `POST /v1/users/{name}/token`: a new token, shown once; `DELETE`: the token revoked, none issued.
    func reissueToken(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let revoke = request.method == .delete
        let (user, token) = try await store.reissueToken(
            try context.parameters.decoded("name"), revokeOnly: revoke, by: try context.requireActor())
        guard let token else { return try jsonResponse(user) }
        return try jsonResponse(CreatedUser(user: user, token: token), status: .created)
    }

    struct Me: Encodable {
        let name: String
        let role: String
        let scope: String
        let permissions: [String]
    }

    func me(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        return try jsonResponse(Me(
            name: actor.name, role: actor.role.name, scope: actor.role.scope.rawValue,
            permissions: actor.role.permissions.map(\.rawValue).sorted()))
    }

    // MARK: Cases

    struct NewCase: Decodable {
        let reference: String
        let title: String?
    }

    func createCase(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewCase.self, from: request, context: context)
        let record = try await store.createCase(reference: input.reference, title: input.title, by: try context.requireActor())
        return try jsonResponse(record, status: .created, headers: [.location: "/v1/cases/\(record.id)"])
    }

    func cases(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.cases(for: try context.requireActor()))
    }

    struct CaseDetail: Encodable {
        let `case`: CaseRecord
        let members: [String]
        let statuses: [CaseStatusChange]
    }

    func showCase(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let record = try await store.describe(try await store.findCase(try context.parameters.decoded("case"), for: actor))
        return try jsonResponse(CaseDetail(
            case: record, members: try await store.members(of: record, for: actor),
            statuses: try await store.statusHistory(of: record, for: actor)))
    }

    struct NewMember: Decodable {
        let user: String
    }

    func addMember(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewMember.self, from: request, context: context)
        let caseName = try context.parameters.decoded("case")
        try await store.addMember(input.user, to: caseName, by: try context.requireActor())
        return try jsonResponse(["case": caseName, "user": input.user], status: .created)
    }

    /// `GET /v1/cases/{case}/exhibits[?sha256=HEX]`: the case's exhibits, or those holding exactly these bytes
    /// (`exhibit upload` asks before sending a file the case may already hold).
    func caseExhibits(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        var exhibits = try await store.exhibits(in: try context.parameters.decoded("case"), for: try context.requireActor())
        if let text = request.uri.queryValue("sha256") {
            guard let digest = SHA256Digest(hex: text.lowercased()) else {
                throw Problem(.badRequest, "sha256 must be 64 hexadecimal digits", field: "sha256")
            }
            exhibits = exhibits.filter { $0.sha256 == digest }
        }
        return try jsonResponse(exhibits.map(ExhibitJSON.init))
    }

    // MARK: Uploads

    /// `POST /v1/cases/{case}/exhibits?filename=…`: the raw body streams through chunking and hashing.
    func upload(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let caseName = try context.parameters.decoded("case")
        guard let filename = request.uri.queryValue("filename"), !filename.isEmpty else {
            throw Problem(.badRequest, "say the file's name with ?filename=…")
        }
        let limit = store.policies.storage.maxUploadSize
        if let length = request.headers[.contentLength].flatMap(Int64.init) {
            guard length > 0 else { throw Problem(.badRequest, "the body is empty: there is nothing to store") }
            guard length <= limit else { throw Problem(.tooLarge, "the body is \(length) bytes; the limit is \(limit)") }
        }
        let expected = try request.headers[HTTPField.Name("Content-Digest")!].flatMap(Self.sha256ContentDigest)
        let time = try Self.timeInputs(request.uri)
        let declared = request.headers[.contentLength].flatMap(Int.init)
        let drainable = DrainableBody(request.body)
        let body = Coalesced(CountedBody(base: drainable, expectedLength: declared, metrics: metrics))
        do {
            let result = try await store.ingest(
                body, filename: filename, into: caseName,
                by: Actor(name: actor.name, role: actor.role, client: clientDescription(request, context)),
                time: time, expectedDigest: expected)
            metrics.uploads.increment()
            let plan = store.workingCopyPlan(result.exhibit)
            let exhibit = try await afterUpload(result.exhibit, by: actor.name)
            var json = ExhibitJSON(exhibit)
            json.plan = plan
            json.chunks = result.chunks
            json.newBytes = try await store.newBytesInCase(result)
            return try jsonResponse(json, status: .created, headers: [.location: "/v1/exhibits/\(result.exhibit.id)"])
        } catch {
            metrics.uploadFailures.increment()
            // A client still sending would see a reset connection instead of this answer: read the rest first.
            await drainable.drain(for: .seconds(30))
            throw error
        }
    }

    /// Queues a working copy of a new exhibit that needs one (when the policy makes them automatically).
    @discardableResult
    func afterUpload(_ exhibit: ExhibitRecord, by user: String) async throws -> ExhibitRecord {
        var exhibit = exhibit
        let plan = store.workingCopyPlan(exhibit)
        if let workingCopies, store.policies.storage.workingCopies.automatic,
           plan.operation == .remux || plan.operation == .transcode {
            try await store.markWorkingCopyPending(exhibit)
            exhibit.workingCopyStatus = .pending
            workingCopies.enqueue(exhibit.id, requestedBy: "after upload by \(user)")
        }
        return exhibit
    }

    /// `Content-Digest: sha-256=:<base64>:` (RFC 9530); other algorithms alone are ignored.
    static func sha256ContentDigest(_ header: String) throws -> SHA256Digest? {
        for member in header.split(separator: ",") {
            let parts = member.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "sha-256" else { continue }
            let value = parts[1]
            guard value.hasPrefix(":"), value.hasSuffix(":"), value.count > 2,
                  let data = Data(base64Encoded: String(value.dropFirst().dropLast())),
                  let digest = SHA256Digest(bytes: data)
            else { throw Problem(.badRequest, "Content-Digest: sha-256 must be :<base64 of 32 bytes>:") }
            return digest
        }
        return nil
    }

    static func timeInputs(_ uri: URI) throws -> TimeCoverage.Inputs {
        try timeInputs { uri.queryValue($0) }
    }

    /// Time-coverage inputs from named values (query parameters, or a tus upload's metadata).
    static func timeInputs(_ value: (String) -> String?) throws -> TimeCoverage.Inputs {
        func time(_ name: String) throws -> Date? {
            guard let text = value(name), !text.isEmpty else { return nil }
            return try UTCTime.parse(text, field: name)
        }
        var inputs = TimeCoverage.Inputs(recordedStart: try time("recorded_start"), requestedFrom: try time("requested_from"), requestedTo: try time("requested_to"))
        if let offset = value("clock_offset"), !offset.isEmpty {
            inputs.clockOffset = try ClockOffset.parse(offset, field: "clock_offset")
        }
        if (inputs.requestedFrom == nil) != (inputs.requestedTo == nil) {
            throw Problem(.badRequest, "give both requested_from and requested_to", field: inputs.requestedFrom == nil ? "requested_from" : "requested_to")
        }
        if let from = inputs.requestedFrom, let to = inputs.requestedTo, to <= from {
            throw Problem(.badRequest, "requested_to must be after requested_from", field: "requested_to")
        }
        return inputs
    }

    // MARK: Exhibits

    func findExhibit(_ request: Request, _ context: ExhibitRequestContext, needing permission: Permission) async throws -> (Actor, ExhibitRecord) {
        let actor = try context.requireActor()
        let client = Actor(name: actor.name, role: actor.role, client: clientDescription(request, context))
        let record = try await store.findExhibit(
            try context.parameters.decoded("exhibit"), case: request.uri.queryValue("case"), for: client, needing: permission)
        return (client, record)
    }

    func showExhibit(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitRead)
        return try jsonResponse(try await detailed(try await store.view(record, by: actor)))
    }

    /// An exhibit with its working copies (for a master) and its playback plan.
    func detailed(_ record: ExhibitRecord) async throws -> ExhibitJSON {
        var json = ExhibitJSON(record)
        if !record.isWorkingCopy {
            json.plan = store.workingCopyPlan(record)
            json.copies = try await store.workingCopies(of: record).map(ExhibitJSON.init)
        }
        return json
    }

    /// `GET`/`HEAD /v1/exhibits/{exhibit}/working-copy`: the bytes of the master's latest working copy.
    func workingCopyContent(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        guard !record.isWorkingCopy else { return try await serve(record, request: request, actor: actor) }
        guard let copy = try await store.workingCopies(of: record).last else {
            let plan = store.workingCopyPlan(record)
            let status = record.workingCopyStatus.map { " (status: \($0)\(record.workingCopyError.map { ": \($0)" } ?? ""))" } ?? ""
            throw Problem(.notFound, "\(record.reference) has no working copy: \(plan.reason)\(status)")
        }
        return try await serve(copy, request: request, actor: actor)
    }

    /// `POST /v1/exhibits/{exhibit}/working-copy`: asks for a copy now (202, made in the background).
    func requestWorkingCopy(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        guard !record.isWorkingCopy else { throw Problem(.badRequest, "\(record.reference) is itself a working copy") }
        let plan = store.workingCopyPlan(record)
        if let copy = try await store.workingCopies(of: record).last {
            return try jsonResponse(["status": "exists", "reference": copy.reference, "id": copy.id])
        }
        guard plan.operation == .remux || plan.operation == .transcode else {
            return try jsonResponse(["status": "not-needed", "reason": plan.reason])
        }
        guard let workingCopies else { throw Problem(.unavailable, "this server makes no working copies") }
        try await store.markWorkingCopyPending(record)
        workingCopies.enqueue(record.id, requestedBy: "requested by \(actor.name)")
        return try jsonResponse(["status": "queued", "operation": plan.operation.rawValue, "reason": plan.reason], status: .accepted)
    }

    /// `GET /v1/exhibits?covers=T[&case=…]`: exhibits whose span in true time contains T.
    func findCovering(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        guard let text = request.uri.queryValue("covers") else {
            throw Problem(.badRequest, "say the time with ?covers=<RFC 3339 time>", field: "covers")
        }
        let date = try UTCTime.parse(text, field: "covers")
        let found = try await store.exhibits(covering: date, in: request.uri.queryValue("case"), for: actor)
        return try jsonResponse(found.map(ExhibitJSON.init))
    }

    /// `GET` and `HEAD /v1/exhibits/{exhibit}/content`.
    func content(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        return try await serve(record, request: request, actor: actor)
    }

    /// An exhibit's bytes with ranges and conditional requests; a download is recorded before any byte leaves.
    func serve(_ record: ExhibitRecord, request: Request, actor: Actor) async throws -> Response {
        let head = request.method == .head
        var headers = ContentResponse.headers(for: record)
        let etag = ContentResponse.etag(record)
        if ContentResponse.matches(request.headers[.ifNoneMatch], etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        var rangeRequest = ContentResponse.parse(request.headers[.range], size: record.size)
        if let ifRange = request.headers[.ifRange], !ContentResponse.matches(ifRange, etag: etag) { rangeRequest = .whole }
        switch rangeRequest {
        case .unsatisfiable:
            throw Problem(
                .rangeNotSatisfiable, "the exhibit has \(record.size) bytes; ask for one range such as bytes=0-1023",
                headers: [.contentRange: "bytes */\(record.size)"])
        case .whole:
            if head {
                _ = try await store.view(record, by: actor)
                headers[.contentLength] = String(record.size)
                return Response(status: .ok, headers: headers)
            }
            let contents = try await store.download(record, by: actor)
            return Response(status: .ok, headers: headers, body: ContentResponse.body(contents, metrics: metrics))
        case .range(let range):
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(record.size)"
            if head {
                _ = try await store.view(record, by: actor)
                headers[.contentLength] = String(range.count)
                return Response(status: .partialContent, headers: headers)
            }
            let contents = try await store.download(record, range: range, by: actor)
            return Response(status: .partialContent, headers: headers, body: ContentResponse.body(contents, metrics: metrics))
        }
    }

    // MARK: Custody

    /// `GET /v1/custody?format=jsonl|csv|json&case=&exhibit=&since=&until=`: a signed export, streamed.
    func custody(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let client = Actor(name: actor.name, role: actor.role, client: clientDescription(request, context))
        let formatName = request.uri.queryValue("format") ?? "jsonl"
        guard let format = EvidenceStore.ExportFormat(rawValue: formatName) else {
            throw Problem(.badRequest, "format must be csv, json or jsonl")
        }
        var filter = EventFilter()
        filter.caseReference = request.uri.queryValue("case")
        if let exhibit = request.uri.queryValue("exhibit") {
            filter.exhibitIDs = [try await store.findExhibit(exhibit, case: filter.caseReference, for: client).id]
        }
        for (name, keyPath) in [("since", \EventFilter.since), ("until", \EventFilter.until)] {
            if let text = request.uri.queryValue(name) {
                filter[keyPath: keyPath] = CustodyTime.string(try UTCTime.parse(text, field: name))
            }
        }
        // The export is collected in a temporary file first: the custody.exported event and the checkpoint are
        // written before the first byte is sent, and the response has a known length.
        let file = try TemporaryExport()
        let (count, checkpoint) = try await store.exportCustody(filter, format: format, by: client) { try file.write($0) }
        let contentType = switch format {
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        case .jsonl: "application/jsonl"
        }
        let headers: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-store",
            HTTPField.Name("Exhibit-Events")!: String(count),
            HTTPField.Name("Exhibit-Checkpoint")!: "seq=\(checkpoint.seq); hash=\(checkpoint.hash)",
        ]
        return Response(status: .ok, headers: headers, body: try file.responseBody())
    }

    // MARK: Operations

    func health(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try await store.checkCatalogAnswers()
        return try jsonResponse(["status": "ok"])
    }

    func openAPIDocument(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
    }
}

/// An exhibit as the API shows it.
struct ExhibitJSON: Encodable {
    let exhibit: ExhibitRecord
    var chunks: Int?
    var newBytes: Int64?
    var plan: WorkingCopyPlan?
    var copies: [ExhibitJSON]?

    init(_ exhibit: ExhibitRecord) { self.exhibit = exhibit }

    enum CodingKeys: String, CodingKey {
        case id, `case`, caseID = "case_id", reference, filename, sha256, size, uploadedBy = "uploaded_by"
        case uploadedAt = "uploaded_at", verdict, integrity, media, coverage, contentType = "content_type", links
        case chunks, newBytes = "new_bytes"
        case masterID = "master_id", lineage, workingCopyStatus = "working_copy_status", workingCopyError = "working_copy_error"
        case playback, workingCopies = "working_copies"
        case state, deletion, retention
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(exhibit.id, forKey: .id)
        try c.encode(exhibit.caseReference, forKey: .case)
        try c.encode(exhibit.caseID, forKey: .caseID)
        try c.encode(exhibit.reference, forKey: .reference)
        try c.encode(exhibit.filename, forKey: .filename)
        try c.encode(exhibit.sha256.hex, forKey: .sha256)
        try c.encode(exhibit.size, forKey: .size)
        try c.encode(exhibit.uploadedBy, forKey: .uploadedBy)
        try c.encode(exhibit.uploadedAt, forKey: .uploadedAt)
        try c.encode(exhibit.verdict, forKey: .verdict)
        try c.encodeIfPresent(exhibit.integrity, forKey: .integrity)
        try c.encodeIfPresent(exhibit.media, forKey: .media)
        try c.encodeIfPresent(exhibit.coverage, forKey: .coverage)
        try c.encode(ContentResponse.mediaType(exhibit), forKey: .contentType)
        var links = ["self": "/v1/exhibits/\(exhibit.id)", "content": "/v1/exhibits/\(exhibit.id)/content"]
        if !exhibit.isWorkingCopy { links["working_copy"] = "/v1/exhibits/\(exhibit.id)/working-copy" }
        try c.encode(links, forKey: .links)
        try c.encodeIfPresent(chunks, forKey: .chunks)
        try c.encodeIfPresent(newBytes, forKey: .newBytes)
        try c.encodeIfPresent(exhibit.masterID, forKey: .masterID)
        try c.encodeIfPresent(exhibit.lineage, forKey: .lineage)
        try c.encode(exhibit.state, forKey: .state)
        try c.encodeIfPresent(exhibit.deletion, forKey: .deletion)
        try c.encodeIfPresent(exhibit.retention, forKey: .retention)
        try c.encodeIfPresent(exhibit.workingCopyStatus, forKey: .workingCopyStatus)
        try c.encodeIfPresent(exhibit.workingCopyError, forKey: .workingCopyError)
        try c.encodeIfPresent(plan, forKey: .playback)
        try c.encodeIfPresent(copies, forKey: .workingCopies)
    }
}

/// Counts upload bytes for the metrics, refuses an empty body (even a chunked one), and refuses a body that
/// ends short of its declared `Content-Length`: Hummingbird ends a request body quietly when the connection
/// goes, and a truncated upload must never be stored as if it were whole.
struct CountedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let expectedLength: Int?
    let metrics: ExhibitMetrics
    /// Whether an empty body is allowed (a tus PATCH may carry nothing).
    var allowsEmpty = false
    /// What a body that breaks off (or ends short of its Content-Length) throws, given the bytes received.
    var cut: @Sendable (_ received: Int, _ expected: Int?) -> any Error = { received, expected in
        if let expected, received < expected {
            return Problem(.badRequest, "the body ended after \(received) of its \(expected) bytes; nothing was kept")
        }
        return Problem(.badRequest, "the body was cut off after \(received) bytes (the client went away?); nothing was kept")
    }

    func makeAsyncIterator() -> Iterator { Iterator(body: self, base: base.makeAsyncIterator()) }

    struct Iterator: AsyncIteratorProtocol {
        let body: CountedBody
        var base: Base.AsyncIterator
        var total = 0

        mutating func next() async throws -> ByteBuffer? {
            let next: ByteBuffer?
            do {
                next = try await base.next()
            } catch let problem as Problem {
                throw problem
            } catch {
                throw body.cut(total, nil)
            }
            guard let buffer = next else {
                if total == 0 && !body.allowsEmpty { throw Problem(.badRequest, "the body is empty: there is nothing to store") }
                if let expected = body.expectedLength, total < expected { throw body.cut(total, expected) }
                return nil
            }
            total += buffer.readableBytes
            body.metrics.bytesIn.increment(by: buffer.readableBytes)
            return buffer
        }
    }
}

/// A request body read through one iterator that outlives a consumer that failed, so what the client is still
/// sending can be read and discarded before the error is answered. Closing a connection with unread bytes makes
/// the kernel reset it, and the client never sees the answer (nginx's "lingering close" does the same).
final class DrainableBody: AsyncSequence, @unchecked Sendable {
    // The iterator is used by one task at a time: the ingest, then (after it has ended) `drain`.
    typealias Element = ByteBuffer
    private var iterator: RequestBody.AsyncIterator

    init(_ body: RequestBody) { iterator = body.makeAsyncIterator() }

    struct Iterator: AsyncIteratorProtocol {
        let body: DrainableBody
        func next() async throws -> ByteBuffer? { try await body.nextBuffer() }
    }

    func makeAsyncIterator() -> Iterator { Iterator(body: self) }

    func nextBuffer() async throws -> ByteBuffer? { try await iterator.next() }

    /// Reads and discards the rest of the body, for at most `limit`.
    func drain(for limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let _ = try? await self.nextBuffer() {}
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// An export written to an unlinked temporary file, then streamed back.
final class TemporaryExport {
    // Written by one export, then read once by the response body.
    private let handle: FileHandle
    private var size = 0

    init() throws {
        let path = NSTemporaryDirectory() + "exhibit-export-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw Problem(.internalError, "cannot create a temporary file for the export")
        }
        handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        unlink(path)
    }

    func write(_ text: String) throws {
        let data = Data(text.utf8)
        try handle.write(contentsOf: data)
        size += data.count
    }

    func responseBody() throws -> ResponseBody {
        try handle.seek(toOffset: 0)
        let handle = self.handle
        return ResponseBody(contentLength: size) { writer in
            defer { try? handle.close() }
            while let data = try handle.read(upToCount: 256 << 10), !data.isEmpty {
                try await writer.write(ByteBuffer(bytes: data))
            }
            try await writer.finish(nil)
        }
    }
}
