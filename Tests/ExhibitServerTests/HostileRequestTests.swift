import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Requests an attacker would send (README, "Security"), against a real server with one user of each role and two
/// cases with different members. Each was a defect: a request that stopped the server, a role that reached what it
/// may not, a limit that could be bypassed, or a leak; each must now get a clean answer with the server alive.
@Suite struct HostileRequestTests {
    let folder: TemporaryDirectory
    let store: TestStore
    let server: LiveServer
    static let otherCase = "2024/B/0002"
    static let otherCaseInURL = "2024%2FB%2F0002"
    var jsmith: String { store.tokens["jsmith"]! }
    var akhan: String { store.tokens["akhan"]! }
    var audit: String { store.tokens["audit"]! }
    var sup: String { store.tokens["sup"]! }

    init() async throws {
        folder = try TemporaryDirectory("hostile")
        store = try await TestStore("hostile")
        // A small playback budget and few open uploads, so the tests reach both limits quickly.
        let policies = try TestPolicies.copy(into: folder, replacing: [
            "sharing.yaml": [("playback_budget: 5", "playback_budget: 2")],
            "storage.yaml": [("max_open_per_user: 50", "max_open_per_user: 60")],
        ])
        server = try await LiveServer(storage: store.storage, policies: policies)
        // akhan's case, which jsmith is not a member of.
        let made = try await HTTP.postJSON(server.url + "/v1/cases", token: store.tokens["akhan"], ["reference": Self.otherCase, "title": "Robbery"])
        guard made.status == 201 else { throw TestSupportError("akhan's case: \(made.text)") }
    }

    func upload(_ path: String, filename: String, caseInURL: String = "2017%2FMPS%2F0421", token: String? = nil) async throws -> [String: Any] {
        let name = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
        let result = try await HTTP.request(
            "POST", server.url + "/v1/cases/\(caseInURL)/exhibits?filename=\(name)", token: token ?? jsmith, upload: path)
        guard result.status == 201 else { throw TestSupportError("upload of \(filename): \(result.status) \(result.text)") }
        return try result.json()
    }

    func expectAlive(after what: String) async throws {
        let health = try await HTTP.get(server.url + "/healthz")
        #expect(server.isRunning, "the server died after \(what)")
        #expect(health.status == 200, "the server died after \(what)")
    }

    /// A 400 problem that names `field` in `invalid-params`.
    func expectRefused(_ result: HTTP.Result, naming field: String, _ what: String) throws {
        #expect(result.status == 400, "\(what): \(result.status) \(result.text)")
        let params = try result.json()["invalid-params"] as? [[String: String]]
        #expect(params?.first?["name"] == field, "\(what): the problem does not name \(field): \(result.text)")
    }

    @Test func outOfRangeTimesAndDurationsAreRefusedNamingTheField() async throws {
        let exhibit = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: "cam.mp4")
        let id = try #require(exhibit["id"] as? String)
        let admin = store.tokens["root"]!
        for year in ["0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z",
                     "2024-01-01T00:00:60Z", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00+24:00"] {
            let encoded = year.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            for (name, path, token) in [("since", "/v1/custody?since=", audit), ("until", "/v1/custody?until=", audit),
                                        ("as_of", "/v1/retention/plan?as_of=", admin), ("covers", "/v1/exhibits?covers=", jsmith)] {
                try expectRefused(try await HTTP.get(server.url + path + encoded, token: token), naming: name, "\(name)=\(year)")
            }
            let status = try await HTTP.request(
                "PUT", server.url + "/v1/cases/2017%2FMPS%2F0421/status", token: jsmith,
                headers: ["Content-Type": "application/json"],
                data: try JSONSerialization.data(withJSONObject: ["status": "charged", "at": year]))
            try expectRefused(status, naming: "at", "status at \(year)")
            let uploadQuery = try await HTTP.request(
                "POST", server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits?filename=x.mp4&recorded_start=\(encoded)", token: jsmith,
                upload: TestPaths.fixtures + "/mp4_h264.mp4")
            try expectRefused(uploadQuery, naming: "recorded_start", "upload recorded_start=\(year)")
            let b64 = { (text: String) in Data(text.utf8).base64EncodedString() }
            let tus = try await HTTP.request(
                "POST", server.url + "/v1/uploads", token: jsmith,
                headers: ["Tus-Resumable": "1.0.0", "Upload-Length": "10",
                          "Upload-Metadata": "case \(b64("2017/MPS/0421")),filename \(b64("a.mp4")),requested_from \(b64(year)),requested_to \(b64("2024-01-01T00:00:00Z"))"])
            try expectRefused(tus, naming: "requested_from", "tus requested_from=\(year)")
        }
        for duration in ["300000000000y", "9223372036854775807s", "99999999999999999999", "-5m", "1e9", "5 fortnights"] {
            let result = try await HTTP.postJSON(server.url + "/v1/exhibits/\(id)/shares", token: jsmith, ["expires_in": duration])
            try expectRefused(result, naming: "expires_in", "expires_in \(duration)")
        }
        for seconds in [Int64.max, -1, 1 << 62] {
            let result = try await HTTP.postJSON(server.url + "/v1/exhibits/\(id)/shares", token: jsmith, ["expires_in": seconds])
            try expectRefused(result, naming: "expires_in", "expires_in \(seconds)")
        }
        let offset = try await HTTP.request(
            "POST", server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits?filename=x.mp4&clock_offset=99999999:00:00", token: jsmith,
            upload: TestPaths.fixtures + "/mp4_h264.mp4")
        try expectRefused(offset, naming: "clock_offset", "clock_offset")
        try await expectAlive(after: "out-of-range times and durations")
        // Times in range still work, at both ends.
        let late = try await HTTP.get(server.url + "/v1/custody?since=1970-01-01&until=9999-12-31T23:59:59.999Z", token: audit)
        #expect(late.status == 200, "\(late.text)")
    }

    @Test func aShareLinkIsShownOnlyToThoseWhoMayDownloadAndPointsAtTheConfiguredAddress() async throws {
        let exhibit = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: "cam.mp4")
        let id = try #require(exhibit["id"] as? String)
        // Created with a forged Host: the link still starts with the server's own address.
        let created = try await HTTP.request(
            "POST", server.url + "/v1/exhibits/\(id)/shares", token: jsmith,
            headers: ["Content-Type": "application/json", "Host": "evil.example", "X-Forwarded-Proto": "https"],
            data: Data(#"{"max_downloads": 1}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        let url = try #require(try created.json()["url"] as? String)
        #expect(url.hasPrefix(server.url + "/s/"), "the link \(url) is not on the server's address \(server.url)")
        for (who, token, sees) in [("jsmith", jsmith, true), ("sup", sup, true), ("audit", audit, false)] {
            let listed = try await HTTP.get(server.url + "/v1/exhibits/\(id)/shares", token: token)
            #expect(listed.status == 200, "\(who): \(listed.text)")
            let share = try #require(try listed.jsonArray().first)
            #expect((share["url"] as? String != nil) == sees, "\(who) \(sees ? "must" : "must not") see the link: \(share)")
            #expect(!listed.text.contains("/s/") || sees, "\(who) got a link in \(listed.text)")
            #expect(share["recipient"] != nil || share["id"] != nil, "\(who) still sees the share itself")
        }
        // The CLI prints the link with the address the server recorded, not the policy's default.
        let cliList = try await store.run(["share", "list", id, "--as", "jsmith", "--json"])
        #expect(cliList.out.contains(url), "share list --json lacks the link \(url): \(cliList.out)")
        let auditList = try await store.run(["share", "list", id, "--as", "audit", "--json"])
        #expect(auditList.status == 0, "the auditor's share list holds a link: \(auditList.out)")
        #expect(!auditList.out.contains("/s/"), "the auditor's share list holds a link: \(auditList.out)")
        let made = try await store.run(["share", "create", id, "--as", "jsmith"])
        #expect(made.status == 0, "share create printed \(made.out) \(made.err)")
        #expect(made.out.hasPrefix(server.url + "/s/"), "share create printed \(made.out) \(made.err)")
    }

    @Test func aLinkWithNoDownloadsLeftNeverDeliversTheMasterAndPlaybackIsBounded() async throws {
        let fixture = TestPaths.fixtures + "/mp4_h264_aac.mp4"
        let size = Int64(try Data(contentsOf: URL(fileURLWithPath: fixture)).count)
        let exhibit = try await upload(fixture, filename: "cam.mp4")
        let id = try #require(exhibit["id"] as? String)
        let created = try await HTTP.postJSON(server.url + "/v1/exhibits/\(id)/shares", token: jsmith, ["max_downloads": 1])
        let link = try #require(try created.json()["url"] as? String)
        let first = try await HTTP.get(link + "?download=master")
        #expect(first.status == 200, "the one download: \(first.status)")
        #expect(Int64(first.body.count) == size, "the one download: \(first.status)")
        // No downloads left: no parameters deliver the master whole.
        for query in ["?download=master", "?play=master", "?play=master&view=abc", "?play=copy", "?download=copy", "?play=1", "?play=master&download=master"] {
            let result = try await HTTP.get(link + query)
            #expect(result.status != 200, "\(query) answered 200 with \(result.body.count) bytes")
            #expect(Int64(result.body.count) < size || result.status >= 400, "\(query) delivered \(result.body.count) bytes")
        }
        // The page still answers (playback remains) but offers no download.
        let page = try await HTTP.get(link)
        #expect(page.status == 200, "\(page.status)")
        #expect(page.text.contains("downloads have all been used"), "the page does not say the downloads are used")
        #expect(!page.text.contains("download=master"), "the page still offers a download")
        // Playback is ranges of at most 4 MiB, within playback_budget (2 here) times the file's size.
        var played: Int64 = 0
        var answers: [Int] = []
        for round in 0..<8 {
            let result = try await HTTP.get(link + "?play=master&view=v\(round)", headers: ["Range": "bytes=0-"])
            answers.append(result.status)
            if result.status == 206 {
                #expect(Int64(result.body.count) <= 4 << 20)
                played += Int64(result.body.count)
            }
        }
        #expect(played <= 2 * size, "playback served \(played) bytes, more than 2 × \(size)")
        #expect(played >= size, "playback served only \(played) bytes: the footage could not be watched through once")
        #expect(answers.last == 410, "playback past the budget answered \(answers)")
        let spent = try await HTTP.get(link)
        #expect(spent.status == 410, "a link with no downloads and no playback left must answer 410, not \(spent.status)")
        try await expectAlive(after: "spending a link")
    }

    @Test func openResumableUploadsHoldNoMemoryAndAreCapped() async throws {
        let file = folder.appending("big.bin")
        var random = DeterministicRandom(seed: 7)
        try random.writeFile(at: file, size: 8 << 20)
        let half = folder.appending("half.bin")
        let halfBytes = Data(try Data(contentsOf: URL(fileURLWithPath: file)).prefix(4 << 20))
        try halfBytes.write(to: URL(fileURLWithPath: half))
        let b64 = { (text: String) in Data(text.utf8).base64EncodedString() }
        func create(_ token: String) async throws -> HTTP.Result {
            try await HTTP.request(
                "POST", server.url + "/v1/uploads", token: token,
                headers: ["Tus-Resumable": "1.0.0", "Upload-Length": String(8 << 20),
                          "Upload-Metadata": "case \(b64("2017/MPS/0421")),filename \(b64("big.bin"))"])
        }
        // Warm up (the first upload brings code and buffers in), then 50 uploads half sent.
        _ = try await HTTP.request("POST", server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits?filename=warm.bin", token: jsmith, upload: half)
        let before = server.residentBytes
        for n in 0..<50 {
            let made = try await create(jsmith)
            let location = try #require(made.header("location"), "upload \(n): \(made.status) \(made.text)")
            let patched = try await HTTP.request(
                "PATCH", server.url + location, token: jsmith,
                headers: ["Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"],
                data: halfBytes)
            #expect(patched.status == 204, "upload \(n): \(patched.status) \(patched.text)")
        }
        let after = server.residentBytes
        print("open uploads: server RSS \(before >> 20) MiB before, \(after >> 20) MiB with 50 uploads half sent")
        #expect(after - before < 32 << 20, "50 open uploads grew the server by \((after - before) >> 20) MiB")
        // The cap: 60 per user here.
        var refused: HTTP.Result?
        for _ in 0..<12 {
            let made = try await create(jsmith)
            if made.status != 201 { refused = made; break }
        }
        let limit = try #require(refused, "more than 60 open uploads were accepted")
        #expect(limit.status == 429, "\(limit.status) \(limit.text)")
        #expect(limit.text.contains("max_open_per_user"), "\(limit.text)")
        // Another user is not held back by jsmith's uploads.
        #expect(try await create(akhan).status == 404, "akhan may not upload to jsmith's case; a 404, not the cap")
        #expect(try await create(sup).status == 201)
    }

    @Test func smallLeaksAreClosed() async throws {
        // Creating a case whose reference exists in a case you cannot see: 409 that says only that it is taken.
        let taken = try await HTTP.postJSON(server.url + "/v1/cases", token: jsmith, ["reference": Self.otherCase, "title": "x"])
        #expect(taken.status == 409, "\(taken.text)")
        #expect(!taken.text.contains("Robbery"), "\(taken.text)")
        #expect(!taken.text.contains("case_"), "\(taken.text)")
        #expect(!taken.text.contains("akhan"), "\(taken.text)")

        // new_bytes counts within the case: footage already in akhan's case is new to jsmith's.
        let fixture = TestPaths.fixtures + "/avi_mjpeg.avi"
        let size = try Data(contentsOf: URL(fileURLWithPath: fixture)).count
        _ = try await upload(fixture, filename: "a.avi", caseInURL: Self.otherCaseInURL, token: akhan)
        let mine = try await upload(fixture, filename: "a.avi")
        #expect(mine["new_bytes"] as? Int == size, "new_bytes tells jsmith the file is elsewhere: \(mine["new_bytes"] ?? "-")")
        let again = try await upload(fixture, filename: "a-again.avi")
        #expect(again["new_bytes"] as? Int == 0, "the same file again in the same case is not new")

        // Names, references and initials end where they seem to.
        for (path, body) in [("/v1/cases", ["reference": "2024/A/001\n", "title": "t"]),
                             ("/v1/users", ["name": "bob", "role": "investigator", "initials": "CC\n"]),
                             ("/v1/users", ["name": "bob\n", "role": "investigator"])] {
            let token = path == "/v1/users" ? store.tokens["root"]! : jsmith
            let result = try await HTTP.postJSON(server.url + path, token: token, body)
            #expect(result.status == 400, "\(body): \(result.status) \(result.text)")
        }

        // A file name with bidirectional controls is neutralised on the link page and in Content-Disposition.
        let trick = "é\u{202E}gpm.exe"
        let tricked = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: trick)
        #expect(tricked["filename"] as? String == trick, "the stored name keeps what was sent")
        let share = try await HTTP.postJSON(server.url + "/v1/exhibits/\(tricked["id"]!)/shares", token: jsmith, [:])
        let link = try #require(try share.json()["url"] as? String)
        let page = try await HTTP.get(link)
        #expect(!page.text.unicodeScalars.contains { (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value) },
                "the page carries a bidirectional control")
        let head = try await HTTP.request("HEAD", link + "?download=master")
        let disposition = head.header("content-disposition") ?? ""
        #expect(!disposition.isEmpty, "\(disposition)")
        #expect(!disposition.uppercased().contains("%E2%80%AE"), "\(disposition)")
        #expect(!disposition.contains("\u{202E}"), "\(disposition)")

        // Custody CSV: however a spreadsheet splits it (',' or ';', as European locales do), no cell is a formula.
        let hostileAgent = "x;=cmd|' /C calc'!A0,@SUM(1+1)"
        _ = try await HTTP.request("GET", server.url + "/v1/exhibits/\(mine["id"]!)", token: jsmith, headers: ["User-Agent": hostileAgent])
        let csv = try await HTTP.get(server.url + "/v1/custody?format=csv", token: audit)
        #expect(csv.status == 200)
        #expect(csv.text.contains("cmd|"), "the event with the hostile user agent is not in the export")
        for separator in [",", ";"] as [Character] {
            for line in csv.text.split(separator: "\r\n") {
                for cell in Self.cells(String(line), separator: separator) {
                    #expect(!"=+-@".contains(cell.first ?? " "), "splitting on '\(separator)' gives a formula cell: \(cell)")
                }
            }
        }

        // An empty file is refused the same way whichever way it comes.
        let b64 = { (text: String) in Data(text.utf8).base64EncodedString() }
        let tus = try await HTTP.request(
            "POST", server.url + "/v1/uploads", token: jsmith,
            headers: ["Tus-Resumable": "1.0.0", "Upload-Length": "0", "Upload-Metadata": "case \(b64("2017/MPS/0421")),filename \(b64("e.bin"))"])
        let single = try await HTTP.request("POST", server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits?filename=e.bin", token: jsmith, data: Data())
        #expect(tus.status == 400, "tus \(tus.status) \(tus.text); single \(single.status)")
        #expect(single.status == 400, "tus \(tus.status) \(tus.text); single \(single.status)")
        #expect(tus.text.contains("empty"))
        #expect(single.text.contains("empty"))

        // Revoking another case's share answers as if it did not exist, naming nothing.
        let theirs = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: "b.mp4", caseInURL: Self.otherCaseInURL, token: akhan)
        let theirShare = try await HTTP.postJSON(server.url + "/v1/exhibits/\(theirs["id"]!)/shares", token: akhan, [:])
        let shareID = try #require(try theirShare.json()["id"] as? String)
        let revoke = try await HTTP.request("DELETE", server.url + "/v1/shares/\(shareID)", token: jsmith)
        let unknown = try await HTTP.request("DELETE", server.url + "/v1/shares/sh_aaaaaaaaaaaaaaaa", token: jsmith)
        #expect(revoke.status == 404, "\(revoke.text)")
        #expect(unknown.status == 404, "\(revoke.text)")
        #expect(!revoke.text.contains("ex_") && !revoke.text.contains(theirs["reference"] as! String), "\(revoke.text)")
        #expect(revoke.text.replacingOccurrences(of: shareID, with: "ID") == unknown.text.replacingOccurrences(of: "sh_aaaaaaaaaaaaaaaa", with: "ID")
                    .replacingOccurrences(of: "sh_aaaaaaaaaaaaaaaa", with: "ID"), "the answers differ: \(revoke.text) / \(unknown.text)")
        try await expectAlive(after: "the small leaks")
    }

    /// The cells of a CSV line as a spreadsheet splitting on `separator` reads them (double quotes group).
    static func cells(_ line: String, separator: Character) -> [String] {
        var cells: [String] = []
        var current = ""
        var quoted = false
        var previous: Character?
        for character in line {
            if character == "\"" {
                if quoted, previous == "\"" { current.append("\"") }
                quoted.toggle()
            } else if character == separator && !quoted {
                cells.append(current)
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        cells.append(current)
        return cells
    }
}
