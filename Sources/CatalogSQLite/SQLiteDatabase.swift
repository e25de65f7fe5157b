public import ExhibitCatalog
public import BlobStore
import ExhibitCrypto
import ExhibitModel
import Foundation
import GRDB
#if canImport(GRDBSQLite)
import GRDBSQLite
#else
import SQLite3
#endif
import NIOCore

/// The catalog and ledger in one SQLite file (WAL), through GRDB (README, "Design").
///
/// Durability: `synchronous = FULL`, checked after opening (GRDB's pool sets NORMAL on its writer after
/// `prepareDatabase`, so it is set again on the writer and read back). Times are stored as the exact text that is
/// hashed, never as `Date` (GRDB would round them to milliseconds after hashing).
public final class SQLiteDatabase: CatalogDatabase {
    let pool: DatabasePool
    let groupCommit: GroupCommit
    public let path: String

    public init(path: String) throws {
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
        self.groupCommit = GroupCommit(pool: pool)
        self.path = path
    }

    public var dialect: SQLDialect { Self.dialect }
    static let dialect = SQLDialect(greatest: { "max(\($0), \($1))" })

    // MARK: Schema

    /// How SQLite writes the schema's open points: 64-bit INTEGER, rowid keys, BLOB, and rules as triggers that abort.
    static let schemaDialect = SchemaDialect(
        integer: "INTEGER", serial: "INTEGER PRIMARY KEY AUTOINCREMENT", bytes: "BLOB", prelude: "",
        appendOnly: { table, message in
            """
            CREATE TRIGGER \(table)_append_only_update BEFORE UPDATE ON \(table)
                BEGIN SELECT RAISE(ABORT, '\(message)'); END;
            CREATE TRIGGER \(table)_append_only_delete BEFORE DELETE ON \(table)
                BEGIN SELECT RAISE(ABORT, '\(message)'); END;

            """
        },
        refuse: { name, event, table, condition, message in
            """
            CREATE TRIGGER \(name) BEFORE \(event) ON \(table)\(condition.map { "\n    WHEN \($0)" } ?? "")
                BEGIN SELECT RAISE(ABORT, '\(message)'); END;

            """
        })

    /// The schema's frozen timeline (`Schema`), as GRDB migrations: each applied once, in order, in a transaction.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in Schema.migrations(schemaDialect) {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        return migrator
    }

    // MARK: Transactions

    /// One write transaction, `BEGIN IMMEDIATE` so it holds the write lock from its first statement: two processes
    /// appending at once queue instead of both reading the same head. A full disk (or quota) is `noSpace`, so callers
    /// answer 507 rather than a bare failure; SQLite has rolled the transaction back. Writes that arrive while
    /// another commits share its successor's commit (`GroupCommit`); each returns once its own is durable.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T {
        let result = WriteResult<T>()
        return try await withCheckedThrowingContinuation { continuation in
            groupCommit.submit(GroupCommit.Write(
                run: { db in result.value = try body(SQLiteSession(db)) },
                finish: { outcome in
                    switch outcome {
                    case .success:
                        if let value = result.value {
                            continuation.resume(returning: value)
                        } else {
                            continuation.resume(throwing: ExhibitError(.storage, "a catalog write committed without its result"))
                        }
                    case .failure(let error as DatabaseError) where error.resultCode == .SQLITE_FULL:
                        continuation.resume(throwing: Self.diskFull(error))
                    case .failure(let error):
                        continuation.resume(throwing: error)
                    }
                }))
        }
    }

    static func immediateTransaction<T>(_ db: Database, _ body: (any CatalogSession) throws -> T) throws -> T {
        var result: Result<T, any Error> = .failure(CancellationError())
        try db.inTransaction(.immediate) {
            result = Result { try body(SQLiteSession(db)) }
            if case .failure = result { return .rollback }
            return .commit
        }
        return try result.get()
    }

    static func diskFull(_ error: DatabaseError) -> ExhibitError {
        ExhibitError(.noSpace, "the catalog's disk is full; nothing was recorded (\(error.message ?? "database or disk is full"))")
    }

    /// Write transactions this process has committed through `write` (each carrying one write or several).
    public var commitCount: Int { groupCommit.commitCount }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T {
        try await pool.read { db in try body(SQLiteSession(db)) }
    }

    /// A read on the calling thread (copying this catalog into another database from inside that one's transaction).
    public func readNow<T>(_ body: (any CatalogSession) throws -> T) throws -> T {
        try pool.read { db in try body(SQLiteSession(db)) }
    }

    /// Closes the database (its write-ahead log folded into the file): for a file made to be copied whole.
    public func close() throws {
        try pool.close()
    }

    /// One write transaction on the calling thread (never Swift's cooperative pool: the caller is a driver's own
    /// thread, e.g. copying a PostgreSQL catalog into a snapshot).
    public func writeNow<T>(_ body: (any CatalogSession) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in try Self.immediateTransaction(db, body) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw Self.diskFull(error)
        }
    }

    /// A consistent copy of the whole database at `path` (SQLite's online backup API: readers and writers go on
    /// meanwhile; the copy is the database as of one transaction).
    public func snapshot(to path: String) async throws {
        let copy = try DatabaseQueue(path: path)
        try pool.backup(to: copy)
        try copy.close()
        try Self.settleSnapshot(at: path)
    }

    /// Makes the snapshot at `path` one self-contained file: a rollback journal instead of the write-ahead log
    /// (whose mode the online backup copies), so reading it later, read-only, leaves nothing beside it.
    public static func settleSnapshot(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
            guard mode == "delete" else { throw ExhibitError(.storage, "SQLite kept the snapshot in journal mode \(mode ?? "?")") }
        }
        try queue.close()
    }

    public func contents(ofSnapshotAt path: String) throws -> SnapshotContents {
        try Self.contents(ofSnapshotAt: path)
    }

    /// The blobs of the non-purged exhibits, the chunks of the uploads still open and the tombstones of the
    /// catalog file at `path`, opened read-only (no migration runs) and read in one transaction.
    public static func contents(ofSnapshotAt path: String) throws -> SnapshotContents {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            let blobs = try String.fetchAll(db, sql: "SELECT DISTINCT blob FROM exhibits WHERE state <> 'purged' ORDER BY blob")
            let uploads = try String.fetchAll(db, sql: "SELECT entries FROM uploads WHERE state = 'open' ORDER BY id")
            let purged = try Row.fetchAll(db, sql: """
                SELECT id, purged_at, purged_by, purge_reason, deletion_requested_at, deletion_requested_by, deletion_reason, purge_after
                FROM exhibits WHERE state = 'purged' ORDER BY id
                """).map {
                SnapshotTombstones.Exhibit(
                    id: $0[0], purgedAt: $0[1] ?? "", purgedBy: $0[2] ?? "", reason: $0[3] ?? "", requestedAt: $0[4] ?? "",
                    requestedBy: $0[5] ?? "", deletionReason: $0[6] ?? "", purgeAfter: $0[7] ?? "")
            }
            let freed = try String.fetchAll(db, sql: "SELECT sha256 FROM blobs WHERE purged_at IS NOT NULL")
            return SnapshotContents(
                exhibitBlobs: blobs.compactMap { SHA256Digest(hex: $0) }, openUploads: uploads.flatMap(UploadRecord.parseEntries),
                tombstones: SnapshotTombstones(exhibits: purged, freedBlobs: Set(freed.compactMap { SHA256Digest(hex: $0) })))
        }
    }

    public func check() async throws {
        _ = try await read { db in try db.fetchOne("SELECT 1") != nil }
    }
}

/// A GRDB connection as a catalog session. Statements are prepared once per connection and reused (the ledger's
/// append runs the same two statements on every write).
struct SQLiteSession: CatalogSession {
    let db: Database

    init(_ db: Database) { self.db = db }

    var dialect: SQLDialect { SQLiteDatabase.dialect }

    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> Int {
        let statement = try db.cachedStatement(sql: sql)
        try statement.execute(arguments: Self.bind(arguments))
        return db.changesCount
    }

    func fetchAll(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [any CatalogRow] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: Self.bind(arguments)).map { SQLiteRow($0) }
    }

    func forEach(_ sql: String, _ arguments: [any SQLValueConvertible], _ body: (any CatalogRow) throws -> Void) throws {
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: Self.bind(arguments))
        // Each row is read straight from the statement's current step (not copied): it is valid only during
        // `body`, as forEach promises.
        let current = StatementRow(statement: statement.sqliteStatement)
        while try rows.next() != nil { try body(current) }
    }

    static func bind(_ arguments: [any SQLValueConvertible]) -> StatementArguments {
        StatementArguments(arguments.map { argument -> DatabaseValue in
            switch argument.sqlValue {
            case .null: .null
            case .integer(let number): number.databaseValue
            case .real(let number): number.databaseValue
            case .text(let text): text.databaseValue
            case .blob(let bytes): Data(bytes.readableBytesView).databaseValue
            }
        })
    }
}

/// A GRDB row as a catalog row (copied: a cursor's row is reused for the next one).
struct SQLiteRow: CatalogRow {
    let row: Row

    init(_ row: Row) { self.row = row.copy() }


    func value(_ column: String) -> SQLValue { Self.value(row[column] as DatabaseValue? ?? .null) }
    func value(at index: Int) -> SQLValue { index < row.count ? Self.value(row[index] as DatabaseValue) : .null }

    var columns: [(name: String, value: SQLValue)] {
        Array(zip(row.columnNames, row.databaseValues.map(Self.value)))
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .integer(number)
        case .double(let number): .real(number)
        case .string(let text): .text(text)
        case .blob(let data): .blob(ByteBuffer(bytes: data))
        }
    }
}

/// The current row of a statement being stepped, read column by column with SQLite's own accessors (the ledger's
/// scans read millions of values; going through GRDB's `Row` cost them a tenth of their speed).
struct StatementRow: CatalogRow {
    let statement: OpaquePointer

    func value(_ column: String) -> SQLValue {
        for index in 0..<Int(sqlite3_column_count(statement)) where String(cString: sqlite3_column_name(statement, Int32(index))) == column {
            return value(at: index)
        }
        return .null
    }

    func value(at index: Int) -> SQLValue {
        guard index >= 0, index < Int(sqlite3_column_count(statement)) else { return .null }
        let column = Int32(index)
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, column))
            guard let bytes = sqlite3_column_blob(statement, column), count > 0 else { return .blob(ByteBuffer()) }
            return .blob(ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    var columns: [(name: String, value: SQLValue)] {
        (0..<Int(sqlite3_column_count(statement))).map { index in
            (String(cString: sqlite3_column_name(statement, Int32(index))), value(at: index))
        }
    }
}

extension SQLiteDatabase: CatalogSnapshots {}
