import CatalogPostgres
import CatalogSQLite
import Custody
import ExhibitCatalog
import ExhibitCrypto
import ExhibitModel
import ExhibitTesting
import Foundation
import NIOCore
import Testing

/// The one catalog over both drivers (README, "Design"): the same operations give the same answers in SQLite and in
/// PostgreSQL, the schema each renders from the one timeline has the same tables and columns, and a PostgreSQL
/// catalog made under the older migration names opens without being migrated again.
@Suite(.serialized) struct CatalogDriverTests {
    static let sealKey = [UInt8](repeating: 7, count: 32)
    static let fixedNow: @Sendable () -> Date = { Date(timeIntervalSince1970: 1_780_000_000) }

    let folder: TemporaryDirectory

    init() throws { folder = try TemporaryDirectory("catalog-drivers") }

    static func postgres() async throws -> PostgresServer {
        try await TestEngines.postgresServer()
    }

    func sqliteCatalog(_ name: String = "exhibit.sqlite") throws -> Catalog {
        Catalog(database: try SQLiteDatabase(path: folder.appending(name)), sealKey: Self.sealKey, now: Self.fixedNow)
    }

    static func postgresCatalog(_ server: PostgresServer) async throws -> (Catalog, PostgresLocation, String) {
        let address = try await server.createDatabase()
        let location = try PostgresLocation.parse(address)
        return (Catalog(database: PostgresDatabase(location: location, sealKey: sealKey), sealKey: sealKey, now: fixedNow), location, address)
    }

    /// A run of catalog operations touching every kind of statement; returns what each answered, as text.
    static func exercise(_ catalog: Catalog) async throws -> [String] {
        var out: [String] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func record(_ label: String, _ value: some Encodable) throws {
            out.append(label + " " + String(decoding: try encoder.encode(value), as: UTF8.self))
        }
        let at = "2026-06-01T00:00:00.000Z"
        let draft: @Sendable (String) -> CustodyEvent.Draft = { action in CustodyEvent.Draft(actor: "jsmith", role: "investigator", action: action, client: "test") }
        _ = try await catalog.insertUser(User(name: "jsmith", fullName: "Jane Smith", initials: "JS", role: "investigator", createdAt: at), tokenSHA256: String(repeating: "a", count: 64), event: draft("user.created"))
        await #expect(throws: ExhibitError.self, "a second user with the same initials") {
            _ = try await catalog.insertUser(User(name: "jsmyth", fullName: nil, initials: "JS", role: "investigator", createdAt: at), tokenSHA256: String(repeating: "b", count: 64), event: draft("user.created"))
        }
        _ = try await catalog.insertCase(CaseRecord(id: "case_1", reference: "2017/MPS/0421", title: "t", createdBy: "jsmith", createdAt: at, status: .open), event: draft("case.created"))
        try record("members", try await catalog.members(of: "case_1"))
        let digest = SHA256.hash("footage")
        let media = MediaJSON(media: "{\"format\":\"mp4\"}", integrity: nil, verdict: "complete")
        for n in 0..<3 {
            let (exhibit, _) = try await catalog.insertExhibit(NewExhibit(
                id: ExhibitID("ex_\(n)"), caseID: "case_1", initials: "JS", filename: "cam\(n).mp4", blob: digest, size: 1234, chunks: 1, uploadedBy: "jsmith",
                media: media, coverage: nil)) { reference in draft("exhibit.ingested") }
            out.append("exhibit \(exhibit.reference) \(exhibit.sha256.hex) \(exhibit.size) \(exhibit.state)")
        }
        let share = ShareRecord(id: "sh_1", exhibitID: "ex_0", createdBy: "jsmith", createdAt: at, expiresAt: "2026-07-01T00:00:00.000Z", maxDownloads: 1, downloads: 0, revokedAt: nil, recipient: "cps", note: nil, keyID: "k1")
        _ = try await catalog.insertShare(share, event: draft("share.created"))
        #expect(try await catalog.recordShareView(shareID: "sh_1", viewID: "v1", kind: "play", event: draft("share.accessed")))
        #expect(try await !catalog.recordShareView(shareID: "sh_1", viewID: "v1", kind: "play", event: draft("share.accessed")))
        try await catalog.addShareViewTallies([ShareViewTally(shareID: "sh_1", viewID: "v1", kind: "play", requests: 2, bytes: 4096, lastAt: "2026-06-02T00:00:00.000Z")])
        try await catalog.addShareViewTallies([ShareViewTally(shareID: "sh_1", viewID: "v1", kind: "play", requests: 1, bytes: 10, lastAt: "2026-01-01T00:00:00.000Z")])
        let counted = try await catalog.endShareDownload(shareID: "sh_1", viewID: "d1", bytes: 1234, complete: true) { _, _ in draft("share.downloaded") }
        out.append("download counted without a view: \(counted)")
        try record("share", try await catalog.share(id: "sh_1").map { [$0.downloads, Int($0.playedBytes)] })
        let closed = try await catalog.closeShareViews(idleSince: "2026-12-31T00:00:00.000Z") { _ in draft("share.viewed") }
        out.append("closed " + closed.map { "\($0.viewID) \($0.requests) \($0.bytes) \($0.lastAt)" }.joined(separator: ","))
        try record("holds with no exhibit", try await catalog.holds(caseID: "case_1", exhibitIDs: []).count)
        try await catalog.insertHold(HoldRecord(id: "h1", caseID: nil, exhibitID: "ex_1", reason: "appeal", setBy: "jsmith", setAt: at), event: draft("hold.set"))
        try record("holds", try await catalog.holds(caseID: nil, exhibitIDs: ["ex_1", "ex_2"]).map(\.id))
        let upload = UploadRecord(
            id: "up_1", owner: "jsmith", caseID: "case_1", filename: "big.mp4", length: 100, offset: 0, metadata: "", entries: [], tailStart: 0,
            createdAt: at, updatedAt: at, expiresAt: "2026-06-02T00:00:00.000Z", state: .open, patches: 0, resumptions: 0, interrupted: false)
        try await catalog.insertUpload(upload, limits: OpenUploadLimits(perUser: 1, total: 10))
        await #expect(throws: ExhibitError.self, "an upload past the per-user limit") {
            try await catalog.insertUpload(UploadRecord(
                id: "up_2", owner: "jsmith", caseID: "case_1", filename: "b.mp4", length: 1, offset: 0, metadata: "", entries: [], tailStart: 0,
                createdAt: at, updatedAt: at, expiresAt: "2026-06-02T00:00:00.000Z", state: .open, patches: 0, resumptions: 0, interrupted: false),
                limits: OpenUploadLimits(perUser: 1, total: 10))
        }
        var progressed = upload
        progressed.offset = 40
        progressed.tailStart = 0
        let tail = ByteBuffer(bytes: (0..<40).map { UInt8($0 * 6) })
        try await catalog.saveUploadProgress(progressed, tail: tail)
        let saved = try await catalog.uploadTail(id: "up_1")
        #expect(saved?.bytes == tail, "the tail read back differs from the tail saved")
        #expect(saved?.start == 0, "the tail read back differs from the tail saved")
        try await catalog.endUpload(id: "up_1", state: .terminated, error: nil)
        #expect(try await catalog.uploadTail(id: "up_1") == nil, "an ended upload's tail is left in the catalog")
        // More events than one page, read in pages of 2048 and of 7 (a page boundary inside a filter), then verified.
        try await catalog.appendBatch((0..<2100).map { draft("custody.note \($0)") })
        var sealed = 0
        for try await row in catalog.events(EventFilter()) where row.seal != nil { sealed += 1 }
        out.append("events \(sealed)")
        var seqs: [Int64] = []
        for try await row in catalog.events(EventFilter(throughSeq: 40), pageSize: 7) { seqs.append(row.event.seq) }
        out.append("paged \(seqs == Array(1...min(40, seqs.last ?? 0)) ? "in order" : "out of order: \(seqs)") \(seqs.count)")
        let head = try await catalog.head()
        out.append("head \(head?.seq ?? -1) \(head?.hash ?? "")")
        var verifier = LedgerVerifier(checkpointSeqs: [], sealsAfter: 0)
        for try await row in catalog.events(EventFilter()) { verifier.feed(row.event, seal: row.seal) }
        out.append("verifies \(verifier.finish(latest: nil, publicKey: nil, sealKey: sealKey).isIntact)")
        return out
    }

    @Test func bothDriversGiveTheSameAnswers() async throws {
        let server = try await Self.postgres()
        let lite = try await Self.exercise(try sqliteCatalog())
        let (pg, _, _) = try await Self.postgresCatalog(server)
        let postgres = try await Self.exercise(pg)
        #expect(lite.count == postgres.count, "the runs answered \(lite.count) and \(postgres.count) times")
        for (a, b) in zip(lite, postgres) { #expect(a == b, "SQLite answered \(a), PostgreSQL \(b)") }
        let seq = lite.first { $0.hasPrefix("head ") }?.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        #expect(lite.contains("events \(seq)"), "the scans did not see every event up to the head (\(seq)): \(lite.filter { $0.hasPrefix("events") })")
        #expect(seq != "?", "the scans did not see every event up to the head (\(seq)): \(lite.filter { $0.hasPrefix("events") })")
        #expect((Int(seq) ?? 0) > 2100, "the scans did not see every event up to the head (\(seq)): \(lite.filter { $0.hasPrefix("events") })")
        #expect(lite.contains("verifies true"), "the ledger does not verify")
    }

    @Test func theSchemaIsTheSameTablesAndColumnsInBoth() async throws {
        let server = try await Self.postgres()
        _ = try await sqliteCatalog("schema.sqlite").head()
        let (pg, _, address) = try await Self.postgresCatalog(server)
        _ = try await pg.head()
        let name = String(address.split(separator: "/").last ?? "")
        let lite = try await Subprocess.run("/usr/bin/sqlite3", [self.folder.appending("schema.sqlite"),
                "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'grdb_migrations' ORDER BY 1"])
        let postgres = try await server.psql(database: name, "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT IN ('exhibit_migrations', 'exhibit_settings', 'write_leases') ORDER BY 1")
        #expect(lite.status == 0, "\(lite.err)\(postgres.err)")
        #expect(postgres.status == 0, "\(lite.err)\(postgres.err)")
        let a = Set(lite.out.split(separator: "\n")), b = Set(postgres.out.split(separator: "\n"))
        #expect(a.count > 80, "SQLite lists only \(a.count) columns")
        #expect(a == b, "only in SQLite: \(a.subtracting(b).sorted()); only in PostgreSQL: \(b.subtracting(a).sorted())")
    }

    @Test func aPostgresCatalogUnderTheOlderMigrationNamesOpensUnchanged() async throws {
        let server = try await Self.postgres()
        let (pg, location, address) = try await Self.postgresCatalog(server)
        let event = try await pg.append(CustodyEvent.Draft(actor: "jsmith", role: nil, action: "custody.note", client: "test"))
        let name = String(address.split(separator: "/").last ?? "")
        // As PostgreSQL catalogs made before the one timeline recorded their migrations (they stand for v1–v8):
        // what came later is not there yet.
        let rewrite = try await server.psql(database: name, """
                DROP TABLE web_sessions; DROP TABLE custody_tree; DROP TABLE checkpoint_cosignatures;
                ALTER TABLE checkpoints DROP COLUMN note;
                ALTER TABLE exhibits DROP COLUMN request_id; ALTER TABLE exhibits DROP COLUMN submission;
                ALTER TABLE uploads DROP COLUMN request_id; DROP TABLE request_receipts; DROP TABLE footage_requests;
                DELETE FROM exhibit_migrations;
                INSERT INTO exhibit_migrations (name, applied_at) VALUES
                  ('v1: the catalog, custody ledger, shares, retention and resumable uploads', 'x'),
                  ('v2: open uploads counted per owner', 'x'), ('v3: users disabled, tokens reissued and with a lifetime', 'x');
                """)
        #expect(rewrite.status == 0, "\(rewrite.err)")
        let reopened = Catalog(database: PostgresDatabase(location: location, sealKey: Self.sealKey), sealKey: Self.sealKey, now: Self.fixedNow)
        let head = try await reopened.head()
        #expect(head?.hash == event.hash, "the reopened catalog lost its ledger")
        // v1–v8 did not run again; v9 (the web app's sessions), v10 (footage requests) and v11 (the custody tree)
        // did, once each.
        let names = try await server.psql(database: name, "SELECT name FROM exhibit_migrations ORDER BY name")
        let applied = names.out.split(separator: "\n").map(String.init)
        #expect(applied.count == 6, "migrations ran again, or v9–v11 did not run: \(applied)")
        #expect(applied.contains { $0.hasPrefix("v11:") }, "v11 did not run on the older catalog: \(applied)")
        // The ledger written before the tree existed gets its leaves with the first append after the upgrade.
        let second = try await reopened.append(CustodyEvent.Draft(actor: "jsmith", role: nil, action: "custody.note", client: "test"))
        var range = CompactRange()
        range.append(event.leafHash)
        range.append(second.leafHash)
        #expect(try await reopened.treeRoot(size: 2) == range.root, "the tree of the upgraded ledger is not the events' Merkle tree")
        #expect(applied.contains { $0.hasPrefix("v9:") }, "v9 did not run on the older catalog: \(applied)")
        #expect(applied.contains { $0.hasPrefix("v10:") }, "v10 did not run on the older catalog: \(applied)")
        let requests = try await server.psql(database: name, "SELECT count(*) FROM footage_requests")
        #expect(requests.status == 0, "the older catalog has no footage_requests after opening: \(requests.err)")
        let sessions = try await server.psql(database: name, "SELECT count(*) FROM web_sessions")
        #expect(sessions.status == 0, "the older catalog has no web_sessions after opening: \(sessions.err)")
        // And a catalog sealed with another key is refused, naming the fix.
        let other = Catalog(database: PostgresDatabase(location: location, sealKey: [UInt8](repeating: 9, count: 32)), sealKey: [UInt8](repeating: 9, count: 32))
        await #expect(throws: ExhibitError.self, "a server with another seal key") { _ = try await other.head() }
    }
}
