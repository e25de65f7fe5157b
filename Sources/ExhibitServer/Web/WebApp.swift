import CheckedInput
import Custody
import Exhibit
import ExhibitCrypto
import ExhibitModel
import ExhibitPolicies
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MediaProbe
import Mustache
import NIOCore

/// The web app (README, "Web app"): server-rendered pages under `/app`, one handler and one template each, calling
/// the same `EvidenceStore` use-cases as the JSON API (never SQL of their own), so the rules live in one place.
/// A browser signs in with the user's name and token and holds a session cookie; every form that changes
/// something carries the session's CSRF token; every page is sent with a strict Content-Security-Policy (no inline
/// script or style: the script and style sheet are files of the package).
struct WebApp: Sendable {
    let store: EvidenceStore
    let pages: MustacheLibrary
    let throttle: SignInThrottle
    let publicURL: PublicURL
    let logger: Logger

    static let sessionCookie = "exhibit_session"
    /// The cookie that carries a CSRF token before anyone signs in (the sign-in form is a form too).
    static let preSessionCookie = "exhibit_presession"

    init(store: EvidenceStore, publicURL: PublicURL, logger: Logger) {
        self.store = store
        self.pages = Self.loadPages()
        self.throttle = SignInThrottle()
        self.publicURL = publicURL
        self.logger = logger
    }

    /// The templates, from the package's resources (`Web/Templates/*.mustache`).
    static func loadPages() -> MustacheLibrary {
        var templates: [String: MustacheTemplate] = [:]
        for name in ["head", "foot", "signin", "cases", "case", "exhibit", "custody", "users", "error", "request", "receipt"] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Templates"),
                  let text = try? String(contentsOf: url, encoding: .utf8),
                  let template = try? MustacheTemplate(string: text) else { continue }
            templates[name] = template
        }
        return MustacheLibrary(templates: templates)
    }

    func register(on router: Router<ExhibitRequestContext>) {
        router.get("/") { _, _ in Self.redirect("/app") }
        router.get("/app", use: page(casesPage))
        router.get("/app/signin", use: page(signInPage))
        router.post("/app/signin", use: page(signIn))
        router.post("/app/signout", use: page(signOut))
        router.post("/app/cases", use: page(createCase))
        router.get("/app/cases/{case}", use: page(casePage))
        router.post("/app/cases/{case}/members", use: page(addMember))
        router.get("/app/exhibits/{exhibit}", use: page(exhibitPage))
        router.post("/app/exhibits/{exhibit}/shares", use: page(createShare))
        router.post("/app/shares/{share}/revoke", use: page(revokeShare))
        router.get("/app/cases/{case}/custody", use: page(custodyPage))
        router.post("/app/custody/verify", use: page(verifyCustody))
        router.get("/app/static/{file}", use: staticFile)
        registerManagement(on: router)
        registerRequests(on: router)
    }

    // MARK: Pages

    func signInPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        if try await signedIn(request, context) != nil { return Self.redirect("/app") }
        // A random value the form's token is derived from, so a page on another site cannot post a sign-in.
        let sent = request.cookies[Self.preSessionCookie]?.value ?? ""
        let fresh = sent.isEmpty || sent.utf8.count > 100
        let preSession = fresh ? Base64URL.encode(SecureRandom.bytes(count: 32)) : sent
        var response = try render("signin", ["title": "Sign in", "csrf": EvidenceStore.csrfToken(forSession: preSession)])
        if fresh { response.setCookie(cookie(Self.preSessionCookie, preSession, maxAge: 3600)) }
        return response
    }

    func signIn(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let form = try await Self.form(request)
        let preSession = request.cookies[Self.preSessionCookie]?.value ?? ""
        guard !preSession.isEmpty, EvidenceStore.checkCSRF(form["csrf"], session: preSession) else {
            throw WebError(.forbidden, "This form has expired or did not come from this site. Reload the page and sign in again.")
        }
        let name = String((form["name"] ?? "").prefix(64)).trimmingCharacters(in: .whitespaces)
        let token = String((form["token"] ?? "").prefix(256)).trimmingCharacters(in: .whitespaces)
        let client = clientDescription(request, context)
        // Repeated failures from one address, or for one name, are answered more and more slowly.
        await throttle.wait(keys: [name.lowercased(), context.remoteAddress])
        let started: EvidenceStore.StartedSession
        do {
            started = try await store.signIn(name: name, token: token, client: client)
        } catch let error as ExhibitError where error.code == .unauthorized {
            throttle.failed(keys: [name.lowercased(), context.remoteAddress])
            var response = try render(
                "signin", ["title": "Sign in", "csrf": form["csrf"] ?? "", "name": name, "error": "The name or the token is not right."])
            response.status = .unauthorized
            return response
        }
        throttle.succeeded(keys: [name.lowercased()])
        var response = Self.redirect("/app")
        response.setCookie(cookie(Self.sessionCookie, started.token, maxAge: Int(store.policies.roles.sessionLifetime.components.seconds)))
        response.setCookie(cookie(Self.preSessionCookie, "", maxAge: 0))
        return response
    }

    func signOut(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        try await checkCSRF(request, session: session)
        try await store.signOut(session: session, by: actor)
        var response = Self.redirect("/app/signin")
        response.setCookie(cookie(Self.sessionCookie, "", maxAge: 0))
        return response
    }

    func casesPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        guard let (actor, session) = try await signedIn(request, context) else { return Self.redirect("/app/signin") }
        let query = String((request.uri.queryValue("q") ?? "").prefix(100))
        let statusFilter = request.uri.queryValue("status").flatMap { CaseStatus(rawValue: $0) }
        let needle = query.lowercased()
        let cases = try await store.cases(for: actor).filter { record in
            (needle.isEmpty || record.reference.lowercased().contains(needle) || (record.title ?? "").lowercased().contains(needle))
                && (statusFilter == nil || record.status == statusFilter)
        }
        return try render("cases", [
            "title": "Cases", "user": Self.user(actor, session), "query": query,
            "statuses": CaseStatus.allCases.map { ["value": $0.rawValue, "label": Self.label($0), "selected": $0 == statusFilter] },
            "cases": cases.map(Self.caseRow),
            "canCreate": actor.role.can(.caseCreate),
        ].compacted(["notice": request.uri.queryValue("opened").map { "Case \($0.prefix(64)) is open." }]))
    }

    func createCase(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let title = form["title"].flatMap { $0.isEmpty ? nil : $0 }
        let record = try await store.createCase(reference: form["reference"] ?? "", title: title, by: actor)
        return Self.redirect("/app/cases/\(record.id)")
    }

    func casePage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        guard let (actor, session) = try await signedIn(request, context) else { return Self.redirect("/app/signin") }
        let record = try await store.describe(try await store.findCase(try context.parameters.decoded("case"), for: actor))
        // Masters only: a working copy is shown as its master's "playable copy".
        let exhibits = try await store.exhibits(in: record.id.rawValue, for: actor).filter { !$0.isWorkingCopy }
        let members = try await store.members(of: record, for: actor)
        var retention = "kept while the case is \(Self.label(record.status))"
        if let deadline = record.retention {
            retention = deadline.date.map { "due for review at \(Self.shown($0)) (\(deadline.because))" } ?? "not due: \(deadline.because)"
        }
        let hold = record.hold.map { "held since \(Self.shown($0.setAt)) by \($0.setBy): \($0.reason)" }
        let notice = request.uri.queryValue("added").map { "\($0.prefix(32)) is now a member." }
            ?? request.uri.queryValue("done").flatMap { Self.notices[$0] }
        var values: [String: Any] = [
            "title": record.reference, "user": Self.user(actor, session), "case": Self.caseRow(record),
            "retention": retention,
            "exhibits": exhibits.map(Self.exhibitRow), "members": members,
            "canAddMember": actor.role.can(.caseMembers), "canUpload": actor.role.can(.exhibitUpload),
            "canReadCustody": actor.role.can(.custodyRead),
        ].compacted(["hold": hold, "notice": notice])
        values.merge(try await requestRows(record, actor, session, shownLink: request.uri.queryValue("requested"))) { first, _ in first }
        return try render("case", values.merging(caseControls(record, actor)) { first, _ in first })
    }

    func addMember(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let caseName = try context.parameters.decoded("case")
        let user = form["user"] ?? ""
        try await store.addMember(user, to: caseName, by: actor)
        let encoded = user.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return Self.redirect("/app/cases/\(caseName.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")?added=\(encoded)")
    }

    /// An exhibit: the verdict in words, the player (the working copy when the master does not play), what was
    /// recorded and when in true time (drawn against the window asked for), master and copies, the download.
    /// Viewing it is an `exhibit.viewed` custody event, as the API's GET is.
    func exhibitPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        guard let (actor, session) = try await signedIn(request, context) else { return Self.redirect("/app/signin") }
        let found = try await store.findExhibit(try context.parameters.decoded("exhibit"), for: actor, needing: .exhibitRead)
        let exhibit = try await store.view(found, by: actor)
        let canDownload = actor.role.can(.exhibitDownload)
        var values: [String: Any] = [
            "title": exhibit.reference, "user": Self.user(actor, session), "id": exhibit.id, "reference": exhibit.reference,
            "filename": exhibit.filename, "caseID": exhibit.caseID, "caseReference": exhibit.caseReference,
            "verdict": exhibit.verdict, "verdictLabel": Self.verdictLabel(exhibit.verdict),
            "summary": exhibit.integrity?.summary ?? "Not checked yet.",
            "problems": exhibit.integrity?.problems ?? [], "hasProblems": !(exhibit.integrity?.problems ?? []).isEmpty,
            "facts": Self.facts(exhibit), "canDownload": canDownload, "size": Self.human(exhibit.size), "sha256": exhibit.sha256.hex,
        ]
        if let coverage = Self.coverage(exhibit.coverage) { values["coverage"] = coverage }
        // The player: the master when browsers play it, else its working copy (or why there is none yet).
        var lineage: [[String: Any]] = []
        if exhibit.isWorkingCopy {
            if let master = exhibit.lineage {
                lineage.append(["id": master.masterID, "reference": master.masterReference, "link": true, "what": "the master"])
                lineage.append(["id": exhibit.id, "reference": exhibit.reference, "link": false,
                                "what": "this working copy (\(master.operation), made \(Self.shown(master.finishedAt)) for \(master.requestedBy))"])
            }
            if canDownload { values["player"] = ["src": "/v1/exhibits/\(exhibit.id)/content", "note": "This is a working copy, made to play; the master is the evidence."] }
        } else {
            let plan = store.workingCopyPlan(exhibit)
            let copies = try await store.workingCopies(of: exhibit)
            lineage.append(["id": exhibit.id, "reference": exhibit.reference, "link": false, "what": "the master (the evidence, never changed)"])
            for copy in copies {
                lineage.append(["id": copy.id, "reference": copy.reference, "link": true,
                                "what": "working copy, \(copy.lineage?.operation ?? "made") \(copy.lineage.map { Self.shown($0.finishedAt) } ?? "")"])
            }
            if !canDownload {
                values["playerNote"] = "Your role may not play or download footage."
            } else if plan.operation == .playable {
                values["player"] = ["src": "/v1/exhibits/\(exhibit.id)/content", "note": "The master itself: browsers play it as it is."]
            } else if let copy = copies.last {
                values["player"] = ["src": "/v1/exhibits/\(copy.id)/content", "note": "The working copy \(copy.reference): the master does not play in a browser (\(plan.reason))."]
            } else {
                let state = exhibit.workingCopyStatus.map { Self.copyState($0) } ?? "not asked for yet"
                values["playerNote"] = "A playable copy is \(state): \(plan.reason)."
            }
        }
        values["lineage"] = lineage
        values.merge(exhibitControls(exhibit, actor, request)) { first, _ in first }
        // Share links: shown to whoever may make, revoke or audit them; the links themselves only to those who
        // may download the footage (a link is a credential to it).
        let canCreateShare = actor.role.can(.shareCreate) && !exhibit.isWorkingCopy && exhibit.isLive
        if canCreateShare || actor.role.can(.shareRevoke) || actor.role.can(.custodyRead) {
            let shares = (try? await store.shares(of: exhibit, for: actor)) ?? []
            let csrf = EvidenceStore.csrfToken(forSession: session)
            let now = CustodyTime.string(store.now())
            values["canShare"] = !exhibit.isWorkingCopy
            values["canCreateShare"] = canCreateShare
            values["shares"] = shares.map { share -> [String: Any] in
                let state = share.revokedAt.map { "revoked \(Self.shown($0))" }
                    ?? (share.expiresAt <= now ? "expired" : (share.downloadsLeft == 0 ? "used up" : "active"))
                return [
                    "id": share.id, "recipient": share.recipient ?? "—", "createdBy": share.createdBy, "createdAt": Self.shown(share.createdAt),
                    "expiresAt": Self.shown(share.expiresAt), "downloads": share.maxDownloads.map { "\(share.downloads) of \($0)" } ?? "\(share.downloads)",
                    "played": share.playedBytes > 0 ? Self.human(share.playedBytes) : "—",
                    "state": state, "canRevoke": actor.role.can(.shareRevoke) && share.revokedAt == nil, "csrf": csrf,
                ]
            }
            if let shareID = request.uri.queryValue("shared"), store.maySeeLinks(of: exhibit, for: actor),
               let share = shares.first(where: { $0.id == shareID && $0.createdBy == actor.name && $0.revokedAt == nil }),
               let token = try store.token(for: share) {
                values["newLink"] = publicURL.current + "/s/" + token
            }
        }
        return try render("exhibit", values)
    }

    func createShare(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let exhibit = try await store.findExhibit(try context.parameters.decoded("exhibit"), for: actor, needing: .exhibitRead)
        let expiresIn = try form["expires_in"].flatMap { $0.isEmpty ? nil : try InputDuration.parse($0, field: "expires_in") }
        var maxDownloads: Int?
        if let text = form["max_downloads"], !text.isEmpty {
            guard let number = Int(text), (1...1_000_000).contains(number) else {
                throw WebError(.badRequest, "Downloads allowed must be a whole number from 1.")
            }
            maxDownloads = number
        }
        let created = try await store.createShare(
            exhibit, expiresIn: expiresIn, maxDownloads: maxDownloads, recipient: Self.field(form, "recipient"),
            note: Self.field(form, "note"), by: actor)
        return Self.redirect("/app/exhibits/\(exhibit.id)?shared=\(created.share.id)")
    }

    func revokeShare(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        try await checkCSRF(request, session: session)
        let share = try await store.revokeShare(try context.parameters.decoded("share"), by: actor)
        return Self.redirect("/app/exhibits/\(share.exhibitID)")
    }

    /// A case's custody timeline (newest first), filterable by kind, with the export links and a button that
    /// checks the whole ledger.
    func custodyPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        guard let (actor, session) = try await signedIn(request, context) else { return Self.redirect("/app/signin") }
        let record = try await store.findCase(try context.parameters.decoded("case"), for: actor, needing: .custodyRead)
        return try render("custody", try await custodyValues(record, request, actor, session))
    }

    func custodyValues(
        _ record: CaseRecord, _ request: Request, _ actor: Actor, _ session: String, exhibit: ExhibitRecord? = nil
    ) async throws -> [String: Any] {
        let (events, total) = try await store.custodyTimeline(case: record.id.rawValue, exhibit: exhibit, by: actor)
        // Exhibits by the references people use (one query for the case), their ids as the link and the title.
        let references = Dictionary(
            try await store.exhibits(in: record.id.rawValue, for: actor).map { ($0.id.rawValue, $0.reference) }, uniquingKeysWith: { first, _ in first })
        let kinds = ["exhibit", "share", "case", "user", "working-copy", "custody", "hold", "retention", "store"]
        let kind = request.uri.queryValue("kind").flatMap { kinds.contains($0) ? $0 : nil }
        let shown = events.filter { event in kind.map { event.action.hasPrefix($0 + ".") } ?? true }
        let values: [String: Any] = [
            "title": "Custody of \(record.reference)", "user": Self.user(actor, session), "caseID": record.id,
            "caseReference": record.reference, "total": total, "shown": shown.count,
            "caseParam": record.reference.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "",
            "kinds": [["value": "", "label": "every event", "selected": kind == nil]]
                + kinds.map { ["value": $0, "label": $0 + " events", "selected": $0 == kind] },
            "events": shown.map { event -> [String: Any] in
                var detail = ""
                if case .object(let fields) = event.details {
                    detail = fields.keys.sorted().prefix(4).compactMap { key in
                        if case .string(let text) = fields[key] { return "\(key): \(text.prefix(80))" }
                        return nil
                    }.joined(separator: "; ")
                }
                return [
                    "seq": event.seq, "at": event.at, "atShown": Self.shown(event.at), "actor": event.actor, "role": event.role ?? "",
                    "action": event.action, "detail": detail, "exhibit": event.exhibit ?? "",
                    "exhibitReference": event.exhibit.map { references[$0] ?? $0 } ?? "", "hasExhibit": event.exhibit != nil,
                    // Where from, in short (the address, or cli:user@host); the whole client line as its title.
                    "client": String((event.client ?? "").split(separator: " ").first ?? "").prefix(60), "clientFull": event.client ?? "",
                ]
            },
        ]
        return values
    }

    /// Checks the whole ledger (chain, latest checkpoint, seals) and shows the result on the case's custody page.
    func verifyCustody(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let record = try await store.findCase(form["case"] ?? "", for: actor, needing: .custodyRead)
        let report = try await store.verifyCustody()
        let text = report.isIntact
            ? "ok: \(report.eventsChecked) events, the chain is intact up to seq \(report.headSeq)"
                + (report.checkpoint.map { "; checkpoint at seq \($0.seq) verifies" } ?? "; no signed checkpoint yet")
            : "BROKEN: " + (report.firstBroken.map { "\($0)" } ?? "problems found")
        // Shown in the answer itself, never carried in a link (a link could claim any result).
        var values = try await custodyValues(record, request, actor, session)
        values["verified"] = ["class": report.isIntact ? "notice" : "error", "text": text]
        return try render("custody", values)
    }

    /// `app.css` and `app.js`, from the package's resources; nothing else.
    func staticFile(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let name = try context.parameters.decoded("file")
        let types = ["app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"]
        guard let type = types[name], let url = Bundle.module.url(forResource: String(name.split(separator: ".")[0]),
                                                                  withExtension: String(name.split(separator: ".")[1]),
                                                                  subdirectory: "Static"),
              let data = try? Data(contentsOf: url) else { throw Problem(.notFound, "no such file") }
        var headers = Self.securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Sessions and forms

    /// The signed-in actor and the session token, or nil (no cookie, or a session that ended or expired).
    func signedIn(_ request: Request, _ context: ExhibitRequestContext) async throws -> (Actor, String)? {
        guard let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty,
              let actor = try await store.actor(forSession: token, client: clientDescription(request, context)) else { return nil }
        return (actor, token)
    }

    func requireSignedIn(_ request: Request, _ context: ExhibitRequestContext) async throws -> (Actor, String) {
        guard let signed = try await signedIn(request, context) else {
            throw WebError(.unauthorized, "Your session has ended. Sign in again.")
        }
        return signed
    }

    /// Reads the form and refuses it unless it carries the session's CSRF token.
    @discardableResult
    func checkCSRF(_ request: Request, session: String) async throws -> [String: String] {
        let form = try await Self.form(request)
        guard EvidenceStore.checkCSRF(form["csrf"], session: session) else {
            throw WebError(.forbidden, "This form did not come from this site (its CSRF token is missing or wrong). Reload the page and try again.")
        }
        return form
    }

    /// An `application/x-www-form-urlencoded` body of at most 64 KiB, as name → value (the first of each name).
    static func form(_ request: Request) async throws -> [String: String] {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw WebError(.unsupportedMediaType, "A form is sent as application/x-www-form-urlencoded.")
        }
        var body = try await request.body.collect(upTo: 64 << 10)
        let text = body.readString(length: body.readableBytes) ?? ""
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> Cookie {
        // Secure whenever the site is reached over TLS (the public address says so, as behind a proxy).
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: publicURL.current.hasPrefix("https://"),
               httpOnly: true, sameSite: .strict)
    }

    // MARK: Rendering

    /// Sent with every page: a strict Content-Security-Policy (scripts and styles from this site's files only, no
    /// inline code), no framing, no referrer, no sniffing, no caching.
    static let securityHeaders: HTTPFields = {
        var fields: HTTPFields = [
            .contentSecurityPolicy:
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            .xContentTypeOptions: "nosniff",
            .cacheControl: "no-store",
        ]
        for (name, value) in [("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer")] {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return fields
    }()

    func render(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        guard let html = pages.render(values, withTemplate: template) else {
            throw Problem(.internalError, "the page \(template) is missing from the package")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    /// Wraps a page handler: any error becomes a page in words with its status (never JSON), a session that ended
    /// sends the browser to sign in.
    func page(
        _ handler: @escaping @Sendable (Request, ExhibitRequestContext) async throws -> Response
    ) -> @Sendable (Request, ExhibitRequestContext) async throws -> Response {
        { request, context in
            do {
                return try await handler(request, context)
            } catch let error as WebError where error.status == .unauthorized {
                return Self.redirect("/app/signin")
            } catch {
                let (status, message) = refusal(error, request)
                let user = try? await signedIn(request, context).map { Self.user($0.0, $0.1) }
                var values: [String: Any] = ["title": status.reasonPhrase, "heading": status.reasonPhrase, "message": message]
                if let user = user ?? nil { values["user"] = user }
                return try render("error", values, status: status)
            }
        }
    }

    /// An error as a page says it: its status and words (a server error is logged, its path redacted).
    func refusal(_ error: any Error, _ request: Request) -> (HTTPResponse.Status, String) {
        if let error = error as? WebError { return (error.status, error.message) }
        let problem = Problem.from(error)
        if problem.status.code >= 500 { logger.error("page \(redactedPath(request.uri.path)): \(error)") }
        return (problem.status, problem.detail)
    }

    static func user(_ actor: Actor, _ session: String) -> [String: Any] {
        [
            "name": actor.name, "role": actor.role.name, "csrf": EvidenceStore.csrfToken(forSession: session),
            "canManageUsers": actor.role.can(.userManage),
        ]
    }

    static func caseRow(_ record: CaseRecord) -> [String: Any] {
        [
            "id": record.id, "reference": record.reference, "status": record.status.rawValue, "statusLabel": label(record.status),
            "createdBy": record.createdBy, "createdAt": record.createdAt, "createdAtShown": shown(record.createdAt),
        ].compacted(["title": record.title, "statusAt": record.statusAt, "statusAtShown": record.statusAt.map(shown)])
    }

    /// What was recorded, in words, one fact a line.
    static func facts(_ exhibit: ExhibitRecord) -> [[String: String]] {
        var facts: [[String: String]] = []
        func add(_ name: String, _ value: String?) { if let value, !value.isEmpty { facts.append(["name": name, "value": value]) } }
        if let media = exhibit.media {
            add("Container", media.format.formatLongName ?? media.format.formatName)
            add("Duration", media.format.duration.map { duration($0) })
            for stream in media.streams where stream.codecType == "video" {
                var text = stream.codecLongName ?? stream.codecName
                if let width = stream.width, let height = stream.height { text += ", \(width)×\(height)" }
                if let rate = frameRate(stream.rFrameRate) { text += ", \(rate) frames a second" }
                add("Video", text)
            }
            for stream in media.streams where stream.codecType == "audio" {
                var text = stream.codecLongName ?? stream.codecName
                if let rate = stream.sampleRate { text += ", \(rate) Hz" }
                if let channels = stream.channels { text += ", \(channels) channel\(channels == 1 ? "" : "s")" }
                add("Audio", text)
            }
        }
        if let coverage = exhibit.coverage {
            if let start = coverage.trueStart, let end = coverage.trueEnd {
                add("Recorded (true time)", "\(shown(CustodyTime.string(start))) to \(shown(CustodyTime.string(end)))")
            }
            add("Time coverage", coverage.summary)
        }
        add("Size", human(exhibit.size))
        add("Uploaded", "by \(exhibit.uploadedBy), \(shown(exhibit.uploadedAt))")
        return facts
    }

    /// The coverage bar: the recorded span (and the window asked for) on one scale of 1000, as SVG coordinates.
    static func coverage(_ coverage: TimeCoverage?) -> [String: Any]? {
        guard let coverage, let start = coverage.trueStart, let end = coverage.trueEnd, end >= start else { return nil }
        let from = coverage.inputs.requestedFrom, to = coverage.inputs.requestedTo
        let low = min(start, from ?? start), high = max(end, to ?? end)
        let span = max(high.timeIntervalSince(low), 1)
        func x(_ date: Date) -> Int { Int((date.timeIntervalSince(low) / span * 1000).rounded()) }
        var values: [String: Any] = ["covered": ["x": x(start), "width": max(x(end) - x(start), 2)]]
        var caption = "Recorded \(shown(CustodyTime.string(start))) to \(shown(CustodyTime.string(end)))"
        if let from, let to {
            values["window"] = ["x": x(from), "width": max(x(to) - x(from), 2)]
            caption += "; asked for \(shown(CustodyTime.string(from))) to \(shown(CustodyTime.string(to)))"
            if let share = coverage.requestedCoverage { caption += String(format: " (%.0f%% of it covered)", share * 100) }
        }
        values["caption"] = caption
        return values
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "unknown" }
        let whole = Int(seconds.rounded())
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        return h > 0 ? String(format: "%d h %02d min %02d s", h, m, s) : String(format: "%d min %02d s", m, s)
    }

    /// `25/1` → `25`, `30000/1001` → `29.97`.
    static func frameRate(_ text: String) -> String? {
        let parts = text.split(separator: "/").compactMap { Double($0) }
        guard parts.count == 2, parts[1] > 0, parts[0] > 0 else { return nil }
        let rate = parts[0] / parts[1]
        return rate == rate.rounded() ? String(Int(rate)) : String(format: "%.2f", rate)
    }

    static func copyState(_ status: WorkingCopyStatus) -> String {
        switch status {
        case .notNeeded: "not needed (plays as it is)"
        case .pending: "being made"
        case .done: "ready"
        case .failed: "could not be made"
        case .interrupted: "interrupted; will be made again"
        }
    }

    static func exhibitRow(_ exhibit: ExhibitRecord) -> [String: Any] {
        var coverage = "—"
        if let start = exhibit.coverage?.trueStart, let end = exhibit.coverage?.trueEnd {
            coverage = "\(shown(CustodyTime.string(start))) to \(shown(CustodyTime.string(end)))"
        }
        let copy = exhibit.workingCopyStatus.map(copyState) ?? (exhibit.isWorkingCopy ? "this is a playable copy" : "—")
        return [
            "id": exhibit.id, "reference": exhibit.reference, "filename": exhibit.filename, "size": human(exhibit.size),
            "verdict": exhibit.verdict, "verdictLabel": verdictLabel(exhibit.verdict), "coverage": coverage, "copy": copy,
        ]
    }

    /// A size as people read it: `210.4 KiB`, `1.2 GiB`.
    static func human(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    static func verdictLabel(_ verdict: String) -> String {
        switch verdict {
        case "complete": "complete"
        case "truncated": "cut short (truncated)"
        case "damaged": "damaged"
        case "not-media": "not video"
        default: "not checked yet"
        }
    }

    static func label(_ status: CaseStatus) -> String {
        status.rawValue.replacingOccurrences(of: "-", with: " ")
    }

    /// A custody time as people read it: `2026-11-26 09:15 UTC`.
    static func shown(_ time: String) -> String {
        guard time.count >= 16 else { return time }
        let characters = Array(time)
        return String(characters[0..<10]) + " " + String(characters[11..<16]) + " UTC"
    }
}

/// A refusal in the web app's words, with its status.
struct WebError: Error {
    let status: HTTPResponse.Status
    let message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The dictionary with the values of `optional` that are there: a template shows a missing value as nothing,
    /// but an `Optional` boxed in `Any` as the word "nil".
    func compacted(_ optional: [String: String?]) -> [String: Any] {
        var all = self
        for (key, value) in optional {
            if let value { all[key] = value }
        }
        return all
    }
}
