import Custody
import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Witnesses (README, "Auditing"): a real `exhibit witness serve` process cosigns the store's checkpoints over
/// HTTP, a court bundle carries its cosignature and the policy's quorum, and after a fork of the log it refuses
/// the other history, keeps it as evidence, and the fork's bundle fails every verifier.
@Suite(.serialized) struct WitnessTests {
    let store: TestStore
    let work: TemporaryDirectory
    let witnessVkey: String
    let logVkey: String
    let port: Int
    let witness: Process

    init() async throws {
        store = try await TestStore("witness")
        work = try TemporaryDirectory("witness-work")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4"])
        let keygen = try await ExhibitCLI.run(["witness", "keygen", "--name", "witness.cps.example/w1", "--key", work.appending("w.pem")])
        guard keygen.status == 0 else { throw TestSupportError("witness keygen: \(keygen.err)") }
        witnessVkey = keygen.out.trimmingCharacters(in: .whitespacesAndNewlines)
        logVkey = try await store.run(["custody", "vkey"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        port = try LiveServer.freePort()
        witness = Process()
        witness.executableURL = URL(fileURLWithPath: TestPaths.exhibitExecutable)
        witness.arguments = ["witness", "serve", "--name", "witness.cps.example/w1", "--key", work.appending("w.pem"), "--log-key", logVkey,
                             "--state", work.appending("state"), "--port", String(port)]
        witness.standardOutput = FileHandle.nullDevice
        witness.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try witness.run()
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await HTTP.get("http://127.0.0.1:\(port)/x/checkpoint"))?.status == 404
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard up else { throw TestSupportError("the witness did not start on port \(port)") }
        for (name, quorum) in [("Policies", 1), ("PoliciesNoQuorum", 0)] {
            let folder = try TemporaryDirectory("witness-policies")
            let copied = try TestPolicies.copy(into: folder, replacing: [
                "custody.yaml": [("witnesses: []", "witnesses: [\"\(witnessVkey) http://127.0.0.1:\(port)\"]"), ("quorum: 0", "quorum: \(quorum)")],
            ])
            try FileManager.default.moveItem(atPath: copied, toPath: work.appending(name))
        }
    }

    func run(_ arguments: [String], storage: String? = nil, policies: String = "Policies") async throws -> Subprocess.Result {
        try await ExhibitCLI.run(arguments + ["--storage", storage ?? store.storage, "--policies", work.appending(policies)])
    }

    func verifyAll(_ bundle: String, _ extra: [String]) async throws -> [(String, Subprocess.Result)] {
        let arguments = ["--vkey", logVkey] + extra
        return [
            ("exhibit bundle verify", try await ExhibitCLI.run(["bundle", "verify", bundle] + arguments)),
            ("verify_bundle.py", try await Subprocess.run("/usr/bin/python3", [bundle + "/verify_bundle.py", bundle] + arguments)),
            ("verify_bundle.go", try await Subprocess.run(
                "/usr/bin/go", ["run", bundle + "/verify_bundle.go", bundle] + arguments,
                environment: ["GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "HOME": work.path, "GOCACHE": work.appending("go-cache"),
                              "PATH": "/usr/bin:/bin"])),
        ]
    }

    @Test func theWitnessCosignsOneHistoryAndRefusesAFork() async throws {
        defer { witness.terminate() }
        // Checkpoints are cosigned; a bundle carries the cosignature its quorum asks for.
        let first = try await run(["custody", "checkpoint", "--as", "audit"])
        #expect(first.status == 0 && first.out.contains("— witness.cps.example/w1 "), "the checkpoint is not cosigned:\n\(first.out)\(first.err)")
        let bundle = work.appending("bundle")
        let made = try await run(["bundle", "JS/1", "--as", "jsmith", "--output", bundle])
        #expect(made.status == 0, "bundle with a quorum of 1: \(made.err)")
        for (verifier, result) in try await verifyAll(bundle, ["--witness", witnessVkey]) {
            #expect(result.status == 0, "\(verifier) on the cosigned bundle:\n\(result.out)\(result.err)")
        }
        let swiftOut = try await ExhibitCLI.run(["bundle", "verify", bundle, "--vkey", logVkey])
        #expect(swiftOut.out.contains("witnesses cosigned the checkpoint") && swiftOut.out.contains("witness.cps.example/w1 at "), "\(swiftOut.out)")

        // The operator copies the store, and from then shows the witness one history and a court another.
        let fork = work.appending("fork/Storage")
        try FileManager.default.createDirectory(atPath: work.appending("fork"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store.storage, toPath: fork)
        #expect(try await run(["custody", "note", "the DVD went to the CPS", "--as", "audit"]).status == 0)
        let genuine = try await run(["custody", "checkpoint", "--as", "audit"])
        #expect(genuine.out.contains("— witness.cps.example/w1 "), "the genuine checkpoint is not cosigned: \(genuine.out)\(genuine.err)")
        #expect(try await run(["custody", "note", "the DVD never left the station", "--as", "audit"], storage: fork).status == 0)
        let forked = try await run(["custody", "checkpoint", "--as", "audit"], storage: fork)
        #expect(forked.status == 0, "the fork's checkpoint: \(forked.err)")
        #expect(!forked.out.contains("— witness.cps.example/w1 "), "the witness cosigned the fork:\n\(forked.out)")
        let refused = try FileManager.default.contentsOfDirectory(atPath: work.appending("state/refused"))
        #expect(refused.count >= 1, "the witness kept no evidence of the fork")
        // No bundle from the fork while the policy asks for the witness…
        let denied = try await run(["bundle", "JS/1", "--as", "jsmith", "--output", work.appending("fork-bundle-1")], storage: fork)
        #expect(denied.status != 0 && denied.err.contains("0 of the 1 witness cosignature"), "a fork's bundle without its quorum: \(denied.out)\(denied.err)")
        // …and one made under a policy without a quorum fails against what the witness saw.
        let forkBundle = work.appending("fork-bundle-2")
        let forkMade = try await run(["bundle", "JS/1", "--as", "jsmith", "--output", forkBundle], storage: fork, policies: "PoliciesNoQuorum")
        #expect(forkMade.status == 0, "the fork's bundle without a quorum: \(forkMade.err)")
        let originHash = SHA256.hash(Array(try NoteVerifierKey(parsing: logVkey).name.utf8)).hex
        let seen = try await HTTP.get("http://127.0.0.1:\(port)/\(originHash)/checkpoint")
        #expect(seen.status == 200 && seen.text.contains("— witness.cps.example/w1 "), "the witness's latest checkpoint: \(seen.status) \(seen.text)")
        let seenFile = work.appending("witness-checkpoint")
        try seen.text.write(toFile: seenFile, atomically: true, encoding: .utf8)
        for (verifier, result) in try await verifyAll(forkBundle, ["--previous", seenFile, "--witness", witnessVkey]) {
            #expect(result.status == 1, "\(verifier) passed the fork's bundle:\n\(result.out)\(result.err)")
            #expect(result.out.contains("not an extension of the earlier checkpoint"), "\(verifier) on the fork's bundle:\n\(result.out)\(result.err)")
            if verifier != "verify_bundle.go" {
                #expect(result.out.contains("did not cosign"), "\(verifier) did not miss the witness:\n\(result.out)")
            }
        }
    }
}
