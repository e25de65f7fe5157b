import ExhibitTesting
import Foundation
import Testing

/// `exhibit case status`, `hold`, `retention`, `restore` and `gc` from the command line; the retention policy's
/// validation.
@Suite struct RetentionCLITests {
    /// The README's "Retention" block, run as printed.
    @Test func theReadmeRetentionSessionWorksAsPrinted() async throws {
        let store = try await TestStore("retention-readme")
        let work = try TemporaryDirectory("retention-readme-work")
        try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/mp4_h264.mp4", toPath: work.appending("cam1.mp4"))
        #expect(try await store.ingest([work.appending("cam1.mp4")]).first?["reference"] as? String == "JS/1")
        let result = try await Readme.runBashBlock(after: "A case's life, from the command line", storage: store.storage, in: work.path)
        #expect(result.status == 0, "stdout: \(result.out)\nstderr: \(result.err)")
        let lines = result.out.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.contains { $0.hasPrefix("retention: due 2020-07-01T00:00:00.000Z") })
        #expect(lines.contains { $0.hasPrefix("delete ") && $0.contains("JS/1") && $0.contains("6mo from release 2020-01-01") })
        #expect(lines.contains { $0.hasPrefix("held ") && $0.contains("civil claim 2024/0193") })
        #expect(lines.contains("scheduled for deletion: 1 (2017/MPS/0421 JS/1)"))
        #expect(lines.contains("restored JS/1"))
        #expect(lines.contains { $0.hasPrefix("note: still due") })
        #expect(lines.last?.hasPrefix("would remove 0 manifest(s) and 0 chunk(s)") == true)
        let shown = try await store.run(["show", "JS/1", "--as", "sup"])
        #expect(shown.out.contains("\"state\" : \"live\""))
    }

    @Test func badInputIsRefusedAndChangesNothing() async throws {
        let store = try await TestStore("retention-bad")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4"])
        // Events other than the exports that read them.
        func events() async throws -> Int {
            try await ExhibitCLI.jsonLines(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
                .filter { $0["action"] as? String != "custody.exported" }.count
        }
        let before = try await events()
        let refusals: [([String], String)] = [
            (["case", "status", TestStore.caseReference, "sentenced", "--as", "jsmith"], "unknown status 'sentenced'"),
            (["case", "status", TestStore.caseReference, "convicted", "--at", "2020-05-01", "--release-date", "2020-01-01", "--as", "jsmith"],
             "is before the conviction"),
            (["case", "status", TestStore.caseReference, "closed", "--class", "nope", "--as", "jsmith"], "unknown retention class 'nope'"),
            (["case", "status", TestStore.caseReference, "open", "--at", "2999-01-01", "--as", "jsmith"], "in the future"),
            (["case", "status", TestStore.caseReference, "open", "--at", "soon", "--as", "jsmith"], "is not a time"),
            (["case", "status", TestStore.caseReference, "charged", "--as", "audit"], "may not case.status"),
            (["case", "status", TestStore.caseReference, "charged", "--as", "akhan"], "no case"),
            (["retention", "apply", "--as", "sup"], "a reason is required"),
            (["retention", "apply", "--reason", "tidy", "--as", "jsmith"], "may not retention.apply"),
            (["retention", "plan", "--as", "jsmith"], "may not retention.read"),
            (["hold", "set", "--case", TestStore.caseReference, "--reason", " ", "--as", "jsmith"], "a reason is required"),
            (["hold", "set", "--reason", "x", "--as", "jsmith"], "name an exhibit or a --case"),
            (["hold", "release", "--case", TestStore.caseReference, "--reason", "settled", "--as", "sup"], "no legal hold"),
            (["restore", "JS/1", "--reason", "x", "--as", "sup"], "not pending deletion"),
            (["restore", "JS/1", "--reason", "x", "--as", "jsmith"], "may not retention.apply"),
        ]
        for (arguments, message) in refusals {
            let result = try await store.run(arguments)
            #expect(result.status != 0, "\(arguments) succeeded")
            #expect(result.err.contains(message), "\(arguments): \(result.err)")
        }
        #expect(try await events() == before, "refused commands appended nothing")
        #expect(try await store.run(["case", "show", TestStore.caseReference, "--as", "jsmith"]).out.contains(", open, created by"))
    }

    /// A policy that does not validate stops every command and the server, naming the line and the problem.
    @Test func anInvalidRetentionPolicyStopsEverything() async throws {
        let store = try await TestStore("retention-policy", withCase: false)
        let shipped = try String(contentsOfFile: TestPaths.policies + "/retention.yaml", encoding: .utf8)
        let cases: [(String, String, String)] = [
            ("  closed: default", "  closed: defualt", "statuses.closed: unknown class 'defualt'"),
            ("    keep: 31d", "    keep: -31d", "is negative"),
            ("    keep: 31d", "    keep: 31 days", "is not a period"),
            ("  acquitted: acquitted", "  acquited: acquitted", "unknown status 'acquited'"),
            ("  appeal-pending: active\n", "", "no class for 'appeal-pending'"),
            ("    from: release", "    from: sentencing", "is not one of status, release, opened"),
            ("grace_period: 30d", "grace_period: indefinitely", "grace_period cannot be indefinitely"),
            ("auto_apply: false", "auto_apply: sometimes", "not true or false"),
            ("plan_every: 24h", "plan_every: 24h\nkeep_forever: true", "unknown setting 'keep_forever'"),
        ]
        for (original, broken, message) in cases {
            #expect(shipped.contains(original), "the shipped file has \(original)")
            let folder = try TemporaryDirectory("policies")
            let policies = try TestPolicies.copy(into: folder, replacing: ["retention.yaml": [(original, broken)]])
            let result = try await ExhibitCLI.run(["case", "list", "--as", "sup", "--storage", store.storage, "--policies", policies])
            #expect(result.status != 0)
            #expect(result.err.contains("retention.yaml:"), "\(broken): \(result.err)")
            #expect(result.err.contains(message), "\(broken): \(result.err)")
            if message.contains("defualt") {
                await #expect(throws: (any Error).self) { try await LiveServer(storage: store.storage, policies: policies) }
            }
        }
    }
}
