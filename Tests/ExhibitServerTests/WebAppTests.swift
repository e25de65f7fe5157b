import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// The web app (README, "Web app"): its pages in real Chromium (Tests/Browser/web_app.py), and what a browser
/// cannot show (headers, cookies, forged forms, throttling) through curl.
@Suite struct WebAppTests {
    static let form = ["Content-Type": "application/x-www-form-urlencoded"]

    /// A curl session with its own cookie jar, as one browser.
    struct Browser {
        let jar: String
        let base: String

        init(_ folder: TemporaryDirectory, _ name: String, base: String) {
            jar = folder.appending("\(name).cookies")
            self.base = base
        }

        func get(_ path: String) async throws -> HTTP.Result {
            try await HTTP.request("GET", base + path, extra: ["-b", jar, "-c", jar])
        }

        func post(_ path: String, _ fields: [(String, String)]) async throws -> HTTP.Result {
            let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                .joined(separator: "&")
            return try await HTTP.request("POST", base + path, headers: WebAppTests.form, data: Data(body.utf8), extra: ["-b", jar, "-c", jar])
        }

        /// The CSRF token of the first form on a page.
        static func csrf(_ page: HTTP.Result) -> String? {
            page.text.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) }
        }

        /// Signs in through the form; returns the page the browser lands on.
        func signIn(_ name: String, _ token: String) async throws -> HTTP.Result {
            let page = try await get("/app/signin")
            return try await post("/app/signin", [("csrf", Self.csrf(page) ?? ""), ("name", name), ("token", token)])
        }

        /// The session cookie's value in the jar.
        func session() throws -> String? {
            let text = try String(contentsOfFile: jar, encoding: .utf8)
            return text.split(separator: "\n").first { $0.contains("\texhibit_session\t") }.flatMap { $0.split(separator: "\t").last.map(String.init) }
        }
    }

    @Test func theFirstPagesWorkInChromiumWithTheKeyboard() async throws {
        let store = try await TestStore("web-chromium")
        let server = try await LiveServer(storage: store.storage)
        defer { server.terminate() }
        let shots = TestPaths.packageRoot + "/.build/screenshots/web-app"
        // A DVR export: a folder of three videos, one of them cut short.
        let work = try TemporaryDirectory("web-upload")
        let export = work.appending("DVR-export")
        try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)
        let videos = ["mp4_h264.mp4": "complete", "ts_h264_aac.ts": "complete", "truncated_half.avi": "truncated"]
        var digests: [String: String] = [:]
        for name in videos.keys {
            try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/" + name, toPath: export + "/" + name)
            digests[name] = SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: export + "/" + name))).hex
        }
        let run = try await Subprocess.run("/usr/bin/env", [
            "python3", TestPaths.packageRoot + "/Tests/Browser/web_app.py", "--base", server.url,
            "--user", "jsmith", "--token", try #require(store.tokens["jsmith"]),
            "--auditor", "audit", "--auditor-token", try #require(store.tokens["audit"]), "--shots", shots, "--folder", export,
        ])
        try #require(run.status == 0, "the Chromium run failed: \(run.err.suffix(3000))")
        let seen = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "no JSON from the run: \(run.out)")

        #expect(seen["signin_focus"] as? [String] == ["name", "token"], "the keyboard path through the sign-in form: \(seen["signin_focus"] ?? "")")
        #expect((seen["after_signin_url"] as? String)?.hasSuffix("/app") == true, "where signing in leads: \(seen["after_signin_url"] ?? "")")
        #expect(seen["cases_heading"] as? String == "Cases")
        #expect((seen["who"] as? String)?.contains("jsmith") == true, "the signed-in user is named: \(seen["who"] ?? "")")
        #expect(seen["create_form_shown"] as? Bool == true, "an investigator is offered the form to open a case")
        #expect(seen["case_heading"] as? String == "WEB/2026/1", "the new case's page: \(seen["case_heading"] ?? "")")
        #expect(seen["case_title_cell"] as? String == "Shop CCTV <b>not bold</b>", "a title with markup is shown as text: \(seen["case_title_cell"] ?? "")")
        #expect(seen["exhibits_empty"] as? String == "No exhibits yet.")
        #expect((seen["member_notice"] as? String)?.contains("akhan is now a member") == true, "\(seen["member_notice"] ?? "")")
        #expect(Set(seen["members"] as? [String] ?? []) == ["jsmith", "akhan"], "members: \(seen["members"] ?? "")")
        // The folder's three files, each with the SHA-256 of its bytes and its verdict.
        #expect(seen["upload_button"] as? String == "Upload 3 files", "\(seen["upload_button"] ?? "")")
        let uploads = seen["upload_rows"] as? [[String: Any]] ?? []
        #expect(uploads.count == 3, "upload rows: \(uploads)")
        for row in uploads {
            let file = row["file"] as? String ?? ""
            let name = String(file.split(separator: "/").last ?? "")
            #expect(file == "DVR-export/" + name, "the file keeps its path in the folder: \(file)")
            #expect(row["state"] as? String == "done", "\(file): \(row["result"] ?? "")")
            #expect(row["sha256"] as? String == digests[name], "\(file): the SHA-256 shown is not the file's")
            #expect(row["verdict"] as? String == videos[name], "\(file): verdict \(row["verdict"] ?? "none")")
        }
        #expect((seen["overall_text"] as? String)?.hasSuffix("done") == true, "\(seen["overall_text"] ?? "")")
        #expect(seen["exhibit_rows_live"] as? Int == 3, "the case's list did not show the uploads without a reload: \(seen["exhibit_rows_live"] ?? "")")
        // The case page lists the three masters (their working copies under "playable copy"), each verdict in the
        // words for what the store says of it now (making a working copy decodes every frame, which can add damage).
        let listed = (seen["exhibit_rows"] as? [[String]] ?? [])
        #expect(listed.count == 3, "the case page lists the uploads: \(listed)")
        let caseID = try #require(URL(string: seen["case_url"] as? String ?? "")?.lastPathComponent)
        let api = try await HTTP.get(server.url + "/v1/cases/\(caseID)/exhibits", token: store.tokens["jsmith"]).jsonArray()
        let words = ["complete": "complete", "truncated": "cut short (truncated)", "damaged": "damaged", "not-media": "not video"]
        for row in listed {
            guard row.count >= 4, let exhibit = api.first(where: { $0["reference"] as? String == row[0] }) else {
                Issue.record("a row the API does not have: \(row)")
                continue
            }
            #expect(row[3] == words[exhibit["verdict"] as? String ?? ""], "\(row[0]): the page says \(row[3]), the store \(exhibit["verdict"] ?? "")")
            #expect(row[1] == exhibit["filename"] as? String, "\(row[0]): file \(row[1])")
        }
        let avi = api.first { ($0["filename"] as? String)?.hasSuffix("truncated_half.avi") == true }
        #expect(avi.map { $0["verdict"] as? String != "complete" } == true, "the cut AVI is called complete: \(avi?["verdict"] ?? "")")
        #expect((seen["upload_csp_violations"] as? [String])?.isEmpty == true, "\(seen["upload_csp_violations"] ?? "")")
        // The cut AVI's page: its verdict in words, its working copy playing in Chromium, master and copy.
        #expect(seen["exhibit_verdict"] as? String == words[avi?["verdict"] as? String ?? ""], "\(seen["exhibit_verdict"] ?? "")")
        #expect((seen["exhibit_facts"] as? [String] ?? []).contains("Video"), "facts: \(seen["exhibit_facts"] ?? "")")
        #expect((seen["player_src"] as? String)?.contains("/v1/exhibits/") == true, "no player: \(seen["player_src"] ?? "")")
        let played = seen["played"] as? [String: Any] ?? [:]
        #expect((played["width"] as? Int ?? 0) > 0, "the working copy shows no picture: \(played)")
        #expect((played["time"] as? Double ?? 0) > 0.2, "the working copy does not play: \(played)")
        let lineage = seen["exhibit_lineage"] as? [String] ?? []
        #expect(lineage.count == 2, "master and working copy: \(lineage)")
        #expect(lineage.first?.contains("the master") == true, "\(lineage)")
        #expect(seen["download_link"] as? Int == 1, "an investigator may download")
        #expect((seen["exhibit_csp_violations"] as? [String])?.isEmpty == true, "\(seen["exhibit_csp_violations"] ?? "")")
        // The share made from the page: a link to this server, played in a browser of its own, then revoked.
        #expect((seen["share_link"] as? String)?.hasPrefix(server.url + "/s/") == true, "the new link: \(seen["share_link"] ?? "none")")
        #expect((seen["share_rows"] as? [String] ?? []).first?.contains("CPS lawyer A. Khan") == true, "\(seen["share_rows"] ?? "")")
        let shared = seen["share_played"] as? [String: Any] ?? [:]
        #expect((shared["width"] as? Int ?? 0) > 0, "the shared footage shows no picture: \(shared)")
        #expect((shared["time"] as? Double ?? 0) > 0.2, "the shared footage does not play: \(shared)")
        #expect((seen["share_rows_after_revoke"] as? [String] ?? []).first?.contains("revoked") == true, "\(seen["share_rows_after_revoke"] ?? "")")
        #expect((seen["share_after_revoke"] as? String)?.contains("withdrawn") == true, "the revoked link still works: \(seen["share_after_revoke"] ?? "")")
        #expect(seen["bad_member_heading"] as? String == "Not Found", "an unknown member: \(seen["bad_member_heading"] ?? "")")
        #expect((seen["bad_member_message"] as? String)?.contains("nobody-here") == true, "\(seen["bad_member_message"] ?? "")")
        let rows = seen["search_rows"] as? [String] ?? []
        #expect(rows.count == 1, "searching 'web/2026' finds the case opened here and only it: \(rows)")
        #expect(rows.first?.contains("WEB/2026/1") == true, "\(rows)")
        #expect(seen["search_none"] as? String == "No case matches.")
        #expect(seen["closed_rows"] as? Int == 0, "no case is closed")
        #expect((seen["local_time_title"] as? String)?.isEmpty == false, "times carry the browser's own zone")
        #expect((seen["csp_violations"] as? [String])?.isEmpty == true, "the pages broke their own CSP: \(seen["csp_violations"] ?? "")")
        #expect((seen["after_signout_url"] as? String)?.contains("/app/signin") == true)
        #expect((seen["after_signout_app_url"] as? String)?.contains("/app/signin") == true, "the session still worked after signing out")

        let refusal = "The name or the token is not right."
        #expect(seen["wrong_token_error"] as? String == refusal, "\(seen["wrong_token_error"] ?? "")")
        #expect(seen["unknown_user_error"] as? String == refusal, "an unknown name must get the same answer: \(seen["unknown_user_error"] ?? "")")
        #expect(seen["wrong_token_name_kept"] as? String == "audit", "the name typed is kept in the form")
        #expect((seen["auditor_who"] as? String)?.contains("audit") == true)
        #expect(seen["auditor_create_form"] as? Int == 0, "an auditor is offered no form to open a case")
        #expect((seen["auditor_cases"] as? [String] ?? []).contains("WEB/2026/1"), "an auditor sees every case: \(seen["auditor_cases"] ?? "")")
        #expect(seen["auditor_member_form"] as? Int == 0, "an auditor is offered no form to add members")
        #expect(seen["auditor_upload_section"] as? Int == 0, "an auditor is offered no upload")
        #expect(seen["auditor_player"] as? Int == 0, "an auditor is shown a player")
        #expect(seen["auditor_download"] as? Int == 0, "an auditor is offered the download")
        #expect((seen["auditor_exhibit_heading"] as? String)?.isEmpty == false, "an auditor reads the exhibit's page")
        let custody = seen["custody_actions"] as? [String] ?? []
        #expect(custody.contains("exhibit.ingested"), "the case's timeline: \(custody)")
        #expect(custody.first == "custody.exported", "reading the timeline is recorded, and shown first: \(custody.prefix(3))")
        let named = seen["custody_exhibit_cells"] as? [String] ?? []
        #expect(!named.isEmpty && named.allSatisfy { $0.hasPrefix("JS/") }, "the custody record names exhibits by their references: \(named)")
        let csv = seen["custody_csv"] as? [String: Any] ?? [:]
        #expect(csv["status"] as? Int == 200, "the CSV export through the session: \(csv)")
        #expect((csv["head"] as? String)?.contains("seq") == true, "the CSV's header: \(csv)")
        #expect((seen["custody_verify"] as? String)?.hasPrefix("ok:") == true, "the ledger check: \(seen["custody_verify"] ?? "")")
        #expect(seen["investigator_custody_link"] as? Int == 0, "an investigator (no custody.read) is offered the custody record")
        #expect((seen["auditor_csp_violations"] as? [String])?.isEmpty == true, "\(seen["auditor_csp_violations"] ?? "")")

        #expect(seen["leaked_words"] == nil, "words from the code on a page: \(seen["leaked_words"] ?? "")")
        // Every page at both widths, for a person to look at.
        for page in ["signin", "cases", "case", "upload", "exhibit", "custody", "error"] {
            for width in [1280, 390] {
                #expect(FileManager.default.fileExists(atPath: "\(shots)/\(page)-\(width).png"), "no screenshot of \(page) at \(width) px")
            }
        }
        // Signing in and out are in the ledger.
        let events = try ExhibitCLI.jsonLines(try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
        let actions = events.compactMap { $0["action"] as? String }
        #expect(actions.filter { $0 == "user.signed-in" }.count == 2, "sign-ins recorded: \(actions)")
        #expect(actions.filter { $0 == "user.signed-out" }.count == 1, "sign-outs recorded: \(actions)")
    }

    /// The pages that decide things, in Chromium (Tests/Browser/web_manage.py): an admin adds a user (the token
    /// shown once), disables, enables and re-tokens them; a supervisor records an outcome, and places and releases
    /// legal holds on the case and on one exhibit; an investigator sees the hold and no control to release it; an
    /// auditor no control at all; an exhibit's own custody record. Each is in the ledger, as from the API.
    @Test func supervisorsAndAdminsDecideThingsInChromium() async throws {
        let store = try await TestStore("web-manage")
        let ingested = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4", TestPaths.fixtures + "/avi_mjpeg.avi"])
        let exhibitID = try #require(ingested.first?["exhibit"] as? String, "no exhibit id in \(ingested)")
        let otherID = try #require(ingested.last?["exhibit"] as? String)
        let server = try await LiveServer(storage: store.storage)
        defer { server.terminate() }
        let detail = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421", token: store.tokens["jsmith"]).json()
        let caseID = try #require((detail["case"] as? [String: Any])?["id"] as? String, "no case id in \(detail)")
        let shots = TestPaths.packageRoot + "/.build/screenshots/web-app"
        var arguments = ["python3", TestPaths.packageRoot + "/Tests/Browser/web_manage.py", "--base", server.url,
                         "--case-id", caseID, "--exhibit-id", exhibitID, "--shots", shots]
        for (flag, user) in [("admin", "root"), ("supervisor", "sup"), ("investigator", "jsmith"), ("auditor", "audit")] {
            arguments += ["--\(flag)", user, "--\(flag)-token", try #require(store.tokens[user])]
        }
        let run = try await Subprocess.run("/usr/bin/env", arguments)
        try #require(run.status == 0, "the Chromium run failed: \(run.err.suffix(3000))")
        let seen = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "no JSON from the run: \(run.out)")

        // Users.
        #expect(seen["admin_users_link"] as? Int == 1, "the admin's header links to Users")
        #expect(Set(seen["users_listed"] as? [String] ?? []).isSuperset(of: ["jsmith", "sup", "audit", "root"]), "\(seen["users_listed"] ?? "")")
        #expect((seen["added_notice"] as? String)?.contains("pnew is added as investigator") == true, "\(seen["added_notice"] ?? "")")
        #expect(seen["new_token_shown"] as? Bool == true, "the new user's token is shown once")
        #expect(seen["new_token_in_url"] as? Bool == false, "the token is in the page's address")
        #expect(seen["token_shown_again"] as? Int == 0, "the token is shown again on the next visit")
        #expect((seen["newcomer_who"] as? String)?.contains("pnew") == true, "the new user signs in with the token: \(seen["newcomer_who"] ?? "")")
        let disabledRow = seen["disabled_row"] as? String ?? ""
        #expect(disabledRow.contains("disabled") && disabledRow.contains("left the unit"), "the row says disabled, and why: \(disabledRow)")
        #expect((seen["disabled_notice"] as? String)?.hasPrefix("The user is disabled") == true, "\(seen["disabled_notice"] ?? "")")
        #expect((seen["newcomer_after_disable_url"] as? String)?.contains("/app/signin") == true, "a disabled user's session still works")
        #expect((seen["enabled_row"] as? String)?.contains("active") == true, "\(seen["enabled_row"] ?? "")")
        #expect(seen["second_token_differs"] as? Bool == true, "a new token is shown, not the old one")
        #expect(seen["old_token_error"] as? String == "The name or the token is not right.", "the old token still signs in: \(seen["old_token_error"] ?? "")")
        #expect((seen["second_token_who"] as? String)?.contains("pnew") == true, "the new token signs in: \(seen["second_token_who"] ?? "")")
        #expect(seen["admin_self_actions"] as? Int == 0, "an admin is offered to disable or re-token themselves")
        #expect(seen["supervisor_users_link"] as? Int == 0, "a supervisor's header links to Users")
        #expect(seen["auditor_users_heading"] as? String == "Forbidden", "an auditor reads the Users page: \(seen["auditor_users_heading"] ?? "")")

        // Status and holds.
        #expect(seen["status_notice"] as? String == "The case's status is recorded.", "\(seen["status_notice"] ?? "")")
        #expect(seen["status_badge"] as? String == "convicted", "\(seen["status_badge"] ?? "")")
        #expect((seen["retention_after_status"] as? String)?.contains("2027") == true, "the retention follows the release date: \(seen["retention_after_status"] ?? "")")
        #expect(seen["bad_status_heading"] as? String == "Bad Request", "\(seen["bad_status_heading"] ?? "")")
        #expect((seen["bad_status_message"] as? String)?.contains("a release date goes only with the status convicted") == true, "\(seen["bad_status_message"] ?? "")")
        #expect(seen["hold_notice"] as? String == "A legal hold now stands.")
        #expect((seen["case_hold"] as? String)?.contains("Appeal lodged: keep everything") == true, "\(seen["case_hold"] ?? "")")
        #expect(seen["hold_form_after_hold"] as? Int == 0, "a second hold is offered while one stands")
        #expect(seen["investigator_status_form"] as? Int == 1, "an investigator (case.status) is offered the status form")
        #expect(seen["investigator_release_form"] as? Int == 0, "an investigator (no hold.release) is offered to release the hold")
        #expect((seen["investigator_sees_hold"] as? String)?.contains("Appeal lodged") == true)
        #expect((seen["investigator_exhibit_hold_via_case"] as? String)?.contains("a hold on its case") == true, "\(seen["investigator_exhibit_hold_via_case"] ?? "")")
        #expect(seen["investigator_exhibit_custody_link"] as? Int == 0, "an investigator (no custody.read) is offered the exhibit's custody record")
        #expect(seen["release_notice"] as? String == "The legal hold is released.")
        #expect(seen["case_hold_after_release"] as? String == "none", "\(seen["case_hold_after_release"] ?? "")")
        #expect((seen["exhibit_hold"] as? String)?.contains("a hold on this exhibit") == true, "\(seen["exhibit_hold"] ?? "")")
        #expect(seen["investigator_exhibit_release_form"] as? Int == 0)
        #expect(seen["exhibit_hold_after_release"] as? String == "none", "\(seen["exhibit_hold_after_release"] ?? "")")
        #expect(seen["auditor_controls"] as? Int == 0, "an auditor is offered a control that decides something")

        // The exhibit's own record: its events, none of the other exhibit's.
        let actions = seen["exhibit_custody_actions"] as? [String] ?? []
        for action in ["custody.exported", "hold.released", "hold.set", "exhibit.ingested"] {
            #expect(actions.contains(action), "the exhibit's record lacks \(action): \(actions)")
        }
        #expect(!actions.contains("case.status-changed"), "a case event in the exhibit's record: \(actions)")
        let reference = try #require(ingested.first?["reference"] as? String)
        #expect(seen["exhibit_custody_exhibits"] as? [String] == [reference],
                "the exhibit's record names other exhibits, or names them by id (\(exhibitID)): \(seen["exhibit_custody_exhibits"] ?? "") (the other is \(otherID))")
        #expect((seen["exhibit_custody_heading"] as? String)?.hasPrefix("Custody record of") == true)
        let holdOnly = seen["exhibit_custody_hold_only"] as? [String] ?? []
        #expect(holdOnly.sorted() == ["hold.released", "hold.set"], "filtered to hold events: \(holdOnly)")
        #expect((seen["exhibit_custody_filter_url"] as? String)?.contains("/app/exhibits/\(exhibitID)/custody?kind=hold") == true,
                "the filter stays on the exhibit's record: \(seen["exhibit_custody_filter_url"] ?? "")")
        let roles = seen["roles_listed"] as? [String: String] ?? [:]
        #expect(Set(roles.keys) == ["investigator", "supervisor", "auditor", "admin"], "the roles table: \(roles.keys.sorted())")
        #expect(roles["auditor"]?.contains("custody.read") == true && roles["auditor"]?.contains("every case") == true, "\(roles["auditor"] ?? "")")
        #expect((seen["admin_csp"] as? [String])?.isEmpty == true, "\(seen["admin_csp"] ?? "")")
        #expect((seen["supervisor_csp"] as? [String])?.isEmpty == true, "\(seen["supervisor_csp"] ?? "")")
        #expect(seen["leaked_words"] == nil, "words from the code on a page: \(seen["leaked_words"] ?? "")")
        for page in ["users", "case-manage", "exhibit-custody"] {
            for width in [1280, 390] {
                #expect(FileManager.default.fileExists(atPath: "\(shots)/\(page)-\(width).png"), "no screenshot of \(page) at \(width) px")
            }
        }
        // The ledger has each decision, by whom.
        let events = try ExhibitCLI.jsonLines(try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
        func count(_ action: String, by actor: String) -> Int {
            events.filter { $0["action"] as? String == action && $0["actor"] as? String == actor }.count
        }
        for action in ["user.added", "user.disabled", "user.enabled", "user.token-reissued"] {
            #expect(count(action, by: "root") == 1, "\(action) by the admin, once, in the ledger: \(count(action, by: "root"))")
        }
        #expect(count("case.status-changed", by: "sup") == 1, "one status recorded (the refused one is not)")
        #expect(count("hold.set", by: "sup") == 2 && count("hold.released", by: "sup") == 2, "two holds set and released")
    }

    @Test func pagesSendStrictHeadersAndFormsWithoutTheirTokenAreRefused() async throws {
        let store = try await TestStore("web-forms")
        let server = try await LiveServer(storage: store.storage)
        defer { server.terminate() }
        let folder = try TemporaryDirectory("web-forms")
        let jsmith = try #require(store.tokens["jsmith"])

        let root = try await HTTP.get(server.url + "/")
        #expect(root.status == 303, "/ goes to the app: \(root.status)")
        #expect(root.header("location") == "/app", "/ goes to the app: \(root.header("location") ?? "")")
        let signInPage = try await HTTP.get(server.url + "/app/signin")
        #expect(signInPage.status == 200)
        let policy = signInPage.header("content-security-policy") ?? ""
        #expect(policy.contains("script-src 'self'"), "CSP: \(policy)")
        #expect(policy.contains("style-src 'self'"), "CSP: \(policy)")
        #expect(!policy.contains("unsafe-inline"), "CSP allows inline code: \(policy)")
        #expect(policy.contains("frame-ancestors 'none'"), "CSP: \(policy)")
        #expect(signInPage.header("x-frame-options") == "DENY")
        #expect(signInPage.header("referrer-policy") == "no-referrer")
        #expect(!signInPage.text.contains("<script>"), "inline script in the page")
        #expect(!signInPage.text.contains("style="), "inline style in the page")
        let script = try await HTTP.get(server.url + "/app/static/app.js")
        #expect(script.status == 200)
        #expect(script.header("content-type")?.hasPrefix("text/javascript") == true)
        #expect(try await HTTP.get(server.url + "/app/static/openapi.yaml").status == 404, "only the app's own files are served")

        // A sign-in posted from elsewhere (no form token) is refused, and sets no session.
        let stranger = Browser(folder, "stranger", base: server.url)
        let forged = try await stranger.post("/app/signin", [("name", "jsmith"), ("token", jsmith)])
        #expect(forged.status == 403, "a sign-in without its form token: \(forged.status)")
        #expect(try stranger.session() == nil, "a forged sign-in got a session")

        // Signed in: the cookie is HttpOnly and SameSite=Strict.
        let browser = Browser(folder, "jsmith", base: server.url)
        let page = try await browser.get("/app/signin")
        let raw = try await Subprocess.run("/usr/bin/curl", [
            "-s", "-o", "/dev/null", "-D", "-", "-b", browser.jar, "-c", browser.jar, "-H", "Content-Type: application/x-www-form-urlencoded",
            "--data-binary", "csrf=\(Browser.csrf(page) ?? "")&name=jsmith&token=\(jsmith)", server.url + "/app/signin",
        ])
        let setCookie = raw.out.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: exhibit_session=") }.map(String.init) ?? ""
        #expect(setCookie.contains("HttpOnly"), "session cookie: \(setCookie)")
        #expect(setCookie.contains("SameSite=Strict"), "session cookie: \(setCookie)")
        #expect(!setCookie.contains("Secure"), "Secure is for TLS only; this server is plain HTTP: \(setCookie)")
        let session = try #require(try browser.session(), "no session cookie after signing in: \(raw.out)")
        let cases = try await browser.get("/app")
        #expect(cases.status == 200, "the cases page with the session: \(cases.status)")
        #expect(cases.text.contains("Open a case"), "an investigator's cases page offers to open one")
        let csrf = try #require(Browser.csrf(cases))

        // Forms without their token, or with another session's, change nothing.
        let missing = try await browser.post("/app/cases", [("reference", "FORGED/1")])
        #expect(missing.status == 403, "a form without its CSRF token: \(missing.status)")
        #expect(missing.header("content-type")?.hasPrefix("text/html") == true, "a page, not JSON")
        let other = Browser(folder, "akhan", base: server.url)
        #expect(try await other.signIn("akhan", try #require(store.tokens["akhan"])).status == 303)
        let othersToken = try #require(Browser.csrf(try await other.get("/app")))
        let crossed = try await browser.post("/app/cases", [("csrf", othersToken), ("reference", "FORGED/2")])
        #expect(crossed.status == 403, "another session's CSRF token: \(crossed.status)")
        let listed = try await HTTP.get(server.url + "/v1/cases", token: jsmith).jsonArray().compactMap { $0["reference"] as? String }
        #expect(!listed.contains("FORGED/1"), "a forged form opened a case")
        #expect(!listed.contains("FORGED/2"), "a forged form opened a case")

        // With its token the form works; a bad reference is a 400 in words.
        let opened = try await browser.post("/app/cases", [("csrf", csrf), ("reference", "FORM/1"), ("title", "From a form")])
        #expect(opened.status == 303, "opening a case with its form token: \(opened.status) \(opened.text.prefix(300))")
        #expect(opened.header("location")?.hasPrefix("/app/cases/case_") == true, "then to the case's page: \(opened.header("location") ?? "")")
        let bad = try await browser.post("/app/cases", [("csrf", csrf), ("reference", "bad reference\n")])
        #expect(bad.status == 400, "\(bad.status)")
        #expect(bad.text.contains("reference"), "the refusal names the field: \(bad.text.prefix(500))")

        // The pages' scripts call the API with the session: reading needs the cookie alone, changing anything the
        // session's CSRF token too (a page elsewhere can send the cookie along, but cannot know the token).
        let cookie = ["Cookie": "exhibit_session=\(session)"]
        #expect(try await HTTP.get(server.url + "/v1/me", headers: cookie).status == 200, "GET /v1/me with the session cookie")
        let body = Data(#"{"reference": "COOKIE/1"}"#.utf8)
        let noHeader = try await HTTP.request("POST", server.url + "/v1/cases", headers: cookie.merging(["Content-Type": "application/json"]) { $1 }, data: body)
        #expect(noHeader.status == 403, "a change with the cookie and no X-CSRF-Token: \(noHeader.status)")
        let wrongHeader = try await HTTP.request(
            "POST", server.url + "/v1/cases", headers: cookie.merging(["Content-Type": "application/json", "X-CSRF-Token": othersToken]) { $1 }, data: body)
        #expect(wrongHeader.status == 403, "a change with another session's X-CSRF-Token: \(wrongHeader.status)")
        let withHeader = try await HTTP.request(
            "POST", server.url + "/v1/cases", headers: cookie.merging(["Content-Type": "application/json", "X-CSRF-Token": csrf]) { $1 }, data: body)
        #expect(withHeader.status == 201, "a change with the cookie and its X-CSRF-Token: \(withHeader.status) \(withHeader.text)")

        // Bearer tokens still work for the API beside the session.
        #expect(try await HTTP.get(server.url + "/v1/me", token: jsmith).status == 200)
        // A session cookie is not a bearer token, and a bearer token is not a session.
        #expect(try await HTTP.get(server.url + "/v1/me", token: session).status == 401)

        // Signing out ends the session on the server: the same cookie no longer works.
        #expect(try await browser.post("/app/signout", [("csrf", csrf)]).status == 303)
        let replayed = try await HTTP.request("GET", server.url + "/app", headers: ["Cookie": "exhibit_session=\(session)"])
        #expect(replayed.status == 303, "an ended session still opens pages: \(replayed.status)")
        #expect(replayed.header("location") == "/app/signin", "an ended session is sent to sign in: \(replayed.header("location") ?? "")")
    }

    @Test func repeatedWrongTokensAreAnsweredSlowly() async throws {
        let store = try await TestStore("web-throttle", withCase: false)
        let server = try await LiveServer(storage: store.storage)
        defer { server.terminate() }
        let folder = try TemporaryDirectory("web-throttle")
        let browser = Browser(folder, "guesser", base: server.url)
        for attempt in 1...4 {
            let answer = try await browser.signIn("jsmith", "exh_guess-\(attempt)")
            #expect(answer.status == 401, "wrong token \(attempt): \(answer.status)")
        }
        // After 4 failures for this name, the next answer waits at least 2 s (a lower bound only).
        let started = ContinuousClock.now
        let slowed = try await browser.signIn("jsmith", "exh_guess-5")
        let waited = ContinuousClock.now - started
        #expect(slowed.status == 401)
        #expect(waited >= .milliseconds(1800), "the fifth wrong token was answered in \(waited)")
        // The right token still works (it waits like the rest, then clears the count).
        #expect(try await browser.signIn("jsmith", try #require(store.tokens["jsmith"])).status == 303)
    }

    /// A 300 MB file from the case page while the server is killed and restarted, and the tab reloaded once: it
    /// finishes, whole, as one exhibit, and the reloaded tab takes the upload up where the server had it.
    @Test func aLargeBrowserUploadSurvivesAServerRestartAndAReloadedTab() async throws {
        let store = try await TestStore("web-resume")
        let jsmith = try #require(store.tokens["jsmith"])
        let port = try LiveServer.freePort()
        var server = try await LiveServer(storage: store.storage, port: port)
        let detail = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421", token: jsmith).json()
        let caseID = try #require((detail["case"] as? [String: Any])?["id"] as? String, "no case id in \(detail)")
        let work = try TemporaryDirectory("web-resume")
        let file = work.appending("export.bin")
        var random = DeterministicRandom(seed: 1818)
        try random.writeFile(at: file, size: 300 << 20)
        let expected = String(try await Subprocess.run("/usr/bin/sha256sum", [file]).out.prefix(64))
        let state = work.appending("state")
        let base = server.url
        async let browser = Subprocess.run("/usr/bin/env", [
            "python3", TestPaths.packageRoot + "/Tests/Browser/resume_upload.py", "--base", base, "--user", "jsmith",
            "--token", jsmith, "--case-id", caseID, "--file", file, "--state", state,
            "--shots", TestPaths.packageRoot + "/.build/screenshots/web-app",
        ])
        // Kill the server once the upload is a third of the way, and start it again on the same port.
        var fraction = 0.0
        for _ in 0..<3000 where fraction < 0.3 {
            try await Task.sleep(for: .milliseconds(100))
            fraction = Double((try? String(contentsOfFile: state, encoding: .utf8)) ?? "") ?? 0
        }
        #expect(fraction >= 0.3, "the upload never reached a third: \(fraction)")
        await server.stop(signal: SIGKILL)
        try await Task.sleep(for: .seconds(1))
        server = try await LiveServer(storage: store.storage, port: port)
        try Data().write(to: URL(fileURLWithPath: state + ".restarted"))
        let run = try await browser
        try #require(run.status == 0, "the Chromium run failed: \(run.err.suffix(3000))")
        let seen = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "\(run.out)")
        #expect(seen["seen_restart"] as? Bool == true)
        #expect(seen["reloaded"] as? Bool == true, "the tab was not reloaded: \(seen)")
        #expect(seen["state"] as? String == "done", "\(seen["result"] ?? "")")
        #expect(seen["sha256"] as? String == expected, "the SHA-256 shown is not sha256sum's: \(seen["sha256"] ?? "") vs \(expected)")
        let resumedFrom = seen["resumed_from"] as? Int ?? 0
        #expect(resumedFrom >= (300 << 20) / 2, "the reloaded tab started over (from byte \(resumedFrom)) instead of resuming")
        // One exhibit, whole, and the ledger and the store verify.
        let exhibits = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits", token: jsmith).jsonArray()
        #expect(exhibits.count == 1, "exhibits after the resumed upload: \(exhibits.map { $0["filename"] ?? "" })")
        #expect(exhibits.first?["sha256"] as? String == expected)
        #expect(try await store.run(["verify"]).status == 0)
        #expect(try await store.run(["custody", "verify"]).status == 0)
        await server.stop()
    }
}
