import ExhibitTesting
import Foundation
import Testing

/// Schemathesis (property-based API testing from the OpenAPI document) against the real server, with a valid
/// token and real resources behind the path parameters: no 5xx, and every response conforms to the document
/// (status codes, content types, headers, bodies); undeclared methods answer 405, wrong and missing input is
/// refused. Settings: Tests/Tools/schemathesis.toml; tus bodies: Tests/Tools/schemathesis_hooks.py.
///
/// Not checked: that every schema-valid request is accepted (`positive_data_acceptance`): the API refuses, by
/// design, input the schema cannot express (a role the policy lacks, `requested_to` before `requested_from`).
/// `EXHIBIT_SCHEMATHESIS_EXAMPLES` sets the examples per operation (default 30); `EXHIBIT_TEST_SEED` repeats a run.
@Suite struct OpenAPIFuzzTests {
    static var schemathesis: String { TestPaths.packageRoot + "/.build/py-venv/bin/schemathesis" }

    @Test func theAPIConformsToItsDocumentUnderSchemathesis() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.schemathesis), "schemathesis is not installed: run `make deps`")
        let store = try TestStore("openapi-fuzz")
        let stored = try store.ingest([TestPaths.fixtures + "/mp4_h264_aac.mp4"])
        let exhibit = try #require(stored.first?["exhibit"] as? String)
        let server = try LiveServer(storage: store.storage)
        defer { server.stop() }
        let token = store.tokens["root"]!
        let share = try HTTP.postJSON(server.url + "/v1/exhibits/\(exhibit)/shares", token: store.tokens["jsmith"]!, ["expires_in": "72h"])
        #expect(share.status == 201, "\(share.text)")
        let shareJSON = try share.json()
        let link = (shareJSON["url"] as? String)?.split(separator: "/").last.map(String.init) ?? ""
        let shareID = shareJSON["id"] as? String ?? ""
        let caseID = try store.sql("SELECT id FROM cases").out.trimmingCharacters(in: .whitespacesAndNewlines)

        let seed = UInt64(ProcessInfo.processInfo.environment["EXHIBIT_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
        let examples = ProcessInfo.processInfo.environment["EXHIBIT_SCHEMATHESIS_EXAMPLES"] ?? "30"
        print("schemathesis: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it), \(examples) examples per operation")
        let tools = TestPaths.packageRoot + "/Tests/Tools"
        let result = try await HTTP.offPool {
            try Subprocess.run(Self.schemathesis, [
                "--config-file", tools + "/schemathesis.toml", "run", server.url + "/openapi.yaml",
                "-H", "Authorization: Bearer \(token)", "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                "--max-examples", examples, "--seed", String(seed), "--workers", "2",
                "--phases", "examples,coverage,fuzzing", "--request-timeout", "30",
            ], environment: [
                "PYTHONPATH": tools, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "NO_COLOR": "1",
                "EXHIBIT_CASE": caseID, "EXHIBIT_EXHIBIT": exhibit, "EXHIBIT_SHARE": shareID,
                "EXHIBIT_LINK": link,
            ])
        }
        let summary = result.out.split(separator: "\n").suffix(25).joined(separator: "\n")
        print("schemathesis summary:\n\(summary)")
        #expect(result.status == 0, "schemathesis found problems (seed \(seed)):\n\(result.out.suffix(20_000))\(result.err.suffix(2000))")
        #expect(result.out.contains(" passed"), "\(summary)")
        // Regressions the fuzzer found: a link asked for both play and download, or for play of neither file,
        // was served as the master; it is refused.
        for query in ["?download=&play=x", "?play=", "?play=both", "?download=master&play=master"] {
            let refused = try await HTTP.get(server.url + "/s/\(link)" + query)
            #expect(refused.status == 400, "\(query): \(refused.status)")
        }
        #expect(try await HTTP.get(server.url + "/s/\(link)?play=master").status == 200)
        // Whatever the fuzzer sent, the store and its ledger are sound.
        #expect(try store.run(["verify"]).status == 0)
        #expect(try store.run(["custody", "verify"]).status == 0)
        #expect(!server.log.contains("internal error"), "\(server.log.suffix(5000))")
    }
}
