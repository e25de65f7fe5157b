import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// The chain-of-custody ledger through the real executable, tampered with through the sqlite3 command line.
@Suite struct CustodyCLITests {
    let store: TestStore

    init() async throws {
        store = try await TestStore("custody")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4", TestPaths.fixtures + "/ts_h264_aac.ts"])
        for i in 0..<6 { try await store.run(["custody", "note", "note \(i) – with ünïcode and \"quotes\"", "--as", "jsmith"]) }
    }

    func verify() async throws -> Subprocess.Result { try await store.run(["custody", "verify"]) }

    /// Runs SQL with the append-only triggers dropped, as an attacker with the file would.
    func tamper(_ sql: String) async throws {
        let result = try await store.sql(store.dropLedgerTriggers + "\n" + sql)
        #expect(result.status == 0, "\(result.err)")
    }

    func head() async throws -> Int { Int(try await store.sql("SELECT max(seq) FROM custody_events").out.trimmingCharacters(in: .whitespacesAndNewlines))! }

    @Test func anIntactLedgerVerifies() async throws {
        let result = try await verify()
        #expect(result.status == 0, "\(result.out)")
        let last = try await head()
        #expect(result.out.contains("ok: \(last) events"))
    }

    /// The stored Merkle tree is what proofs are made from: a node changed in the database is found, and so is a
    /// ledger rewritten consistently (hashes and links recomputed) under a signed root.
    @Test func aChangedTreeNodeIsFound() async throws {
        #expect(try await store.run(["custody", "checkpoint", "--as", "audit"]).status == 0)
        #expect(try await verify().status == 0, "the intact ledger and its tree verify")
        try await tamper("UPDATE custody_tree SET hash = (SELECT hash FROM custody_tree WHERE n = 0) WHERE n = 3")
        let result = try await verify()
        #expect(result.status == 1, "a changed tree node was not found: \(result.out)")
        #expect(result.out.contains("the stored Merkle tree is not the tree of the events"), "\(result.out)")
    }

    @Test func aBadCustodyPolicyNamesTheLine() async throws {
        let policies = try TemporaryDirectory("custody-policies")
        for file in try FileManager.default.contentsOfDirectory(atPath: TestPaths.policies) {
            try FileManager.default.copyItem(atPath: TestPaths.policies + "/" + file, toPath: policies.appending(file))
        }
        for (yaml, expected) in [
            ("origin: \"custody police/v1\"\nwitnesses: []\nquorum: 0\n", "custody.yaml:1: origin: 'custody police/v1' is not a log origin"),
            ("origin: \"\"\nwitnesses: []\nquorum: 1\n", "custody.yaml:3: quorum: must be between 0 and the number of witnesses (0)"),
            ("origin: \"\"\nwitnesses: [\"w+1234abcd+BAAA ftp://x\"]\nquorum: 0\n", "custody.yaml:2: witnesses: 'w+1234abcd+BAAA ftp://x' is not"),
            ("origin: \"\"\nwitnesses: []\nquorum: 0\ncolour: blue\n", "custody.yaml:4: unknown setting 'colour'"),
        ] {
            try yaml.write(toFile: policies.appending("custody.yaml"), atomically: true, encoding: .utf8)
            let result = try await ExhibitCLI.run(["custody", "vkey", "--storage", store.storage, "--policies", policies.path])
            #expect(result.status != 0, "the policy \(yaml.debugDescription) was accepted")
            #expect(result.err.contains(expected), "expected '\(expected)' in: \(result.err)")
        }
        try "origin: custody.police.example/v1\nwitnesses: []\nquorum: 0\n".write(toFile: policies.appending("custody.yaml"), atomically: true, encoding: .utf8)
        let vkey = try await ExhibitCLI.run(["custody", "vkey", "--storage", store.storage, "--policies", policies.path])
        #expect(vkey.out.hasPrefix("custody.police.example/v1+"), "the vkey's name is not the policy's origin: \(vkey.out) \(vkey.err)")
    }

    @Test func theTriggersRefuseUpdatesAndDeletes() async throws {
        let update = try await store.sql("UPDATE custody_events SET actor = 'mallory' WHERE seq = 3")
        #expect(update.status != 0)
        #expect(update.err.contains("append-only"))
        let delete = try await store.sql("DELETE FROM custody_events WHERE seq = 3")
        #expect(delete.status != 0)
        #expect(delete.err.contains("append-only"))
        #expect(try await store.run(["custody", "checkpoint", "--as", "audit"]).status == 0)
        let checkpoint = try await store.sql("DELETE FROM checkpoints")
        #expect(checkpoint.status != 0)
        #expect(checkpoint.err.contains("append-only"))
    }

    @Test func anEditedFieldIsFound() async throws {
        try await tamper("UPDATE custody_events SET actor = 'mallory' WHERE seq = 7;")
        let result = try await verify()
        #expect(result.status == 1)
        #expect(result.out.contains("broken: first at seq 7: the event does not match its hash"))
    }

    @Test func aRowDeletedFromTheMiddleIsFound() async throws {
        try await tamper("DELETE FROM custody_events WHERE seq = 5;")
        let result = try await verify()
        #expect(result.status == 1)
        #expect(result.out.contains("broken: first at seq 5: missing"))
    }

    @Test func theLastRowsDeletedAreCaughtByTheCheckpoint() async throws {
        let checkpoint = try await store.run(["custody", "checkpoint", "--as", "audit"])
        #expect(checkpoint.status == 0)
        let last = try await head()
        try await tamper("DELETE FROM custody_events WHERE seq > \(last - 3);")
        let result = try await verify()
        #expect(result.status == 1)
        #expect(result.out.contains("broken: first at seq \(last - 2): missing: the checkpoint"))
    }

    @Test func twoSwappedRowsAreFound() async throws {
        // Swap the contents of seq 4 and seq 5 (everything but the seq).
        try await tamper("""
            CREATE TEMP TABLE a AS SELECT * FROM custody_events WHERE seq = 4;
            CREATE TEMP TABLE b AS SELECT * FROM custody_events WHERE seq = 5;
            DELETE FROM custody_events WHERE seq IN (4, 5);
            INSERT INTO custody_events SELECT 4, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash, seal FROM b;
            INSERT INTO custody_events SELECT 5, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash, seal FROM a;
            """)
        let result = try await verify()
        #expect(result.status == 1)
        #expect(result.out.contains("broken: first at seq 4:"))
    }

    @Test func aForgedRowWithARecomputedHashIsFound() async throws {
        // The forger recomputes a valid hash (with Python, as the README explains) but has no keys.
        let last = try await head()
        let row = try await store.sql("SELECT hash FROM custody_events WHERE seq = \(last)").out.trimmingCharacters(in: .whitespacesAndNewlines)
        let script = """
            import hashlib, json
            e = {"action": "exhibit.downloaded", "actor": "jsmith", "at": "2026-01-01T00:00:00.000Z", "case": None,
                 "client": "cli:x@y", "details": {}, "exhibit": None, "role": "investigator", "seq": \(last + 1)}
            c = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
            print(hashlib.sha256(("\(row)" + c).encode()).hexdigest())
            """
        let forged = try await Subprocess.run("/usr/bin/env", ["python3", "-c", script]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        try await tamper("""
            INSERT INTO custody_events VALUES (\(last + 1), '2026-01-01T00:00:00.000Z', 'jsmith', 'investigator',
              'exhibit.downloaded', NULL, NULL, '{}', 'cli:x@y', '\(row)', '\(forged)', 'nothing');
            """)
        let result = try await verify()
        #expect(result.status == 1)
        #expect(result.out.contains("broken: first at seq \(last + 1): no valid seal"))
    }

    @Test func aFlippedByteInTheSignatureIsFound() async throws {
        #expect(try await store.run(["custody", "checkpoint", "--as", "audit"]).status == 0)
        let signature = try await store.sql("SELECT signature FROM checkpoints ORDER BY id DESC LIMIT 1").out.trimmingCharacters(in: .whitespacesAndNewlines)
        var bytes = Data(base64Encoded: signature)!
        bytes[10] ^= 0x01
        try await tamper("UPDATE checkpoints SET signature = '\(bytes.base64EncodedString())' WHERE id = (SELECT max(id) FROM checkpoints);")
        let result = try await verify()
        #expect(result.status == 1)
        #expect(result.out.contains("signature of the latest checkpoint"))
    }

    /// The README's Python check (python3 + hashlib only) recomputes the chain of an exported bundle against the
    /// key the force published (a file of its own), and stock `openssl pkeyutl -verify` checks the checkpoint
    /// signature with that key. A filtered bundle is checked event by event; a bundle signed with another key
    /// fails. If the README and the code disagree, this fails.
    @Test func theReadmeScriptAndStockOpenSSLAgree() async throws {
        let work = try TemporaryDirectory("pycheck")
        let bundle = work.appending("custody.json")
        let export = try await store.run(["custody", "export", "--as", "audit", "--format", "json", "--output", bundle])
        #expect(export.status == 0, "\(export.err)")
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        let script = try #require(readmeBlock(readme, after: "check_custody.py"), "README has the Python check")
        try script.write(toFile: work.appending("check_custody.py"), atomically: true, encoding: .utf8)
        // The published key, as the README has the force publish it.
        let published = try await store.run(["custody", "pubkey"]).out
        try published.write(toFile: work.appending("custody.pub.pem"), atomically: true, encoding: .utf8)
        func check(_ file: String) async throws -> Subprocess.Result {
            try await Subprocess.run("/usr/bin/env", ["python3", "check_custody.py", file, "custody.pub.pem"], currentDirectory: work.path)
        }
        let python = try await check(bundle)
        #expect(python.status == 0, "\(python.err)")
        let last = try await head()
        #expect(python.out.contains("chain ok through seq \(last)"), "\(python.out)")
        let openssl = try await Subprocess.run(
            "/usr/bin/env",
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "custody.pub.pem", "-rawin", "-in", "message", "-sigfile", "signature"],
            currentDirectory: work.path)
        #expect(openssl.status == 0, "\(openssl.out)\(openssl.err)")
        #expect(openssl.out.contains("Signature Verified Successfully"), "\(openssl.out)\(openssl.err)")
        #expect(try String(contentsOfFile: work.appending("custody.pub.pem"), encoding: .utf8) == published, "the script must not overwrite the published key")
        // A filtered bundle: each event against its own hash.
        let filtered = work.appending("filtered.json")
        #expect(try await store.run(["custody", "export", "--as", "audit", "--format", "json", "--case", TestStore.caseReference, "--output", filtered]).status == 0)
        let partial = try await check(filtered)
        #expect(partial.status == 0, "\(partial.out)\(partial.err)")
        #expect(partial.out.hasPrefix("filtered:"), "\(partial.out)\(partial.err)")
        // A bundle whose key is not the published one fails, whatever else is right.
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle))) as? [String: Any])
        json["public_key"] = try Ed25519PrivateKey.generate().publicKey.pem
        let other = work.appending("other-key.json")
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: other))
        let refused = try await check(other)
        #expect(refused.status != 0, "\(refused.out)\(refused.err)")
        #expect(refused.err.contains("another key"), "\(refused.out)\(refused.err)")
        // And our own offline check agrees, with the published key as a file (the PEM once failed to read).
        let own = try await ExhibitCLI.run(["custody", "verify", "--bundle", bundle, "--public-key", work.appending("custody.pub.pem")])
        #expect(own.status == 0, "\(own.out)\(own.err)")
        #expect(own.out.contains("complete bundle"), "\(own.out)\(own.err)")
        let ownOther = try await ExhibitCLI.run(["custody", "verify", "--bundle", other, "--public-key", work.appending("custody.pub.pem")])
        #expect(ownOther.status != 0, "\(ownOther.out)")
    }

    @Test func exportsInEveryFormat() async throws {
        let csv = try await store.run(["custody", "export", "--as", "audit", "--format", "csv"])
        #expect(csv.status == 0)
        let lines = csv.out.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.first == "seq,at,actor,role,action,exhibit,exhibit_reference,case,details,client,prev_hash,hash")
        #expect(lines.contains { $0.contains(",JS/1,") }, "the exhibit's reference is beside its id")
        #expect(csv.out.contains(#""{""note"":""note 0 \u2013 with \u00fcn\u00efcode and \""quotes\""""}""#))
        let jsonl = try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"])
        let events = try jsonl.out.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(events.count == lines.count)  // csv + its export event, jsonl + its own: same count as the header
        // Each export is itself in the record.
        let actions = events.map { $0["action"] as? String }
        #expect(actions.filter { $0 == "custody.exported" }.count == 2)

        // Filters: by case and by exhibit (id or reference), by time.
        let byCase = await work(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl", "--case", TestStore.caseReference]))
        #expect(byCase.allSatisfy { $0["case"] as? String == TestStore.caseReference })
        let byExhibit = await work(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl", "--exhibit", "JS/2"]))
        #expect(byExhibit.map { $0["action"] as? String } == ["exhibit.ingested"])
        let future = await work(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl", "--since", "2999-01-01T00:00:00Z"]))
        #expect(future.isEmpty)

        let filtered = try TemporaryDirectory("filtered")
        #expect(try await store.run(["custody", "export", "--as", "audit", "--format", "json", "--case", TestStore.caseReference, "--output", filtered.appending("b.json")]).status == 0)
        let check = try await ExhibitCLI.run(["custody", "verify", "--bundle", filtered.appending("b.json")])
        #expect(check.status == 0)
        #expect(check.out.contains("filtered bundle"))
        #expect(check.out.contains("cannot prove: that these events are part of that signed chain"))
    }

    func work(_ result: Subprocess.Result) -> [[String: Any]] {
        result.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func aTamperedBundleIsFound() async throws {
        let work = try TemporaryDirectory("bundle")
        let path = work.appending("b.json")
        #expect(try await store.run(["custody", "export", "--as", "audit", "--format", "json", "--output", path]).status == 0)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "note 3", with: "note X")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await ExhibitCLI.run(["custody", "verify", "--bundle", path])
        #expect(result.status == 1)
        #expect(result.out.contains("the event does not match its hash"))
    }

    /// Two processes appending 5,000 events each at once end with one linear chain of 10,000 that verifies.
    @Test func twoProcessesAppendingAtOnceKeepOneChain() async throws {
        let before = try await head()
        func spawn() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestPaths.exhibitExecutable)
            process.arguments = ["custody", "note", "load", "--as", "jsmith", "--repeat-count", "5000"] + store.common
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        let a = try spawn()
        let b = try spawn()
        await a.exited()
        await b.exited()
        #expect(a.terminationStatus == 0)
        #expect(b.terminationStatus == 0)
        #expect(try await head() == before + 10_000)
        let gaps = try await store.sql("SELECT count(*) FROM custody_events c JOIN custody_events p ON p.seq = c.seq - 1 WHERE c.prev_hash != p.hash").out
        #expect(gaps == "0\n")
        let result = try await verify()
        #expect(result.status == 0, "\(result.out)")
    }

    @Test func badInputIsRefusedAndWritesNothing() async throws {
        let before = try await head()
        let cases: [([String], String)] = [
            (["ingest", "--case", "NOPE/1", "--as", "jsmith", TestPaths.fixtures + "/mp4_h264.mp4"], "no case NOPE/1"),
            (["ingest", "--case", TestStore.caseReference, "--as", "ghost", TestPaths.fixtures + "/mp4_h264.mp4"], "no user named ghost"),
            (["user", "add", "newbie", "--role", "wizard"], "no role 'wizard'"),
            (["user", "add", "Bad Name", "--role", "investigator"], "not a valid user name"),
            (["case", "create", "../etc", "--as", "jsmith"], "not a valid case reference"),
            (["case", "create", "X'; DROP TABLE cases;--", "--as", "jsmith"], "not a valid case reference"),
            (["custody", "export", "--as", "audit", "--format", "csv", "--since", "last tuesday"], "not a time"),
            (["custody", "export", "--as", "audit", "--format", "xml"], "--format must be"),
            (["custody", "export", "--as", "jsmith", "--format", "csv"], "may not custody.read"),
            (["custody", "export", "--as", "audit", "--format", "csv", "--case", "NOPE/1"], "no case NOPE/1"),
            (["case", "create", TestStore.caseReference, "--as", "jsmith"], "is already taken"),
        ]
        for (arguments, message) in cases {
            let result = try await store.run(arguments)
            #expect(result.status != 0, "\(arguments) should fail")
            #expect(result.err.contains(message), "\(arguments): expected '\(message)' in \(result.err)")
        }
        #expect(try await head() == before, "a refused command wrote to the ledger")

        let work = try TemporaryDirectory("bad")
        try "this is not json".write(toFile: work.appending("x.json"), atomically: true, encoding: .utf8)
        let notJSON = try await ExhibitCLI.run(["custody", "verify", "--bundle", work.appending("x.json")])
        #expect(notJSON.status != 0)
        #expect(notJSON.err.contains("not an Exhibit custody bundle"))
        #expect(try await store.run(["custody", "export", "--as", "audit", "--format", "json", "--output", work.appending("b.json")]).status == 0)
        // A public key that is not the store's.
        let other = try await Subprocess.run("/usr/bin/env", ["openssl", "genpkey", "-algorithm", "ed25519", "-out", work.appending("other.pem")])
        #expect(other.status == 0)
        _ = try await Subprocess.run("/usr/bin/env", ["openssl", "pkey", "-in", work.appending("other.pem"), "-pubout", "-out", work.appending("other.pub.pem")])
        let wrongKey = try await ExhibitCLI.run(["custody", "verify", "--bundle", work.appending("b.json"), "--public-key", work.appending("other.pub.pem")])
        #expect(wrongKey.status == 1)
        #expect(wrongKey.out.contains("not with the trusted key"))
        let notAKey = try await ExhibitCLI.run(["custody", "verify", "--bundle", work.appending("b.json"), "--public-key", work.appending("x.json")])
        #expect(notAKey.status != 0)
        #expect(notAKey.err.contains("not an Ed25519 public key"))
    }

    @Test func whoSeesWhat() async throws {
        // akhan is an investigator but not a member: the case does not exist for them.
        let hidden = try await store.run(["case", "show", TestStore.caseReference, "--as", "akhan"])
        #expect(hidden.status != 0)
        #expect(hidden.err.contains("no case"))
        #expect(try await store.run(["cat", "JS/1", "--as", "akhan"]).err.contains("no exhibit"))
        #expect(try await store.run(["case", "list", "--as", "akhan", "--json"]).out == "[]\n")
        // The auditor reads metadata but never bytes.
        #expect(try await store.run(["show", "JS/1", "--as", "audit"]).status == 0)
        let bytes = try await store.run(["cat", "JS/1", "--as", "audit"])
        #expect(bytes.status != 0)
        #expect(bytes.err.contains("may not exhibit.download"))
        // After being added, akhan sees it; the supervisor always does.
        #expect(try await store.run(["case", "add-member", TestStore.caseReference, "akhan", "--as", "jsmith"]).status == 0)
        #expect(try await store.run(["cat", "JS/1", "--as", "akhan"]).status == 0)
        #expect(try await store.run(["cat", "JS/1", "--as", "sup"]).status == 0)
        // akhan's own uploads get their initials.
        let mine = try await store.ingest([TestPaths.fixtures + "/audio_only.m4a"], as: "akhan")
        #expect(mine.first?["reference"] as? String == "AK/1")
        // An admin manages users but sees no footage.
        #expect(try await store.run(["user", "list", "--as", "root"]).status == 0)
        #expect(try await store.run(["user", "list", "--as", "jsmith"]).err.contains("may not user.manage"))
        #expect(try await store.run(["show", "JS/1", "--as", "root"]).err.contains("no exhibit"))
    }
}

/// The first fenced code block after the line mentioning `marker` in a Markdown text.
func readmeBlock(_ markdown: String, after marker: String) -> String? {
    guard let at = markdown.range(of: marker) else { return nil }
    let rest = markdown[at.upperBound...]
    guard let open = rest.range(of: "```python\n") else { return nil }
    guard let close = rest[open.upperBound...].range(of: "```") else { return nil }
    return String(rest[open.upperBound..<close.lowerBound])
}
