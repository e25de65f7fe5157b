import CheckedInput
import Custody
import Exhibit
import ExhibitModel
import ExhibitCrypto
import Logging
import ExhibitPolicies
import Foundation
import HTTPTypes
import Hummingbird
import MediaProbe
import NIOCore

/// Footage requests in the browser (README, "Footage requests"): the owner's page at `/r/{token}` (no account: the
/// link is the credential, and grants upload only), their receipts, and the investigators' forms on the case page.
extension WebApp {
    func registerRequests(on router: Router<ExhibitRequestContext>) {
        router.get("/r/{token}", use: ownerPage(requestPage))
        router.post("/r/{token}/clock", use: ownerPage(checkClock))
        router.post("/r/{token}/submit", use: ownerPage(submit))
        router.get("/r/{token}/receipts/{number}", use: ownerPage(receipt))
        router.post("/app/cases/{case}/requests", use: page(createRequest))
        router.post("/app/requests/{request}/revoke", use: page(revokeRequest))
    }

    var requestsPolicy: RequestsPolicy { store.policies.requests }

    /// The CSRF token of the owner's forms: derived from the link's own token (which only its holder knows).
    static func ownerCSRF(_ token: String) -> String { EvidenceStore.csrfToken(forSession: "request:" + token) }

    /// Wraps an owner's page: any refusal is a page in words with its status, in the force's name (never the app's
    /// sign-in, never JSON).
    func ownerPage(
        _ handler: @escaping @Sendable (Request, ExhibitRequestContext) async throws -> Response
    ) -> @Sendable (Request, ExhibitRequestContext) async throws -> Response {
        { request, context in
            do {
                return try await handler(request, context)
            } catch let refusal as OwnerRefusal {
                var values = ownerBase("This link does not work")
                values.merge(["heading": refusal.heading, "message": refusal.message]) { _, new in new }
                if !refusal.receipts.isEmpty {
                    values["receipts"] = refusal.receipts
                    values["hasReceipts"] = true
                }
                return try render("error", values, status: refusal.status)
            } catch {
                let (status, message) = refusal(error, request)
                var values = ownerBase(status.reasonPhrase)
                values.merge(["heading": status.reasonPhrase, "message": message]) { _, new in new }
                return try render("error", values, status: status)
            }
        }
    }

    func ownerBase(_ title: String) -> [String: Any] {
        ["title": title, "force": requestsPolicy.forceName, "zone": requestsPolicy.timeZone.identifier]
    }

    /// A refusal of the owner's link, as a page.
    struct OwnerRefusal: Error {
        let status: HTTPResponse.Status
        let heading: String
        let message: String
        var receipts: [[String: Any]] = []
    }

    /// The request behind a link, when it takes footage; a refusal page otherwise. `readOnly`: a genuine link in
    /// any state (its receipts stay readable).
    func ownerRequest(_ request: Request, _ context: ExhibitRequestContext, readOnly: Bool = false) async throws -> (FootageRequest, String) {
        let token = context.parameters.get("token") ?? ""
        let askAgain = "Please ask the investigator who sent it for a new link."
        do {
            return (try await store.openRequestLink(token, client: clientDescription(request, context), readOnly: readOnly), token)
        } catch let refused as EvidenceStore.RequestLinkRefused {
            guard let found = refused.request else {
                throw OwnerRefusal(
                    status: .notFound, heading: "This link is not valid",
                    message: "The address is not one we issued, or it was changed or cut short when it was copied. Check that you copied the whole address. " + askAgain)
            }
            let receipts = try await receiptLinks(found, token)
            switch refused.reason {
            case .expired, .invalid:
                throw OwnerRefusal(
                    status: .gone, heading: "This link has expired",
                    message: "It worked until \(shown(found.expiresAt)). Nothing more can be sent through it. " + askAgain, receipts: receipts)
            case .revoked:
                throw OwnerRefusal(
                    status: .gone, heading: "This request was withdrawn",
                    message: "The investigator withdrew it; nothing more can be sent through it. If you still hold footage for them, ask them.",
                    receipts: receipts)
            case .answered:
                throw OwnerRefusal(
                    status: .gone, heading: "This request has been answered",
                    message: "The footage was sent and the receipt issued; the link takes nothing more. If you have more footage, ask the investigator for a new link.",
                    receipts: receipts)
            }
        }
    }

    func receiptLinks(_ found: FootageRequest, _ token: String) async throws -> [[String: Any]] {
        try await store.receipts(of: found).map { ["href": "/r/\(token)/receipts/\($0.number)", "number": $0.number, "at": shown($0.submittedAt)] }
    }

    /// A custody time in the force's zone: `2026-12-04 14:03 (Europe/London)` without the zone's name.
    func shown(_ time: String) -> String {
        guard let date = CustodyTime.parse(time) else { return time }
        return shown(date)
    }

    func shown(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = requestsPolicy.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    // MARK: The owner's page

    func requestPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (found, token) = try await ownerRequest(request, context)
        try await store.recordRequestOpened(found, client: clientDescription(request, context))
        let files = try await store.requestFiles(found)
        let submissions = try await store.requestSubmissions(found)
        let zone = requestsPolicy.timeZone
        let now = store.now()
        let limits = found.limits
        var limitText = "up to \(limits.files) file\(limits.files == 1 ? "" : "s"), each up to \(ByteSize.human(limits.fileSize)), \(ByteSize.human(limits.totalSize)) in all"
        if found.filesReceived > 0 { limitText += " (\(found.filesReceived) received so far)" }
        var values = ownerBase("Footage request \(found.reference)")
        values.merge([
            "reference": found.reference, "caseReference": found.caseReference, "ownerName": found.ownerName, "createdBy": found.createdBy,
            "window": found.window.map { RequestCoverageText(zone: zone).span($0.from, $0.to) } ?? "",
            "location": found.location, "expires": shown(found.expiresAt), "limits": limitText, "token": token,
            "csrf": Self.ownerCSRF(token), "nowMillis": Int64(now.timeIntervalSince1970 * 1000),
            "zoneOffsetMillis": zone.secondsFromGMT(for: now) * 1000, "nowShown": shown(now),
            "coverage": RequestCoverage.of(found, files: files, zone: zone)?.sentence ?? "",
            "files": files.map { file -> [String: Any] in
                var row: [String: Any] = [
                    "name": file.filename, "size": Self.human(file.size), "sha256": file.sha256.hex, "receivedAt": shown(file.uploadedAt),
                    "verdict": file.verdict, "verdictLabel": Self.verdictLabel(file.verdict),
                    "words": RequestController.OwnerFileJSON.words(file), "recorded": RequestController.OwnerFileJSON.recorded(file, zone: zone),
                ]
                if let number = submissions[file.id.rawValue] { row["submitted"] = number }
                return row
            },
        ]) { _, new in new }
        if let camera = found.camera { values["camera"] = camera }
        if let note = found.note { values["note"] = note }
        if let offset = found.clockOffset { values["clock"] = Self.clockSentence(offset) }
        let receipts = try await receiptLinks(found, token)
        if !receipts.isEmpty {
            values["receipts"] = receipts
            values["hasReceipts"] = true
        }
        return try render("request", values)
    }

    /// The recorded clock offset in words.
    static func clockSentence(_ offset: Int64) -> String {
        if abs(offset) < 5 { return "Recorded: the recorder's clock is right (within a few seconds)." }
        let size = abs(offset)
        let (h, m, s) = (size / 3600, size / 60 % 60, size % 60)
        var parts: [String] = []
        if h > 0 { parts.append("\(h) h") }
        if m > 0 { parts.append("\(m) min") }
        if s > 0 { parts.append("\(s) s") }
        return "Recorded: the recorder's clock is \(parts.joined(separator: " ")) \(offset > 0 ? "ahead of" : "behind") true time. We correct the footage's times for it; do not change the recorder's clock."
    }

    func checkClock(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (found, token) = try await ownerRequest(request, context)
        let form = try await Self.form(request)
        try Self.checkOwnerCSRF(form, token)
        let seen = form["seen_at"].flatMap { Int64($0) }.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        _ = try await store.checkRequestClock(found, shown: form["recorder_time"] ?? "", seenAt: seen, client: clientDescription(request, context))
        return Self.redirect("/r/\(token)#clock")
    }

    static func checkOwnerCSRF(_ form: [String: String], _ token: String) throws {
        guard EvidenceStore.checkCSRF(form["csrf"], session: "request:" + token) else {
            throw WebError(.forbidden, "This form did not come from this page (its CSRF token is missing or wrong). Reload the page and try again.")
        }
    }

    func submit(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (found, token) = try await ownerRequest(request, context)
        let form = try await Self.form(request)
        try Self.checkOwnerCSRF(form, token)
        let receipt = try await store.submitRequest(found, client: clientDescription(request, context))
        return Self.redirect("/r/\(token)/receipts/\(receipt.number)")
    }

    /// A receipt: the page to print, or (`…/receipts/N.json`) the signed JSON to keep. A receipt stays with its
    /// link, whatever became of the request since.
    func receipt(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (found, token) = try await ownerRequest(request, context, readOnly: true)
        let raw = try context.parameters.decoded("number")
        let wantsJSON = raw.hasSuffix(".json")
        let notFound = WebError(.notFound, "There is no such receipt for this request.")
        guard let number = Int(wantsJSON ? String(raw.dropLast(5)) : raw), number >= 1, number <= 1000 else { throw notFound }
        guard let receipt = try await store.receipts(of: found).first(where: { $0.number == number }) else { throw notFound }
        if wantsJSON {
            var headers = Self.securityHeaders
            headers[.contentType] = "application/json"
            headers[.contentDisposition] = "attachment; filename=\"receipt-\(found.reference)-\(number).json\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: receipt.json)))
        }
        guard let document = JSONValue.parse(receipt.json), let body = document["receipt"] else { throw notFound }
        var files: [[String: Any]] = []
        if case .array(let list)? = body["files"] {
            for file in list {
                files.append([
                    "name": file["name"]?.stringValue ?? "", "size": file["size"]?.intValue ?? 0, "sha256": file["sha256"]?.stringValue ?? "",
                    "receivedAt": shown(file["received_at"]?.stringValue ?? ""),
                ])
            }
        }
        var values = ownerBase("Receipt \(found.reference)")
        values.merge([
            "reference": found.reference, "caseReference": found.caseReference, "submittedBy": body["submitted_by"]?.stringValue ?? "",
            "submittedAt": shown(receipt.submittedAt), "number": number, "files": files,
            "keyFingerprint": document["signature"]?["public_key_sha256"]?.stringValue ?? "",
            "jsonHref": "/r/\(token)/receipts/\(number).json", "back": "/r/\(token)",
            "window": found.window.map { RequestCoverageText(zone: requestsPolicy.timeZone).span($0.from, $0.to) } ?? "",
            "location": found.location,
            "clock": body["clock_offset_seconds"]?.intValue.map { Self.clockSentence($0).replacingOccurrences(of: "Recorded: ", with: "") }
                ?? "not checked by the sender",
        ]) { _, new in new }
        return try render("receipt", values)
    }

    // MARK: The investigators' forms (case page)

    func createRequest(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let caseName = try context.parameters.decoded("case")
        var draft = EvidenceStore.RequestDraft(
            caseName: caseName, from: form["from"] ?? "", to: form["to"] ?? "", location: form["location"] ?? "", ownerName: form["owner"] ?? "")
        draft.camera = Self.field(form, "camera")
        draft.ownerContact = Self.field(form, "contact")
        draft.note = Self.field(form, "note")
        draft.prefix = Self.field(form, "prefix")
        draft.expiresIn = try Self.field(form, "expires_in").map { try InputDuration.parse($0, field: "expires_in") }
        draft.maxFiles = try Self.field(form, "max_files").map { try Self.whole($0, "max_files") }
        draft.maxSubmissions = try Self.field(form, "max_submissions").map { try Self.whole($0, "max_submissions") }
        draft.maxFileSize = try Self.field(form, "max_file_size").map { try Self.size($0, "max_file_size") }
        draft.maxTotalSize = try Self.field(form, "max_total_size").map { try Self.size($0, "max_total_size") }
        let created = try await store.createRequest(draft, by: actor)
        return Self.redirect("/app/cases/\(created.request.caseID)?requested=\(created.request.id)#requests")
    }

    static func whole(_ text: String, _ field: String) throws -> Int {
        guard text.utf8.count <= 9, let value = Int(text) else { throw InputError(field: field, "must be a whole number") }
        return value
    }

    static func size(_ text: String, _ field: String) throws -> Int64 {
        guard let value = ByteSize.parse(text) else { throw InputError(field: field, "must be a size such as 500MiB or 60GiB") }
        return value
    }

    func revokeRequest(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let revoked = try await store.revokeRequest(try context.parameters.decoded("request"), reason: Self.field(form, "reason"), by: actor)
        return Self.redirect("/app/cases/\(revoked.caseID)?done=request-revoked#requests")
    }

    /// The case page's requests section: each request's state, what arrived, the coverage so far; the link for
    /// those who may make requests (it is a credential to upload into the case).
    func requestRows(_ record: CaseRecord, _ actor: Actor, _ session: String, shownLink: String?) async throws -> [String: Any] {
        let requests = try await store.requests(in: record.id.rawValue, for: actor)
        let now = CustodyTime.string(store.now())
        let csrf = EvidenceStore.csrfToken(forSession: session)
        let canCreate = actor.role.can(.requestCreate)
        var rows: [[String: Any]] = []
        for item in requests {
            let files = try await store.requestFiles(item)
            let state = item.state(at: now)
            var row: [String: Any] = [
                "id": item.id.rawValue, "reference": item.reference, "owner": item.ownerName, "location": item.location,
                "window": item.window.map { RequestCoverageText(zone: Self.utc).span($0.from, $0.to) + " UTC" } ?? "",
                "state": state.rawValue,
                "stateLabel": Self.requestStateLabel(state, item), "files": "\(item.filesReceived) (\(Self.human(item.bytesReceived)))",
                "coverage": RequestCoverage.of(item, files: files, zone: requestsPolicy.timeZone)?.sentence ?? "",
                "expires": Self.shown(item.expiresAt), "canRevoke": canCreate && item.revokedAt == nil && state != .submitted && state != .expired,
                "csrf": csrf,
            ]
            if canCreate, item.id.rawValue == shownLink, item.revokedAt == nil, let token = try store.token(for: item) {
                row["link"] = publicURL.current + "/r/" + token
            }
            rows.append(row)
        }
        return ["requests": rows, "hasRequests": !rows.isEmpty, "canRequest": canCreate, "requestZone": requestsPolicy.timeZone.identifier]
    }

    static let utc = TimeZone(identifier: "UTC") ?? .current

    static func requestStateLabel(_ state: RequestState, _ request: FootageRequest) -> String {
        switch state {
        case .notOpened: "not opened yet"
        case .opened: "opened \(request.opens) time\(request.opens == 1 ? "" : "s"), nothing received"
        case .receiving: request.uploadsOpen > 0 ? "receiving files" : "files received, not yet submitted"
        case .submitted: "submitted (\(request.submissions) receipt\(request.submissions == 1 ? "" : "s"))"
        case .expired: "expired"
        case .revoked: "revoked"
        }
    }
}
