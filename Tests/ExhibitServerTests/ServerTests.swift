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
import Testing
import Yams

/// The real server on 127.0.0.1, driven by curl.
@Suite struct ServerTests {
    let folder: TemporaryDirectory
    let server: LiveServer
    let admin: String
    var tokens: [String: String] = [:]
    static let caseRef = "2017/MPS/0421"
    static let caseInURL = "2017%2FMPS%2F0421"

    init() async throws {
        folder = try TemporaryDirectory("server")
        server = try await LiveServer(storage: folder.appending("Storage"))
        admin = try #require(server.adminToken, "a first start prints the admin token")
        for (name, role, full) in [("jsmith", "investigator", "John Smith"), ("akhan", "investigator", "Aisha Khan"),
                                   ("sup", "supervisor", "Sam Upton"), ("audit", "auditor", "Alex Udit")] {
            let created = try await HTTP.postJSON(server.url + "/v1/users", token: admin, ["name": name, "role": role, "full_name": full])
            #expect(created.status == 201, "\(created.text)")
            tokens[name] = try created.json()["token"] as? String
        }
        let made = try await HTTP.postJSON(server.url + "/v1/cases", token: tokens["jsmith"], ["reference": Self.caseRef, "title": "Burglary"])
        #expect(made.status == 201, "\(made.text)")
    }

    var jsmith: String { tokens["jsmith"]! }

    func upload(_ path: String, filename: String? = nil, token: String? = nil, query: String = "", headers: [String: String] = [:]) async throws -> HTTP.Result {
        let name = (filename ?? (path as NSString).lastPathComponent).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
        return try await HTTP.request(
            "POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=\(name)\(query)", token: token ?? jsmith,
            headers: headers, upload: path)
    }

    func contentDigest(_ path: String) throws -> String {
        "sha-256=:" + SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))).base64 + ":"
    }

    func events() async throws -> [[String: Any]] {
        let result = try await HTTP.get(server.url + "/v1/custody?format=jsonl", token: tokens["audit"])
        return result.text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func onlyHealthAndMetricsAnswerWithoutAToken() async throws {
        #expect(try await HTTP.get(server.url + "/healthz").status == 200)
        let ready = try await HTTP.get(server.url + "/readyz")
        #expect(ready.status == 200 && ready.text.contains("ready"), "readiness with the catalog up: \(ready.status) \(ready.text)")
        let metrics = try await HTTP.get(server.url + "/metrics")
        #expect(metrics.status == 200)
        // Requests counted by route template, method and status, with their durations.
        let series = #"hb_requests_total{http_route="/healthz",http_request_method="GET",http_response_status_code="200"} "#
        #expect(metrics.text.contains(series), "no request count for /healthz in /metrics")
        #expect(metrics.text.contains(#"http_server_request_duration_seconds_count{http_route="/readyz""#), "no durations for /readyz in /metrics")
        #expect(metrics.text.contains("exhibit_uploads_total"), "the store's own counters are gone from /metrics")
        for path in ["/v1/cases", "/v1/me", "/openapi.yaml", "/v1/exhibits/x/content", "/v1/custody", "/v1/users", "/nowhere"] {
            for token in [nil, "exh_wrong", "", "Bearer"] {
                let result = try await HTTP.get(server.url + path, token: token)
                #expect(result.status == 401, "\(path) with \(token ?? "no token") gave \(result.status)")
                #expect(result.header("content-type") == "application/problem+json")
                #expect(try result.json()["type"] as? String == "urn:exhibit:problem:unauthorized")
            }
        }
    }

    /// The request log (LOG_LEVEL info, the default), written in batches: each request is a line within a moment,
    /// and the lines written before a graceful stop are all there.
    @Test func theRequestLogHasALineForEveryRequest() async throws {
        let folder = try TemporaryDirectory("request-log")
        let logged = try await LiveServer(storage: folder.appending("Storage"), environment: ["LOG_LEVEL": "info"])
        for _ in 0..<50 { #expect(try await HTTP.get(logged.url + "/healthz").status == 200) }
        #expect(try await HTTP.get(logged.url + "/nowhere").status == 401)
        var seen = false
        for _ in 0..<40 where !seen {
            seen = logged.log.contains("info access: GET /nowhere 401")
            if !seen { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(seen, "the request log lacks the requests made: \(logged.log.suffix(1000))")
        #expect(try await HTTP.get(logged.url + "/readyz").status == 200)
        #expect(await logged.stop() == 0, "the server did not stop cleanly")
        let lines = logged.log.split(separator: "\n")
        #expect(lines.filter { $0.contains("info access: GET /healthz 200 15B") }.count == 50, "healthz lines: \(lines.filter { $0.contains("/healthz") }.count)")
        #expect(lines.contains { $0.contains("info access: GET /readyz 200") }, "the last request before the stop is not in the log")
    }

    /// Every route of the API the router serves is in the OpenAPI document, and every path and method the document
    /// names is served. (The web app's pages, `/` and `/app…`, are HTML for browsers, not API.)
    @Test func theOpenAPIDocumentListsExactlyTheRoutes() async throws {
        let store = try EvidenceStore(root: folder.appending("Other"), policies: try Policies.load(from: TestPaths.policies))
        let router = ExhibitHTTPServer.buildRouter(store: store, logger: Logger(label: "test"))
        func normalise(_ path: String) -> String {
            path.replacingOccurrences(of: #"\{[^}]+\}|:[A-Za-z]+|\*\*"#, with: "{}", options: .regularExpression)
        }
        let served = Set(router.routes.map { "\($0.method.rawValue) \(normalise($0.path.description))" }
            .filter { !$0.hasSuffix(" /") && !$0.contains(" /app") })
        #expect(router.routes.contains { $0.path.description == "/app" }, "the web app's pages are not served")
        let text = try String(contentsOfFile: TestPaths.packageRoot + "/Sources/ExhibitServer/openapi.yaml", encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        var documented = Set<String>()
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where ["get", "post", "put", "delete", "head", "patch", "options"].contains(method) {
                documented.insert("\(method.uppercased()) \(normalise(path))")
            }
        }
        #expect(served == documented, "served but undocumented: \(served.subtracting(documented)); documented but not served: \(documented.subtracting(served))")
        // And the server serves the same document.
        let live = try await HTTP.get(server.url + "/openapi.yaml", token: jsmith)
        #expect(live.status == 200)
        #expect(live.text == text)
    }

    @Test func aLargeUploadStreamsAndRangesMatchTheFile() async throws {
        let path = folder.appending("big.bin")
        var random = DeterministicRandom(seed: 300)
        try random.writeFile(at: path, size: 300 << 20)
        let digest = try await Subprocess.run("/usr/bin/sha256sum", [path]).out.prefix(64)
        let result = try await upload(path, headers: ["Content-Digest": try contentDigest(path)])
        #expect(result.status == 201, "\(result.text.prefix(300))")
        let json = try result.json()
        #expect(json["sha256"] as? String == String(digest))
        #expect(json["size"] as? Int == 300 << 20)
        #expect(json["reference"] as? String == "JS/1")
        #expect(json["verdict"] as? String == "not-media")
        #expect(result.header("location") == "/v1/exhibits/\(json["id"] as! String)")
        let id = json["id"] as! String

        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        func slice(_ range: Range<UInt64>) throws -> Data {
            try handle.seek(toOffset: range.lowerBound)
            return try handle.read(upToCount: Int(range.count)) ?? Data()
        }
        let size = UInt64(300 << 20)
        for (header, range) in [
            ("bytes=0-0", 0..<UInt64(1)), ("bytes=1048500-1048700", 1_048_500..<1_048_701),
            ("bytes=\(size - 10)-", (size - 10)..<size), ("bytes=-4096", (size - 4096)..<size),
            ("bytes=123456789-133456789", 123_456_789..<133_456_790), ("bytes=0-999999999999", 0..<size),
        ] {
            let part = try await HTTP.get(server.url + "/v1/exhibits/\(id)/content", token: jsmith, headers: ["Range": header])
            #expect(part.status == 206, "\(header)")
            #expect(part.header("content-range") == "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)", "\(header)")
            #expect(try part.body == slice(range), "\(header)")
        }
        // The whole download hashes to the same SHA-256, with the headers a client needs to check it.
        let whole = try await HTTP.request("GET", server.url + "/v1/exhibits/\(id)/content", token: jsmith)
        #expect(whole.status == 200)
        #expect(SHA256.hash(whole.body).hex == String(digest))
        #expect(whole.header("etag") == "\"\(digest)\"")
        #expect(whole.header("repr-digest") == "sha-256=:\(SHA256Digest(hex: digest)!.base64):")
        #expect(whole.header("accept-ranges") == "bytes")
        #expect(whole.header("content-disposition")?.hasPrefix("attachment; filename=\"JS-1_big.bin\"") == true)
        let head = try await HTTP.request("HEAD", server.url + "/v1/exhibits/\(id)/content", token: jsmith)
        #expect(head.status == 200)
        #expect(head.header("content-length") == String(size))
        // Conditional requests.
        #expect(try await HTTP.get(server.url + "/v1/exhibits/\(id)/content", token: jsmith, headers: ["If-None-Match": "\"\(digest)\""]).status == 304)
        let stale = try await HTTP.get(server.url + "/v1/exhibits/\(id)/content", token: jsmith, headers: ["Range": "bytes=0-9", "If-Range": "\"other\""])
        #expect(stale.status == 200)
    }

    @Test func realFootageIsProbedAndServedWithItsType() async throws {
        let mp4 = TestPaths.fixtures + "/mp4_h264_aac.mp4"
        let result = try await upload(mp4, filename: "cam 1 é.mp4", query: "&requested_from=2024-03-01T14:00:00Z&requested_to=2024-03-01T14:10:00Z")
        #expect(result.status == 201)
        let json = try result.json()
        #expect(json["verdict"] as? String == "complete")
        #expect(json["content_type"] as? String == "video/mp4")
        #expect(((json["media"] as? [String: Any])?["format"] as? [String: Any])?["format_name"] as? String == "mov,mp4,m4a,3gp,3g2,mj2")
        let coverage = try #require(json["coverage"] as? [String: Any])
        #expect(coverage["true_start"] as? String == "2024-03-01T14:05:00.000Z")
        #expect((coverage["summary"] as? String)?.contains("of the requested 14:00–14:10") == true)
        // Found by the true time it covers, by reference or id.
        let covering = try await HTTP.get(server.url + "/v1/exhibits?covers=2024-03-01T14:05:02Z", token: jsmith).jsonArray()
        #expect(covering.map { $0["reference"] as? String } == ["JS/1"])
        #expect(try await HTTP.get(server.url + "/v1/exhibits?covers=2024-03-01T15:00:00Z", token: jsmith).jsonArray().isEmpty)
        let byReference = try await HTTP.get(server.url + "/v1/exhibits/JS%2F1", token: jsmith)
        #expect(try byReference.status == 200)
        #expect(try (byReference.json()["id"] as? String) == json["id"] as? String)
        let download = try await HTTP.get(server.url + "/v1/exhibits/JS%2F1/content", token: jsmith)
        #expect(try download.body == (Data(contentsOf: URL(fileURLWithPath: mp4))))
        #expect(download.header("content-disposition") == "attachment; filename=\"JS-1_cam 1 _.mp4\"; filename*=UTF-8''JS-1_cam%201%20%C3%A9.mp4")
        let avi = try await upload(TestPaths.fixtures + "/avi_mjpeg.avi")
        #expect(try avi.json()["content_type"] as? String == "video/x-msvideo")
        // Every upload, view and download is in the ledger with user, role, address and agent.
        let recorded = try await events()
        let ingested = recorded.filter { $0["action"] as? String == "exhibit.ingested" }
        #expect(ingested.count == 2)
        #expect(ingested.allSatisfy { ($0["client"] as? String)?.hasPrefix("http:127.0.0.1 curl/") == true && $0["actor"] as? String == "jsmith" && $0["role"] as? String == "investigator" })
        #expect(recorded.contains { $0["action"] as? String == "exhibit.viewed" })
        #expect(recorded.contains { $0["action"] as? String == "exhibit.downloaded" })
    }

    @Test func whoMayDoWhat() async throws {
        let id = try await upload(TestPaths.fixtures + "/mp4_h264.mp4").json()["id"] as! String
        let content = server.url + "/v1/exhibits/\(id)/content"
        let metadata = server.url + "/v1/exhibits/\(id)"
        // Not a member: the case and its exhibits do not exist (404, never 403).
        let outsider = tokens["akhan"]!
        #expect(try await HTTP.get(content, token: outsider).status == 404)
        #expect(try await HTTP.get(metadata, token: outsider).status == 404)
        #expect(try await HTTP.get(server.url + "/v1/cases/\(Self.caseInURL)", token: outsider).status == 404)
        #expect(try await upload(TestPaths.fixtures + "/mp4_h264.mp4", token: outsider).status == 404)
        // The auditor reads metadata, never bytes.
        #expect(try await HTTP.get(metadata, token: tokens["audit"]).status == 200)
        let denied = try await HTTP.get(content, token: tokens["audit"])
        #expect(try denied.status == 403)
        #expect(try (denied.json()["type"] as? String) == "urn:exhibit:problem:forbidden")
        #expect(try await upload(TestPaths.fixtures + "/mp4_h264.mp4", token: tokens["audit"]).status == 403)
        // The supervisor sees every case.
        #expect(try await HTTP.get(content, token: tokens["sup"]).status == 200)
        // The admin manages users but has no case rights.
        #expect(try await HTTP.get(server.url + "/v1/cases", token: admin).status == 403)
        #expect(try await HTTP.postJSON(server.url + "/v1/users", token: jsmith, ["name": "x", "role": "admin"]).status == 403)
        #expect(try await HTTP.get(server.url + "/v1/custody", token: jsmith).status == 403)
        // Members added by the creator get in.
        #expect(try await HTTP.postJSON(server.url + "/v1/cases/\(Self.caseInURL)/members", token: jsmith, ["user": "akhan"]).status == 201)
        #expect(try await HTTP.get(content, token: outsider).status == 200)
        #expect(try await HTTP.get(server.url + "/v1/cases", token: outsider).jsonArray().count == 1)
    }

    @Test func badRequestsGetClearProblemsAndHarmNothing() async throws {
        let kept = TestPaths.fixtures + "/mp4_h264.mp4"
        let id = try await upload(kept).json()["id"] as! String
        let content = server.url + "/v1/exhibits/\(id)/content"
        for range in ["bytes=abc-def", "bytes=500-100", "bytes=99999999-", "items=0-1", "bytes=-0", "bytes=--1"] {
            let result = try await HTTP.get(content, token: jsmith, headers: ["Range": range])
            #expect(result.status == 416, "\(range) → \(result.status)")
            #expect(result.header("content-range") == "bytes */150909")
        }
        // A digest that does not match: 400, no exhibit, no event.
        let before = try await events().count
        let mismatch = try await upload(kept, headers: ["Content-Digest": "sha-256=:" + SHA256.hash("other").base64 + ":"])
        #expect(try mismatch.status == 400)
        #expect(try (mismatch.json()["type"] as? String) == "urn:exhibit:problem:digest-mismatch")
        #expect(try await upload(kept, headers: ["Content-Digest": "sha-256=:not base64:"]).status == 400)
        // Nothing but the two exports that looked (each export is itself recorded).
        #expect(try await events().filter { $0["action"] as? String == "exhibit.ingested" }.count == 1)
        #expect(try await events().count == before + 2)
        // A filename with a path and control characters is kept as a label only.
        let odd = try await HTTP.request(
            "POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=..%2F..%2Fetc%2Fpasswd%0A%1B", token: jsmith,
            upload: kept)
        #expect(try odd.status == 201)
        #expect(try (odd.json()["filename"] as? String) == "passwd")
        // A case reference with SQL in it is just an unknown case.
        let injection = try await HTTP.get(server.url + "/v1/cases/x'%20OR%201=1--/exhibits", token: jsmith)
        #expect(injection.status == 404)
        #expect(try await HTTP.postJSON(server.url + "/v1/cases", token: jsmith, ["reference": "'; DROP TABLE cases;--"]).status == 400)
        // No filename, an empty body, a body over the limit, JSON that is not JSON.
        #expect(try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits", token: jsmith, upload: kept).status == 400)
        let empty = try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=e", token: jsmith, data: Data())
        #expect(empty.status == 400)
        #expect(empty.text.contains("empty"))
        let chunkedEmpty = try await HTTP.request(
            "POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=e", token: jsmith,
            headers: ["Transfer-Encoding": "chunked"], data: Data())
        #expect(chunkedEmpty.status == 400)
        #expect(try await HTTP.request("POST", server.url + "/v1/cases", token: jsmith, headers: ["Content-Type": "application/json"], data: Data("{not json".utf8)).status == 400)
        // A 64 KB header is refused.
        let huge = try await HTTP.get(server.url + "/v1/cases", token: jsmith, headers: ["X-Padding": String(repeating: "a", count: 64 << 10)])
        #expect((400..<500).contains(huge.status) || huge.status == 0, "64 KB header → \(huge.status)")
        // Unknown routes and methods.
        #expect(try await HTTP.get(server.url + "/v1/nothing", token: jsmith).status == 404)
        #expect(try await [404, 405].contains(HTTP.request("DELETE", server.url + "/v1/cases", token: jsmith).status))

        // A body longer than its Content-Length: the extra bytes are a malformed next request (400); the
        // server goes on serving.
        let raw = try await rawExchange(
            "POST /v1/cases/\(Self.caseInURL)/exhibits?filename=short HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(jsmith)\r\nContent-Length: 5\r\n\r\nhelloEXTRA BYTES\r\n\r\n")
        #expect(raw.contains("201 Created"))
        #expect(raw.contains("400 Bad Request") || raw.hasSuffix("201 Created") == false)

        // Nothing stored was harmed.
        let again = try await HTTP.get(content, token: jsmith)
        #expect(try again.status == 200)
        #expect(try again.body == Data(contentsOf: URL(fileURLWithPath: kept)))
        #expect(try await HTTP.get(server.url + "/healthz").status == 200)
    }

    /// Sends raw bytes on a socket (with Python: curl will not send a malformed request) and returns the reply.
    func rawExchange(_ request: String) async throws -> String {
        let port = server.url.split(separator: ":").last!
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", \(port)))
            s.sendall(sys.stdin.buffer.read())
            s.settimeout(5)
            out = b""
            try:
                while True:
                    data = s.recv(65536)
                    if not data: break
                    out += data
            except socket.timeout:
                pass
            sys.stdout.buffer.write(out)
            """
        return try await Subprocess.run("/usr/bin/env", ["python3", "-c", script], stdin: Data(request.utf8)).out
    }

    /// A client that goes away in the middle of an upload leaves no exhibit, no event and nothing in tmp/.
    @Test func aClientDisconnectingMidUploadLeavesNothing() async throws {
        let path = folder.appending("slow.bin")
        var random = DeterministicRandom(seed: 9)
        try random.writeFile(at: path, size: 64 << 20)
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", "/dev/null", "--limit-rate", "8M", "-H", "Authorization: Bearer \(jsmith)",
                          "--data-binary", "@" + path, server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=slow.bin"]
        try curl.run()
        // The upload takes 8 s at 8 MB/s: it is still in flight when it is cut at 2 s (checked below).
        try await Task.sleep(for: .seconds(2))
        kill(curl.processIdentifier, SIGKILL)
        await curl.exited()
        #expect(curl.terminationReason == .uncaughtSignal, "curl finished before it was cut")
        try await Task.sleep(for: .seconds(2))
        let listed = try await HTTP.get(server.url + "/v1/cases/\(Self.caseInURL)/exhibits", token: jsmith).jsonArray()
        #expect(listed.isEmpty, "exhibits after a cut upload: \(listed.map { ($0["filename"] ?? "", $0["size"] ?? "") })")
        #expect(try await events().allSatisfy { $0["action"] as? String != "exhibit.ingested" })
        let tmp = try FileManager.default.contentsOfDirectory(atPath: folder.appending("Storage/tmp"))
        #expect(tmp.isEmpty, "tmp holds \(tmp)")
        #expect(try await HTTP.get(server.url + "/healthz").status == 200)
    }

    /// SIGTERM lets an upload in flight finish, then the server exits cleanly.
    @Test func aGracefulShutdownFinishesUploadsInFlight() async throws {
        let path = folder.appending("inflight.bin")
        var random = DeterministicRandom(seed: 10)
        try random.writeFile(at: path, size: 24 << 20)
        let output = folder.appending("inflight.json")
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", output, "-w", "%{http_code}", "--limit-rate", "8M", "-H", "Authorization: Bearer \(jsmith)",
                          "--data-binary", "@" + path, server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=inflight.bin"]
        let status = Pipe()
        curl.standardOutput = status
        try curl.run()
        try await Task.sleep(for: .seconds(1))
        kill(server.process.processIdentifier, SIGTERM)
        await curl.exited()
        // curl has exited: its three bytes are in the pipe, and the read ends at once.
        let code = String(decoding: status.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(code == "201", "the upload in flight got \(code)")
        await server.process.exited()
        #expect(server.process.terminationStatus == 0)
        // After a restart the exhibit is there and intact; stray temporary files of dead writers are removed.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: folder.appending("Storage/tmp/chunk-999999-deadbeef")))
        let restarted = try await LiveServer(storage: folder.appending("Storage"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.appending("Storage/tmp")).isEmpty)
        let stored = try await HTTP.get(restarted.url + "/v1/exhibits/JS%2F1/content", token: jsmith)
        #expect(try SHA256.hash(stored.body) == SHA256.hash(Data(contentsOf: URL(fileURLWithPath: path))))
    }

    @Test func uploadsOverThePolicyLimitAre413() async throws {
        let limit = try TemporaryDirectory("limit")
        let policies = try TestPolicies.copy(into: limit, replacing: ["storage.yaml": [("max_size: 1TiB", "max_size: 1MiB")]])
        let small = try await LiveServer(storage: folder.appending("Small"), policies: policies)
        let token = try #require(small.adminToken)
        let user = try await HTTP.postJSON(small.url + "/v1/users", token: token, ["name": "jsmith", "role": "investigator"]).json()["token"] as! String
        #expect(try await HTTP.postJSON(small.url + "/v1/cases", token: user, ["reference": "C/1"]).status == 201)
        let big = folder.appending("2mb.bin")
        var random = DeterministicRandom(seed: 11)
        try random.writeFile(at: big, size: 2 << 20)
        let declared = try await HTTP.request("POST", small.url + "/v1/cases/C%2F1/exhibits?filename=a", token: user, upload: big)
        #expect(try declared.status == 413)
        #expect(try (declared.json()["type"] as? String) == "urn:exhibit:problem:too-large")
        let chunked = try await HTTP.request("POST", small.url + "/v1/cases/C%2F1/exhibits?filename=a", token: user,
                                       headers: ["Transfer-Encoding": "chunked"], upload: big)
        #expect(chunked.status == 413)
        #expect(try await HTTP.get(small.url + "/v1/cases/C%2F1/exhibits", token: user).jsonArray().isEmpty)

        // `Expect: 100-continue` (curl sends it for any upload over 1 MiB): answered with 100 Continue at once, so the
        // client need not wait out its timeout (20 s here, to make a missing 100 plain); a body declared larger than
        // the limit gets no 100, only its 413.
        func expecting(_ file: String) async throws -> (status: String, trace: String) {
            let result = try await Subprocess.run("/usr/bin/curl", [
                "-s", "-v", "-o", "/dev/null", "-w", "%{http_code}", "--expect100-timeout", "20", "-H", "Expect: 100-continue",
                "-H", "Authorization: Bearer \(user)", "--data-binary", "@" + file, small.url + "/v1/cases/C%2F1/exhibits?filename=expect",
            ])
            return (result.out, result.err)
        }
        let fits = folder.appending("half.bin")
        try random.writeFile(at: fits, size: 512 << 10)
        let asked = try await expecting(fits)
        #expect(asked.trace.contains("< HTTP/1.1 100 Continue"), "no 100 Continue for an upload that fits:\n\(asked.trace.suffix(1500))")
        #expect(asked.status == "201", "the upload after 100 Continue: \(asked.status)")
        let refused = try await expecting(big)
        #expect(!refused.trace.contains("100 Continue"), "100 Continue for a body over the limit:\n\(refused.trace.suffix(1500))")
        #expect(refused.status == "413", "a body over the limit with Expect: \(refused.status)")
    }
}

/// The README's curl session, run as printed against a fresh server.
@Suite struct ReadmeSessionTests {
    @Test func theCurlSessionWorksAsPrinted() async throws {
        let folder = try TemporaryDirectory("readme")
        let server = try await LiveServer(storage: folder.appending("Storage"))
        let script = try Readme.bashBlock(after: "A complete session with curl")
        let result = try await Subprocess.run(
            "/bin/bash", ["-c", script],
            environment: ["EXHIBIT": server.url, "ADMIN_TOKEN": try #require(server.adminToken)], currentDirectory: folder.path)
        #expect(result.status == 0, "stdout: \(result.out)\nstderr: \(result.err)")
        #expect(result.out.contains("range matches"))
        #expect(result.out.contains("JS/1 "))
        #expect(result.out.contains(" complete"))
        let sums = result.out.split(whereSeparator: \.isNewline).filter { $0.hasSuffix("  cam1.mp4") || $0.hasSuffix("  copy.mp4") }.map { $0.prefix(64) }
        try #require(sums.count == 2, "\(result.out.suffix(400))")
        #expect(sums[0] == sums[1], "\(result.out.suffix(400))")
    }
}
