import Custody
@testable import Exhibit
import ExhibitCrypto
import ExhibitDeployment
import ExhibitPolicies
import ExhibitTesting
import Foundation
import NIOCore
import Testing

/// Court bundles (README, "Auditing"): made by `exhibit bundle`, checked by the three verifiers a stranger would
/// use (`exhibit bundle verify`, the bundle's Python script under Debian's python3 + python3-cryptography, and
/// its Go program built offline against Debian's golang.org/x/mod), and each tampering caught by each, with the
/// reason.
@Suite(.serialized) struct CourtBundleTests {
    let store: TestStore
    let work: TemporaryDirectory
    let vkey: String

    init() async throws {
        store = try await TestStore("bundle")
        work = try TemporaryDirectory("bundles")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4", TestPaths.fixtures + "/ts_h264_aac.ts"])
        try await store.run(["cat", "JS/1", "--as", "jsmith", "--range", "0-99"])
        try await store.run(["custody", "note", "DVD copy handed to CPS", "--case", TestStore.caseReference, "--exhibit", "JS/1", "--as", "jsmith"])
        vkey = try await store.run(["custody", "vkey"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The three verifiers' outputs on `bundle`.
    struct Verdicts {
        let swift: Subprocess.Result
        let python: Subprocess.Result
        let go: Subprocess.Result
        var all: [(String, Subprocess.Result)] { [("exhibit bundle verify", swift), ("verify_bundle.py", python), ("verify_bundle.go", go)] }
    }

    /// `scripts` is the folder the Python and Go checkers are taken from (the bundle's own, by default).
    func verify(_ bundle: String, extra: [String] = [], scripts: String? = nil) async throws -> Verdicts {
        let arguments = ["--vkey", vkey] + extra
        let scripts = scripts ?? bundle
        let swift = try await ExhibitCLI.run(["bundle", "verify", bundle] + arguments)
        // Debian's own python3 (not a virtualenv), with Debian's python3-cryptography.
        let python = try await Subprocess.run("/usr/bin/python3", [scripts + "/verify_bundle.py", bundle] + arguments)
        let go = try await Subprocess.run(
            "/usr/bin/go", ["run", scripts + "/verify_bundle.go", bundle] + arguments,
            environment: ["GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": "-mod=mod", "HOME": work.path,
                          "GOCACHE": work.appending("go-cache"), "PATH": "/usr/bin:/bin"])
        return Verdicts(swift: swift, python: python, go: go)
    }

    func bundle(_ name: String, _ arguments: [String], as user: String = "jsmith") async throws -> String {
        let path = work.appending(name)
        let made = try await store.run(["bundle"] + arguments + ["--as", user, "--output", path])
        #expect(made.status == 0, "exhibit bundle \(arguments): \(made.err)")
        return path
    }

    /// A copy of `bundle` to tamper with.
    func copy(_ bundle: String, _ name: String) throws -> String {
        let path = work.appending(name)
        try FileManager.default.copyItem(atPath: bundle, toPath: path)
        return path
    }

    @Test func aBundleVerifiesWithAllThreeAndEveryTamperingIsCaughtWithItsReason() async throws {
        let earlier = try await store.run(["custody", "checkpoint", "--as", "audit"])
        #expect(earlier.status == 0, "checkpoint: \(earlier.err)")
        let earlierNote = work.appending("earlier-checkpoint")
        try String(earlier.out[try #require(earlier.out.range(of: "\n\n")).upperBound...]).write(toFile: earlierNote, atomically: true, encoding: .utf8)
        let earlierSize = try TreeHead(parsing: try SignedNote(parsing: String(contentsOfFile: earlierNote, encoding: .utf8)).text).size
        let good = try await bundle("JS-1", ["JS/1", "--case", TestStore.caseReference])

        // The intact bundle, with the earlier checkpoint: every verifier passes and says what it proved.
        let verdicts = try await verify(good, extra: ["--previous", earlierNote])
        for (name, result) in verdicts.all {
            #expect(result.status == 0, "\(name) refused the intact bundle:\n\(result.out)\n\(result.err)")
            #expect(result.out.contains("ok: the bundle verifies"), "\(name): \(result.out)")
            #expect(result.out.contains("byte for byte"), "\(name) did not prove the footage: \(result.out)")
            #expect(result.out.contains("prefix of the bundle's"), "\(name) did not check the earlier checkpoint: \(result.out)")
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: good + "/manifest.json"))) as? [String: Any]
        let events = try #require(manifest?["events"] as? [Int])
        let exhibits = try #require(manifest?["exhibits"] as? [[String: Any]])
        #expect(exhibits.count == 1, "JS/1 has no working copy yet: \(exhibits)")
        let footage = try #require(exhibits.first?["path"] as? String)
        // The bundle holds JS/1's events: ingested, the download, the note, its own creation; not JS/2's.
        let actions = try events.map { seq -> String in
            let data = try Data(contentsOf: URL(fileURLWithPath: good + "/" + CourtBundle.eventPath(Int64(seq))))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["action"] as? String ?? "?"
        }
        for action in ["exhibit.ingested", "exhibit.downloaded", "custody.note", "bundle.created"] {
            #expect(actions.contains(action), "the bundle lacks a \(action) event: \(actions)")
        }
        let report = try String(contentsOfFile: good + "/report.html", encoding: .utf8)
        #expect(report.contains("mp4_h264.mp4") && report.contains("John Smith (jsmith)") && report.contains("What they cannot show"), "the report")
        let sums = try await Subprocess.run("/usr/bin/sha256sum", ["-c", "--quiet", "SHA256SUMS"], currentDirectory: good)
        #expect(sums.status == 0, "SHA256SUMS: \(sums.out)\(sums.err)")

        // Each tampering, and the reason every verifier must give.
        var cases: [(String, String, (String) throws -> Void)] = []
        cases.append(("footage", "the footage was changed", { path in
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path + "/" + footage))
            try handle.seek(toOffset: 1000)
            let byte = try handle.read(upToCount: 1) ?? Data([0])
            try handle.seek(toOffset: 1000)
            try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
            try handle.close()
        }))
        let noteSeq = Int64(events[actions.firstIndex(of: "custody.note") ?? 0])
        cases.append(("edited", "not proven in the signed log", { path in
            let file = path + "/" + CourtBundle.eventPath(noteSeq)
            let text = try String(contentsOfFile: file, encoding: .utf8)
            try text.replacingOccurrences(of: "handed to CPS", with: "handed to XYZ").write(toFile: file, atomically: true, encoding: .utf8)
        }))
        cases.append(("dropped", "an event was dropped", { path in
            try FileManager.default.removeItem(atPath: path + "/" + CourtBundle.eventPath(noteSeq))
            try FileManager.default.removeItem(atPath: path + "/" + CourtBundle.proofPath(noteSeq))
            let url = URL(fileURLWithPath: path + "/manifest.json")
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
            object["events"] = events.filter { Int64($0) != noteSeq }
            try JSONSerialization.data(withJSONObject: object).write(to: url)
        }))
        let (a, b) = (Int64(events[0]), Int64(events[1]))
        cases.append(("reordered", "reordered or renamed", { path in
            let (fa, fb) = (path + "/" + CourtBundle.eventPath(a), path + "/" + CourtBundle.eventPath(b))
            let (da, db) = (try Data(contentsOf: URL(fileURLWithPath: fa)), try Data(contentsOf: URL(fileURLWithPath: fb)))
            try db.write(to: URL(fileURLWithPath: fa))
            try da.write(to: URL(fileURLWithPath: fb))
        }))
        let otherSize = try await store.run(["custody", "prove", "--event", String(a), "--size", String(earlierSize), "--as", "audit"])
        #expect(otherSize.status == 0, "prove at the earlier size: \(otherSize.err)")
        cases.append(("other-size", "another checkpoint", { path in
            try otherSize.out.write(toFile: path + "/" + CourtBundle.proofPath(a), atomically: true, encoding: .utf8)
        }))
        cases.append(("other-key", "signed by another key", { path in
            // The same checkpoint text re-signed by someone else's key, everywhere it appears.
            let genuine = try String(contentsOfFile: path + "/checkpoint", encoding: .utf8)
            let note = try SignedNote(parsing: genuine)
            var forged = SignedNote(text: note.text)
            let forger = try NoteSigner(name: try TreeHead(parsing: note.text).origin, key: try Ed25519PrivateKey.generate())
            try forged.sign(with: forger)
            try forged.rendered.write(toFile: path + "/checkpoint", atomically: true, encoding: .utf8)
            try (try forger.verifierKey.vkey + "\n").write(toFile: path + "/log.vkey", atomically: true, encoding: .utf8)
            for seq in events {
                let file = path + "/" + CourtBundle.proofPath(Int64(seq))
                let text = try String(contentsOfFile: file, encoding: .utf8)
                try text.replacingOccurrences(of: genuine, with: forged.rendered).write(toFile: file, atomically: true, encoding: .utf8)
            }
        }))
        for (name, reason, tamper) in cases {
            let path = try copy(good, name)
            try tamper(path)
            let verdicts = try await verify(path)
            for (verifier, result) in verdicts.all {
                #expect(result.status == 1, "\(verifier) passed the \(name) bundle:\n\(result.out)\(result.err)")
                #expect(result.out.contains(reason), "\(verifier) on the \(name) bundle does not say '\(reason)':\n\(result.out)\(result.err)")
            }
        }
    }

    /// A split view: the operator shows one history to someone who keeps its checkpoint, then rewrites it and
    /// makes a bundle from the rewritten log (signed with the genuine key). Checked against the checkpoint kept,
    /// the bundle fails with all three verifiers.
    @Test func aBundleFromAForkedLogFailsAgainstACheckpointOfTheOriginal() async throws {
        #expect(try await store.run(["custody", "checkpoint", "--as", "audit"]).status == 0)
        let fork = work.appending("fork/Storage")
        try FileManager.default.createDirectory(atPath: work.appending("fork"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store.storage, toPath: fork)
        let onFork = ["--storage", fork, "--policies", TestPaths.policies]
        for i in 0..<3 {
            try await store.run(["custody", "note", "what happened \(i)", "--as", "audit"])
            #expect(try await ExhibitCLI.run(["custody", "note", "what the operator says happened \(i)", "--as", "audit"] + onFork).status == 0)
        }
        let kept = try await store.run(["custody", "checkpoint", "--as", "audit"])
        let forked = try await ExhibitCLI.run(["custody", "checkpoint", "--as", "audit"] + onFork)
        #expect(kept.status == 0 && forked.status == 0, "checkpoints: \(kept.err) \(forked.err)")
        let keptNote = work.appending("kept-checkpoint")
        try String(kept.out[try #require(kept.out.range(of: "\n\n")).upperBound...]).write(toFile: keptNote, atomically: true, encoding: .utf8)
        let (keptHead, forkedHead) = (
            try TreeHead(parsing: try SignedNote(parsing: String(contentsOfFile: keptNote, encoding: .utf8)).text),
            try TreeHead(parsing: try SignedNote(parsing: String(forked.out[try #require(forked.out.range(of: "\n\n")).upperBound...])).text))
        #expect(keptHead.size == forkedHead.size && keptHead.root != forkedHead.root, "the two histories: \(keptHead) \(forkedHead)")
        let path = work.appending("forked-bundle")
        let made = try await ExhibitCLI.run(["bundle", "JS/1", "--as", "jsmith", "--output", path] + onFork)
        #expect(made.status == 0, "bundle from the fork: \(made.err)")
        let verdicts = try await verify(path, extra: ["--previous", keptNote])
        for (verifier, result) in verdicts.all {
            #expect(result.status == 1, "\(verifier) passed the forked bundle:\n\(result.out)\(result.err)")
            #expect(result.out.contains("not an extension of the earlier checkpoint"), "\(verifier) on the forked bundle:\n\(result.out)\(result.err)")
        }
        // The same bundle, checked against the fork's own checkpoint, verifies: the fork is only visible to
        // someone who kept a checkpoint of the other history (or a witness).
        let forkedNote = work.appending("forked-checkpoint")
        try String(forked.out[try #require(forked.out.range(of: "\n\n")).upperBound...]).write(toFile: forkedNote, atomically: true, encoding: .utf8)
        let own = try await verify(path, extra: ["--previous", forkedNote])
        for (verifier, result) in own.all { #expect(result.status == 0, "\(verifier) against the fork's own checkpoint:\n\(result.out)\(result.err)") }
    }

    /// The zip: streamed by the server (`GET /v1/exhibits/{id}/bundle`) and written by the CLI (`--output x.zip`);
    /// Python's zipfile checks every entry's CRC-32, and the unpacked folder verifies with all three.
    @Test func zippedBundlesFromTheServerAndTheCLIUnpackAndVerify() async throws {
        let server = try await LiveServer(storage: store.storage)
        let jsmith = store.tokens["jsmith"]!
        let exhibit = try #require(try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits", token: jsmith).jsonArray().first?["id"] as? String)
        let zipped = work.appending("from-server.zip")
        let fetched = try await HTTP.get(server.url + "/v1/exhibits/\(exhibit)/bundle", token: jsmith)
        #expect(fetched.status == 200, "GET bundle: \(fetched.status) \(fetched.text.prefix(300))")
        try fetched.body.write(to: URL(fileURLWithPath: zipped))
        #expect(fetched.header("content-type") == "application/zip", "\(fetched.headers)")
        let auditor = try await HTTP.get(server.url + "/v1/exhibits/\(exhibit)/bundle", token: store.tokens["audit"]!)
        #expect(auditor.status == 403, "an auditor (no exhibit.download) got a bundle: \(auditor.status)")
        let cliZip = work.appending("from-cli.zip")
        let made = try await store.run(["bundle", "JS/1", "--as", "jsmith", "--output", cliZip])
        #expect(made.status == 0, "bundle --output x.zip: \(made.err)")
        for (label, zip) in [("server", zipped), ("cli", cliZip)] {
            let into = work.appending("unzipped-" + label)
            let unpack = try await Subprocess.run("/usr/bin/python3", ["-c", """
                import sys, zipfile
                z = zipfile.ZipFile(sys.argv[1])
                bad = z.testzip()
                if bad: sys.exit("bad CRC: " + bad)
                names = z.namelist()
                z.extractall(sys.argv[2])
                print(names[0].split("/")[0])
                """, zip, into])
            #expect(unpack.status == 0, "\(label) zip: \(unpack.err)")
            let folder = into + "/" + unpack.out.trimmingCharacters(in: .whitespacesAndNewlines)
            for (verifier, result) in try await verify(folder).all {
                #expect(result.status == 0, "\(verifier) on the \(label) zip's bundle:\n\(result.out)\(result.err)")
            }
            // Each checker also takes the zip itself, as it was made.
            for (verifier, result) in try await verify(zip, scripts: folder).all {
                #expect(result.status == 0 && result.out.contains("byte for byte"), "\(verifier) on the \(label) zip itself:\n\(result.out)\(result.err)")
            }
            // A changed byte of footage inside the zip is caught the same way.
            let tampered = work.appending("tampered-\(label).zip")
            try FileManager.default.copyItem(atPath: zip, toPath: tampered)
            let footageOffset = try #require(try StoredZip(path: tampered).entries.first { $0.key.contains("/footage/") }?.value.offset)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: tampered))
            try handle.seek(toOffset: footageOffset + 500)
            let byte = try handle.read(upToCount: 1) ?? Data([0])
            try handle.seek(toOffset: footageOffset + 500)
            try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
            try handle.close()
            for (verifier, result) in try await verify(tampered, scripts: folder).all {
                #expect(result.status == 1 && result.out.contains("FAILED"), "\(verifier) passed a zip with a changed byte of footage:\n\(result.out)\(result.err)")
            }
        }
        _ = await server.stop()
    }

    /// The ZIP64 path (sizes, offsets and the end record past what 32 bits hold), taken for every entry by lowering
    /// the threshold, so it is exercised without writing 4 GiB: Python's zipfile checks each CRC-32, and all three
    /// checkers verify the zip.
    @Test func aZip64BundleIsReadByEveryChecker() async throws {
        let evidence = try EvidenceStore(root: store.storage, policies: try Policies.load(from: TestPaths.policies))
        let actor = try await evidence.actor(named: "jsmith", client: "test")
        let plan = try await evidence.prepareBundle(exhibit: "JS/1", case: TestStore.caseReference, by: actor)
        let path = work.appending("zip64.zip")
        #expect(FileManager.default.createFile(atPath: path, contents: nil), "cannot create \(path)")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let sink = ZipBundleSink(prefix: plan.name, zip64From: 0, countFrom: 0) { buffer in
            try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
        }
        try await evidence.writeBundle(plan, into: sink)
        try handle.close()
        let checked = try await Subprocess.run("/usr/bin/python3", ["-c", """
            import sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            bad = z.testzip()
            if bad: sys.exit("bad CRC: " + bad)
            infos = z.infolist()
            print(len(infos), sum(1 for i in infos if i.extra))
            z.extractall(sys.argv[2])
            """, path, work.appending("zip64-unpacked")])
        #expect(checked.status == 0, "Python's zipfile on the ZIP64 bundle: \(checked.err)")
        let counts = checked.out.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(counts.count == 2 && counts[0] > 5 && counts[0] == counts[1], "every entry should carry a ZIP64 extra field: \(checked.out)")
        let scripts = work.appending("zip64-unpacked/" + plan.name)
        for (verifier, result) in try await verify(path, scripts: scripts).all {
            #expect(result.status == 0, "\(verifier) on the ZIP64 bundle:\n\(result.out)\(result.err)")
        }
    }
}
