import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Three `exhibit serve` processes sharing one PostgreSQL database, one S3 bucket (Ceph RGW) and one keys folder,
/// behind nginx: uploads, downloads and share links through whichever server a request lands on, with one server
/// killed with -9 in the middle. Real engines, each started for this test and stopped at its end.
@Suite(.serialized, .enabled(
    if: CephGateway.installed && PostgresServer.installed && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"),
    "SKIPPED LOUDLY: needs Ceph (radosgw), PostgreSQL and nginx: run `make deps`"))
struct MultiServerTests {
    static let caseReference = "2017/MPS/0421"
    static let caseInURL = "2017%2FMPS%2F0421"

    @Test func threeServersOneCatalogOneBucketAndOneOfThemKilled() async throws {
        let postgres = try await PostgresServer()
        let gateway = try await TestEngines.startGateway()
        let folder = try TemporaryDirectory("multi")
        let keys = folder.appending("keys")
        let record: [String: String] = [
            "chunks": "s3://\(TestEngines.bucket)/multi-\(UUID().uuidString.lowercased())", "s3_endpoint": gateway.endpoint,
            "s3_region": "us-east-1", "catalog": try await postgres.createDatabase(),
        ]
        var roots: [String] = []
        for index in 0..<3 {
            let root = folder.appending("server\(index)/Storage")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: root + "/deployment.json"))
            roots.append(root)
        }
        let environment = ["EXHIBIT_KEYS": keys, "PGPASSWORD": PostgresServer.password]
        func cli(_ arguments: [String], root: Int = 0) async throws -> Subprocess.Result {
            try await ExhibitCLI.run(arguments + ["--storage", roots[root], "--policies", TestPaths.policies], environment: environment)
        }
        let added = try await cli(["user", "add", "jsmith", "--role", "investigator", "--full-name", "John Smith", "--json"])
        #expect(added.status == 0, "\(added.err)")
        let token = try #require(try JSONSerialization.jsonObject(with: added.stdout) as? [String: Any])["token"] as? String ?? ""
        #expect(try await cli(["user", "add", "audit", "--role", "auditor"], root: 1).status == 0)
        #expect(try await cli(["case", "create", Self.caseReference, "--as", "jsmith"], root: 2).status == 0)

        // A server with other keys is refused: its seals would not verify.
        let stranger = try await Subprocess.run(
            "/usr/bin/timeout", ["60", TestPaths.exhibitExecutable, "serve", "--port", "0", "--storage", roots[0], "--policies", TestPaths.policies],
            environment: ["EXHIBIT_KEYS": folder.appending("other-keys"), "PGPASSWORD": PostgresServer.password])
        #expect(stranger.status != 0, "\(stranger.err)")
        #expect(stranger.err.contains("seal key"), "\(stranger.err)")

        var servers: [LiveServer] = []
        for root in roots { servers.append(try await LiveServer(storage: root, environment: environment)) }
        defer { for server in servers { server.terminate() } }
        let balancer = try await Nginx(upstreams: servers.map(\.url), folder: folder.appending("nginx"))
        defer { balancer.terminate() }

        // Four distinct files, each uploaded four times: sixteen uploads at once, spread over the servers.
        var files: [String] = []
        for index in 0..<4 {
            var random = DeterministicRandom(seed: 4100 + UInt64(index))
            let path = folder.appending("file\(index).bin")
            try random.writeFile(at: path, size: 8 << 20)
            files.append(path)
        }
        func upload(_ index: Int, rate: String?) throws -> Process {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-o", folder.appending("response\(index).json"), "-w", "%{http_code}",
                              "-H", "Authorization: Bearer \(token)", "--data-binary", "@" + files[index % 4]]
                + (rate.map { ["--limit-rate", $0] } ?? [])
                + [balancer.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=upload\(index).bin"]
            let status = folder.appending("status\(index)")
            _ = FileManager.default.createFile(atPath: status, contents: nil)
            curl.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: status))
            try curl.run()
            return curl
        }
        let uploads = try (0..<16).map { try upload($0, rate: "3M") }
        try await Task.sleep(for: .milliseconds(1500))
        await servers[1].stop(signal: SIGKILL)
        for curl in uploads { await curl.exited() }
        func status(_ index: Int) -> String { (try? String(contentsOfFile: folder.appending("status\(index)"), encoding: .utf8)) ?? "" }
        let failed = (0..<16).filter { status($0) != "201" }
        // The killed server's uploads failed (nginx does not retry a POST); the client sends them again.
        for index in failed {
            let again = try upload(index, rate: nil)
            await again.exited()
            #expect(status(index) == "201", "upload \(index) sent again: \(status(index))")
        }
        print("multi-server: \(16 - failed.count) of 16 uploads acknowledged through the kill, \(failed.count) sent again")

        // Every acknowledged exhibit is intact, read through the balancer (so through either live server).
        var digests = Set<String>()
        for index in 0..<16 {
            let response = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.appending("response\(index).json")))) as? [String: Any]
            let id = try #require(response?["id"] as? String)
            let stored = try await HTTP.get(balancer.url + "/v1/exhibits/\(id)/content", token: token)
            #expect(stored.status == 200)
            let original = SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: files[index % 4])))
            #expect(SHA256.hash(stored.body) == original, "upload \(index) is intact")
            digests.insert(original.hex)
        }
        #expect(digests.count == 4)

        // Links work through any server: created on one, fetched through the balancer several times.
        let share = try await cli(["share", "create", "JS/1", "--case", Self.caseReference, "--as", "jsmith"], root: 2)
        #expect(share.status == 0, "\(share.err)")
        let link = share.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let path = try #require(link.range(of: "/s/").map { String(link[$0.lowerBound...]) })
        for _ in 0..<4 {
            #expect(try await HTTP.get(balancer.url + path).status == 200)
            #expect(try await HTTP.get(balancer.url + path + "?download=master", headers: ["Range": "bytes=0-99"]).status == 206)
        }

        // A resumable upload whose requests alternate between the two live servers (round robin): each takes the
        // upload on from the catalog, its tail included.
        let resumable = folder.appending("resumable.bin")
        var random = DeterministicRandom(seed: 4200)
        try random.writeFile(at: resumable, size: 6_800_000)
        let resumableDigest = SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: resumable)))
        let tus = try await Subprocess.run(try TusPy.python(), ["-c", """
            import sys
            from tusclient import client
            c = client.TusClient(sys.argv[1] + "/v1/uploads", headers={"Authorization": "Bearer " + sys.argv[2]})
            u = c.uploader(sys.argv[3], chunk_size=1000 * 1000, metadata={"case": sys.argv[4], "filename": "resumable.bin", "sha256": sys.argv[5]})
            u.upload()
            print(u.url)
            """, balancer.url, token, resumable, Self.caseReference, resumableDigest.hex])
        #expect(tus.status == 0, "\(tus.err)")
        let uploadURL = tus.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let state = try await HTTP.get(uploadURL.hasPrefix("http") ? uploadURL : balancer.url + uploadURL, token: token).json()
        #expect(state["state"] as? String == "completed", "\(state)")
        #expect(state["requests"] as? Int == 7, "\(state)")
        #expect((state["exhibit"] as? [String: Any])?["sha256"] as? String == resumableDigest.hex)
        digests.insert(resumableDigest.hex)

        // One linear ledger that verifies, with exactly one ingest event per exhibit.
        let verify = try await cli(["custody", "verify"], root: 0)
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        let exhibits = try await postgres.psql(database: String(record["catalog"]!.split(separator: "/").last!), "SELECT count(*) FROM exhibits").out
        let events = try await postgres.psql(
            database: String(record["catalog"]!.split(separator: "/").last!),
            "SELECT count(*) FROM custody_events WHERE action = 'exhibit.ingested'").out
        #expect(exhibits == "17\n", "exhibits \(exhibits), events \(events)")
        #expect(events == "17\n", "exhibits \(exhibits), events \(events)")

        // No chunk twice: the bucket holds exactly the chunks of the five files (content-addressed across servers).
        let objects = StoredObjects(storage: roots[0])
        var needed = Set<String>()
        for digest in digests {
            let manifest = String(decoding: try await objects.read(.manifests, digest), as: UTF8.self)
            for line in manifest.split(separator: "\n").dropFirst(4) { needed.insert(String(line.prefix(64))) }
        }
        #expect(try await Set(objects.list(.chunks)) == needed)
        #expect(try await cli(["verify"], root: 2).status == 0)
    }
}

/// nginx as the load balancer in front of the servers (round robin; request bodies streamed, not buffered).
final class Nginx: @unchecked Sendable {
    // Set in init, read-only after.
    let process: Process
    let url: String

    init(upstreams: [String], folder: String) async throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let port = try LiveServer.freePort()
        let servers = upstreams.map { "server \($0.replacingOccurrences(of: "http://", with: "")) max_fails=1 fail_timeout=30s;" }.joined(separator: " ")
        let config = """
            worker_processes 1; daemon off; pid \(folder)/nginx.pid; error_log \(folder)/error.log;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(folder)/body; proxy_temp_path \(folder)/proxy; fastcgi_temp_path \(folder)/fastcgi;
                uwsgi_temp_path \(folder)/uwsgi; scgi_temp_path \(folder)/scgi;
                upstream exhibit { \(servers) }
                server {
                    listen 127.0.0.1:\(port);
                    client_max_body_size 0;
                    proxy_request_buffering off; proxy_buffering off; proxy_http_version 1.1;
                    location / { proxy_pass http://exhibit; proxy_set_header Host $http_host; proxy_read_timeout 300s; }
                }
            }
            """
        try config.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-c", folder + "/nginx.conf", "-p", folder]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        url = "http://127.0.0.1:\(port)"
        for _ in 0..<100 {
            if await (try? Subprocess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", url + "/healthz"]))?.status == 0 { return }
            try await Task.sleep(for: .seconds(0.05))
        }
        throw TestSupportError("nginx did not start: \((try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? "")")
    }

    /// Asks nginx to stop (SIGTERM) without waiting: for `defer`, which cannot await; Foundation reaps it.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    deinit { terminate() }
}
