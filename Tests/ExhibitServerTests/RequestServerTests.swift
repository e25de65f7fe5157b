import Exhibit
import ExhibitCrypto
import ExhibitDeployment
import ExhibitModel
import ExhibitPolicies
import ExhibitTesting
import Foundation
import ShareLinks
import Synchronization
import Testing

/// Footage requests (README, "Footage requests") through a real server and curl: the investigator's API, the
/// owner's page, tus uploads through the link, the receipt and its signature, the limits, and every refusal.
@Suite struct RequestServerTests {
    let store: TestStore
    let server: LiveServer
    var jsmith: String { store.tokens["jsmith"]! }
    static let window = (from: "2026-11-30T14:00:00Z", to: "2026-11-30T14:00:30Z")
    static let tus = ["Tus-Resumable": "1.0.0"]

    init() async throws {
        store = try await TestStore("requests")
        server = try await LiveServer(storage: store.storage)
    }

    func createRequest(_ extra: [String: Any] = [:], token: String? = nil) async throws -> [String: Any] {
        var body: [String: Any] = [
            "from": Self.window.from, "to": Self.window.to, "location": "Corner Shop, 12 High St", "camera": "till camera",
            "owner": "Corner Shop Ltd", "contact": "01632 960123", "note": "the 30 seconds around the theft",
        ]
        body.merge(extra) { _, new in new }
        let created = try await HTTP.postJSON(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: token ?? jsmith, body)
        #expect(created.status == 201, "creating a request: \(created.text)")
        return try created.json()
    }

    /// The `/r/<token>` path of a request's link.
    static func path(_ request: [String: Any]) throws -> String {
        let url = try #require(request["link"] as? String, "the request has no link: \(request)")
        return String(url[try #require(url.range(of: "/r/")).lowerBound...])
    }

    /// Starts a tus upload through a link; returns the response.
    func startUpload(_ link: String, name: String, length: Int, extra: [String: String] = [:]) async throws -> HTTP.Result {
        var headers = Self.tus
        headers["Upload-Length"] = String(length)
        headers["Upload-Metadata"] = "filename " + Data(name.utf8).base64EncodedString()
        headers.merge(extra) { _, new in new }
        return try await HTTP.request("POST", server.url + link + "/uploads", headers: headers)
    }

    /// Uploads a whole file through a link in one PATCH; returns the upload's location.
    func send(_ link: String, file: String, name: String) async throws -> String {
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0
        let created = try await startUpload(link, name: name, length: size)
        #expect(created.status == 201, "starting \(name): \(created.text)")
        let location = try #require(created.header("location"), "no Location for \(name)")
        var headers = Self.tus
        headers["Upload-Offset"] = "0"
        headers["Content-Type"] = "application/offset+octet-stream"
        let patched = try await HTTP.request("PATCH", server.url + location, headers: headers, extra: ["--data-binary", "@" + file])
        #expect(patched.status == 204, "sending \(name): \(patched.text)")
        return location
    }

    func exported() async throws -> [[String: Any]] {
        let result = try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"])
        #expect(result.status == 0, "custody export: \(result.err)")
        return try ExhibitCLI.jsonLines(result)
    }

    /// A clip made by ffmpeg whose file says it was recorded at `start` (recorder time), `seconds` long.
    static func clip(_ folder: TemporaryDirectory, _ name: String, start: String, seconds: Int) async throws -> String {
        let path = folder.appending(name)
        let result = try await Subprocess.run("/usr/bin/ffmpeg", [
            "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=\(seconds)", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "10", "-metadata", "creation_time=\(start)", "-movflags", "+faststart", "-y", path,
        ])
        #expect(result.status == 0, "ffmpeg: \(result.err)")
        return path
    }

    @Test func theOwnerUploadsThroughTheLinkAndGetsASignedReceipt() async throws {
        let request = try await createRequest(["prefix": "CS", "max_submissions": 1])
        #expect(request["state"] as? String == "not-opened", "a new request's state: \(request)")
        #expect((request["reference"] as? String)?.hasPrefix("R-") == true, "reference: \(request)")
        let link = try Self.path(request)
        let token = String(link.dropFirst(3))
        #expect(!link.contains("2017"), "the link must not carry the case")

        // The owner's page: no token, who asks, the window, the case reference but not its title.
        let page = try await HTTP.get(server.url + link)
        #expect(page.status == 200, "the owner's page: \(page.status)")
        #expect(page.header("content-security-policy")?.contains("default-src 'none'") == true, "the page's CSP")
        for expected in ["Example Constabulary", "2017/MPS/0421", "Corner Shop Ltd", "Corner Shop, 12 High St", "till camera", "2026-11-30 14:00:00"] {
            #expect(page.text.contains(expected), "the owner's page lacks \(expected)")
        }
        #expect(!page.text.contains("Burglary"), "the owner's page shows the case's title")
        let csrf = try #require(WebAppTests.Browser.csrf(page), "the page has no CSRF token")

        // The clock check: the recorder shows true time + 2 minutes.
        let forged = try await HTTP.request(
            "POST", server.url + link + "/clock", headers: WebAppTests.form, data: Data("csrf=nope&recorder_time=14%3A00".utf8))
        #expect(forged.status == 403, "a clock check without the page's CSRF token: \(forged.status)")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/London")!
        // The moment the owner read the screen (sent by the page's script as seen_at), on a whole second.
        let seen = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 1).rounded(.down))
        let shown = calendar.dateComponents([.hour, .minute, .second], from: seen.addingTimeInterval(120))
        let typed = String(format: "%02d:%02d:%02d", shown.hour!, shown.minute!, shown.second!)
        let clock = try await HTTP.request(
            "POST", server.url + link + "/clock", headers: WebAppTests.form,
            data: Data("csrf=\(csrf.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&recorder_time=\(typed.replacingOccurrences(of: ":", with: "%3A"))&seen_at=\(Int64(seen.timeIntervalSince1970 * 1000))".utf8))
        #expect(clock.status == 303, "the clock check: \(clock.status) \(clock.text)")
        let after = try await HTTP.get(server.url + link)
        #expect(after.text.contains("the recorder&#39;s clock is 2 min ahead of true time") || after.text.contains("clock is 2 min ahead of true time"),
                "the page does not say the recorder is 2 minutes ahead")

        // Two clips the recorder stamped 2 minutes fast: 14:00:00–14:00:10 and 14:00:20–14:00:30 true time.
        let work = try TemporaryDirectory("request-clips")
        let first = try await Self.clip(work, "cam1-1400.mp4", start: "2026-11-30T14:02:00Z", seconds: 10)
        let third = try await Self.clip(work, "cam1-1420.mp4", start: "2026-11-30T14:02:20Z", seconds: 10)
        let location = try await send(link, file: first, name: "DVR/cam1-1400.mp4")
        let status = try await HTTP.get(server.url + location, headers: Self.tus)
        #expect(status.status == 200, "the upload's state: \(status.text)")
        let json = try status.json()
        let file = try #require(json["file"] as? [String: Any], "no file in \(json)")
        #expect(file["verdict"] as? String == "complete", "first clip's verdict: \(file)")
        #expect(file["sha256"] as? String == SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: first))).hex, "first clip's SHA-256")
        #expect(file["exhibit"] == nil && json["exhibit"] == nil, "the owner is told the exhibit's id: \(json)")
        let coverage = try #require(json["coverage"] as? String)
        #expect(coverage == "Covers 14:00:00–14:00:10 of 14:00:00–14:00:30; 20 seconds missing at the end (14:00:10–14:00:30): please export it too.",
                "coverage after the first clip: \(coverage)")
        _ = try await send(link, file: third, name: "DVR/cam1-1420.mp4")
        let listed = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: jsmith).jsonArray()
        let summary = try #require((listed.first?["coverage"] as? [String: Any])?["summary"] as? String, "no coverage in \(listed)")
        #expect(summary == "Covers 14:00:00–14:00:10, 14:00:20–14:00:30 of 14:00:00–14:00:30; 10 seconds missing (14:00:10–14:00:20): please export it too.",
                "coverage after two clips: \(summary)")
        #expect(listed.first?["state"] as? String == "receiving", "state with files not yet submitted: \(listed)")
        // The command line lists the same request with the same fields as the API.
        let cli = try await store.run(["request", "list", "2017/MPS/0421", "--as", "jsmith", "--json"])
        let cliListed = try #require(try JSONSerialization.jsonObject(with: cli.stdout) as? [[String: Any]], "request list --json: \(cli.out) \(cli.err)")
        let apiKeys = Set(listed.first?.keys.map { $0 } ?? []).subtracting(["exhibits", "coverage", "link"])
        let cliKeys = Set(cliListed.first?.keys.map { $0 } ?? []).subtracting(["coverage", "url"])
        #expect(apiKeys == cliKeys, "only in the API: \(apiKeys.subtracting(cliKeys)); only in the CLI: \(cliKeys.subtracting(apiKeys))")
        #expect(cliListed.first?["reference"] as? String == request["reference"] as? String, "the CLI lists another request")

        // Finishing: a receipt whose digests are the files' and whose signature verifies with the custody key.
        let submitted = try await HTTP.request(
            "POST", server.url + link + "/submit", headers: WebAppTests.form,
            data: Data("csrf=\(csrf.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)".utf8))
        #expect(submitted.status == 303, "submitting: \(submitted.status) \(submitted.text)")
        #expect(submitted.header("location") == link + "/receipts/1", "submit leads to \(submitted.header("location") ?? "nothing")")
        let receiptPage = try await HTTP.get(server.url + link + "/receipts/1")
        #expect(receiptPage.status == 200 && receiptPage.text.contains("cam1-1400.mp4"), "the receipt page: \(receiptPage.status)")
        let receipt = try await HTTP.get(server.url + link + "/receipts/1.json")
        #expect(receipt.status == 200, "the receipt JSON: \(receipt.status)")
        let receiptFile = work.appending("receipt.json")
        try receipt.body.write(to: URL(fileURLWithPath: receiptFile))
        let document = try receipt.json()
        let body = try #require(document["receipt"] as? [String: Any])
        let files = try #require(body["files"] as? [[String: Any]])
        #expect(Set(files.compactMap { $0["sha256"] as? String }) == Set([first, third].map { SHA256.hash(try! Data(contentsOf: URL(fileURLWithPath: $0))).hex }),
                "the receipt's digests are not the files'")
        #expect(body["request"] as? String == request["reference"] as? String, "the receipt's request")
        let pubkey = work.appending("custody.pub.pem")
        let key = try await store.run(["custody", "pubkey"])
        try Data(key.out.utf8).write(to: URL(fileURLWithPath: pubkey))
        let verified = try await ExhibitCLI.run(["request", "verify-receipt", receiptFile, "--key", pubkey])
        #expect(verified.status == 0, "verify-receipt: \(verified.err)")
        // A receipt changed after it was signed does not verify.
        let altered = receipt.text.replacingOccurrences(of: "cam1-1400.mp4", with: "cam1-1401.mp4")
        try Data(altered.utf8).write(to: URL(fileURLWithPath: receiptFile))
        let refused = try await ExhibitCLI.run(["request", "verify-receipt", receiptFile, "--key", pubkey])
        #expect(refused.status != 0 && refused.err.contains("does not match"), "an altered receipt verified: \(refused.err)")

        // Used up: the page says so and links the receipt; uploads are refused and store nothing.
        let gone = try await HTTP.get(server.url + link)
        #expect(gone.status == 410 && gone.text.contains("answered") && gone.text.contains("/receipts/1"), "the used-up page: \(gone.status)")
        #expect(try await startUpload(link, name: "more.mp4", length: 10).status == 410, "an upload through a used-up link")

        // The case: exhibits under the request's prefix, submitted through it, with the owner's clock offset applied.
        let exhibits = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits", token: jsmith).jsonArray()
            .filter { $0["master_id"] == nil }
        #expect(exhibits.compactMap { $0["reference"] as? String }.sorted() == ["CS/1", "CS/2"], "references: \(exhibits.map { $0["reference"] ?? "" })")
        let through = try #require(exhibits.first?["submitted_through"] as? [String: Any], "no submitted_through in \(exhibits.first ?? [:])")
        #expect(through["owner"] as? String == "Corner Shop Ltd" && through["request_reference"] as? String == request["reference"] as? String,
                "submitted_through: \(through)")
        let firstExhibit = try #require(exhibits.first { $0["filename"] as? String == "cam1-1400.mp4" })
        let exhibitCoverage = try #require(firstExhibit["coverage"] as? [String: Any])
        #expect((exhibitCoverage["true_start"] as? String)?.hasPrefix("2026-11-30T14:00:0") == true, "true start after the offset: \(exhibitCoverage)")
        #expect(firstExhibit["uploaded_by"] as? String == "jsmith", "the investigator answers for the exhibit")

        // Custody: the request's life, actor by actor.
        let events = try await exported()
        let actions = events.compactMap { $0["action"] as? String }
        for action in ["request.created", "request.opened", "request.clock-checked", "request.upload.started", "request.submitted", "request.refused"] {
            #expect(actions.contains(action), "no \(action) event")
        }
        let ingested = events.filter { $0["action"] as? String == "exhibit.ingested" }
        #expect(ingested.count == 2, "two ingests")
        #expect(ingested.allSatisfy { ($0["actor"] as? String)?.hasPrefix("request:rq_") == true }, "ingest actors: \(ingested.map { $0["actor"] ?? "" })")
        #expect(ingested.allSatisfy { ShareServerTests.details($0)["submitted_via"] as? String == request["reference"] as? String }, "submitted_via")
        #expect(events.filter { $0["action"] as? String == "request.opened" }.count == 2, "two visits of the page before it was used up")
        #expect(token.count > 40)
    }

    /// The link gives upload only, within its limits; forged, revoked and foreign links get nothing and store nothing.
    @Test func theLinkUploadsWithinItsLimitsAndReachesNothingElse() async throws {
        let request = try await createRequest(["max_files": 2, "max_file_size": 4000, "max_total_size": "6000"])
        let link = try Self.path(request)
        let token = String(link.dropFirst(3))
        let limits = try #require(request["limits"] as? [String: Any])
        #expect(limits["max_files"] as? Int == 2 && limits["max_file_size"] as? Int == 4000 && limits["max_total_size"] as? Int == 6000, "limits: \(limits)")

        // Limits, checked before a byte is written: size of one file, then the total, then the number of files.
        let tooBig = try await startUpload(link, name: "big.mp4", length: 4001)
        #expect(tooBig.status == 413 && tooBig.text.contains("4000"), "a file over max_file_size: \(tooBig.status) \(tooBig.text)")
        let work = try TemporaryDirectory("request-limits")
        let a = work.appending("a.bin"), b = work.appending("b.bin")
        try Data(repeating: 1, count: 3500).write(to: URL(fileURLWithPath: a))
        try Data(repeating: 2, count: 2500).write(to: URL(fileURLWithPath: b))
        _ = try await send(link, file: a, name: "a.bin")
        let overTotal = try await startUpload(link, name: "c.bin", length: 2501)
        #expect(overTotal.status == 413 && overTotal.text.contains("6000"), "over max_total_size: \(overTotal.status) \(overTotal.text)")
        let location = try await send(link, file: b, name: "b.bin")
        let third = try await startUpload(link, name: "d.bin", length: 1)
        #expect(third.status == 409 && third.text.contains("at most 2 files"), "a third file with max_files 2: \(third.status) \(third.text)")

        // A body longer than its upload's declared length is refused, and keeps nothing of the excess.
        let second = try await createRequest()
        let secondLink = try Self.path(second)
        let short = try await startUpload(secondLink, name: "short.bin", length: 100)
        let shortLocation = try #require(short.header("location"))
        var patch = Self.tus
        patch["Upload-Offset"] = "0"
        patch["Content-Type"] = "application/offset+octet-stream"
        let long = try await HTTP.request("PATCH", server.url + shortLocation, headers: patch, data: Data(repeating: 7, count: 150))
        #expect(long.status == 400 || long.status == 413, "a body longer than Upload-Length: \(long.status) \(long.text)")
        let head = try await HTTP.request("HEAD", server.url + shortLocation, headers: Self.tus)
        #expect(head.header("upload-offset") == "0", "bytes of an over-long body were kept: \(head.header("upload-offset") ?? "?")")

        // One request's uploads cannot be reached or continued through another's link, nor with a user's token.
        let uploadID = String(location.split(separator: "/").last ?? "")
        let foreign = try await HTTP.request("HEAD", server.url + secondLink + "/uploads/" + uploadID, headers: Self.tus)
        #expect(foreign.status == 404, "another request's upload through this link: \(foreign.status)")
        let crossed = try await HTTP.request("PATCH", server.url + secondLink + "/uploads/" + uploadID, headers: patch, data: Data([1]))
        #expect(crossed.status == 404, "continuing another request's upload: \(crossed.status)")
        let asUser = try await HTTP.request("HEAD", server.url + "/v1/uploads/" + uploadID, token: jsmith, headers: Self.tus)
        #expect(asUser.status == 404, "a request's upload through /v1/uploads: \(asUser.status)")

        // The link reads nothing: not the case, not the exhibits, not even what it brought.
        for path in ["/v1/cases/2017%2FMPS%2F0421", "/v1/cases/2017%2FMPS%2F0421/exhibits", "/v1/exhibits", "/v1/custody"] {
            let withLink = try await HTTP.get(server.url + path, headers: ["Authorization": "Bearer " + token])
            #expect(withLink.status == 401, "\(path) with the link's token as a bearer token: \(withLink.status)")
        }
        let app = try await HTTP.get(server.url + "/app", headers: ["Authorization": "Bearer " + token, "Cookie": "exhibit_session=" + token])
        #expect(app.status == 303 && app.header("location") == "/app/signin", "the web app with the link's token: \(app.status)")
        for path in ["/s/" + token, link + "/uploads/../../v1/exhibits", link + "/exhibits", link + "/files"] {
            let reached = try await HTTP.get(server.url + path)
            #expect(reached.status == 404 || reached.status == 401, "\(path): \(reached.status)")
            #expect(!reached.text.contains("a.bin"), "\(path) shows a file the link brought")
        }
        let page = try await HTTP.get(server.url + link)
        #expect(page.text.contains("a.bin"), "the owner's page lists what they sent")
        #expect(!page.text.contains("/v1/exhibits/") && !page.text.contains("ex_"), "the owner's page links to the case's exhibits")

        // A share link is no request link, and the reverse.
        let exhibits = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits", token: jsmith).jsonArray()
        let exhibitID = try #require(exhibits.first?["id"] as? String)
        let share = try await HTTP.postJSON(server.url + "/v1/exhibits/\(exhibitID)/shares", token: jsmith, [:]).json()
        let shareURL = try #require(share["url"] as? String)
        let shareToken = String(shareURL[try #require(shareURL.range(of: "/s/")).upperBound...])
        #expect(try await HTTP.get(server.url + "/r/" + shareToken).status == 404, "a share token opened a request page")
        #expect(try await startUpload("/r/" + shareToken, name: "x", length: 1).status == 404, "a share token started an upload")

        // Forged tokens: the same 404 page, nothing stored, nothing recorded beyond the request itself.
        let requestEvents = { try await self.exported().filter { ($0["action"] as? String)?.hasPrefix("request.") == true }.count }
        let before = try await requestEvents()
        var forged = Array(token)
        forged[5] = forged[5] == "A" ? "B" : "A"
        for bad in [String(forged), token + "x", String(token.dropLast()), "", "not-a-token", String(repeating: "A", count: 500)] {
            let page = try await HTTP.get(server.url + "/r/" + bad)
            #expect(page.status == 404, "forged token \(bad.prefix(20)): \(page.status)")
            let upload = try await startUpload("/r/" + bad, name: "f.bin", length: 1)
            #expect(upload.status == 404 || upload.status == 405, "an upload through forged token \(bad.prefix(20)): \(upload.status)")
        }
        #expect(try await requestEvents() == before, "forged links were recorded as events")

        // Revoked: the page says so, uploads are refused (410), and an upload under way stops.
        let revoked = try await HTTP.request("DELETE", server.url + "/v1/requests/\(second["id"] as! String)?reason=obtained%20on%20DVD", token: jsmith)
        let revokedState = try revoked.json()["state"] as? String
        #expect(revoked.status == 200 && revokedState == "revoked", "revoking: \(revoked.text)")
        let gone = try await HTTP.get(server.url + secondLink)
        #expect(gone.status == 410 && gone.text.contains("withdrawn"), "a revoked link's page: \(gone.status)")
        #expect(try await startUpload(secondLink, name: "late.bin", length: 10).status == 410, "an upload through a revoked link")
        let cut = try await HTTP.request("PATCH", server.url + shortLocation, headers: patch, data: Data(repeating: 7, count: 100))
        #expect(cut.status == 410, "an upload under way through a revoked link: \(cut.status)")
        let exhibitsAfter = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits", token: jsmith).jsonArray()
        #expect(!exhibitsAfter.contains { $0["filename"] as? String == "short.bin" }, "a revoked link's upload became an exhibit")

        // Others: an auditor sees requests but not their links; another investigator, not a member, sees none.
        let audited = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: store.tokens["audit"]!).jsonArray()
        #expect(audited.count == 2 && audited.allSatisfy { $0["link"] == nil }, "the auditor's view: \(audited)")
        let stranger = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: store.tokens["akhan"]!)
        #expect(stranger.status == 404, "a non-member listing requests: \(stranger.status)")
        let strangerCreate = try await HTTP.postJSON(
            server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: store.tokens["akhan"]!,
            ["from": Self.window.from, "to": Self.window.to, "location": "x", "owner": "y"])
        #expect(strangerCreate.status == 404, "a non-member creating a request: \(strangerCreate.status)")
        let auditorCreate = try await HTTP.postJSON(
            server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: store.tokens["audit"]!,
            ["from": Self.window.from, "to": Self.window.to, "location": "x", "owner": "y"])
        #expect(auditorCreate.status == 403, "an auditor creating a request: \(auditorCreate.status)")
    }

    /// tuspy, the Python tus client, through the request's endpoint: a PATCH cut off half-way (the socket closed
    /// mid-body), then a new uploader that asks the server where the upload stands and finishes it.
    @Test func tuspyResumesAnUploadCutMidWayThroughTheLink() async throws {
        let python = try await TusPy.python()
        let link = try Self.path(try await createRequest())
        let work = try TemporaryDirectory("request-tuspy")
        let path = work.appending("export.bin")
        var random = DeterministicRandom(seed: 23)
        try random.writeFile(at: path, size: 3 * 1024 * 1024 + 1000)
        let digest = try SHA256.hash(Data(contentsOf: URL(fileURLWithPath: path)))
        let script = """
            import sys, socket, time, urllib.parse
            from tusclient import client
            base, link, path, digest = sys.argv[1:5]
            c = client.TusClient(base + link + "/uploads")
            u = c.uploader(path, chunk_size=1024 * 1024, metadata={"filename": "export.bin", "sha256": digest})
            u.upload_chunk()
            url, offset = u.url, u.offset
            # A PATCH cut half-way: half its declared bytes sent, then the connection closed.
            body = open(path, "rb").read()[offset:offset + 1024 * 1024]
            p = urllib.parse.urlparse(url)
            s = socket.create_connection((p.hostname, p.port))
            s.sendall(("PATCH %s HTTP/1.1\\r\\nHost: %s\\r\\nTus-Resumable: 1.0.0\\r\\nUpload-Offset: %d\\r\\n"
                       "Content-Type: application/offset+octet-stream\\r\\nContent-Length: %d\\r\\n\\r\\n" % (p.path, p.netloc, offset, len(body))).encode()
                      + body[: len(body) // 2])
            s.close()
            time.sleep(0.5)
            resumed = c.uploader(path, url=url, chunk_size=1024 * 1024)
            print(offset, resumed.offset)
            resumed.upload()
            print(url)
            """
        let result = try await Subprocess.run(python, ["-c", script, server.url, link, path, digest.hex])
        #expect(result.status == 0, "tuspy: \(result.err)")
        let lines = result.out.split(separator: "\n").map(String.init)
        let offsets = lines.first?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(offsets.count == 2 && offsets[0] == 1024 * 1024, "tuspy's first chunk: \(lines)")
        // The server keeps what arrived of a cut request (tus), so the resumption starts at or after the first chunk.
        #expect(offsets.count == 2 && offsets[1] >= offsets[0] && offsets[1] < 2 * 1024 * 1024, "where tuspy resumed: \(lines)")
        let url = try #require(lines.last)
        let answer = try await HTTP.get(url, headers: Self.tus).json()
        let file = try #require(answer["file"] as? [String: Any], "no file in \(answer)")
        #expect(file["sha256"] as? String == digest.hex, "the resumed upload's SHA-256")
        #expect(file["verdict"] as? String == "not-media", "random bytes are stored and flagged, not refused: \(file)")
        #expect(try await store.run(["verify"]).status == 0, "exhibit verify after the resumed upload")
    }

    /// Uploads started through one link are rate-limited (30 a minute, Policies/requests.yaml): the 31st in a minute
    /// is a 429 that says so, with Retry-After, and starts nothing.
    @Test func startingUploadsThroughALinkIsRateLimited() async throws {
        let link = try Self.path(try await createRequest(["max_files": 100]))
        // All 31 attempts within one minute of the server's clock (the limit counts per minute).
        let second = Int(Date().timeIntervalSince1970) % 60
        if second > 45 { try await Task.sleep(for: .seconds(61 - second)) }
        var statuses: [Int] = []
        var refused: HTTP.Result?
        for number in 0..<31 {
            let started = try await startUpload(link, name: "clip\(number).mp4", length: 10)
            statuses.append(started.status)
            if started.status == 429 { refused = started }
        }
        #expect(statuses.prefix(30).allSatisfy { $0 == 201 }, "the first 30 uploads in a minute: \(statuses)")
        let answer = try #require(refused, "the 31st upload in a minute was not refused: \(statuses)")
        #expect(statuses.last == 429, "the 31st upload: \(statuses.last ?? 0)")
        #expect(answer.text.contains("this link has started 30 uploads this minute"), "the refusal: \(answer.text)")
        #expect(answer.header("retry-after") == "60", "no Retry-After on the refusal")
        let listed = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: jsmith).jsonArray()
        #expect(listed.first?["uploads_open"] as? Int == 30, "uploads open after the refusal: \(listed.first?["uploads_open"] ?? "none")")
    }

    /// Every value of a new request is checked, and refused with a 400 that names its field.
    @Test func malformedRequestsAreRefusedNamingTheField() async throws {
        let base: [String: Any] = ["from": Self.window.from, "to": Self.window.to, "location": "x", "owner": "y"]
        let cases: [(String, Any, String)] = [
            ("from", "yesterday", "from"), ("to", "2026-11-30T13:00:00Z", "to"), ("to", "2027-02-01T00:00:00Z", "to"),
            ("from", "9999-12-31T00:00:00Z", "from"), ("location", "", "location"), ("owner", String(repeating: "o", count: 201), "owner"),
            ("owner", "a\u{0007}b", "owner"), ("expires_in", "90d", "expires_in"), ("expires_in", "10s", "expires_in"),
            ("max_files", 0, "max_files"), ("max_files", 101, "max_files"), ("max_file_size", "lots", "max_file_size"),
            ("max_total_size", "2TiB", "max_total_size"), ("max_submissions", 11, "max_submissions"), ("prefix", "js", "prefix"),
            ("note", String(repeating: "n", count: 2001), "note"),
        ]
        for (field, value, named) in cases {
            var body = base
            body[field] = value
            let answer = try await HTTP.postJSON(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: jsmith, body)
            #expect(answer.status == 400, "\(field) = \(String(describing: value).prefix(30)): \(answer.status)")
            #expect(answer.text.contains(named), "the refusal of \(field) does not name \(named): \(answer.text)")
        }
        let listed = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: jsmith).jsonArray()
        #expect(listed.isEmpty, "a refused request was stored: \(listed)")
    }
}

/// Expiry and mutated tokens need the store's clock and the store itself: an in-process server over it. No sleeps.
@Suite struct RequestExpiryTests {
    @Test func aRequestWorksUntilItsExpiryAndTenThousandMutatedTokensAreRefused() async throws {
        let files = try await TestStore("request-expiry")
        let clock = ShareExpiryTests.TestClock()
        let store = try EvidenceStore(root: files.storage, policies: try Policies.load(from: TestPaths.policies), now: { clock.read() })
        let actor = try await store.actor(named: "jsmith", client: "test")
        var draft = EvidenceStore.RequestDraft(
            caseName: TestStore.caseReference, from: "2026-11-30 14:00", to: "2026-11-30 14:30", location: "High St", ownerName: "Shop")
        draft.expiresIn = .seconds(3600)
        let created = try await store.createRequest(draft, by: actor)
        // A local time without a zone is read in the force's zone (Europe/London: UTC in November).
        #expect(created.request.windowFrom.hasPrefix("2026-11-30T14:00:00"), "window from: \(created.request.windowFrom)")

        let server = try await InProcessServer(store)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)" + created.path
        #expect(try await HTTP.get(url).status == 200, "the page before expiry")
        clock.advance(3599)
        #expect(try await HTTP.get(url).status == 200, "one second before expiry")
        clock.advance(1)
        let gone = try await HTTP.get(url)
        #expect(gone.status == 410 && gone.text.contains("expired"), "at expiry: \(gone.status)")
        let upload = try await HTTP.request(
            "POST", url + "/uploads", headers: ["Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Metadata": "filename eA=="])
        #expect(upload.status == 410, "an upload after expiry: \(upload.status)")
        #expect(try await store.recordExpiredRequests() == 1, "request.expired recorded once")
        #expect(try await store.recordExpiredRequests() == 0, "request.expired recorded twice")

        // 10,000 mutations of a genuine token: none resolves to a request.
        let fresh = try await store.createRequest(draft, by: actor)
        var random = DeterministicRandom(seed: 19)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".utf8)
        var mutants = Set<String>()
        while mutants.count < 10_000 {
            var bytes = Array(fresh.token.utf8)
            for _ in 0...(Int(random.next() % 3)) {
                let i = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[i] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: i)
                default: bytes.remove(at: i)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if text != fresh.token { mutants.insert(text) }
        }
        var accepted: [String] = []
        for mutant in mutants {
            if case .invalid = try await store.resolveRequest(mutant) { continue }
            accepted.append(mutant)
        }
        #expect(accepted.isEmpty, "mutated tokens accepted: \(accepted.prefix(3))")
        // And a sample of them over HTTP: the same 404, nothing recorded.
        for mutant in mutants.prefix(100) {
            let path = mutant.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let status = try await HTTP.get("http://127.0.0.1:\(server.port)/r/" + path).status
            #expect(status == 404, "mutant \(mutant.prefix(30)) over HTTP: \(status)")
        }
    }
}
