import ExhibitTesting
import Foundation
import Testing

/// `exhibit migrate`: an install's SQLite catalog and ledger moved into a real PostgreSQL server.
@Suite(
    .enabled(if: PostgresServer.installed, "SKIPPED LOUDLY: PostgreSQL is not installed; run `make deps`"),
    .enabled(if: !TestEngines.usesPostgres, "not in the S3 + PostgreSQL pass: it moves a SQLite store into PostgreSQL, as the first pass does"))
struct MigrateCLITests {
    @Test func anInstallMovesToPostgreSQLLedgerAndAllAndKeepsWorking() async throws {
        let store = try await TestStore("migrate")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4", TestPaths.fixtures + "/ts_h264_aac.ts"])
        #expect(try await store.run(["share", "create", "JS/1", "--base-url", "http://127.0.0.1:8080", "--as", "jsmith"]).status == 0)
        #expect(try await store.run(["hold", "set", "--case", TestStore.caseReference, "--reason", "civil claim", "--as", "sup"]).status == 0)
        #expect(try await store.run(["custody", "checkpoint", "--as", "audit"]).status == 0)
        #expect(try await store.run(["custody", "note", "before the move – ünïcode", "--as", "jsmith"]).status == 0)
        let before = try await store.run(["custody", "verify"]).out
        let head = try #require(before.firstMatch(of: /head seq ([0-9]+) hash ([0-9a-f]{64})/))

        let postgres = try await PostgresServer()
        let database = try await postgres.createDatabase()
        let moved = try await store.run(["migrate", "--to", database])
        #expect(moved.status == 0, "\(moved.err)")
        #expect(moved.out.contains("copied: users 5,"), "\(moved.out)")
        #expect(moved.out.contains("exhibits 2"), "\(moved.out)")
        #expect(moved.out.contains("checkpoints 1"), "\(moved.out)")
        #expect(moved.out.contains("ok: \(head.1) events verify in \(database)"), "\(moved.out)")
        #expect(!FileManager.default.fileExists(atPath: store.storage + "/exhibit.sqlite"))
        #expect(FileManager.default.fileExists(atPath: store.storage + "/exhibit.sqlite.migrated"))
        #expect(store.postgresDatabase != nil)

        // The same chain, head and all, now read from PostgreSQL; and the store goes on from there.
        let after = try await store.run(["custody", "verify"])
        #expect(after.status == 0, "\(after.out)\(after.err)")
        #expect(after.out.contains("head seq \(head.1) hash \(head.2)"), "\(after.out)\(after.err)")
        let third = try await store.ingest([TestPaths.fixtures + "/mkv_h264_aac.mkv"])
        #expect(third.first?["reference"] as? String == "JS/3")
        #expect(try await store.run(["custody", "verify"]).status == 0)
        #expect(try await postgres.psql(database: try #require(store.postgresDatabase), "SELECT count(*) FROM exhibits").out == "3\n")
        let holds = try await store.run(["hold", "list", "--as", "sup"])
        #expect(holds.out.contains("civil claim"), "\(holds.out)\(holds.err)")

        // A database that already holds a catalog (another install's, sealed with other keys) is refused, and that
        // store stays on SQLite.
        let other = try await TestStore("migrate-other")
        let refused = try await other.run(["migrate", "--to", database])
        #expect(refused.status != 0, "\(refused.err)")
        #expect((refused.err.contains("already holds a catalog") || refused.err.contains("seal key")), "\(refused.err)")
        #expect(other.postgresDatabase == nil)
        #expect(FileManager.default.fileExists(atPath: other.storage + "/exhibit.sqlite"))
        #expect(try await other.run(["custody", "verify"]).status == 0)
        // And a store already on PostgreSQL has nothing to move.
        #expect(try await store.run(["migrate", "--to", database]).status != 0)
    }
}
