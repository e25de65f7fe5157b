public import Custody
public import ExhibitCrypto
public import Foundation
import GRDB
import MediaProbe

/// The catalog and ledger in one SQLite file (WAL), through GRDB (DESIGN.md §5–6).
///
/// Durability: `synchronous = FULL`, checked after opening (GRDB's pool sets NORMAL on its writer after
/// `prepareDatabase`, so it is set again on the writer and read back). Times are stored as the exact text
/// that is hashed, never as `Date` (GRDB would round them to milliseconds after hashing).
public final class SQLiteCatalog: Catalog {
    let pool: DatabasePool
    let now: @Sendable () -> Date
    let sealKey: [UInt8]

    public init(path: String, sealKey: [UInt8], now: @escaping @Sendable () -> Date = { Date() }) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            let level = try Int.fetchOne(db, sql: "PRAGMA synchronous")
            guard level == 2 else { throw ExhibitError(.storage, "SQLite refused synchronous=FULL (got \(level ?? -1))") }
        }
        try Self.migrator.migrate(pool)
        self.pool = pool
        self.now = now
        self.sealKey = sealKey
    }

    // MARK: Schema

    /// A frozen timeline of migrations: never change one that has shipped; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: users, cases, exhibits, blobs, shares, custody ledger") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    name TEXT PRIMARY KEY,
                    full_name TEXT,
                    initials TEXT NOT NULL,
                    role TEXT NOT NULL,
                    token_sha256 TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE cases (
                    id TEXT PRIMARY KEY,
                    reference TEXT NOT NULL UNIQUE,
                    title TEXT,
                    created_by TEXT NOT NULL REFERENCES users(name),
                    created_at TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'open'
                );
                CREATE TABLE case_members (
                    case_id TEXT NOT NULL REFERENCES cases(id),
                    user TEXT NOT NULL REFERENCES users(name),
                    added_by TEXT NOT NULL,
                    added_at TEXT NOT NULL,
                    PRIMARY KEY (case_id, user)
                );
                CREATE TABLE blobs (
                    sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
                    size INTEGER NOT NULL CHECK (size >= 0),
                    chunks INTEGER NOT NULL,
                    media TEXT,
                    integrity TEXT,
                    verdict TEXT,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE exhibits (
                    id TEXT PRIMARY KEY,
                    case_id TEXT NOT NULL REFERENCES cases(id),
                    reference TEXT NOT NULL,
                    initials TEXT NOT NULL,
                    number INTEGER NOT NULL,
                    filename TEXT NOT NULL,
                    blob TEXT NOT NULL REFERENCES blobs(sha256),
                    uploaded_by TEXT NOT NULL REFERENCES users(name),
                    uploaded_at TEXT NOT NULL,
                    coverage TEXT,
                    UNIQUE (case_id, reference)
                );
                CREATE INDEX exhibits_by_blob ON exhibits(blob);
                CREATE TABLE shares (
                    id TEXT PRIMARY KEY,
                    exhibit TEXT NOT NULL REFERENCES exhibits(id),
                    created_by TEXT NOT NULL REFERENCES users(name),
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    max_downloads INTEGER,
                    downloads INTEGER NOT NULL DEFAULT 0,
                    revoked_at TEXT,
                    recipient TEXT,
                    note TEXT
                );
                CREATE TABLE custody_events (
                    seq INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT,
                    action TEXT NOT NULL,
                    exhibit TEXT,
                    "case" TEXT,
                    details TEXT NOT NULL,
                    client TEXT,
                    prev_hash TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    seal TEXT NOT NULL
                );
                CREATE TRIGGER custody_events_append_only_update BEFORE UPDATE ON custody_events
                    BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
                CREATE TRIGGER custody_events_append_only_delete BEFORE DELETE ON custody_events
                    BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
                CREATE TABLE checkpoints (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    seq INTEGER NOT NULL,
                    hash TEXT NOT NULL,
                    at TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    signature TEXT NOT NULL
                );
                CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
                    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
                    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                """)
        }
        migrator.registerMigration("v2: working copies") { db in
            try db.execute(sql: """
                ALTER TABLE exhibits ADD COLUMN master_id TEXT REFERENCES exhibits(id);
                ALTER TABLE exhibits ADD COLUMN lineage TEXT;
                ALTER TABLE exhibits ADD COLUMN working_copy_status TEXT;
                ALTER TABLE exhibits ADD COLUMN working_copy_error TEXT;
                CREATE INDEX exhibits_by_master ON exhibits(master_id);
                """)
        }
        migrator.registerMigration("v3: share links") { db in
            try db.execute(sql: """
                ALTER TABLE shares ADD COLUMN key_id TEXT;
                CREATE INDEX shares_by_exhibit ON shares(exhibit);
                CREATE TABLE share_views (
                    share_id TEXT NOT NULL REFERENCES shares(id),
                    view_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    first_at TEXT NOT NULL,
                    last_at TEXT NOT NULL,
                    requests INTEGER NOT NULL DEFAULT 1,
                    bytes INTEGER NOT NULL DEFAULT 0,
                    exhibit TEXT,
                    case_ref TEXT,
                    client TEXT,
                    closed INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (share_id, view_id, kind)
                );
                CREATE INDEX share_views_open ON share_views(closed, last_at);
                """)
        }
        migrator.registerMigration("v4: retention, holds, deletion") { db in
            try db.execute(sql: """
                ALTER TABLE cases ADD COLUMN status_at TEXT;
                ALTER TABLE cases ADD COLUMN release_date TEXT;
                ALTER TABLE cases ADD COLUMN retention_class TEXT;
                ALTER TABLE cases ADD COLUMN status_version INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE case_statuses (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    case_id TEXT NOT NULL REFERENCES cases(id),
                    status TEXT NOT NULL,
                    at TEXT NOT NULL,
                    release_date TEXT,
                    set_by TEXT NOT NULL,
                    set_at TEXT NOT NULL
                );
                CREATE INDEX case_statuses_by_case ON case_statuses(case_id, id);
                CREATE TABLE holds (
                    id TEXT PRIMARY KEY,
                    case_id TEXT REFERENCES cases(id),
                    exhibit_id TEXT REFERENCES exhibits(id),
                    reason TEXT NOT NULL,
                    set_by TEXT NOT NULL,
                    set_at TEXT NOT NULL,
                    released_by TEXT,
                    released_at TEXT,
                    release_reason TEXT,
                    CHECK ((case_id IS NULL) <> (exhibit_id IS NULL))
                );
                CREATE UNIQUE INDEX holds_standing_case ON holds(case_id) WHERE released_at IS NULL AND case_id IS NOT NULL;
                CREATE UNIQUE INDEX holds_standing_exhibit ON holds(exhibit_id) WHERE released_at IS NULL AND exhibit_id IS NOT NULL;
                ALTER TABLE exhibits ADD COLUMN state TEXT NOT NULL DEFAULT 'live'
                    CHECK (state IN ('live', 'pending-deletion', 'purged'));
                ALTER TABLE exhibits ADD COLUMN deletion_requested_at TEXT;
                ALTER TABLE exhibits ADD COLUMN deletion_requested_by TEXT;
                ALTER TABLE exhibits ADD COLUMN deletion_reason TEXT;
                ALTER TABLE exhibits ADD COLUMN purge_after TEXT;
                ALTER TABLE exhibits ADD COLUMN purged_at TEXT;
                ALTER TABLE exhibits ADD COLUMN purged_by TEXT;
                ALTER TABLE exhibits ADD COLUMN purge_reason TEXT;
                CREATE INDEX exhibits_by_state ON exhibits(state);
                ALTER TABLE blobs ADD COLUMN purged_at TEXT;
                ALTER TABLE shares ADD COLUMN revoked_reason TEXT;
                -- A purged exhibit is a tombstone for good: nothing brings it back or rewrites it.
                CREATE TRIGGER exhibits_tombstones_stay BEFORE UPDATE ON exhibits
                    WHEN OLD.state = 'purged'
                    BEGIN SELECT RAISE(ABORT, 'a purged exhibit is a tombstone and cannot change'); END;
                CREATE TRIGGER exhibits_never_deleted BEFORE DELETE ON exhibits
                    BEGIN SELECT RAISE(ABORT, 'exhibits are never deleted: they are purged and keep a tombstone'); END;
                """)
        }
        migrator.registerMigration("v5: resumable uploads") { db in
            try db.execute(sql: Self.uploadsMigration)
        }
        migrator.registerMigration("v6: open uploads counted per owner") { db in
            try db.execute(sql: CatalogRows.openUploadsIndex)
        }
        migrator.registerMigration("v7: users disabled, tokens reissued and with a lifetime") { db in
            try db.execute(sql: CatalogRows.usersDisabledAndTokensMigration)
        }
        return migrator
    }

    // MARK: Transactions

    /// One write transaction, `BEGIN IMMEDIATE` so it holds the write lock from its first statement: two
    /// processes appending at once queue instead of both reading the same head.
    /// A full disk (or quota) is `noSpace`, so callers answer 507 rather than a bare failure; SQLite has rolled
    /// the transaction back.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw ExhibitError(.noSpace, "the catalog's disk is full; nothing was recorded (\(error.message ?? "database or disk is full"))")
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    var timestamp: String { CustodyTime.string(now()) }

    /// Appends one event inside the current transaction.
    ///
    /// The ledger table has no secondary index: every index is one more page written (and synced) per
    /// append, and appends are what the ledger does most. Filtered exports scan it in `seq` order instead.
    func append(_ draft: CustodyEvent.Draft, in db: Database) throws -> CustodyEvent {
        let head = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1"))
            .map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) }
        let event = CustodyEvent.chained(draft, after: head, at: timestamp)
        try db.cachedStatement(sql: """
            INSERT INTO custody_events (seq, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash, seal)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(
            arguments: [
                event.seq, event.at, event.actor, event.role, event.action, event.exhibit, event.caseReference,
                event.detailsJSON, event.client, event.prevHash, event.hash, Seal.make(hash: event.hash, key: sealKey),
            ])
        return event
    }

    // MARK: Users

    public func insertUser(_ user: User, tokenSHA256: String, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [user.name]) == true {
                throw ExhibitError(.conflict, "a user named \(user.name) already exists")
            }
            if let holder = try String.fetchOne(db, sql: "SELECT name FROM users WHERE initials = ?", arguments: [user.initials]) {
                throw ExhibitError(.conflict, "the initials \(user.initials) are \(holder)'s", field: "initials")
            }
            try db.execute(sql: CatalogRows.insertUser, arguments: StatementArguments(CatalogRows.insertUserArguments(user, tokenSHA256)))
            return try self.append(event, in: db)
        }
    }

    public func updateUser(_ name: String, _ update: UserUpdate, event: CustodyEvent.Draft) async throws -> User {
        try await write { db in
            let (sql, arguments) = update.statement(name)
            try db.execute(sql: sql, arguments: StatementArguments(arguments))
            guard db.changesCount == 1, let row = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE name = ?", arguments: [name]) else {
                throw ExhibitError(.notFound, "no user \(name.prefix(40))")
            }
            _ = try self.append(event, in: db)
            return Self.user(row)
        }
    }

    static func user(_ row: Row) -> User { CatalogRows.user(SQLiteRow(row)) }

    public func user(named name: String) async throws -> User? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE name = ?", arguments: [name]).map(Self.user) }
    }

    public func user(tokenSHA256: String) async throws -> User? {
        // The lookup is by the token's hash; the caller compares the stored hash in constant time.
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE token_sha256 = ?", arguments: [tokenSHA256]).flatMap { row in
                ConstantTime.equals(Array((row["token_sha256"] as String).utf8), Array(tokenSHA256.utf8)) ? Self.user(row) : nil
            }
        }
    }

    public func users() async throws -> [User] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY name").map(Self.user) }
    }

    // MARK: Cases

    public func insertCase(_ record: CaseRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM cases WHERE reference = ?", arguments: [record.reference]) == true {
                throw ExhibitError(.conflict, "the case reference \(record.reference) is already taken (references are unique across the force): if it is your case, ask a supervisor to add you to it")
            }
            try db.execute(
                sql: "INSERT INTO cases (id, reference, title, created_by, created_at, status) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [record.id, record.reference, record.title, record.createdBy, record.createdAt, record.status])
            if record.createdBy != "system" {
                try db.execute(
                    sql: "INSERT INTO case_members (case_id, user, added_by, added_at) VALUES (?, ?, ?, ?)",
                    arguments: [record.id, record.createdBy, record.createdBy, record.createdAt])
            }
            return try self.append(event, in: db)
        }
    }

    static func caseRecord(_ row: Row) -> CaseRecord { CatalogRows.caseRecord(SQLiteRow(row)) }

    public func caseRecord(_ idOrReference: String) async throws -> CaseRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM cases WHERE id = ? OR reference = ?", arguments: [idOrReference, idOrReference])
                .map(Self.caseRecord)
        }
    }

    public func cases() async throws -> [CaseRecord] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM cases ORDER BY created_at, reference").map(Self.caseRecord) }
    }

    public func members(of caseID: String) async throws -> [String] {
        try await read { db in try String.fetchAll(db, sql: "SELECT user FROM case_members WHERE case_id = ? ORDER BY user", arguments: [caseID]) }
    }

    public func isMember(_ user: String, of caseID: String) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM case_members WHERE case_id = ? AND user = ?", arguments: [caseID, user]) ?? false
        }
    }

    public func insertMember(caseID: String, user: String, addedBy: String, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM case_members WHERE case_id = ? AND user = ?", arguments: [caseID, user]) == true {
                throw ExhibitError(.conflict, "\(user) is already a member of this case")
            }
            try db.execute(
                sql: "INSERT INTO case_members (case_id, user, added_by, added_at) VALUES (?, ?, ?, ?)",
                arguments: [caseID, user, addedBy, self.timestamp])
            return try self.append(event, in: db)
        }
    }

    // MARK: Exhibits

    public func insertExhibit(
        _ exhibit: NewExhibit, makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent) {
        let (id, event) = try await write { db -> (String, CustodyEvent) in
            let at = self.timestamp
            try db.execute(
                sql: CatalogSQL.upsertBlob,
                arguments: [exhibit.blob.hex, exhibit.size, exhibit.chunks, exhibit.media.media, exhibit.media.integrity,
                            exhibit.media.verdict, at])
            let number = (try Int.fetchOne(
                db, sql: "SELECT max(number) FROM exhibits WHERE case_id = ? AND initials = ? AND master_id IS NULL",
                arguments: [exhibit.caseID, exhibit.initials]) ?? 0) + 1
            let reference = "\(exhibit.initials)/\(number)"
            try db.execute(
                sql: """
                    INSERT INTO exhibits (id, case_id, reference, initials, number, filename, blob, uploaded_by, uploaded_at, coverage)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [exhibit.id, exhibit.caseID, reference, exhibit.initials, number, exhibit.filename,
                            exhibit.blob.hex, exhibit.uploadedBy, at, exhibit.coverage])
            if let uploadID = exhibit.uploadID {
                // The upload becomes this exhibit in the same transaction, once: a second finisher finds it done.
                try db.execute(
                    sql: "UPDATE uploads SET state = 'completed', exhibit_id = ?, updated_at = ? WHERE id = ? AND state = 'open'",
                    arguments: [exhibit.id, at, uploadID])
                guard db.changesCount == 1 else { throw ExhibitError(.conflict, "the upload was already completed or ended") }
            }
            return (exhibit.id, try self.append(makeEvent(reference), in: db))
        }
        guard let record = try await self.exhibit(id: id) else { throw ExhibitError(.storage, "the exhibit vanished after insert") }
        return (record, event)
    }

    public func insertWorkingCopy(
        _ copy: NewExhibit, masterID: String, lineage: String, masterIntegrity: MasterIntegrity?,
        makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent) {
        let event = try await write { db -> CustodyEvent in
            let at = self.timestamp
            guard let master = try Row.fetchOne(db, sql: "SELECT reference, initials, number, blob FROM exhibits WHERE id = ?", arguments: [masterID]) else {
                throw ExhibitError(.notFound, "the master is gone")
            }
            try db.execute(
                sql: CatalogSQL.upsertBlob,
                arguments: [copy.blob.hex, copy.size, copy.chunks, copy.media.media, copy.media.integrity, copy.media.verdict, at])
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM exhibits WHERE master_id = ?", arguments: [masterID]) ?? 0
            let reference = "\(master["reference"] as String)-W\(count + 1)"
            try db.execute(
                sql: """
                    INSERT INTO exhibits (id, case_id, reference, initials, number, filename, blob, uploaded_by, uploaded_at,
                                          coverage, master_id, lineage)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [copy.id, copy.caseID, reference, master["initials"] as String, master["number"] as Int, copy.filename,
                            copy.blob.hex, copy.uploadedBy, at, copy.coverage, masterID, lineage])
            try db.execute(
                sql: "UPDATE exhibits SET working_copy_status = 'done', working_copy_error = NULL WHERE id = ?", arguments: [masterID])
            if let masterIntegrity {
                try db.execute(sql: "UPDATE blobs SET integrity = ?, verdict = ? WHERE sha256 = ?", arguments: [masterIntegrity.json, masterIntegrity.verdict, master["blob"] as String])
            }
            return try self.append(makeEvent(reference), in: db)
        }
        guard let record = try await exhibit(id: copy.id) else { throw ExhibitError(.storage, "the working copy vanished after insert") }
        return (record, event)
    }

    public func setWorkingCopyStatus(
        masterID: String, status: String, error: String?, masterIntegrity: MasterIntegrity?, event: CustodyEvent.Draft?
    ) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE exhibits SET working_copy_status = ?, working_copy_error = ? WHERE id = ?",
                arguments: [status, error, masterID])
            if let masterIntegrity {
                try db.execute(
                    sql: "UPDATE blobs SET integrity = ?, verdict = ? WHERE sha256 = (SELECT blob FROM exhibits WHERE id = ?)",
                    arguments: [masterIntegrity.json, masterIntegrity.verdict, masterID])
            }
            if let event { _ = try self.append(event, in: db) }
        }
    }

    public func workingCopies(of masterID: String) async throws -> [ExhibitRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.exhibitSelect + " WHERE e.master_id = ? ORDER BY e.uploaded_at", arguments: [masterID]).map(Self.exhibit)
        }
    }

    public func masters(withWorkingCopyStatus statuses: [String], includeUnplanned: Bool) async throws -> [ExhibitRecord] {
        try await read { db in
            let marks = statuses.map { _ in "?" }.joined(separator: ",")
            var condition = statuses.isEmpty ? "0" : "e.working_copy_status IN (\(marks))"
            if includeUnplanned { condition = "(\(condition) OR e.working_copy_status IS NULL)" }
            return try Row.fetchAll(
                db, sql: Self.exhibitSelect + " WHERE e.master_id IS NULL AND \(condition) ORDER BY e.uploaded_at",
                arguments: StatementArguments(statuses)).map(Self.exhibit)
        }
    }

    static var exhibitSelect: String { CatalogSQL.exhibitSelect }

    static func exhibit(_ row: Row) -> ExhibitRecord { CatalogRows.exhibit(SQLiteRow(row)) }

    public func exhibit(id: String) async throws -> ExhibitRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: Self.exhibitSelect + " WHERE e.id = ?"), arguments: [id]).map(Self.exhibit)
        }
    }

    public func exhibits(reference: String, caseID: String?) async throws -> [ExhibitRecord] {
        try await read { db in
            if let caseID {
                return try Row.fetchAll(db, sql: Self.exhibitSelect + " WHERE e.reference = ? AND e.case_id = ?", arguments: [reference, caseID]).map(Self.exhibit)
            }
            return try Row.fetchAll(db, sql: Self.exhibitSelect + " WHERE e.reference = ?", arguments: [reference]).map(Self.exhibit)
        }
    }

    public func exhibits(blob: SHA256Digest) async throws -> [ExhibitRecord] {
        try await read { db in try Row.fetchAll(db, sql: Self.exhibitSelect + " WHERE e.blob = ? ORDER BY e.uploaded_at", arguments: [blob.hex]).map(Self.exhibit) }
    }

    public func exhibits(caseID: String) async throws -> [ExhibitRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.exhibitSelect + " WHERE e.case_id = ? ORDER BY e.initials, e.number", arguments: [caseID]).map(Self.exhibit)
        }
    }

    public func allExhibits() async throws -> [ExhibitRecord] {
        try await read { db in try Row.fetchAll(db, sql: Self.exhibitSelect + " ORDER BY e.uploaded_at").map(Self.exhibit) }
    }

    // MARK: Shares

    public func insertShare(_ share: ShareRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO shares (id, exhibit, created_by, created_at, expires_at, max_downloads, downloads, revoked_at,
                                        recipient, note, key_id)
                    VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)
                    """,
                arguments: [share.id, share.exhibitID, share.createdBy, share.createdAt, share.expiresAt, share.maxDownloads,
                            share.recipient, share.note, share.keyID])
            return try self.append(event, in: db)
        }
    }

    static func share(_ row: Row) -> ShareRecord { CatalogRows.share(SQLiteRow(row)) }

    public func share(id: String) async throws -> ShareRecord? {
        try await read { db in try Row.fetchOne(db.cachedStatement(sql: CatalogRows.shareSelect + " WHERE id = ?"), arguments: [id]).map(Self.share) }
    }

    public func shares(exhibitID: String) async throws -> [ShareRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: CatalogRows.shareSelect + " WHERE exhibit = ? ORDER BY created_at", arguments: [exhibitID]).map(Self.share)
        }
    }

    public func revokeShare(id: String, event: CustodyEvent.Draft) async throws -> ShareRecord {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: CatalogRows.shareSelect + " WHERE id = ?", arguments: [id]) else {
                throw ExhibitError(.notFound, "no share \(id)")
            }
            guard (row["revoked_at"] as String?) == nil else { throw ExhibitError(.conflict, "share \(id) is already revoked") }
            try db.execute(sql: "UPDATE shares SET revoked_at = ? WHERE id = ?", arguments: [self.timestamp, id])
            _ = try self.append(event, in: db)
            return Self.share(try Row.fetchOne(db, sql: CatalogRows.shareSelect + " WHERE id = ?", arguments: [id])!)
        }
    }

    public func recordShareView(shareID: String, viewID: String, kind: String, event: CustodyEvent.Draft) async throws -> Bool {
        try await write { db in
            let now = self.timestamp
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO share_views (share_id, view_id, kind, first_at, last_at, requests, exhibit, case_ref, client, closed)
                    VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
                    """,
                arguments: [shareID, viewID, kind, now, now, event.exhibit, event.caseReference, event.client, kind == "page" || kind == "head" ? 1 : 0])
            if db.changesCount == 0 {
                // A view already recorded: one more request, unless it was closed (idle), when it starts again
                // as a new access.
                try db.execute(
                    sql: "UPDATE share_views SET requests = requests + 1, last_at = ? WHERE share_id = ? AND view_id = ? AND kind = ? AND closed = 0",
                    arguments: [now, shareID, viewID, kind])
                if db.changesCount > 0 { return false }
                try db.execute(
                    sql: """
                        UPDATE share_views SET closed = 0, first_at = ?, last_at = ?, requests = 1, bytes = 0, client = ?
                        WHERE share_id = ? AND view_id = ? AND kind = ?
                        """,
                    arguments: [now, now, event.client, shareID, viewID, kind])
            }
            _ = try self.append(event, in: db)
            return true
        }
    }

    public func closeShareViews(
        idleSince: String, event: @escaping @Sendable (ShareViewSummary) -> CustodyEvent.Draft
    ) async throws -> [ShareViewSummary] {
        try await write { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM share_views WHERE closed = 0 AND last_at <= ? ORDER BY first_at", arguments: [idleSince])
            var closed: [ShareViewSummary] = []
            for row in rows {
                let summary = Self.viewSummary(row)
                try db.execute(
                    sql: "UPDATE share_views SET closed = 1 WHERE share_id = ? AND view_id = ? AND kind = ?",
                    arguments: [summary.shareID, summary.viewID, summary.kind])
                _ = try self.append(event(summary), in: db)
                closed.append(summary)
            }
            return closed
        }
    }

    public func endShareDownload(
        shareID: String, viewID: String, bytes: Int, complete: Bool,
        event: @escaping @Sendable (_ counted: Bool, ShareViewSummary) -> CustodyEvent.Draft
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE share_views SET bytes = bytes + ?, last_at = ?, closed = 1 WHERE share_id = ? AND view_id = ? AND kind = 'download'",
                arguments: [bytes, self.timestamp, shareID, viewID])
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM share_views WHERE share_id = ? AND view_id = ? AND kind = 'download'", arguments: [shareID, viewID])
            else { return false }
            var counted = false
            if complete {
                try db.execute(
                    sql: "UPDATE shares SET downloads = downloads + 1 WHERE id = ? AND (max_downloads IS NULL OR downloads < max_downloads)",
                    arguments: [shareID])
                counted = db.changesCount > 0
            }
            _ = try self.append(event(counted, Self.viewSummary(row)), in: db)
            return counted
        }
    }

    static func viewSummary(_ row: Row) -> ShareViewSummary { CatalogRows.viewSummary(SQLiteRow(row)) }

    public func addShareViewTallies(_ tallies: [ShareViewTally]) async throws {
        guard !tallies.isEmpty else { return }
        try await write { db in
            for tally in tallies {
                try db.execute(
                    sql: """
                        UPDATE share_views SET requests = requests + ?, bytes = bytes + ?, last_at = max(last_at, ?)
                        WHERE share_id = ? AND view_id = ? AND kind = ?
                        """,
                    arguments: [tally.requests, tally.bytes, tally.lastAt, tally.shareID, tally.viewID, tally.kind])
            }
        }
    }

    // MARK: Ledger

    public func append(_ draft: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in try self.append(draft, in: db) }
    }

    /// Appends many events in one transaction (bulk loads: benchmarks, migrations).
    public func appendBatch(_ drafts: [CustodyEvent.Draft]) async throws {
        try await write { db in
            for draft in drafts { _ = try self.append(draft, in: db) }
        }
    }

    public func forEachEvent(_ filter: EventFilter, _ body: @escaping @Sendable (CustodyEvent, String?) throws -> Void) async throws {
        var clauses: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let caseReference = filter.caseReference {
            clauses.append("\"case\" = ?")
            arguments.append(caseReference)
        }
        if let exhibits = filter.exhibitIDs {
            clauses.append("exhibit IN (\(exhibits.map { _ in "?" }.joined(separator: ",")))")
            arguments.append(contentsOf: exhibits)
        }
        if let since = filter.since {
            clauses.append("at >= ?")
            arguments.append(since)
        }
        if let until = filter.until {
            clauses.append("at < ?")
            arguments.append(until)
        }
        if let through = filter.throughSeq {
            clauses.append("seq <= ?")
            arguments.append(through)
        }
        let sql = "SELECT seq, at, actor, role, action, exhibit, \"case\", details, client, prev_hash, hash, seal FROM custody_events" + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")) + " ORDER BY seq"
        let statementArguments = StatementArguments(arguments)
        try await pool.read { db in
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: statementArguments)
            while let row = try cursor.next() {
                try body(Self.event(row), row[11])
            }
        }
    }

    /// Reads an event from `SELECT seq, at, actor, role, action, exhibit, "case", details, client, prev_hash,
    /// hash, seal` by column index (the verification path reads every row).
    static func event(_ row: Row) -> CustodyEvent {
        CustodyEvent(
            seq: row[0], at: row[1], actor: row[2], role: row[3], action: row[4], exhibit: row[5],
            caseReference: row[6], detailsJSON: row[7], client: row[8], prevHash: row[9], hash: row[10])
    }

    public func head() async throws -> (seq: Int64, hash: String)? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1")
                .map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) }
        }
    }

    public func appendAndCheckpoint(
        _ draft: CustodyEvent.Draft, sign: @escaping @Sendable (Int64, String, String) throws -> Checkpoint
    ) async throws -> (CustodyEvent, Checkpoint) {
        try await write { db in
            let event = try self.append(draft, in: db)
            let checkpoint = try sign(event.seq, event.hash, event.at)
            try db.execute(
                sql: "INSERT INTO checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)",
                arguments: [checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.keyID, checkpoint.signature])
            return (event, checkpoint)
        }
    }

    public func latestCheckpoint() async throws -> Checkpoint? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1").map {
                Checkpoint(seq: $0["seq"], hash: $0["hash"], at: $0["at"], keyID: $0["key_id"], signature: $0["signature"])
            }
        }
    }

    public func checkpointSeqs() async throws -> Set<Int64> {
        try await read { db in Set(try Int64.fetchAll(db, sql: "SELECT seq FROM checkpoints")) }
    }
}
