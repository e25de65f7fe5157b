import Exhibit
import ExhibitCrypto
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
        #expect(coverage == "covers 14:00:00–14:00:10 of 14:00:00–14:00:30; 20 seconds missing at the end (14:00:10–14:00:30): please export it too",
                "coverage after the first clip: \(coverage)")
        _ = try await send(link, file: third, name: "DVR/cam1-1420.mp4")
        let listed = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/requests", token: jsmith).jsonArray()
        let summary = try #require((listed.first?["coverage"] as? [String: Any])?["summary"] as? String, "no coverage in \(listed)")
        #expect(summary == "covers 14:00:00–14:00:10, 14:00:20–14:00:30 of 14:00:00–14:00:30; 10 seconds missing (14:00:10–14:00:20): please export it too",
                "coverage after two clips: \(summary)")
        #expect(listed.first?["state"] as? String == "receiving", "state with files not yet submitted: \(listed)")

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
}
