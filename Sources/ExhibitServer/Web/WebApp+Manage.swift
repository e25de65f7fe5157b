import CheckedInput
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation
import Hummingbird

/// The pages that decide things about a case or a user: a case's status and outcome, legal holds on a case or an
/// exhibit, an exhibit's own custody record, and the users page (admins). Each form goes through the same
/// use-case as the API and the command line, so the same rules and the same custody events apply.
extension WebApp {
    func registerManagement(on router: Router<ExhibitRequestContext>) {
        router.post("/app/cases/{case}/status", use: page(setStatus))
        router.post("/app/cases/{case}/hold", use: page(setCaseHold))
        router.post("/app/cases/{case}/hold/release", use: page(releaseCaseHold))
        router.post("/app/exhibits/{exhibit}/hold", use: page(setExhibitHold))
        router.post("/app/exhibits/{exhibit}/hold/release", use: page(releaseExhibitHold))
        router.get("/app/exhibits/{exhibit}/custody", use: page(exhibitCustodyPage))
        router.get("/app/users", use: page(usersPage))
        router.post("/app/users", use: page(addUser))
        router.post("/app/users/{user}/disable", use: page(disableUser))
        router.post("/app/users/{user}/enable", use: page(enableUser))
        router.post("/app/users/{user}/token", use: page(reissueToken))
    }

    /// The notices a redirect may ask for, by name (a link never carries the words themselves).
    static let notices: [String: String] = [
        "status": "The case's status is recorded.", "held": "A legal hold now stands.", "released": "The legal hold is released.",
        "disabled": "The user is disabled: their token and sessions no longer work.", "enabled": "The user is enabled again.",
        "request-revoked": "The footage request is revoked: its link no longer takes uploads.",
    ]

    // MARK: Case status and holds

    func setStatus(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let caseName = try context.parameters.decoded("case")
        let at = try Self.field(form, "at").map { try UTCTime.parse($0, field: "at") }
        let release = try Self.field(form, "release_date").map { try UTCTime.parse($0, field: "release_date") }
        let record = try await store.setCaseStatus(caseName, status: form["status"] ?? "", at: at, releaseDate: release, by: actor)
        return Self.redirect("/app/cases/\(record.id)?done=status")
    }

    func setCaseHold(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let record = try await store.findCase(try context.parameters.decoded("case"), for: actor)
        _ = try await store.setHold(case: record.id.rawValue, exhibit: nil, reason: form["reason"] ?? "", by: actor)
        return Self.redirect("/app/cases/\(record.id)?done=held")
    }

    func releaseCaseHold(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let record = try await store.findCase(try context.parameters.decoded("case"), for: actor)
        _ = try await store.releaseHold(case: record.id.rawValue, exhibit: nil, reason: form["reason"], by: actor)
        return Self.redirect("/app/cases/\(record.id)?done=released")
    }

    func setExhibitHold(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let exhibit = try await store.findExhibit(try context.parameters.decoded("exhibit"), for: actor, needing: .exhibitRead)
        _ = try await store.setHold(case: nil, exhibit: exhibit.id.rawValue, reason: form["reason"] ?? "", by: actor)
        return Self.redirect("/app/exhibits/\(exhibit.id)?done=held")
    }

    func releaseExhibitHold(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let exhibit = try await store.findExhibit(try context.parameters.decoded("exhibit"), for: actor, needing: .exhibitRead)
        _ = try await store.releaseHold(case: nil, exhibit: exhibit.id.rawValue, reason: form["reason"], by: actor)
        return Self.redirect("/app/exhibits/\(exhibit.id)?done=released")
    }

    /// The controls of a case page that change its status or its hold, for the roles that may use them.
    func caseControls(_ record: CaseRecord, _ actor: Actor) -> [String: Any] {
        var values: [String: Any] = [
            "canStatus": actor.role.can(.caseStatus),
            "statusOptions": CaseStatus.allCases.map { ["value": $0.rawValue, "label": Self.label($0), "selected": $0 == record.status] },
            "canHold": actor.role.can(.holdSet) && record.hold == nil,
            "canRelease": actor.role.can(.holdRelease) && record.hold != nil,
        ]
        if let hold = record.hold {
            values["holdFacts"] = ["reason": hold.reason, "setBy": hold.setBy, "setAt": hold.setAt, "setAtShown": Self.shown(hold.setAt)]
        }
        return values
    }

    /// The exhibit page's retention and hold, with the controls for the roles that may use them. A hold on the
    /// exhibit is released here; one on its case, from the case's page.
    func exhibitControls(_ exhibit: ExhibitRecord, _ actor: Actor, _ request: Request) -> [String: Any] {
        var values: [String: Any] = ["canReadCustody": actor.role.can(.custodyRead)]
        if let notice = request.uri.queryValue("done").flatMap({ Self.notices[$0] }) { values["notice"] = notice }
        guard let retention = exhibit.retention else { return values }
        values["retention"] = retention.deadline.map { "due for review at \(Self.shown($0)) (\(retention.because))" }
            ?? "not due: \(retention.because)"
        if let hold = retention.hold {
            let on = hold.exhibitID == exhibit.id ? "this exhibit" : (hold.exhibitID == nil ? "its case" : "its master")
            values["exhibitHold"] = "held (a hold on \(on)) since \(Self.shown(hold.setAt)) by \(hold.setBy): \(hold.reason)"
            values["canRelease"] = actor.role.can(.holdRelease) && hold.exhibitID == exhibit.id
        } else {
            values["canHold"] = actor.role.can(.holdSet) && !exhibit.isWorkingCopy && exhibit.isLive
        }
        return values
    }

    /// An exhibit's own custody record: its events and its working copies', newest first (custody.read).
    func exhibitCustodyPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        guard let (actor, session) = try await signedIn(request, context) else { return Self.redirect("/app/signin") }
        let exhibit = try await store.findExhibit(try context.parameters.decoded("exhibit"), for: actor, needing: .custodyRead)
        let record = try await store.findCase(exhibit.caseID.rawValue, for: actor, needing: .custodyRead)
        var values = try await custodyValues(record, request, actor, session, exhibit: exhibit)
        values["exhibitID"] = exhibit.id
        values["exhibitReference"] = exhibit.reference
        values["title"] = "Custody of \(exhibit.reference)"
        return try render("custody", values)
    }

    // MARK: Users

    /// Every user with their role and token state; adding a user, disabling and enabling, a new token. A token is
    /// shown once, in the answer to the form that made it (never in a link, never again).
    func usersPage(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        guard let (actor, session) = try await signedIn(request, context) else { return Self.redirect("/app/signin") }
        return try render("users", try await usersValues(actor, session, notice: request.uri.queryValue("done").flatMap { Self.notices[$0] }))
    }

    func usersValues(_ actor: Actor, _ session: String, notice: String? = nil) async throws -> [String: Any] {
        let users = try await store.users(by: actor)
        let now = CustodyTime.string(store.now())
        var values: [String: Any] = [
            "title": "Users", "user": Self.user(actor, session),
            "roles": store.policies.roles.roles.keys.sorted().map { ["value": $0, "selected": $0 == "investigator"] },
            "roleTable": store.policies.roles.roles.values.sorted { $0.name < $1.name }.map { role -> [String: Any] in
                [
                    "name": role.name, "description": role.description,
                    "scope": role.scope == .all ? "every case" : "the cases they open or are added to",
                    "permissions": role.permissions.map(\.rawValue).sorted().joined(separator: ", "),
                ]
            },
            "users": users.map { user -> [String: Any] in
                let token: String
                if user.disabledAt != nil {
                    token = "—"
                } else if let expires = user.tokenExpiresAt, expires <= now {
                    token = "expired \(Self.shown(expires))"
                } else {
                    token = (user.tokenIssuedAt.map { "issued \(Self.shown($0))" } ?? "issued with the user")
                        + (user.tokenExpiresAt.map { ", expires \(Self.shown($0))" } ?? "")
                }
                return [
                    "name": user.name, "fullName": user.fullName ?? "", "initials": user.initials, "role": user.role,
                    "state": user.disabledAt.map { "disabled \(Self.shown($0))" + (user.disabledReason.map { ": \($0)" } ?? "") } ?? "active",
                    "disabled": user.disabledAt != nil, "token": token, "isSelf": user.name == actor.name,
                ]
            },
        ]
        if let notice { values["notice"] = notice }
        return values
    }

    func addUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        let (user, token) = try await store.addUser(
            name: form["name"] ?? "", role: form["role"] ?? "", fullName: Self.field(form, "full_name"),
            initials: Self.field(form, "initials"), by: actor)
        var values = try await usersValues(actor, session, notice: "\(user.name) is added as \(user.role), with the initials \(user.initials).")
        values["newToken"] = ["name": user.name, "token": token]
        return try render("users", values)
    }

    func disableUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        let form = try await checkCSRF(request, session: session)
        _ = try await store.disableUser(try context.parameters.decoded("user"), reason: form["reason"] ?? "", by: actor)
        return Self.redirect("/app/users?done=disabled")
    }

    func enableUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        try await checkCSRF(request, session: session)
        _ = try await store.enableUser(try context.parameters.decoded("user"), by: actor)
        return Self.redirect("/app/users?done=enabled")
    }

    func reissueToken(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, session) = try await requireSignedIn(request, context)
        try await checkCSRF(request, session: session)
        let (user, token) = try await store.reissueToken(try context.parameters.decoded("user"), by: actor)
        var values = try await usersValues(actor, session, notice: "\(user.name) has a new token; the old one no longer works.")
        if let token { values["newToken"] = ["name": user.name, "token": token] }
        return try render("users", values)
    }

    /// A form field, trimmed; nil when absent or blank.
    static func field(_ form: [String: String], _ name: String) -> String? {
        guard let value = form[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }
}
