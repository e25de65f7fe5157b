import ExhibitTesting
import Foundation
import Testing

/// What an admin does with people (README, "Using the HTTP API"): disable and enable them, reissue or revoke a
/// token, a token lifetime from policy; initials that stay unique; each a custody event.
@Suite struct UserAdminTests {
    let folder: TemporaryDirectory
    let store: TestStore
    let server: LiveServer
    var root: String { store.tokens["root"]! }

    init() async throws {
        folder = try TemporaryDirectory("users")
        store = try await TestStore("users")
        let policies = try TestPolicies.copy(into: folder, replacing: [
            "roles.yaml": [("\nroles:\n", "\ntoken_lifetime: 90d\n\nroles:\n")],
        ])
        server = try await LiveServer(storage: store.storage, policies: policies)
    }

    func me(_ token: String) async throws -> Int { try await HTTP.get(server.url + "/v1/me", token: token).status }

    @Test func disablingReissuingAndRevokingTakeEffectAtOnce() async throws {
        let jsmith = store.tokens["jsmith"]!
        #expect(try await me(jsmith) == 200)
        // A reason is required; an admin cannot disable themselves.
        let reasonless = try await HTTP.postJSON(server.url + "/v1/users/jsmith/disable", token: root, [:])
        #expect(reasonless.status == 400, "\(reasonless.text)")
        #expect(try await HTTP.postJSON(server.url + "/v1/users/root/disable", token: root, ["reason": "x"]).status == 400)
        #expect(try await HTTP.postJSON(server.url + "/v1/users/jsmith/disable", token: jsmith, ["reason": "x"]).status == 403)
        let disabled = try await HTTP.request(
            "DELETE", server.url + "/v1/users/jsmith", token: root, headers: ["Content-Type": "application/json"],
            data: Data(#"{"reason": "left the force"}"#.utf8))
        let disabledAt = try disabled.json()["disabled_at"] as? String
        #expect(disabled.status == 200, "\(disabled.text)")
        #expect(disabledAt != nil, "\(disabled.text)")
        #expect(try await me(jsmith) == 401, "a disabled user's token still works")
        #expect(try await HTTP.postJSON(server.url + "/v1/users/jsmith/enable", token: root, [:]).status == 200)
        #expect(try await me(jsmith) == 200, "enabled again, the same token works")

        // Reissue: the old token stops at once, the new one works; it carries the policy's lifetime.
        let reissued = try await HTTP.postJSON(server.url + "/v1/users/jsmith/token", token: root, [:])
        #expect(reissued.status == 201, "\(reissued.text)")
        let fresh = try #require(try reissued.json()["token"] as? String)
        let oldStatus = try await me(jsmith)
        let newStatus = try await me(fresh)
        #expect(oldStatus == 401)
        #expect(newStatus == 200)
        let user = try #require(try reissued.json()["user"] as? [String: Any])
        let expires = try #require(user["token_expires_at"] as? String)
        let inDays = try #require(ISO8601DateFormatter().date(from: String(expires.prefix(19)) + "Z")).timeIntervalSinceNow / 86400
        #expect(inDays > 89, "token_lifetime 90d gave \(expires)")
        #expect(inDays < 91, "token_lifetime 90d gave \(expires)")
        // A token past its lifetime is refused like any wrong token.
        try await store.sql("UPDATE users SET token_expires_at = '2000-01-01T00:00:00.000Z' WHERE name = 'jsmith'")
        #expect(try await me(fresh) == 401, "an expired token still works")
        // Revoke: no token at all.
        let again = try await HTTP.postJSON(server.url + "/v1/users/jsmith/token", token: root, [:])
        let third = try #require(try again.json()["token"] as? String)
        #expect(try await HTTP.request("DELETE", server.url + "/v1/users/jsmith/token", token: root).status == 200)
        #expect(try await me(third) == 401)

        let events = try await ExhibitCLI.jsonLines(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
        let actions = events.compactMap { $0["action"] as? String }
        for action in ["user.disabled", "user.enabled", "user.token-reissued", "user.token-revoked"] {
            #expect(actions.contains(action), "no \(action) event")
        }
        // The command line does the same.
        #expect(try await store.run(["user", "disable", "akhan", "--reason", "suspended", "--as", "root"]).status == 0)
        #expect(try await me(store.tokens["akhan"]!) == 401)
        let cliToken = try await store.run(["user", "token", "akhan", "--as", "root"])
        #expect(cliToken.status == 0, "\(cliToken.err)")
        #expect(cliToken.out.contains("token: exh_"), "\(cliToken.err)")
        #expect(try await store.run(["user", "list", "--as", "root"]).out.contains("disabled"))
    }

    @Test func initialsStayUniqueAndFreeOnesAreSuggested() async throws {
        // jsmith is "John Smith", JS: "Jane Sarah" would be JS too.
        let clash = try await HTTP.postJSON(server.url + "/v1/users", token: root, ["name": "jsarah", "role": "investigator", "full_name": "Jane Sarah"])
        #expect(clash.status == 409, "\(clash.text)")
        #expect(clash.text.contains("JS are another user's initials"), "\(clash.text)")
        #expect(clash.text.contains("JSA"), "\(clash.text)")
        let explicitTaken = try await HTTP.postJSON(
            server.url + "/v1/users", token: root, ["name": "jsarah", "role": "investigator", "full_name": "Jane Sarah", "initials": "JS"])
        #expect(explicitTaken.status == 409)
        let chosen = try await HTTP.postJSON(
            server.url + "/v1/users", token: root, ["name": "jsarah", "role": "investigator", "full_name": "Jane Sarah", "initials": "JSA"])
        #expect(chosen.status == 201, "\(chosen.text)")
    }

    @Test func aReferenceWhoseSlashesWereNotEncodedIsExplained() async throws {
        let result = try await HTTP.get(server.url + "/v1/cases/2017/MPS/0421/exhibits", token: store.tokens["jsmith"]!)
        #expect(result.status == 404)
        #expect(result.text.contains("percent-encode"), "\(result.text)")
        #expect(result.text.contains("2017%2FMPS%2F0421"), "\(result.text)")
        let other = try await HTTP.get(server.url + "/v1/nothing/here", token: store.tokens["jsmith"]!)
        #expect(other.status == 404)
        #expect(other.text.contains("no such route"))
        #expect(!other.text.contains("percent-encode"))
    }
}
