import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import ExhibitCrypto
import ExhibitServer
import ExhibitTesting
import Foundation
import Hummingbird
import Logging
import Synchronization
import Testing

/// Share links through a real server and curl: the page, ranges, downloads counted exactly, revocation,
/// forged links, expiry under an injected clock, and the custody record of every access.
@Suite struct ShareServerTests {
    let store: TestStore
    let server: LiveServer
    var jsmith: String { store.tokens["jsmith"]! }

    init() async throws {
        store = try await TestStore("shares")
        server = try await LiveServer(storage: store.storage)
    }

    func upload(_ path: String, filename: String) async throws -> [String: Any] {
        let result = try await HTTP.request(
            "POST", server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits?filename=\(filename)", token: jsmith, upload: path)
        #expect(result.status == 201, "\(result.text)")
        return try result.json()
    }

    func share(_ exhibit: String, _ body: [String: Any], token: String? = nil) async throws -> HTTP.Result {
        try await HTTP.postJSON(server.url + "/v1/exhibits/\(exhibit)/shares", token: token ?? jsmith, body)
    }

    /// The path of a link (`/s/…`) from a share's JSON.
    func path(_ share: [String: Any]) throws -> String {
        let url = try #require(share["url"] as? String)
        return String(url[try #require(url.range(of: "/s/")).lowerBound...])
    }

    /// Every custody event, through the CLI export an auditor would run.
    func exported() async throws -> [[String: Any]] {
        let result = try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"])
        #expect(result.status == 0, "\(result.err)")
        return try ExhibitCLI.jsonLines(result)
    }

    static func details(_ event: [String: Any]) -> [String: Any] {
        if let object = event["details"] as? [String: Any] { return object }
        return (try? JSONSerialization.jsonObject(with: Data((event["details"] as? String ?? "{}").utf8)) as? [String: Any]) ?? [:]
    }

    @Test func theLinkShowsThePagePlaysRangesAndDownloads() async throws {
        let fixture = TestPaths.fixtures + "/mp4_h264_aac.mp4"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let exhibit = try await upload(fixture, filename: "mp4_h264_aac.mp4")
        let id = try #require(exhibit["id"] as? String)
        let created = try await share(id, ["expires_in": "72h", "max_downloads": 2, "recipient": "CPS <script>alert(1)</script> & Co", "note": "for the hearing"])
        #expect(created.status == 201, "\(created.text)")
        let json = try created.json()
        #expect(json["downloads_left"] as? Int == 2)
        #expect(json["max_downloads"] as? Int == 2)
        #expect((json["id"] as? String)?.hasPrefix("sh_") == true)
        let link = try path(json)
        #expect((json["url"] as? String)?.hasPrefix(server.url + "/s/") == true)

        // The page, without any token: what the prosecutor sees.
        let page = try await HTTP.get(server.url + link)
        #expect(page.status == 200)
        #expect(page.header("content-type") == "text/html; charset=utf-8")
        #expect(page.header("content-security-policy")?.contains("default-src 'none'") == true)
        #expect(page.header("cache-control") == "no-store")
        let html = page.text
        for expected in [exhibit["reference"] as! String, "mp4_h264_aac.mp4", exhibit["sha256"] as! String, TestStore.caseReference,
                         "sha256sum", "<video", "2 of 2", "John Smith", "CPS &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"] {
            #expect(html.contains(expected), "the page lacks \(expected)")
        }
        #expect(!html.contains("<script"), "the recipient must be escaped and the page has no script")
        #expect(!html.contains("http://"), "no external assets")
        #expect(!html.contains("https://"), "no external assets")
        // The player streams the master (it plays in browsers) with this page load's view id.
        let playerSource = try #require(html.range(of: #"src="/s/[^"]+""#, options: .regularExpression).map { String(html[$0].dropFirst(5).dropLast()) })
        #expect(playerSource.contains("play=master"))
        let playURL = server.url + playerSource.replacingOccurrences(of: "&amp;", with: "&")
        let view = try #require(playURL.components(separatedBy: "view=").last)

        // Playback: the browser's first request, a cancelled bytes=0-, then ranges. All one view, never a download.
        let first = try await HTTP.get(playURL, headers: ["Range": "bytes=0-"])
        #expect(first.status == 206)
        #expect(first.body == bytes)
        let middle = try await HTTP.get(playURL, headers: ["Range": "bytes=1000-1999"])
        #expect(middle.status == 206)
        #expect(middle.body == bytes[1000..<2000])
        #expect(middle.header("content-range") == "bytes 1000-1999/\(bytes.count)")
        #expect(middle.header("content-disposition")?.hasPrefix("inline") == true)

        // Ranges on the download URL: the right bytes, with ETag, Repr-Digest and Content-Disposition.
        let partial = try await HTTP.get(server.url + link + "?download=master", headers: ["Range": "bytes=100-199"])
        #expect(partial.status == 206)
        #expect(partial.body == bytes[100..<200])
        #expect(partial.header("etag") == "\"\(exhibit["sha256"] as! String)\"")
        #expect(partial.header("repr-digest") == "sha-256=:\(SHA256.hash(bytes).base64):")
        #expect(partial.header("content-disposition")?.contains("attachment") == true)
        #expect(partial.header("content-disposition")?.contains("mp4_h264_aac.mp4") == true)
        // Last-Modified is the upload time as an HTTP date, as date(1) writes it.
        let uploaded = try #require(ISO8601DateFormatter().date(from: (exhibit["uploaded_at"] as! String).replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)))
        let httpDate = try await Subprocess.run("/usr/bin/env", ["LC_ALL=C", "date", "-u", "-d", "@\(Int(uploaded.timeIntervalSince1970))", "+%a, %d %b %Y %H:%M:%S GMT"])
        #expect(partial.header("last-modified") == httpDate.out.trimmingCharacters(in: .whitespacesAndNewlines))
        let suffix = try await HTTP.get(server.url + link + "?download=master", headers: ["Range": "bytes=-10"])
        #expect(suffix.status == 206)
        #expect(suffix.body == bytes.suffix(10))
        let outside = try await HTTP.get(server.url + link + "?download=master", headers: ["Range": "bytes=\(bytes.count + 5)-"])
        #expect(outside.status == 416)
        #expect(outside.header("content-range") == "bytes */\(bytes.count)")
        let head = try await HTTP.request("HEAD", server.url + link + "?download=master")
        #expect(head.status == 200)
        #expect(head.header("content-length") == String(bytes.count))
        // Its count reaches the database just after the last byte leaves; until then it is a download in progress,
        // which already holds one of those left.
        let afterRange = try #require(try await listed(id).first)
        #expect((afterRange["downloads"] as? Int ?? -1) + (afterRange["downloads_in_progress"] as? Int ?? -1) == 1,
                "a range that sent the last byte is a download, completed or finishing: \(afterRange)")
        #expect(afterRange["downloads_left"] as? Int == 1, "a range that sent the last byte uses a download: \(afterRange)")

        // A whole download counts; then none is left and the next is refused with a page that says so.
        let whole = try await HTTP.get(server.url + link + "?download=master")
        #expect(whole.status == 200)
        #expect(whole.body == bytes)
        let afterWhole = try #require(try await listed(id).first)
        #expect(afterWhole["downloads_left"] as? Int == 0, "both downloads used, completed or finishing: \(afterWhole)")
        let refused = try await HTTP.get(server.url + link + "?download=master")
        #expect(refused.status == 410)
        #expect(refused.text.contains("downloads have all been used"))
        // The page itself (and playback) still work: only downloads are limited.
        #expect(try await HTTP.get(server.url + link).status == 200)
        #expect(try await HTTP.get(playURL, headers: ["Range": "bytes=0-99"]).status == 206)
        // There is no working copy of a master that plays.
        #expect(try await HTTP.get(server.url + link + "?download=copy", headers: ["Range": "bytes=0-1"]).status == 404)

        // Every access is in the custody export (once the downloads in progress have been counted); one playback view is one event.
        try await settled(id)
        let events = try await exported()
        let accessed = events.filter { $0["action"] as? String == "share.accessed" }
        let kinds = accessed.map { Self.details($0)["kind"] as? String ?? "" }
        #expect(kinds == ["page", "play", "download", "download", "head", "download", "page"], "\(accessed.map { Self.details($0) })")
        #expect(accessed.filter { Self.details($0)["view"] as? String == view }.map { Self.details($0)["kind"] as? String } == ["page", "play"],
                "the page load and its player's requests are one view")
        #expect(accessed.allSatisfy { ($0["actor"] as? String)?.hasPrefix("link:sh_") == true && ($0["client"] as? String)?.contains("curl") == true })
        // A download that sends the last byte counts; a range that does not is recorded as served bytes.
        let downloaded = events.filter { $0["action"] as? String == "share.downloaded" }
        #expect(downloaded.map { Self.details($0)["bytes"] as? Int } == [10, bytes.count])
        #expect(downloaded.allSatisfy { Self.details($0)["sha256"] as? String == exhibit["sha256"] as? String })
        let served = events.filter { $0["action"] as? String == "share.served" }
        #expect(served.map { Self.details($0)["bytes"] as? Int } == [100], "\(served)")
        #expect(events.contains { $0["action"] as? String == "share.created" && Self.details($0)["recipient"] as? String == "CPS <script>alert(1)</script> & Co" })
        #expect(events.contains { $0["action"] as? String == "share.refused" && (Self.details($0)["reason"] as? String)?.hasPrefix("no downloads left") == true },
                "the refused download is recorded (its reason says whether the last was still being sent)")

        // Playback views are closed (with what they served) when idle or, as here, when the server stops.
        #expect(await server.stop() == 0)
        let closed = try await exported().filter { $0["action"] as? String == "share.served" && Self.details($0)["kind"] as? String == "play" }
        let played = try #require(closed.first { Self.details($0)["view"] as? String == view })
        #expect(Self.details(played)["requests"] as? Int == 3)
        #expect(Self.details(played)["bytes"] as? Int == bytes.count + 1000 + 100)
    }

    /// Waits (up to ten seconds) until no download of the exhibit's links is in progress: each has been counted
    /// or not, and its custody event written.
    func settled(_ exhibit: String) async throws {
        for _ in 0..<200 {
            if try await listed(exhibit).allSatisfy({ $0["downloads_in_progress"] as? Int == 0 }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("downloads of \(exhibit) still in progress after ten seconds: \(try await listed(exhibit))")
    }

    func listed(_ exhibit: String) async throws -> [[String: Any]] {
        let result = try await HTTP.get(server.url + "/v1/exhibits/\(exhibit)/shares", token: jsmith)
        #expect(result.status == 200, "\(result.text)")
        return try result.jsonArray()
    }

    /// A truncated MP4 (its index never written) shared: the page says in one vocabulary what is wrong and what to
    /// do, never "not media" beside "truncated".
    @Test func theLinkPageOfAFileThatCannotPlaySaysWhatToDo() async throws {
        let exhibit = try await upload(TestPaths.fixtures + "/truncated_no_moov.mp4", filename: "cam.mp4")
        let created = try await share(try #require(exhibit["id"] as? String), [:])
        let page = try await HTTP.get(try #require(try created.json()["url"] as? String))
        #expect(page.status == 200)
        #expect(page.text.contains("Nothing in this file can be played"), "\(page.text)")
        #expect(page.text.contains("truncated"), "\(page.text)")
        #expect(page.text.contains("ask the footage owner"))
        #expect(page.text.contains("fresh export"))
        #expect(!page.text.contains("not media"), "the page speaks of 'not media' for a truncated file")
        // Times read as a person writes them, not as ISO text that breaks mid-token on a phone.
        #expect(page.text.range(of: #"Link expires</dt><dd>\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} UTC"#, options: .regularExpression) != nil)
    }

    @Test func forgedAndMalformedLinksAllGetTheSamePage() async throws {
        let exhibit = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: "mp4_h264.mp4")
        let link = try await path(try share(exhibit["id"] as! String, [:]).json())
        #expect(try await HTTP.get(server.url + link).status == 200)
        let token = String(link.dropFirst(3))
        let dot = token.firstIndex(of: ".")!
        var flipped = Array(token)
        flipped[5] = flipped[5] == "A" ? "B" : "A"
        let other = try await path(try share(exhibit["id"] as! String, [:]).json()).dropFirst(3)
        let otherDot = other.firstIndex(of: ".")!
        let wrong = [
            "x", "abc.def", String(flipped), String(token.dropLast()), token + "A", token + "=", String(token[..<dot]),
            String(token[..<dot]) + String(other[otherDot...]),  // one link's payload with another's MAC
            token.replacingOccurrences(of: ".", with: "%2E"), String(repeating: "A", count: 5000), "%00", "..%2F..%2Fetc%2Fpasswd",
        ]
        var bodies = Set<Data>()
        for bad in wrong {
            let result = try await HTTP.get(server.url + "/s/" + bad)
            #expect(result.status == 404, "\(bad.prefix(60)) gave \(result.status)")
            bodies.insert(result.body)
            #expect(try await HTTP.get(server.url + "/s/" + bad + "?download=master").status == 404)
        }
        #expect(bodies.count == 1, "one page whatever was wrong")
        #expect(String(decoding: bodies.first!, as: UTF8.self).contains("This link is not valid"))
        // Nothing about a forged link is worth a custody event (there is no share to name), and nothing leaked.
        #expect(try await exported().allSatisfy { $0["action"] as? String != "share.accessed" || ($0["actor"] as? String)?.hasPrefix("link:") == true })
    }

    @Test func revocationTakesEffectOnTheNextRequest() async throws {
        let exhibit = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: "mp4_h264.mp4")
        let json = try await share(exhibit["id"] as! String, ["recipient": "Defence"]).json()
        let link = try path(json)
        let shareID = try #require(json["id"] as? String)
        #expect(try await HTTP.get(server.url + link).status == 200)
        // A player's ranges, so the share row is held for the view's next ranges: revocation must still stop them.
        for _ in 0..<3 {
            let range = try await HTTP.get(server.url + link + "?play=master&view=abc", headers: ["Range": "bytes=0-99"])
            #expect(range.status == 206, "a range before the revocation: \(range.status)")
        }
        // Someone else's exhibit's share: not found for akhan (no oracle); an auditor may not revoke.
        #expect(try await HTTP.request("DELETE", server.url + "/v1/shares/\(shareID)", token: store.tokens["akhan"]).status == 404)
        #expect(try await HTTP.request("DELETE", server.url + "/v1/shares/\(shareID)", token: store.tokens["audit"]).status == 403)
        let revoked = try await HTTP.request("DELETE", server.url + "/v1/shares/\(shareID)", token: jsmith)
        #expect(revoked.status == 200)
        #expect(try revoked.json()["revoked_at"] as? String != nil)
        for suffix in ["", "?download=master", "?play=master&view=abc"] {
            let gone = try await HTTP.get(server.url + link + suffix)
            #expect(gone.status == 410, "\(suffix): \(gone.status)")
            #expect(gone.text.contains("withdrawn"), "the page says so and whom to ask")
            #expect(gone.text.contains("John Smith"), "the page says so and whom to ask")
        }
        let events = try await exported()
        #expect(events.contains { $0["action"] as? String == "share.revoked" && $0["actor"] as? String == "jsmith" })
        #expect(events.filter { $0["action"] as? String == "share.refused" && Self.details($0)["reason"] as? String == "revoked" }.count == 3)
    }

    /// Sixteen whole downloads at once through a link that allows three: exactly three get the file.
    @Test func maxDownloadsIsExactUnderSixteenConcurrentDownloads() async throws {
        let folder = try TemporaryDirectory("big")
        let file = folder.appending("dvr-export.bin")
        // Larger than what the kernel's socket buffers on loopback hold, so that a download can be cut short.
        var random = DeterministicRandom(seed: 7)
        try random.writeFile(at: file, size: 32 << 20)
        let digest = SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: file))).hex
        let exhibit = try await upload(file, filename: "dvr-export.bin")
        let id = exhibit["id"] as! String
        let link = try await path(try share(id, ["max_downloads": 3]).json())

        // A download cut short never counts.
        let cut = try await Subprocess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "--limit-rate", "500K", "--max-time", "1", server.url + link + "?download=master"])
        #expect(cut.status == 28, "curl gave up after a second")
        try await settled(id)
        #expect(try await listed(id).first?["downloads"] as? Int == 0)

        var arguments = ["-s", "-Z", "--parallel-max", "16", "--parallel-immediate", "--limit-rate", "64M", "-w", "%{http_code} %{filename_effective}\n"]
        for index in 0..<16 { arguments += ["-o", folder.appending("out\(index)"), server.url + link + "?download=master"] }
        let run = try await Subprocess.run("/usr/bin/curl", arguments)
        let statuses = run.out.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(statuses.count == 16)
        let ok = statuses.filter { $0.first == "200" }
        #expect(ok.count == 3, "\(statuses)")
        #expect(statuses.filter { $0.first == "410" }.count == 13)
        for line in ok {
            let body = try Data(contentsOf: URL(fileURLWithPath: String(line[1])))
            #expect(SHA256.hash(body).hex == digest)
        }
        try await settled(id)
        let counted = try await listed(id).first
        #expect(counted?["downloads"] as? Int == 3)
        #expect(counted?["downloads_left"] as? Int == 0)
        let events = try await exported()
        #expect(events.filter { $0["action"] as? String == "share.downloaded" }.count == 3)
        let cutShort = events.filter { $0["action"] as? String == "share.served" && Self.details($0)["complete"] as? Bool == false }
        try #require(cutShort.count == 1, "the cut download is recorded with what it got")
        #expect((Self.details(cutShort[0])["bytes"] as? Int ?? 0) < 32 << 20, "the cut download is recorded with what it got")
        #expect(try await HTTP.get(server.url + link + "?download=master").status == 410)
    }

    @Test func badShareRequestsAreRefusedClearly() async throws {
        let exhibit = try await upload(TestPaths.fixtures + "/mp4_h264.mp4", filename: "mp4_h264.mp4")
        let id = exhibit["id"] as! String
        let cases: [([String: Any], String)] = [
            (["expires_in": "400d"], "at most 30d"), (["expires_in": 999_999_999_999], "expires_in"), (["expires_in": -5], "expires_in"),
            (["expires_in": "soon"], "expires_in"), (["expires_in": "10s"], "at least a minute"), (["expires_in": 0], "expires_in"),
            (["max_downloads": 0], "at least 1"), (["max_downloads": -1], "at least 1"), (["max_downloads": 101], "at most 100"),
            (["max_downloads": "lots"], "max_downloads"), (["recipient": String(repeating: "x", count: 500)], "recipient"),
            (["recipient": "a\u{0}b"], "recipient"),
        ]
        for (body, message) in cases {
            let result = try await share(id, body)
            #expect(result.status == 400, "\(body): \(result.status) \(result.text)")
            #expect(result.header("content-type") == "application/problem+json")
            #expect(result.text.contains(message), "\(body): \(result.text)")
        }
        #expect(try await HTTP.request("POST", server.url + "/v1/exhibits/\(id)/shares", token: jsmith, headers: ["Content-Type": "application/json"], data: Data("{".utf8)).status == 400)
        // Who may share follows the roles: an auditor may not; someone outside the case does not see the exhibit.
        #expect(try await share(id, [:], token: store.tokens["audit"]).status == 403)
        #expect(try await share(id, [:], token: store.tokens["akhan"]).status == 404)
        #expect(try await share(id, [:], token: store.tokens["sup"]).status == 201)
        #expect(try await share(id, [:], token: "exh_wrong").status == 401)
        // None of the refused requests made a share.
        #expect(try await listed(id).count == 1)
    }
}

/// Expiry needs time to pass: an in-process server over a store whose clock the test moves. No sleeps.
@Suite struct ShareExpiryTests {
    final class TestClock: Sendable {
        let now = Mutex(Date())
        func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
        func read() -> Date { now.withLock { $0 } }
    }

    @Test func aLinkWorksUntilItsExpiryAndThenSaysSo() async throws {
        let files = try await TestStore("expiry")
        #expect(try await files.ingest([TestPaths.fixtures + "/mp4_h264.mp4"]).count == 1)
        let clock = TestClock()
        let store = try EvidenceStore(root: files.storage, policies: try Policies.load(from: TestPaths.policies), now: { clock.read() })
        let actor = try await store.actor(named: "jsmith", client: "test")
        let exhibit = try await store.findExhibit("JS/1", case: nil, for: actor)
        let created = try await store.createShare(exhibit, expiresIn: .seconds(3600), maxDownloads: nil, recipient: nil, note: nil, by: actor)

        let inProcess = try await InProcessServer(store)
        defer { inProcess.stop() }
        let port = inProcess.port
        let url = "http://127.0.0.1:\(port)" + created.path

        #expect(try await HTTP.get(url).status == 200)
        // A playback view stays open while requests come, and is closed with what it served once idle.
        #expect(try await HTTP.get(url + "?play=master&view=v1", headers: ["Range": "bytes=0-99"]).status == 206)
        clock.advance(60)
        #expect(try await HTTP.get(url + "?play=master&view=v1", headers: ["Range": "bytes=100-149"]).status == 206)
        #expect(try await store.closeIdleLinkViews().isEmpty, "a view used a minute ago is still open")
        clock.advance(301)
        // The server's sweep (every few seconds of real time) writes the counts kept in memory, then closes the
        // view, now idle by the store's clock.
        var closed: [[String: Any]] = []
        for _ in 0..<100 where closed.isEmpty {
            try await Task.sleep(for: .milliseconds(200))
            closed = try await ExhibitCLI.jsonLines(try files.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
                .filter { $0["action"] as? String == "share.served" }
        }
        try #require(closed.count == 1)
        #expect(ShareServerTests.details(closed[0])["bytes"] as? Int == 150)
        #expect(ShareServerTests.details(closed[0])["requests"] as? Int == 2)
        clock.advance(3599 - 361)
        #expect(try await HTTP.get(url).status == 200, "one second before expiry")
        #expect(try await HTTP.get(url + "?download=master", headers: ["Range": "bytes=0-9"]).status == 206)
        clock.advance(1)
        let gone = try await HTTP.get(url)
        #expect(gone.status == 410)
        #expect(gone.text.contains("expired"))
        #expect(gone.text.contains("John Smith"))
        #expect(try await HTTP.get(url + "?download=master").status == 410)

        // Rotation: a new key signs new links; the old key keeps its links valid until the longest lifetime has passed.
        let second = try await store.createShare(exhibit, expiresIn: .seconds(86400), maxDownloads: nil, recipient: nil, note: nil, by: actor)
        let rotated = try store.rotateLinkKey()
        #expect(rotated.pruned.isEmpty)
        let third = try await store.createShare(exhibit, expiresIn: .seconds(86400), maxDownloads: nil, recipient: nil, note: nil, by: actor)
        #expect(third.share.keyID == rotated.added)
        #expect(second.share.keyID != rotated.added)
        #expect(try await HTTP.get("http://127.0.0.1:\(port)" + second.path).status == 200, "links of the old key still work")
        #expect(try await HTTP.get("http://127.0.0.1:\(port)" + third.path).status == 200)
        clock.advance(31 * 86400)
        let later = try store.rotateLinkKey()
        #expect(later.pruned == [second.share.keyID], "the first key signed nothing still valid")
        #expect(try store.token(for: second.share) == nil)
        #expect(try await HTTP.get("http://127.0.0.1:\(port)" + second.path).status == 404, "its links no longer verify at all")
        // The refusals are on the record.
        let export = try await files.run(["custody", "export", "--as", "audit", "--format", "jsonl"])
        let refusals = try ExhibitCLI.jsonLines(export).filter { $0["action"] as? String == "share.refused" }
        #expect(refusals.count == 2)
        #expect(refusals.allSatisfy { ShareServerTests.details($0)["reason"] as? String == "expired" })
    }
}
