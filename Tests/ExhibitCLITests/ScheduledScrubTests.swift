import ExhibitTesting
import Foundation
import Testing

/// The server's scheduled scrub (README, "Backups"): with `scrub.every` short and a backup to repair from (a
/// folder; in S3 mode a bucket), a chunk deleted from a small store is found and restored within one pass,
/// recorded as a scheduled `store.verified` event, and shown in `/metrics`.
@Suite struct ScheduledScrubTests {
    @Test func aDeletedChunkIsFoundAndRepairedWithinOnePass() async throws {
        let store = try await TestStore("scheduled-scrub")
        let work = try TemporaryDirectory("scrub-work")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4", TestPaths.fixtures + "/ts_h264_aac.ts"])
        let backup = TestEngines.usesS3 ? "s3://exhibit-backups/" + UUID().uuidString.lowercased() : work.appending("backup")
        if TestEngines.usesS3 { try await StoredObjects(target: backup, endpoint: try await TestEngines.sharedGateway().endpoint).createBucket() }
        let backedUp = try await store.run(["backup", "--to", backup, "--as", "root"])
        #expect(backedUp.status == 0, "backup: \(backedUp.err)")
        let policies = try TestPolicies.copy(into: work, replacing: [
            "storage.yaml": [("  every: 30d\n", "  every: 2s\n"), ("  repair_from: \"\"\n", "  repair_from: \"\(backup)\"\n")],
        ])
        let victim = try #require(try await store.objects.list(.chunks).first, "no chunk in the store")
        try await store.objects.remove(.chunks, victim)

        let server = try await LiveServer(storage: store.storage, policies: policies)
        var found: [String: Any]?
        for _ in 0..<150 where found == nil {
            try await Task.sleep(for: .milliseconds(200))
            let events = try ExhibitCLI.jsonLines(try await store.run(["custody", "export", "--format", "jsonl", "--as", "audit"]))
            found = events.last { ($0["action"] as? String) == "store.verified" && (($0["details"] as? [String: Any])?["scheduled"] as? Bool) == true }
        }
        let details = try #require(found?["details"] as? [String: Any], "no scheduled scrub was recorded within 30 s")
        #expect((details["damaged_count"] as? Int ?? 0) >= 1, "the pass did not find the deleted chunk: \(details)")
        let restored = details["restored"] as? [String] ?? []
        #expect(restored.contains { $0.hasSuffix(victim) }, "the chunk was not restored: \(details)")
        #expect(try await store.objects.list(.chunks).contains(victim), "the chunk is not back in the store")
        let metrics = try await HTTP.get(server.url + "/metrics")
        #expect(metrics.text.contains("exhibit_scrub_last_pass_repaired"), "the scrub's metrics are not in /metrics")
        _ = await server.stop()
        let verified = try await store.run(["verify"])
        #expect(verified.status == 0, "the store after the scheduled repair: \(verified.out)")
    }

    @Test func badScrubSettingsNameTheLine() async throws {
        let work = try TemporaryDirectory("scrub-policy")
        for (from, to, expected) in [
            ("  every: 30d\n", "  every: 0s\n", "scrub.every: must be between 1s and 366d"),
            ("  max_rate: 50MiB\n", "  max_rate: 1KiB\n", "scrub.max_rate: must be between 1MiB and 1TiB"),
            ("  repair_from: \"\"\n", "  repair_from: \"backups\"\n", "scrub.repair_from: must be an absolute path"),
            ("  repair_from: \"\"\n", "  repair_from: \"\"\n  colour: blue\n", "unknown setting 'scrub.colour'"),
        ] {
            try? FileManager.default.removeItem(atPath: work.appending("Policies"))
            let policies = try TestPolicies.copy(into: work, replacing: ["storage.yaml": [(from, to)]])
            let result = try await ExhibitCLI.run(["user", "add", "someone", "--role", "admin", "--storage", work.appending("Storage"), "--policies", policies])
            #expect(result.status != 0 && result.err.contains("storage.yaml:") && result.err.contains(expected), "expected '\(expected)' in: \(result.err)")
        }
    }
}
