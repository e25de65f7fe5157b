import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Slow clients (slowloris, stalled and trickling uploads) against the real server: each is cut off after the
/// timeouts of `connections` in Policies/storage.yaml, and real clients are served meanwhile.
@Suite struct SlowClientTests {
    static let caseInURL = "2017%2FMPS%2F0421"

    /// The shipped policies with short timeouts and few connections, so the test sees the limits act.
    static func policies(in folder: TemporaryDirectory) throws -> String {
        try TestPolicies.copy(into: folder, replacing: ["storage.yaml": [
            ("header_timeout: 30s", "header_timeout: 3s"), ("body_stall_timeout: 60s", "body_stall_timeout: 3s"),
            ("min_body_rate: 1KiB", "min_body_rate: 32KiB"), ("max_connections: 1024", "max_connections: 64"),
        ]])
    }

    @Test func slowClientsAreCutOffAndCannotCrowdOutRealOnes() async throws {
        let store = try await TestStore("slow-clients")
        let work = try TemporaryDirectory("slow-clients-work")
        let server = try await LiveServer(storage: store.storage, policies: try Self.policies(in: work))
        defer { server.terminate() }
        let token = store.tokens["jsmith"]!
        let port = server.url.split(separator: ":").last.map(String.init) ?? ""

        // 50 connections of each kind: 200 against a limit of 64 at once.
        let attack = Process()
        attack.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        attack.arguments = [TestPaths.packageRoot + "/Tests/Tools/slow_clients.py", "127.0.0.1", port, token,
                            "/v1/cases/\(Self.caseInURL)/exhibits?filename=slow.bin", "50", "60"]
        let output = work.appending("attack.json")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        attack.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try attack.run()
        try await Task.sleep(for: .seconds(1))

        // Meanwhile real clients are served: a health check, a slow but honest upload (128 KiB/s, above the
        // 32 KiB/s minimum), and its download.
        var random = DeterministicRandom(seed: 408)
        let file = work.appending("honest.bin")
        try random.writeFile(at: file, size: 512 << 10)
        #expect(try await HTTP.get(server.url + "/healthz").status == 200)
        let honest = try await Subprocess.run("/usr/bin/curl", [
                "-s", "-w", "\n%{http_code}", "--limit-rate", "128K", "-H", "Authorization: Bearer \(token)",
                "--data-binary", "@" + file, server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=honest.bin",
            ])
        #expect(honest.out.hasSuffix("\n201"), "\(honest.out)")
        let id = try #require((try? JSONSerialization.jsonObject(with: Data(honest.out.split(separator: "\n").first.map { Data($0.utf8) } ?? Data())) as? [String: Any])?["id"] as? String)
        let download = try await HTTP.get(server.url + "/v1/exhibits/\(id)/content", token: token)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(download.status == 200)
        #expect(SHA256.hash(download.body) == SHA256.hash(bytes))

        await attack.exited()
        let results = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: [String: Any]])
        print("slow clients: \(results)")
        for kind in ["idle", "headers", "stall", "trickle"] {
            let result = try #require(results[kind])
            #expect(result["opened"] as? Int == 50, "\(kind): \(result)")
            // Every one was closed by the server, none lasted the attack's 60 s.
            #expect(result["cut"] as? Int == 50, "\(kind): \(result)")
        }
        // The stalled and trickled uploads left nothing: one exhibit (the honest one), nothing in tmp/.
        #expect(try await store.sql("SELECT count(*) FROM exhibits").out == "1\n")
        if !TestEngines.usesS3 {
            #expect((try FileManager.default.contentsOfDirectory(atPath: store.storage + "/tmp")).isEmpty)
        }
        let metrics = try await HTTP.get(server.url + "/metrics").text
        #expect(metrics.contains("exhibit_slow_clients_cut_total"), "the cut-offs are counted")
        #expect(try await HTTP.get(server.url + "/healthz").status == 200)
    }
}
