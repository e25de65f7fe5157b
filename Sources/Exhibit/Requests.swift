import BlobStore
import CheckedInput
public import Custody
import ExhibitCatalog
public import ExhibitCrypto
public import ExhibitModel
import ExhibitPolicies
public import Foundation
import MediaProbe
import ShareLinks

/// Footage requests (README, "Footage requests"): an investigator asks the owner of a recorder for the footage of a
/// window of time; the owner uploads it through a signed link, with no account, and gets a signed receipt. The link
/// grants upload into that one case within the request's limits, and nothing else: no reading, listing or
/// downloading, not even of what it brought.
extension EvidenceStore {
    /// What an investigator asks for.
    public struct RequestDraft: Sendable {
        public var caseName: String
        /// The window asked for, as text: RFC 3339, or a local time (no zone) read in the force's zone.
        public var from: String
        public var to: String
        public var location: String
        public var camera: String?
        public var ownerName: String
        public var ownerContact: String?
        public var note: String?
        /// The initials the exhibits are numbered under (nil: the investigator's own).
        public var prefix: String?
        public var expiresIn: Duration?
        public var maxFiles: Int?
        public var maxFileSize: Int64?
        public var maxTotalSize: Int64?
        public var maxSubmissions: Int?

        public init(caseName: String, from: String, to: String, location: String, ownerName: String) {
            self.caseName = caseName
            self.from = from
            self.to = to
            self.location = location
            self.ownerName = ownerName
        }
    }

    /// A new request and its link (`path` is `/r/<token>`; like a share link's, the token is not stored but made
    /// again from the row and the link key).
    public struct CreatedRequest: Sendable {
        public let request: FootageRequest
        public let token: String
        public var path: String { "/r/" + token }
    }

    /// Creates a footage request on a case the actor may upload to. Every value is checked into its range; a
    /// lifetime or limit above the policy's maximum is refused, never clipped.
    public func createRequest(_ draft: RequestDraft, by actor: Actor) async throws -> CreatedRequest {
        let record = try await findCase(draft.caseName, for: actor, needing: .requestCreate)
        let policy = policies.requests
        let zone = policy.timeZone
        let from = try RequestTime.parse(draft.from, zone: zone, field: "from")
        let to = try RequestTime.parse(draft.to, zone: zone, field: "to")
        guard to > from else { throw ExhibitError(.badRequest, "must be after from (\(CustodyTime.string(from)))", field: "to") }
        guard to.timeIntervalSince(from) <= 31 * 86400 else {
            throw ExhibitError(.badRequest, "a request's window may span at most 31 days", field: "to")
        }
        guard from <= now().addingTimeInterval(86400) else {
            throw ExhibitError(.badRequest, "the window asked for starts in the future: footage of it cannot exist yet", field: "from")
        }
        let location = draft.location.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !location.isEmpty else { throw ExhibitError(.badRequest, "say where the footage was recorded", field: "location") }
        try Validate.text(location, "the location", max: 300, field: "location")
        let owner = draft.ownerName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !owner.isEmpty else { throw ExhibitError(.badRequest, "name who holds the footage", field: "owner") }
        try Validate.text(owner, "the owner's name", max: 200, field: "owner")
        let camera = Self.nonEmpty(draft.camera)
        if let camera { try Validate.text(camera, "the camera", max: 300, field: "camera") }
        let contact = Self.nonEmpty(draft.ownerContact)
        if let contact { try Validate.text(contact, "the contact", max: 200, field: "contact") }
        let note = Self.nonEmpty(draft.note)
        if let note { try Validate.text(note, "the note", max: 2000, field: "note") }
        let prefix: String
        if let given = Self.nonEmpty(draft.prefix) {
            do { try Validate.initials(given) } catch { throw ExhibitError(.badRequest, error.message, field: "prefix") }
            prefix = given
        } else {
            guard let user = try await catalog.user(named: actor.name) else { throw ExhibitError(.unauthorized, "no user \(actor.name)") }
            prefix = user.initials
        }
        let lifetime = draft.expiresIn ?? policy.defaultLifetime
        guard lifetime >= .seconds(60) else { throw ExhibitError(.badRequest, "a request must live at least a minute", field: "expires_in") }
        guard lifetime <= policy.maxLifetime else {
            throw ExhibitError(
                .badRequest, "a request may live at most \(Self.describe(policy.maxLifetime)) (Policies/requests.yaml); \(Self.describe(lifetime)) was asked",
                field: "expires_in")
        }
        let limits = try Self.limits(draft, policy)
        let key = try keys.linkKeyRing().current
        let created = now()
        let expires = Int64(created.timeIntervalSince1970) + lifetime.components.seconds
        let id = LinkID.random()
        let request = FootageRequest(
            id: RequestID(id.text(.request)), reference: "R-" + Identifier.make("").prefix(8).uppercased(), caseID: record.id,
            caseReference: record.reference, createdBy: actor.name, createdAt: CustodyTime.string(created),
            expiresAt: CustodyTime.string(Date(timeIntervalSince1970: Double(expires))), keyID: key.id.description,
            windowFrom: CustodyTime.string(from), windowTo: CustodyTime.string(to), location: location, camera: camera,
            ownerName: owner, ownerContact: contact, note: note, prefix: prefix, limits: limits)
        _ = try await catalog.insertRequest(
            request,
            event: actor.event(
                .requestCreated, caseReference: record.reference,
                details: [
                    "request": .string(request.id), "reference": .string(request.reference), "window_from": .string(request.windowFrom),
                    "window_to": .string(request.windowTo), "location": .string(location), "camera": JSONValue(camera),
                    "owner": .string(owner), "contact": JSONValue(contact), "expires_at": .string(request.expiresAt),
                    "prefix": .string(prefix), "max_files": .int(Int64(limits.files)), "max_file_size": .int(limits.fileSize),
                    "max_total_size": .int(limits.totalSize), "max_submissions": .int(Int64(limits.submissions)),
                ]))
        let token = SignedLink(kind: .request, keyID: key.id, id: id, expiresAt: expires).signed(with: key)
        return CreatedRequest(request: request, token: token)
    }

    static func nonEmpty(_ text: String?) -> String? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return trimmed
    }

    static func limits(_ draft: RequestDraft, _ policy: RequestsPolicy) throws -> RequestLimits {
        let defaults = policy.defaultLimits, maxima = policy.maxLimits
        func check<T: BinaryInteger>(_ value: T?, _ fallback: T, _ maximum: T, _ field: String, _ key: String) throws -> T {
            guard let value else { return fallback }
            guard value >= 1 else { throw ExhibitError(.badRequest, "must be at least 1 (it was \(value))", field: field) }
            guard value <= maximum else {
                throw ExhibitError(.badRequest, "may be at most \(maximum) (\(key) in Policies/requests.yaml); \(value) was asked", field: field)
            }
            return value
        }
        return RequestLimits(
            files: try check(draft.maxFiles, defaults.files, maxima.files, "max_files", "max_files_limit"),
            fileSize: try check(draft.maxFileSize, defaults.fileSize, maxima.fileSize, "max_file_size", "max_file_size_limit"),
            totalSize: try check(draft.maxTotalSize, defaults.totalSize, maxima.totalSize, "max_total_size", "max_total_size_limit"),
            submissions: try check(draft.maxSubmissions, defaults.submissions, maxima.submissions, "max_submissions", "max_submissions_limit"))
    }

    /// A case's requests, for someone who may see the case.
    public func requests(in caseName: String, for actor: Actor) async throws -> [FootageRequest] {
        let record = try await findCase(caseName, for: actor, needing: .caseRead)
        return try await catalog.requests(caseID: record.id)
    }

    /// A request by id or reference, when the actor may see its case (otherwise it does not exist for them).
    public func findRequest(_ idOrReference: String, for actor: Actor, needing permission: Permission = .caseRead) async throws -> FootageRequest {
        let missing = ExhibitError(.notFound, "no request \(idOrReference.prefix(40))")
        guard idOrReference.utf8.count <= 40, let request = try await catalog.request(id: RequestID(idOrReference)) else { throw missing }
        do {
            _ = try await findCase(request.caseID.rawValue, for: actor, needing: .caseRead)
        } catch let error as ExhibitError where error.code == .notFound {
            throw missing
        }
        try await authorize(actor, permission)
        return request
    }

    /// Whether `actor` may hold a request's link (a credential to upload into the case): those who may create one.
    public func maySeeRequestLinks(for actor: Actor) -> Bool { may(actor, .requestCreate) }

    /// The link of a request, made again from its row (nil when its key has been pruned).
    public func token(for request: FootageRequest) throws -> String? {
        guard let id = LinkID(request.id.rawValue, kind: .request), let keyID = LinkKeyID(hex: request.keyID),
              let key = try keys.linkKeyRing().key(for: keyID), let expiry = CustodyTime.parse(request.expiresAt)
        else { return nil }
        return SignedLink(kind: .request, keyID: keyID, id: id, expiresAt: Int64(expiry.timeIntervalSince1970)).signed(with: key)
    }

    /// Revokes a request: its link stops working on the next request (an upload under way is refused at its next
    /// PATCH); what it already brought stays in the case.
    public func revokeRequest(_ idOrReference: String, reason: String?, by actor: Actor) async throws -> FootageRequest {
        let request = try await findRequest(idOrReference, for: actor, needing: .requestCreate)
        let reason = Self.nonEmpty(reason)
        if let reason { try Validate.text(reason, "the reason", max: 500, field: "reason") }
        return try await catalog.revokeRequest(
            id: request.id, by: actor.name, reason: reason,
            event: actor.event(
                .requestRevoked, caseReference: request.caseReference,
                details: ["request": .string(request.id), "reference": .string(request.reference), "reason": JSONValue(reason)]))
    }

    /// What a presented request link leads to.
    public enum RequestResolution: Sendable {
        case valid(FootageRequest)
        /// Malformed, forged, or for a request that does not exist: nothing is there.
        case invalid
        case expired(FootageRequest)
        case revoked(FootageRequest)
        /// Its submissions are used up: it takes nothing more (its receipts can still be fetched).
        case usedUp(FootageRequest)
    }

    /// Checks a request link: well-formed → MAC (constant time) → expiry → the request's row.
    public func resolveRequest(_ token: some StringProtocol) async throws -> RequestResolution {
        let ring = try keys.linkKeyRing()
        switch SignedLink.verify(token, kind: .request, keys: ring, now: now()) {
        case .failure(.invalid):
            return .invalid
        case .failure(.expired(let link)):
            guard let request = try await catalog.request(id: RequestID(link.id.text(.request))) else { return .invalid }
            return request.revokedAt != nil ? .revoked(request) : .expired(request)
        case .success(let link):
            guard let request = try await catalog.request(id: RequestID(link.id.text(.request))),
                  Int64(CustodyTime.parse(request.expiresAt)?.timeIntervalSince1970 ?? 0) == link.expiresAt
            else { return .invalid }
            if request.revokedAt != nil { return .revoked(request) }
            if request.submissions >= request.limits.submissions { return .usedUp(request) }
            return .valid(request)
        }
    }

    /// Why a request's link was refused: nothing is there (`invalid`), or a genuine link that no longer takes
    /// footage (the refusal is recorded as `request.refused`).
    public struct RequestLinkRefused: Error, Sendable {
        public enum Reason: String, Sendable { case invalid, expired, revoked, answered = "submitted" }
        public let reason: Reason
        public let request: FootageRequest?
    }

    /// The request a link stands for, when it takes footage. Otherwise throws `RequestLinkRefused`, after recording
    /// the refusal of a genuine link; `readOnly`: a genuine link in any state is returned as it is (its receipts
    /// stay readable), and nothing is recorded.
    public func openRequestLink(_ token: some StringProtocol, client: String, readOnly: Bool = false) async throws -> FootageRequest {
        let (request, reason): (FootageRequest, RequestLinkRefused.Reason)
        switch try await resolveRequest(token) {
        case .valid(let found): return found
        case .invalid: throw RequestLinkRefused(reason: .invalid, request: nil)
        case .expired(let found): (request, reason) = (found, .expired)
        case .revoked(let found): (request, reason) = (found, .revoked)
        case .usedUp(let found): (request, reason) = (found, .answered)
        }
        if readOnly { return request }
        try await recordRequestRefusal(request, reason: reason.rawValue, client: client)
        throw RequestLinkRefused(reason: reason, request: request)
    }

    /// The actor recorded for what happens through a request's link: the request, never a user.
    public func requestActor(_ request: FootageRequest, client: String) -> Actor {
        Actor(
            name: Actor.requestPrefix + request.id.rawValue,
            role: Role(name: "request", description: "a footage request's link", scope: .member, permissions: []), client: client)
    }

    /// Records a visit of the owner's page (`request.opened`, every visit).
    public func recordRequestOpened(_ request: FootageRequest, client: String) async throws {
        try await catalog.recordRequestOpened(
            id: request.id,
            event: requestActor(request, client: client).event(
                .requestOpened, caseReference: request.caseReference,
                details: ["request": .string(request.id), "reference": .string(request.reference), "visit": .int(Int64(request.opens + 1))]))
    }

    /// Records a refused use of a genuine request link (expired, revoked, used up).
    public func recordRequestRefusal(_ request: FootageRequest, reason: String, client: String) async throws {
        _ = try await catalog.append(requestActor(request, client: client).event(
            .requestRefused, caseReference: request.caseReference,
            details: ["request": .string(request.id), "reference": .string(request.reference), "reason": .string(reason)]))
    }

    /// The owner's clock check: what the recorder's screen showed (`shown`, in the force's zone; a time of day alone
    /// is taken on the day that puts it nearest true time) when true time was `seenAt` (nil or implausible: now).
    /// Records and returns the offset, recorder minus true time, in whole seconds.
    public func checkRequestClock(_ request: FootageRequest, shown: String, seenAt: Date?, client: String) async throws -> Int64 {
        let current = now()
        var trueTime = current
        if let seenAt, seenAt <= current, current.timeIntervalSince(seenAt) <= 600 { trueTime = seenAt }
        let recorder = try RequestTime.recorderTime(shown, near: trueTime, zone: policies.requests.timeZone, field: "recorder_time")
        let offset = Int64(recorder.timeIntervalSince(trueTime).rounded())
        guard abs(offset) <= 366 * 86400 else {
            throw ExhibitError(.badRequest, "the recorder's time is more than a year from true time: check what its screen shows", field: "recorder_time")
        }
        try await catalog.setRequestClock(
            id: request.id, offset: offset,
            event: requestActor(request, client: client).event(
                .requestClockChecked, caseReference: request.caseReference,
                details: [
                    "request": .string(request.id), "reference": .string(request.reference), "recorder_time": .string(String(shown.prefix(40))),
                    "true_time": .string(CustodyTime.string(trueTime)), "clock_offset": .int(offset),
                ]))
        return offset
    }

    /// Starts an upload through a request, within its limits (checked in the transaction that adds it). The upload
    /// carries the request's window and the owner's clock offset as its time inputs.
    public func createRequestUpload(
        _ request: FootageRequest, filename: String, length: Int64, metadata: String, expectedSHA256: SHA256Digest?, client: String
    ) async throws -> UploadRecord {
        guard length > 0 else { throw ExhibitError(.badRequest, "Upload-Length is 0: " + Self.emptyFile) }
        guard length <= policies.storage.maxUploadSize else {
            throw ExhibitError(.tooLarge, "the file (\(length) bytes) is larger than the limit of \(policies.storage.maxUploadSize) bytes")
        }
        let time = TimeCoverage.Inputs(
            clockOffset: request.clockOffset.map(Double.init), requestedFrom: request.window?.from, requestedTo: request.window?.to)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let now = timestamp
        var upload = UploadRecord(
            id: .new(), owner: request.createdBy, caseID: request.caseID, filename: Self.safeFilename(filename),
            length: length, offset: 0, metadata: metadata, expectedSHA256: expectedSHA256?.hex,
            timeInputs: String(decoding: try encoder.encode(time), as: UTF8.self), entries: [], tailStart: 0, createdAt: now,
            updatedAt: now, expiresAt: uploadExpiry(), state: .open, exhibitID: nil, error: nil, patches: 0, resumptions: 0,
            interrupted: false, client: client)
        upload.requestID = request.id
        try await catalog.insertRequestUpload(
            upload, request: request, openLimits: policies.storage.openUploads,
            event: requestActor(request, client: client).event(
                .requestUploadStarted, caseReference: request.caseReference,
                details: [
                    "request": .string(request.id), "reference": .string(request.reference), "upload": .string(upload.id),
                    "filename": .string(upload.filename), "length": .int(length), "client_sha256": JSONValue(expectedSHA256?.hex),
                ]))
        return upload
    }

    /// The request an upload comes through, checked again as the upload completes: still within its limits.
    func requestForCompletion(_ upload: UploadRecord) async throws -> FootageRequest? {
        guard let requestID = upload.requestID else { return nil }
        guard let request = try await catalog.request(id: requestID) else { throw ExhibitError(.notFound, "the request is gone") }
        let (files, bytes) = try await catalog.requestUsage(requestID, excluding: upload.id)
        guard files < request.limits.files, bytes + upload.length <= request.limits.totalSize, upload.length <= request.limits.fileSize else {
            throw ExhibitError(.tooLarge, "this file would take the request past its limits")
        }
        return request
    }

    /// What came through a request, for its owner's page (no more than they sent: name, size, digest, verdict, when).
    public func requestFiles(_ request: FootageRequest) async throws -> [ExhibitRecord] {
        try await catalog.exhibits(requestID: request.id)
    }

    /// Which submission each received file belongs to (absent: not submitted yet).
    public func requestSubmissions(_ request: FootageRequest) async throws -> [String: Int] {
        try await catalog.requestSubmissions(requestID: request.id)
    }

    public func receipts(of request: FootageRequest) async throws -> [RequestReceipt] {
        try await catalog.receipts(requestID: request.id)
    }

    /// Ends a submission with its receipt, signed by the custody key (Ed25519), and the `request.submitted` event.
    public func submitRequest(_ request: FootageRequest, client: String) async throws -> RequestReceipt {
        let actor = requestActor(request, client: client)
        let key = keys.custodyKey
        let force = policies.requests.forceName
        return try await catalog.submitRequest(request) { number, at, files in
            let receipt = RequestReceiptDocument.make(request: request, force: force, number: number, submittedAt: at, files: files)
            let json = try RequestReceiptDocument.sign(receipt, with: key)
            let event = actor.event(
                .requestSubmitted, caseReference: request.caseReference,
                details: [
                    "request": .string(request.id), "reference": .string(request.reference), "submission": .int(Int64(number)),
                    "files": .array(files.map { .string($0.reference) }), "receipt_sha256": .string(SHA256.hash(json).hex),
                ])
            return (json, event)
        }
    }

    /// Records `request.expired` for requests past their expiry (once each).
    @discardableResult
    public func recordExpiredRequests() async throws -> Int {
        try await catalog.recordExpiredRequests(now: timestamp) { request in
            CustodyEvent.Draft(
                actor: Actor.requestPrefix + request.id.rawValue, role: "request", action: .requestExpired, caseReference: request.caseReference,
                details: [
                    "request": .string(request.id), "reference": .string(request.reference), "expires_at": .string(request.expiresAt),
                    "files_received": .int(Int64(request.filesReceived)),
                ],
                client: "request expiry")
        }.count
    }
}

/// Times on footage requests: the window the investigator asks for, and what the recorder's screen shows.
public enum RequestTime {
    /// RFC 3339 with a zone as it says; a local date and time (no zone) read in `zone`.
    public static func parse(_ text: String, zone: TimeZone, field: String) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parsed = try UTCTime.parse(trimmed, field: field)
        return hasZone(trimmed) ? parsed : local(parsed, zone)
    }

    /// Whether a time's text names its zone (`Z`, `±HH:MM` after the time of day).
    static func hasZone(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count > 10 else { return false }
        return bytes[11...].contains { $0 == UInt8(ascii: "Z") || $0 == UInt8(ascii: "z") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
    }

    /// The instant at which clocks in `zone` show the wall time `wall` (a wall time read as if it were UTC).
    static func local(_ wall: Date, _ zone: TimeZone) -> Date {
        let first = wall.addingTimeInterval(-Double(zone.secondsFromGMT(for: wall)))
        return wall.addingTimeInterval(-Double(zone.secondsFromGMT(for: first)))
    }

    /// What a recorder's screen shows, read in `zone`: a date and time, or a time of day alone (`14:03`, `14:03:20`),
    /// placed on the day that puts it nearest `near`.
    public static func recorderTime(_ text: String, near: Date, zone: TimeZone, field: String) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "/", with: "-")
        guard !trimmed.isEmpty, trimmed.utf8.count <= 40 else {
            throw ExhibitError(.badRequest, "give the time the recorder's screen shows, e.g. 14:03:20 or 2026-12-04 14:03:20", field: field)
        }
        let parts = trimmed.split(separator: ":")
        if !trimmed.contains("-"), !trimmed.contains(" "), (2...3).contains(parts.count),
           let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute),
           parts[0].count <= 2, parts[1].count == 2 {
            var second = 0
            if parts.count == 3 {
                guard parts[2].count == 2, let value = Int(parts[2]), (0...59).contains(value) else {
                    throw ExhibitError(.badRequest, "'\(trimmed)' is not a time of day (HH:MM or HH:MM:SS)", field: field)
                }
                second = value
            }
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            var best: Date?
            for dayShift in [-1, 0, 1] {
                guard let day = calendar.date(byAdding: .day, value: dayShift, to: near) else { continue }
                var components = calendar.dateComponents([.year, .month, .day], from: day)
                components.hour = hour
                components.minute = minute
                components.second = second
                guard let candidate = calendar.date(from: components) else { continue }
                if best.map({ abs(candidate.timeIntervalSince(near)) < abs($0.timeIntervalSince(near)) }) ?? true { best = candidate }
            }
            if let best { return best }
        }
        return try parse(trimmed, zone: zone, field: field)
    }
}

extension FootageRequest {
    /// The window asked for, as instants (nil only for a row whose times do not read: never written so).
    public var window: (from: Date, to: Date)? {
        guard let from = CustodyTime.parse(windowFrom), let to = CustodyTime.parse(windowTo) else { return nil }
        return (from, to)
    }
}

extension Actor {
    /// What the actor names of a request's link start with (`request:rq_…`); no user name holds a colon.
    public static let requestPrefix = "request:"

    /// The request this actor is the link of (nil: a user or the system).
    public var requestID: RequestID? { name.hasPrefix(Self.requestPrefix) ? RequestID(String(name.dropFirst(Self.requestPrefix.count))) : nil }
}

/// A submission's receipt: what the owner keeps. The `receipt` object's canonical JSON (keys sorted, no spaces, ASCII,
/// as Python's `json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`), after the line
/// `exhibit-receipt-v1`, is signed with the store's Ed25519 custody key; `signature` carries the signature, the
/// public key, and the key's SHA-256 fingerprint.
public enum RequestReceiptDocument {
    public static let domain = "exhibit-receipt-v1\n"

    static func make(request: FootageRequest, force: String, number: Int, submittedAt: String, files: [ExhibitRecord]) -> JSONValue {
        [
            "type": "exhibit-footage-receipt", "version": 1, "force": .string(force), "request": .string(request.reference),
            "case": .string(request.caseReference), "submission": .int(Int64(number)), "submitted_at": .string(submittedAt),
            "submitted_by": .string(request.ownerName), "window_from": .string(request.windowFrom), "window_to": .string(request.windowTo),
            "location": .string(request.location),
            "clock_offset_seconds": request.clockOffset.map(JSONValue.int) ?? .null,
            "files": .array(files.map { file in
                [
                    "name": .string(file.filename), "size": .int(file.size), "sha256": .string(file.sha256.hex),
                    "received_at": .string(file.uploadedAt), "verdict": .string(file.verdict), "exhibit": .string(file.reference),
                ]
            }),
        ]
    }

    /// The receipt document, signed: `{"receipt": …, "signature": {…}}` as pretty JSON text.
    static func sign(_ receipt: JSONValue, with key: Ed25519PrivateKey) throws -> String {
        let message = Array((domain + receipt.canonical).utf8)
        let signature = try key.sign(message)
        let publicKey = key.publicKey.raw
        let document: JSONValue = [
            "receipt": receipt,
            "signature": [
                "algorithm": "Ed25519", "signed": "'exhibit-receipt-v1\\n' + canonical JSON of receipt",
                "public_key": .string(Data(publicKey).base64EncodedString()),
                "public_key_sha256": .string(SHA256.hash(publicKey).hex),
                "value": .string(Data(signature).base64EncodedString()),
            ],
        ]
        return document.canonical
    }

    /// Why a receipt does not verify (nil: it does).
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAReceipt(String)
        case badSignature
        case otherKey(String)

        public var description: String {
            switch self {
            case .notAReceipt(let why): "not an Exhibit receipt: \(why)"
            case .badSignature: "the signature does not match the receipt: it was changed after it was signed, or not made by Exhibit"
            case .otherKey(let fingerprint): "the receipt was signed by another key (SHA-256 \(fingerprint.prefix(16))…) than the one expected"
            }
        }
    }

    /// Checks a receipt's signature, and, with `expected`, that it was signed by that key. Returns the receipt.
    public static func verify(_ text: String, expected: Ed25519PublicKey?) -> Result<JSONValue, Failure> {
        guard let document = JSONValue.parse(text), let receipt = document["receipt"], case .object = receipt,
              let signature = document["signature"], signature["algorithm"]?.stringValue == "Ed25519",
              let keyText = signature["public_key"]?.stringValue, let keyBytes = Data(base64Encoded: keyText),
              let valueText = signature["value"]?.stringValue, let value = Data(base64Encoded: valueText)
        else { return .failure(.notAReceipt("it lacks receipt, or signature with algorithm Ed25519, public_key and value")) }
        guard let key = try? Ed25519PublicKey(raw: [UInt8](keyBytes)) else { return .failure(.notAReceipt("its public key is not 32 bytes")) }
        if let expected, expected.raw != key.raw { return .failure(.otherKey(SHA256.hash(key.raw).hex)) }
        guard key.isValidSignature([UInt8](value), for: Array((domain + receipt.canonical).utf8)) else { return .failure(.badSignature) }
        return .success(receipt)
    }
}
