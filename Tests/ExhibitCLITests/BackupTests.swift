import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Backups that restore (README, "Backups"): a store backed up while its server takes uploads, incrementally,
/// destroyed, restored into a new root, and everything checked: every exhibit acknowledged before the backup
/// started downloads with its SHA-256, the ledger verifies and ends with the restore, a share link made before
/// still opens with the restored keys; a flipped byte in the backup is found by `backup verify` and by a restore.
/// With the store in S3 (`EXHIBIT_TEST_CHUNKS=s3`) the backups go to a second bucket and the store is restored
/// into S3 again; with its catalog in PostgreSQL, into a new, empty database.
@Suite(.serialized) struct BackupTests {
    let store: TestStore
    let work: TemporaryDirectory
    /// A folder, or `s3://exhibit-backups/<unique prefix>`.
    let target: String
    /// `--s3-endpoint URL` for commands that read the target without a store, in S3 mode.
    let endpoint: [String]
    /// The target's objects, to look at and damage them without Exhibit.
    let backedUp: StoredObjects

    init() async throws {
        store = try await TestStore("backup")
        work = try TemporaryDirectory("backup-work")
        try "a passphrase of some length\n".write(toFile: work.appending("pass"), atomically: true, encoding: .utf8)
        if TestEngines.usesS3 {
            let gateway = try await TestEngines.sharedGateway()
            target = "s3://exhibit-backups/" + UUID().uuidString.lowercased()
            endpoint = ["--s3-endpoint", gateway.endpoint]
            backedUp = StoredObjects(target: target, endpoint: gateway.endpoint)
            try await backedUp.createBucket()
        } else {
            target = work.appending("backups")
            endpoint = []
            backedUp = StoredObjects(target: target, endpoint: nil)
        }
    }

    /// Where a restore puts the new store's chunks and catalog: under its root, or (in S3 and PostgreSQL modes) a
    /// new prefix of the test bucket and a new, empty database.
    func restoredEngines() async throws -> [String] {
        var arguments = endpoint
        if TestEngines.usesS3 { arguments += ["--chunks", "s3://\(TestEngines.bucket)/\(UUID().uuidString.lowercased())"] }
        if TestEngines.usesPostgres { arguments += ["--catalog", try await TestEngines.postgresServer().createDatabase()] }
        return arguments
    }

    func sha256(_ path: String) throws -> String { SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))).hex }

    @Test func aBackupTakenWhileUploadsRunRestoresEverythingAcknowledgedBeforeIt() async throws {
        let server = try await LiveServer(storage: store.storage)
        let jsmith = store.tokens["jsmith"]!
        var random = DeterministicRandom(seed: 22)
        var files: [String] = []
        for i in 0..<10 {
            let path = work.appending("cam\(i).bin")
            try random.writeFile(at: path, size: (3 << 20) + i * 1000)
            files.append(path)
        }
        func upload(_ path: String) async throws -> HTTP.Result {
            try await HTTP.request("POST", server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits?filename=\((path as NSString).lastPathComponent)",
                                   token: jsmith, upload: path)
        }
        // Two uploads acknowledged before the backup; a share link of the first.
        var acknowledged: [String: String] = [:]
        for path in files.prefix(2) {
            let answer = try await upload(path)
            #expect(answer.status == 201, "upload: \(answer.text)")
            acknowledged[try #require(try answer.json()["reference"] as? String)] = try sha256(path)
        }
        // Footage with a working copy (a remux of MPEG-TS into MP4), both acknowledged before the backup.
        let video = try #require(try await store.ingest([TestPaths.fixtures + "/ts_h264_aac.ts"]).first)
        let videoReference = try #require(video["reference"] as? String)
        acknowledged[videoReference] = try sha256(TestPaths.fixtures + "/ts_h264_aac.ts")
        let derived = try await store.run(["derive", videoReference, "--as", "jsmith"])
        #expect(derived.status == 0 && derived.out.contains("working copy"), "derive: \(derived.out)\(derived.err)")
        let copyLine = try #require(derived.out.split(separator: "\n").first { $0.hasPrefix("working copy") })
        acknowledged[String(copyLine.split(separator: " ")[2])] = String(try #require(copyLine.split(separator: " ").last))
        // A resumable upload in progress: 5 MB of 9 sent (chunks stored, a tail kept in the catalog).
        let resumable = Data(random.bytes(9_000_000))
        let metadata = ["case": TestStore.caseReference, "filename": "resumed.bin", "sha256": SHA256.hash(resumable).hex]
            .sorted { $0.key < $1.key }.map { "\($0.key) \(Data($0.value.utf8).base64EncodedString())" }.joined(separator: ",")
        let created = try await HTTP.request("POST", server.url + "/v1/uploads", token: jsmith, headers: [
            "Tus-Resumable": "1.0.0", "Upload-Length": String(resumable.count), "Upload-Metadata": metadata,
        ])
        #expect(created.status == 201, "tus create: \(created.status) \(created.text)")
        let uploadLocation = try #require(created.header("location"), "no Location for the resumable upload")
        let tus = ["Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"]
        let firstPart = try await HTTP.request("PATCH", server.url + uploadLocation, token: jsmith,
                                               headers: tus.merging(["Upload-Offset": "0"]) { $1 }, data: resumable.prefix(5_000_000))
        #expect(firstPart.status == 204, "tus PATCH: \(firstPart.status) \(firstPart.text)")
        let share = try await store.run(["share", "create", "JS/1", "--as", "jsmith"])
        #expect(share.status == 0, "share: \(share.err)")
        let link = String(try #require(share.out.split(separator: "\n").first))
        let token = String(try #require(link.split(separator: "/").last))

        // The backup runs while eight more uploads go in, and the server is killed (SIGKILL) in the middle of them:
        // the uploads it had not acknowledged are lost to their clients, the backup is not.
        async let during: [HTTP.Result] = withThrowingTaskGroup(of: HTTP.Result.self) { group in
            for path in files.suffix(8) { group.addTask { try await upload(path) } }
            var answers: [HTTP.Result] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        async let killed: Int32 = {
            try await Task.sleep(for: .milliseconds(400))
            return await server.stop(signal: SIGKILL)
        }()
        let first = try await store.run(["backup", "--to", target, "--include-keys", "--passphrase-file", work.appending("pass"), "--as", "root"])
        #expect(first.status == 0, "backup: \(first.err)")
        _ = try await killed
        let answers = try await during
        // 201, or no final answer because the server was killed: curl reports 0, or 100 when the kill came after
        // the server's `100 Continue` (curl asks for one before bodies over 1 MiB).
        #expect(answers.allSatisfy { [201, 0, 100].contains($0.status) }, "an upload during the backup: \(answers.map(\.status))")
        // The second backup copies only what is new; both verify, the second extending the first.
        let second = try await store.run(["backup", "--to", target, "--as", "root"])
        #expect(second.status == 0, "second backup: \(second.err)")
        let again = try await store.run(["backup", "--to", target, "--as", "root"])
        #expect(again.out.contains(" 0 new (0 bytes)"), "a third backup with nothing new copied something: \(again.out)")
        let verified = try await ExhibitCLI.run(["backup", "verify", target] + endpoint)
        #expect(verified.status == 0 && verified.out.contains("extends backup"), "backup verify:\n\(verified.out)\(verified.err)")
        let listed = try await ExhibitCLI.run(["backup", "list", target] + endpoint).out.split(separator: "\n")
        #expect(listed.count == 3, "backup list: \(listed)")

        // The disk is lost. The first backup (keys sealed in it) comes back in a new root.
        try FileManager.default.removeItem(atPath: store.storage)
        let firstID = String(try #require(listed.first?.split(separator: " ").first))
        let restored = work.appending("Restored")
        let policies = ["--policies", TestPaths.policies]
        let wrong = work.appending("wrong")
        try "not the passphrase at all\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let engines = try await restoredEngines()
        let refused = try await ExhibitCLI.run(["restore", "--from", target, "--at", firstID, "--to", restored, "--passphrase-file", wrong, "--as", "root"] + policies + engines)
        #expect(refused.status != 0 && refused.err.contains("passphrase is wrong"), "a wrong passphrase: \(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: restored), "a refused restore left a folder behind")
        let done = try await ExhibitCLI.run(["restore", "--from", target, "--at", firstID, "--to", restored, "--passphrase-file", work.appending("pass"), "--as", "root"] + policies + engines)
        #expect(done.status == 0, "restore: \(done.err)")
        let deployment = try String(contentsOfFile: restored + "/deployment.json", encoding: .utf8)
        #expect(deployment.contains(TestEngines.usesS3 ? "s3://" : "\"local\"") && deployment.contains(TestEngines.usesPostgres ? "postgres://" : "sqlite"),
                "the restored store is not where the restore was told to put it: \(deployment)")
        let onRestored = ["--storage", restored] + policies
        let checked = try await ExhibitCLI.run(["verify"] + onRestored)
        #expect(checked.status == 0, "exhibit verify on the restored store: \(checked.out)\(checked.err)")
        let ledger = try await ExhibitCLI.run(["custody", "verify"] + onRestored)
        #expect(ledger.status == 0, "custody verify on the restored store: \(ledger.out)")
        let events = try await ExhibitCLI.run(["custody", "export", "--format", "jsonl", "--as", "audit"] + onRestored)
        let actions = try ExhibitCLI.jsonLines(events).map { $0["action"] as? String ?? "" }
        #expect(actions.contains("store.backed-up") && actions.contains("store.restored"), "the ledger: \(actions.suffix(5))")
        #expect(actions.firstIndex(of: "store.restored").map { $0 > (actions.firstIndex(of: "store.backed-up") ?? .max) } == true,
                "the restore is not after the backup in the ledger")
        for (reference, digest) in acknowledged {
            let bytes = try await ExhibitCLI.run(["cat", reference, "--as", "jsmith"] + onRestored)
            #expect(bytes.status == 0 && SHA256.hash(bytes.stdout).hex == digest, "\(reference) does not download with its SHA-256 from the restored store")
        }
        // The link made before the backup opens on the restored store: the keys came back with it.
        let revived = try await LiveServer(storage: restored)
        let page = try await HTTP.get(revived.url + "/s/" + token)
        #expect(page.status == 200, "the share link on the restored store: \(page.status)")
        // The upload in progress at the backup resumes where it was, and completes with its SHA-256.
        let offset = try await HTTP.request("HEAD", revived.url + uploadLocation, token: jsmith, headers: ["Tus-Resumable": "1.0.0"])
        #expect(offset.header("upload-offset") == "5000000", "the restored upload's offset: \(offset.status) \(offset.headers)")
        let rest = try await HTTP.request("PATCH", revived.url + uploadLocation, token: jsmith,
                                          headers: tus.merging(["Upload-Offset": "5000000"]) { $1 }, data: resumable.suffix(from: 5_000_000))
        #expect(rest.status == 204 && rest.header("exhibit-id") != nil, "resuming the restored upload: \(rest.status) \(rest.text)")
        _ = await revived.stop()
        #expect(try await ExhibitCLI.run(["verify"] + onRestored).status == 0, "exhibit verify after the resumed upload completed")
        // Restoring into a folder that is not empty is refused.
        let occupied = try await ExhibitCLI.run(["restore", "--from", target, "--to", restored, "--keys-from", restored + "/keys", "--as", "root"] + policies + endpoint)
        #expect(occupied.status != 0 && occupied.err.contains("not empty"), "restoring over a store: \(occupied.err)")

        // A flipped byte in a backed-up chunk: backup verify names it, and a restore refuses it.
        let victim = try #require(try await backedUp.list(.chunks).first, "no chunk in the backup")
        var bytes = try await backedUp.read(.chunks, victim)
        bytes[100] ^= 0x20
        try await backedUp.overwrite(.chunks, victim, with: bytes)
        let found = try await ExhibitCLI.run(["backup", "verify", target] + endpoint)
        #expect(found.status == 1 && found.out.contains("does not match its name"), "a flipped byte in the backup:\n\(found.out)")
        // (The latest backup needs every chunk; its keys come from the restored store's folder.)
        let broken = try await ExhibitCLI.run(["restore", "--from", target, "--to", work.appending("Restored2"),
                                               "--keys-from", restored + "/keys", "--as", "root"] + policies + (try await restoredEngines()))
        #expect(broken.status != 0 && broken.err.contains("does not match its name"), "a restore from a damaged backup: \(broken.err)")
    }

    /// Retention across backups: footage purged after a backup leaves the backup folder at the next run, and a
    /// restore of the older backup does not bring it back (the newer backup's tombstone purges it again, with its
    /// event).
    @Test func purgedFootageLeavesTheBackupsAndAnOlderRestoreKeepsItPurged() async throws {
        var random = DeterministicRandom(seed: 2201)
        let (keep, purge) = (work.appending("keep.bin"), work.appending("purge.bin"))
        try random.writeFile(at: keep, size: 2 << 20)
        try random.writeFile(at: purge, size: 2 << 20)
        let ingested = try await store.ingest([keep, purge])
        let purgedSHA = try #require(ingested.last?["sha256"] as? String)
        let first = try await store.run(["backup", "--to", target, "--include-keys", "--passphrase-file", work.appending("pass"), "--as", "root"])
        #expect(first.status == 0, "backup: \(first.err)")
        #expect(try await backedUp.list(.manifests).contains(purgedSHA), "the backup lacks JS/2's manifest")
        // JS/2 is purged under the retention policy (the state a purge leaves; the purge itself: RetentionTests).
        let purged = try await store.sql("""
            UPDATE exhibits SET state = 'purged', purged_at = '2026-12-04T10:00:00.000Z', purged_by = 'sup', purge_reason = 'retention: no further action',
              deletion_requested_at = '2026-11-04T10:00:00.000Z', deletion_requested_by = 'sup', deletion_reason = 'monthly review',
              purge_after = '2026-12-04T10:00:00.000Z'
              WHERE reference = 'JS/2';
            UPDATE blobs SET purged_at = '2026-12-04T10:00:00.000Z' WHERE sha256 = '\(purgedSHA)';
            """)
        #expect(purged.status == 0, "\(purged.err)")
        let second = try await store.run(["backup", "--to", target, "--as", "root"])
        #expect(second.status == 0, "second backup: \(second.err)")
        let manifests = try await backedUp.list(.manifests)
        #expect(!manifests.contains(purgedSHA), "the purged footage's manifest is still in the backups")
        let keptSHA = try #require(ingested.first?["sha256"] as? String)
        #expect(manifests.contains(keptSHA), "the footage still live left the backups")
        let verified = try await ExhibitCLI.run(["backup", "verify", target] + endpoint)
        #expect(verified.status == 0, "backup verify failed:\n\(verified.out)\(verified.err)")
        #expect(verified.out.contains("1 purged blob(s) left the backups"), "backup verify does not say the purged blob left:\n\(verified.out)")

        // The older backup, restored: JS/2 is purged there too, and says why; JS/1 is whole.
        let firstID = String(try #require(try await ExhibitCLI.run(["backup", "list", target] + endpoint).out.split(separator: " ").first))
        let restored = work.appending("Restored")
        let policies = ["--policies", TestPaths.policies]
        let done = try await ExhibitCLI.run(["restore", "--from", target, "--at", firstID, "--to", restored, "--passphrase-file", work.appending("pass"), "--as", "root"] + policies + (try await restoredEngines()))
        #expect(done.status == 0, "restore of the older backup: \(done.err)")
        let onRestored = ["--storage", restored] + policies
        let gone = try await ExhibitCLI.run(["cat", "JS/2", "--as", "jsmith"] + onRestored)
        #expect(gone.status != 0 && gone.err.contains("deleted under the retention policy at 2026-12-04T10:00:00.000Z by sup"),
                "the purged exhibit came back, or without its record: \(gone.err)")
        let kept = try await ExhibitCLI.run(["cat", "JS/1", "--as", "jsmith"] + onRestored)
        #expect(SHA256.hash(kept.stdout).hex == keptSHA, "JS/1 is not whole after the restore")
        let events = try ExhibitCLI.jsonLines(try await ExhibitCLI.run(["custody", "export", "--format", "jsonl", "--as", "audit"] + onRestored))
        let purgeEvent = events.last { ($0["action"] as? String) == "exhibit.purged" }
        #expect((purgeEvent?["details"] as? [String: Any])?["recorded_in_backup"] as? String != nil, "no purge event naming the newer backup: \(String(describing: purgeEvent))")
        #expect(try await ExhibitCLI.run(["verify"] + onRestored).status == 0, "exhibit verify on the restored store")
        #expect(try await ExhibitCLI.run(["custody", "verify"] + onRestored).status == 0, "custody verify on the restored store")
    }
}
