public import Custody
public import ExhibitCrypto
public import Foundation
import Logging
import MediaProbe
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// Where the PostgreSQL catalog is: `postgres://user[:password]@host[:port]/database[?sslmode=require]`. The
/// password may come from `PGPASSWORD` instead (and is never recorded).
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    /// The address without the password (what a storage root records and messages show).
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)\(requireTLS ? "?sslmode=require" : "")"
    }

    public static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresLocation {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text),
              let host = url.host, !host.isEmpty
        else {
            throw ExhibitError(.badRequest, "'\(text)' is not a postgres://user@host:port/database address")
        }
        let database = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !database.isEmpty else { throw ExhibitError(.badRequest, "'\(text)' names no database") }
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "require"].contains(mode) else {
            throw ExhibitError(.badRequest, "sslmode=\(mode): use disable or require")
        }
        return PostgresLocation(
            host: host, port: url.port ?? 5432, user: url.user ?? environment["PGUSER"] ?? "postgres",
            password: url.password ?? environment["PGPASSWORD"], database: database, requireTLS: mode == "require")
    }
}

/// The catalog and ledger in PostgreSQL, for several servers sharing one database (README, "Deploying at scale").
///
/// The same schema meaning as `SQLiteCatalog`: times stored as the exact text that is hashed, the ledger and its
/// checkpoints append-only (triggers refuse UPDATE, DELETE and TRUNCATE), tombstones never change. Every write
/// transaction first takes one transaction-scoped advisory lock, so writers from any number of servers are
/// serialised by the database as SQLite's single writer serialises them: the hash chain stays linear, and the
/// read-then-insert allocations (exhibit numbers, share views) cannot race. Reads take no lock.
public final class PostgresCatalog: Catalog {
    let client: PostgresClient
    let runner: Task<Void, Never>
    /// The schema migration of this process: made on first use, made again after a failure (the database was
    /// down), so a server started before its database recovers when it comes.
    let migration = Mutex<Task<Void, any Error>?>(nil)
    /// How long a request waits for a connection before the database counts as unavailable.
    static let connectionDeadline: Duration = .seconds(10)
    let location: PostgresLocation
    let now: @Sendable () -> Date
    let sealKey: [UInt8]
    let logger: Logger
    /// The advisory lock every write transaction holds (an arbitrary constant: "EXHIBIT" in ASCII).
    static let writeLock: Int64 = 0x45_58_48_49_42_49_54

    public init(location: PostgresLocation, sealKey: [UInt8], now: @escaping @Sendable () -> Date = { Date() }) {
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: location.requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 16
        var logger = Logger(label: "exhibit.postgres")
        logger.logLevel = .critical
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.location = location
        self.now = now
        self.sealKey = sealKey
        self.logger = logger
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Waits until the schema is migrated (the first call of each process).
    func awaitReady() async throws {
        let task = migration.withLock { current in
            if let current { return current }
            let made = Task { [self] in
                try await Self.mapErrors(location) {
                    try await connection { connection in
                        try await Self.migrate(PGSession(connection: connection, logger: logger), sealKey: sealKey)
                    }
                }
            }
            current = made
            return made
        }
        do {
            try await task.value
        } catch {
            migration.withLock { current in if current == task { current = nil } }
            throw error
        }
    }

    /// Runs `body` on a pooled connection. Waiting for one is bounded: the pool retries a database that refuses
    /// connections for about a minute before it gives up, and a request must fail clearly (503) well before.
    func connection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let acquired = AcquiredFlag()
        return try await withoutActuallyEscaping(body) { body in
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await self.client.withConnection { connection in
                        acquired.value.store(true, ordering: .relaxed)
                        return try await body(connection)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: Self.connectionDeadline)
                    if acquired.value.load(ordering: .relaxed) { return nil }
                    // The pool says nothing of why; one direct attempt names the reason (refused password, …).
                    try await self.probe()
                    throw ExhibitError(.unavailable, "the catalog database at \(self.location.host):\(self.location.port) does not answer")
                }
                while let result = try await group.next() {
                    if let value = result {
                        group.cancelAll()
                        return value
                    }
                }
                throw CancellationError()
            }
        }
    }

    /// Connects once, outside the pool, and runs `SELECT 1`: the start-up check, and the reason when the pool
    /// cannot get a connection (a wrong password, a missing database, nobody listening).
    public func probe() async throws {
        if location.requireTLS { return }  // the pool's own error is all there is to say
        try await Self.mapErrors(location) {
            let connection = try await directConnection()
            do {
                try await connection.query("SELECT 1", logger: logger).collect()
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }

    /// A connection outside the pool (the probe; the owner lock of write leases, held for a process's life).
    func directConnection() async throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database,
            tls: location.requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
        configuration.options.connectTimeout = .seconds(5)
        return try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: Int.random(in: 1..<Int.max), logger: logger
        ).get()
    }

    // MARK: Errors

    /// Connection failures become `unavailable` (the server answers 503); errors from the database server keep
    /// its message; Exhibit's own errors pass through.
    static func mapErrors<T>(_ location: PostgresLocation, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ExhibitError {
            throw error
        } catch let error as PSQLError {
            if let server = error.serverInfo {
                let message = server[.message] ?? "?"
                let code = server[.sqlState] ?? "?"
                if code == "28P01" || code == "28000" {
                    throw ExhibitError(.unauthorized, "PostgreSQL at \(location.description) refused the credentials: \(message)")
                }
                if code == "3D000" {
                    throw ExhibitError(.unavailable, "the database \(location.database) does not exist at \(location.host):\(location.port)")
                }
                if code == "23505" { throw ExhibitError(.conflict, "already recorded: \(message)") }
                // Shutting down or restarting (57…), connection trouble (08…), out of resources (53…): try later.
                if code.hasPrefix("57") || code.hasPrefix("08") || code.hasPrefix("53") {
                    throw ExhibitError(.unavailable, "the catalog database at \(location.host):\(location.port) is unavailable: \(message)")
                }
                throw ExhibitError(.storage, "PostgreSQL: \(message) (\(code))")
            }
            throw ExhibitError(.unavailable, "the catalog database at \(location.host):\(location.port) is unavailable (\(error.code))")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ExhibitError(.unavailable, "the catalog database at \(location.host):\(location.port) is unavailable: \(error)")
        }
    }

    // MARK: Transactions

    /// One write transaction holding the write lock from its first statement (see the type's notes).
    func write<T: Sendable>(_ body: @Sendable (PGSession) async throws -> T) async throws -> T {
        try await locked(Self.writeLock, body)
    }

    /// One transaction on a pooled connection under the advisory lock `key` (shared or exclusive).
    func locked<T: Sendable>(_ key: Int64, shared: Bool = false, _ body: @Sendable (PGSession) async throws -> T) async throws -> T {
        try await awaitReady()
        return try await Self.mapErrors(location) {
            try await connection { connection in
                let db = PGSession(connection: connection, logger: logger)
                return try await db.transaction(locking: key, shared: shared) { try await body(db) }
            }
        }
    }

    func read<T: Sendable>(_ body: @Sendable (PGSession) async throws -> T) async throws -> T {
        try await awaitReady()
        return try await Self.mapErrors(location) {
            try await connection { connection in
                try await body(PGSession(connection: connection, logger: logger))
            }
        }
    }

    var timestamp: String { CustodyTime.string(now()) }

    /// Appends one event inside the current (write-locked) transaction.
    func append(_ draft: CustodyEvent.Draft, in db: PGSession) async throws -> CustodyEvent {
        let head = try await db.fetchOne(sql: "SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1")
            .map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) }
        let event = CustodyEvent.chained(draft, after: head, at: timestamp)
        try await db.execute(
            sql: """
                INSERT INTO custody_events (seq, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash, seal)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.seq, event.at, event.actor, event.role, event.action, event.exhibit, event.caseReference,
                event.detailsJSON, event.client, event.prevHash, event.hash, Seal.make(hash: event.hash, key: sealKey),
            ])
        return event
    }

    // MARK: Users

    public func insertUser(_ user: User, tokenSHA256: String, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try await db.exists(sql: "SELECT 1 FROM users WHERE name = ?", arguments: [user.name]) {
                throw ExhibitError(.conflict, "a user named \(user.name) already exists")
            }
            if let holder = try await db.scalar(String.self, sql: "SELECT name FROM users WHERE initials = ?", arguments: [user.initials]) {
                throw ExhibitError(.conflict, "the initials \(user.initials) are \(holder)'s", field: "initials")
            }
            try await db.execute(sql: CatalogRows.insertUser, arguments: CatalogRows.insertUserArguments(user, tokenSHA256).map { $0 })
            return try await self.append(event, in: db)
        }
    }

    public func updateUser(_ name: String, _ update: UserUpdate, event: CustodyEvent.Draft) async throws -> User {
        try await write { db in
            let (sql, arguments) = update.statement(name)
            try await db.execute(sql: sql, arguments: arguments.map { $0 })
            guard let row = try await db.fetchOne(sql: "SELECT * FROM users WHERE name = ?", arguments: [name]) else {
                throw ExhibitError(.notFound, "no user \(name.prefix(40))")
            }
            _ = try await self.append(event, in: db)
            return Self.user(row)
        }
    }

    static func user(_ row: PGRow) -> User { CatalogRows.user(row) }

    public func user(named name: String) async throws -> User? {
        try await read { db in try await db.fetchOne(sql: "SELECT * FROM users WHERE name = ?", arguments: [name]).map(Self.user) }
    }

    public func user(tokenSHA256: String) async throws -> User? {
        try await read { db in
            try await db.fetchOne(sql: "SELECT * FROM users WHERE token_sha256 = ?", arguments: [tokenSHA256]).flatMap { row in
                ConstantTime.equals(Array((row["token_sha256"] as String).utf8), Array(tokenSHA256.utf8)) ? Self.user(row) : nil
            }
        }
    }

    public func users() async throws -> [User] {
        try await read { db in try await db.fetchAll(sql: "SELECT * FROM users ORDER BY name").map(Self.user) }
    }

    // MARK: Cases

    public func insertCase(_ record: CaseRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try await db.exists(sql: "SELECT 1 FROM cases WHERE reference = ?", arguments: [record.reference]) {
                throw ExhibitError(.conflict, "the case reference \(record.reference) is already taken (references are unique across the force): if it is your case, ask a supervisor to add you to it")
            }
            try await db.execute(
                sql: "INSERT INTO cases (id, reference, title, created_by, created_at, status) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [record.id, record.reference, record.title, record.createdBy, record.createdAt, record.status])
            if record.createdBy != "system" {
                try await db.execute(
                    sql: "INSERT INTO case_members (case_id, \"user\", added_by, added_at) VALUES (?, ?, ?, ?)",
                    arguments: [record.id, record.createdBy, record.createdBy, record.createdAt])
            }
            return try await self.append(event, in: db)
        }
    }

    static func caseRecord(_ row: PGRow) -> CaseRecord { CatalogRows.caseRecord(row) }

    public func caseRecord(_ idOrReference: String) async throws -> CaseRecord? {
        try await read { db in
            try await db.fetchOne(sql: "SELECT * FROM cases WHERE id = ? OR reference = ?", arguments: [idOrReference, idOrReference])
                .map(Self.caseRecord)
        }
    }

    public func cases() async throws -> [CaseRecord] {
        try await read { db in try await db.fetchAll(sql: "SELECT * FROM cases ORDER BY created_at, reference").map(Self.caseRecord) }
    }

    public func members(of caseID: String) async throws -> [String] {
        try await read { db in
            try await db.fetchAll(sql: "SELECT \"user\" FROM case_members WHERE case_id = ? ORDER BY \"user\"", arguments: [caseID]).map { $0[0] }
        }
    }

    public func isMember(_ user: String, of caseID: String) async throws -> Bool {
        try await read { db in
            try await db.exists(sql: "SELECT 1 FROM case_members WHERE case_id = ? AND \"user\" = ?", arguments: [caseID, user])
        }
    }

    public func insertMember(caseID: String, user: String, addedBy: String, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try await db.exists(sql: "SELECT 1 FROM case_members WHERE case_id = ? AND \"user\" = ?", arguments: [caseID, user]) {
                throw ExhibitError(.conflict, "\(user) is already a member of this case")
            }
            try await db.execute(
                sql: "INSERT INTO case_members (case_id, \"user\", added_by, added_at) VALUES (?, ?, ?, ?)",
                arguments: [caseID, user, addedBy, self.timestamp])
            return try await self.append(event, in: db)
        }
    }

    // MARK: Exhibits

    public func insertExhibit(
        _ exhibit: NewExhibit, makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent) {
        let (id, event) = try await write { db -> (String, CustodyEvent) in
            let at = self.timestamp
            try await db.execute(
                sql: CatalogSQL.upsertBlob,
                arguments: [exhibit.blob.hex, exhibit.size, exhibit.chunks, exhibit.media.media, exhibit.media.integrity,
                            exhibit.media.verdict, at])
            let number = (try await db.scalar(
                Int.self, sql: "SELECT max(number) FROM exhibits WHERE case_id = ? AND initials = ? AND master_id IS NULL",
                arguments: [exhibit.caseID, exhibit.initials]) ?? 0) + 1
            let reference = "\(exhibit.initials)/\(number)"
            try await db.execute(
                sql: """
                    INSERT INTO exhibits (id, case_id, reference, initials, number, filename, blob, uploaded_by, uploaded_at, coverage)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [exhibit.id, exhibit.caseID, reference, exhibit.initials, number, exhibit.filename,
                            exhibit.blob.hex, exhibit.uploadedBy, at, exhibit.coverage])
            if let uploadID = exhibit.uploadID {
                let changed = try await db.changes(
                    sql: "UPDATE uploads SET state = 'completed', exhibit_id = ?, updated_at = ? WHERE id = ? AND state = 'open'",
                    arguments: [exhibit.id, at, uploadID])
                guard changed == 1 else { throw ExhibitError(.conflict, "the upload was already completed or ended") }
            }
            return (exhibit.id, try await self.append(makeEvent(reference), in: db))
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
            guard let master = try await db.fetchOne(
                sql: "SELECT reference, initials, number, blob FROM exhibits WHERE id = ?", arguments: [masterID])
            else { throw ExhibitError(.notFound, "the master is gone") }
            try await db.execute(
                sql: CatalogSQL.upsertBlob,
                arguments: [copy.blob.hex, copy.size, copy.chunks, copy.media.media, copy.media.integrity, copy.media.verdict, at])
            let count = try await db.scalar(Int.self, sql: "SELECT count(*) FROM exhibits WHERE master_id = ?", arguments: [masterID]) ?? 0
            let reference = "\(master["reference"] as String)-W\(count + 1)"
            try await db.execute(
                sql: """
                    INSERT INTO exhibits (id, case_id, reference, initials, number, filename, blob, uploaded_by, uploaded_at,
                                          coverage, master_id, lineage)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [copy.id, copy.caseID, reference, master["initials"] as String, master["number"] as Int, copy.filename,
                            copy.blob.hex, copy.uploadedBy, at, copy.coverage, masterID, lineage])
            try await db.execute(
                sql: "UPDATE exhibits SET working_copy_status = 'done', working_copy_error = NULL WHERE id = ?", arguments: [masterID])
            if let masterIntegrity {
                try await db.execute(sql: "UPDATE blobs SET integrity = ?, verdict = ? WHERE sha256 = ?", arguments: [masterIntegrity.json, masterIntegrity.verdict, master["blob"] as String])
            }
            return try await self.append(makeEvent(reference), in: db)
        }
        guard let record = try await exhibit(id: copy.id) else { throw ExhibitError(.storage, "the working copy vanished after insert") }
        return (record, event)
    }

    public func setWorkingCopyStatus(
        masterID: String, status: String, error: String?, masterIntegrity: MasterIntegrity?, event: CustodyEvent.Draft?
    ) async throws {
        try await write { db in
            try await db.execute(
                sql: "UPDATE exhibits SET working_copy_status = ?, working_copy_error = ? WHERE id = ?",
                arguments: [status, error, masterID])
            if let masterIntegrity {
                try await db.execute(
                    sql: "UPDATE blobs SET integrity = ?, verdict = ? WHERE sha256 = (SELECT blob FROM exhibits WHERE id = ?)",
                    arguments: [masterIntegrity.json, masterIntegrity.verdict, masterID])
            }
            if let event { _ = try await self.append(event, in: db) }
        }
    }

    public func workingCopies(of masterID: String) async throws -> [ExhibitRecord] {
        try await read { db in
            try await db.fetchAll(sql: Self.exhibitSelect + " WHERE e.master_id = ? ORDER BY e.uploaded_at", arguments: [masterID]).map(Self.exhibit)
        }
    }

    public func masters(withWorkingCopyStatus statuses: [String], includeUnplanned: Bool) async throws -> [ExhibitRecord] {
        try await read { db in
            let marks = statuses.map { _ in "?" }.joined(separator: ",")
            var condition = statuses.isEmpty ? "FALSE" : "e.working_copy_status IN (\(marks))"
            if includeUnplanned { condition = "(\(condition) OR e.working_copy_status IS NULL)" }
            return try await db.fetchAll(
                sql: Self.exhibitSelect + " WHERE e.master_id IS NULL AND \(condition) ORDER BY e.uploaded_at",
                arguments: statuses).map(Self.exhibit)
        }
    }

    static var exhibitSelect: String { CatalogSQL.exhibitSelect }

    static func exhibit(_ row: PGRow) -> ExhibitRecord { CatalogRows.exhibit(row) }

    public func exhibit(id: String) async throws -> ExhibitRecord? {
        try await read { db in try await db.fetchOne(sql: Self.exhibitSelect + " WHERE e.id = ?", arguments: [id]).map(Self.exhibit) }
    }

    public func exhibits(reference: String, caseID: String?) async throws -> [ExhibitRecord] {
        try await read { db in
            if let caseID {
                return try await db.fetchAll(
                    sql: Self.exhibitSelect + " WHERE e.reference = ? AND e.case_id = ?", arguments: [reference, caseID]).map(Self.exhibit)
            }
            return try await db.fetchAll(sql: Self.exhibitSelect + " WHERE e.reference = ?", arguments: [reference]).map(Self.exhibit)
        }
    }

    public func exhibits(blob: SHA256Digest) async throws -> [ExhibitRecord] {
        try await read { db in
            try await db.fetchAll(sql: Self.exhibitSelect + " WHERE e.blob = ? ORDER BY e.uploaded_at", arguments: [blob.hex]).map(Self.exhibit)
        }
    }

    public func exhibits(caseID: String) async throws -> [ExhibitRecord] {
        try await read { db in
            try await db.fetchAll(sql: Self.exhibitSelect + " WHERE e.case_id = ? ORDER BY e.initials, e.number", arguments: [caseID]).map(Self.exhibit)
        }
    }

    public func allExhibits() async throws -> [ExhibitRecord] {
        try await read { db in try await db.fetchAll(sql: Self.exhibitSelect + " ORDER BY e.uploaded_at").map(Self.exhibit) }
    }

    // MARK: Shares

    public func insertShare(_ share: ShareRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            try await db.execute(
                sql: """
                    INSERT INTO shares (id, exhibit, created_by, created_at, expires_at, max_downloads, downloads, revoked_at,
                                        recipient, note, key_id)
                    VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)
                    """,
                arguments: [share.id, share.exhibitID, share.createdBy, share.createdAt, share.expiresAt, share.maxDownloads,
                            share.recipient, share.note, share.keyID])
            return try await self.append(event, in: db)
        }
    }

    static func share(_ row: PGRow) -> ShareRecord { CatalogRows.share(row) }

    public func share(id: String) async throws -> ShareRecord? {
        try await read { db in try await db.fetchOne(sql: CatalogRows.shareSelect + " WHERE id = ?", arguments: [id]).map(Self.share) }
    }

    public func shares(exhibitID: String) async throws -> [ShareRecord] {
        try await read { db in
            try await db.fetchAll(sql: CatalogRows.shareSelect + " WHERE exhibit = ? ORDER BY created_at", arguments: [exhibitID]).map(Self.share)
        }
    }

    public func revokeShare(id: String, event: CustodyEvent.Draft) async throws -> ShareRecord {
        try await write { db in
            guard let row = try await db.fetchOne(sql: CatalogRows.shareSelect + " WHERE id = ?", arguments: [id]) else {
                throw ExhibitError(.notFound, "no share \(id)")
            }
            guard (row["revoked_at"] as String?) == nil else { throw ExhibitError(.conflict, "share \(id) is already revoked") }
            try await db.execute(sql: "UPDATE shares SET revoked_at = ? WHERE id = ?", arguments: [self.timestamp, id])
            _ = try await self.append(event, in: db)
            return Self.share(try await db.fetchOne(sql: CatalogRows.shareSelect + " WHERE id = ?", arguments: [id])!)
        }
    }

    public func recordShareView(shareID: String, viewID: String, kind: String, event: CustodyEvent.Draft) async throws -> Bool {
        try await write { db in
            let now = self.timestamp
            let inserted = try await db.changes(
                sql: """
                    INSERT INTO share_views (share_id, view_id, kind, first_at, last_at, requests, exhibit, case_ref, client, closed)
                    VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: [shareID, viewID, kind, now, now, event.exhibit, event.caseReference, event.client, kind == "page" || kind == "head" ? 1 : 0])
            if inserted == 0 {
                let counted = try await db.changes(
                    sql: "UPDATE share_views SET requests = requests + 1, last_at = ? WHERE share_id = ? AND view_id = ? AND kind = ? AND closed = 0",
                    arguments: [now, shareID, viewID, kind])
                if counted > 0 { return false }
                try await db.execute(
                    sql: """
                        UPDATE share_views SET closed = 0, first_at = ?, last_at = ?, requests = 1, bytes = 0, client = ?
                        WHERE share_id = ? AND view_id = ? AND kind = ?
                        """,
                    arguments: [now, now, event.client, shareID, viewID, kind])
            }
            _ = try await self.append(event, in: db)
            return true
        }
    }

    public func closeShareViews(
        idleSince: String, event: @escaping @Sendable (ShareViewSummary) -> CustodyEvent.Draft
    ) async throws -> [ShareViewSummary] {
        try await write { db in
            let rows = try await db.fetchAll(
                sql: "SELECT * FROM share_views WHERE closed = 0 AND last_at <= ? ORDER BY first_at", arguments: [idleSince])
            var closed: [ShareViewSummary] = []
            for row in rows {
                let summary = Self.viewSummary(row)
                try await db.execute(
                    sql: "UPDATE share_views SET closed = 1 WHERE share_id = ? AND view_id = ? AND kind = ?",
                    arguments: [summary.shareID, summary.viewID, summary.kind])
                _ = try await self.append(event(summary), in: db)
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
            try await db.execute(
                sql: "UPDATE share_views SET bytes = bytes + ?, last_at = ?, closed = 1 WHERE share_id = ? AND view_id = ? AND kind = 'download'",
                arguments: [bytes, self.timestamp, shareID, viewID])
            guard let row = try await db.fetchOne(
                sql: "SELECT * FROM share_views WHERE share_id = ? AND view_id = ? AND kind = 'download'", arguments: [shareID, viewID])
            else { return false }
            var counted = false
            if complete {
                counted = try await db.changes(
                    sql: "UPDATE shares SET downloads = downloads + 1 WHERE id = ? AND (max_downloads IS NULL OR downloads < max_downloads)",
                    arguments: [shareID]) > 0
            }
            _ = try await self.append(event(counted, Self.viewSummary(row)), in: db)
            return counted
        }
    }

    static func viewSummary(_ row: PGRow) -> ShareViewSummary { CatalogRows.viewSummary(row) }

    public func addShareViewTallies(_ tallies: [ShareViewTally]) async throws {
        guard !tallies.isEmpty else { return }
        try await write { db in
            for tally in tallies {
                try await db.execute(
                    sql: """
                        UPDATE share_views SET requests = requests + ?, bytes = bytes + ?, last_at = GREATEST(last_at, ?)
                        WHERE share_id = ? AND view_id = ? AND kind = ?
                        """,
                    arguments: [tally.requests, tally.bytes, tally.lastAt, tally.shareID, tally.viewID, tally.kind])
            }
        }
    }

    // MARK: Ledger

    public func append(_ draft: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in try await self.append(draft, in: db) }
    }

    public func forEachEvent(_ filter: EventFilter, _ body: @escaping @Sendable (CustodyEvent, String?) throws -> Void) async throws {
        var clauses: [String] = []
        var arguments: [(any PGBindable)?] = []
        if let caseReference = filter.caseReference {
            clauses.append("\"case\" = ?")
            arguments.append(caseReference)
        }
        if let exhibits = filter.exhibitIDs {
            clauses.append(exhibits.isEmpty ? "FALSE" : "exhibit IN (\(exhibits.map { _ in "?" }.joined(separator: ",")))")
            arguments.append(contentsOf: exhibits.map { $0 as (any PGBindable)? })
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
        let sql = "SELECT seq, at, actor, role, action, exhibit, \"case\", details, client, prev_hash, hash, seal FROM custody_events"
            + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")) + " ORDER BY seq"
        let bound = arguments
        try await read { db in
            try await db.forEach(sql: sql, arguments: bound) { row in try body(Self.event(row), row[11]) }
        }
    }

    static func event(_ row: PGRow) -> CustodyEvent {
        CustodyEvent(
            seq: row[0], at: row[1], actor: row[2], role: row[3], action: row[4], exhibit: row[5],
            caseReference: row[6], detailsJSON: row[7], client: row[8], prevHash: row[9], hash: row[10])
    }

    public func head() async throws -> (seq: Int64, hash: String)? {
        try await read { db in
            try await db.fetchOne(sql: "SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1")
                .map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) }
        }
    }

    public func appendAndCheckpoint(
        _ draft: CustodyEvent.Draft, sign: @escaping @Sendable (Int64, String, String) throws -> Checkpoint
    ) async throws -> (CustodyEvent, Checkpoint) {
        try await write { db in
            let event = try await self.append(draft, in: db)
            let checkpoint = try sign(event.seq, event.hash, event.at)
            try await db.execute(
                sql: "INSERT INTO checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)",
                arguments: [checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.keyID, checkpoint.signature])
            return (event, checkpoint)
        }
    }

    public func latestCheckpoint() async throws -> Checkpoint? {
        try await read { db in
            try await db.fetchOne(sql: "SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1").map {
                Checkpoint(seq: $0["seq"], hash: $0["hash"], at: $0["at"], keyID: $0["key_id"], signature: $0["signature"])
            }
        }
    }

    public func checkpointSeqs() async throws -> Set<Int64> {
        try await read { db in Set(try await db.fetchAll(sql: "SELECT seq FROM checkpoints").map { $0[0] as Int64 }) }
    }
}

/// Whether a request got its connection (shared by the request and its deadline).
final class AcquiredFlag: Sendable {
    let value = Atomic<Bool>(false)
}
