public import BlobStore
public import ExhibitCrypto
public import ExhibitModel
public import NIOCore

/// A value bound to a statement's `?` or read from a row, the same for every database.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(ByteBuffer)
}

/// What can be bound to a `?`: text, integers, flags (stored as 0/1 in both schemas), bytes, and their optionals.
public protocol SQLValueConvertible: Sendable {
    var sqlValue: SQLValue { get }
}

extension String: SQLValueConvertible { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLValueConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLValueConvertible { public var sqlValue: SQLValue { .integer(self) } }
extension Bool: SQLValueConvertible { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension ByteBuffer: SQLValueConvertible { public var sqlValue: SQLValue { .blob(self) } }
extension SQLValue: SQLValueConvertible { public var sqlValue: SQLValue { self } }
extension CaseStatus: SQLValueConvertible, CatalogValue {}
extension ExhibitState: SQLValueConvertible, CatalogValue {}
extension UploadState: SQLValueConvertible, CatalogValue {}
extension WorkingCopyStatus: SQLValueConvertible, CatalogValue {}

extension RecordID: SQLValueConvertible, CatalogValue {
    /// Stored as its text.
    public var sqlValue: SQLValue { .text(rawValue) }
    public static func read(_ value: SQLValue) -> Self { Self(rawValue: String.read(value)) }
}

extension StoredState {
    /// Stored as its word.
    public var sqlValue: SQLValue { .text(rawValue) }
    /// Read leniently: an unknown word is `whenUnknown` (see `StoredState`).
    public static func read(_ value: SQLValue) -> Self { .stored(String.read(value)) }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A row from either database, read by column name or position.
public protocol CatalogRow {
    func value(_ column: String) -> SQLValue
    func value(at index: Int) -> SQLValue
    /// The row's columns in order (for copying rows between databases).
    var columns: [(name: String, value: SQLValue)] { get }
}

extension CatalogRow {
    public subscript<T: CatalogValue>(_ column: String) -> T { T.read(value(column)) }
    public subscript<T: CatalogValue>(_ index: Int) -> T { T.read(value(at: index)) }
}

/// What a catalog column holds, read from a `SQLValue`. A value of another type than the schema's is converted
/// where that is meaningful and otherwise read as empty: nothing here can stop the process, whatever a tampered
/// database holds (tampering with the ledger is found by its verification, not by a crash).
public protocol CatalogValue {
    static func read(_ value: SQLValue) -> Self
}

extension String: CatalogValue {
    public static func read(_ value: SQLValue) -> String {
        switch value {
        case .text(let text): text
        case .integer(let number): String(number)
        case .real(let number): String(number)
        case .blob(let bytes): String(buffer: bytes)
        case .null: ""
        }
    }
}

extension Int64: CatalogValue {
    public static func read(_ value: SQLValue) -> Int64 {
        switch value {
        case .integer(let number): number
        case .real(let number): number.isFinite && abs(number) < 9e18 ? Int64(number) : 0
        case .text(let text): Int64(text) ?? 0
        case .blob, .null: 0
        }
    }
}

extension Int: CatalogValue {
    public static func read(_ value: SQLValue) -> Int { Int(Int64.read(value)) }
}

extension Bool: CatalogValue {
    public static func read(_ value: SQLValue) -> Bool { Int64.read(value) != 0 }
}

extension ByteBuffer: CatalogValue {
    public static func read(_ value: SQLValue) -> ByteBuffer {
        switch value {
        case .blob(let bytes): bytes
        case .text(let text): ByteBuffer(string: text)
        default: ByteBuffer()
        }
    }
}

extension Optional: CatalogValue where Wrapped: CatalogValue {
    public static func read(_ value: SQLValue) -> Wrapped? {
        if case .null = value { return nil }
        return Wrapped.read(value)
    }
}

/// What differs between the databases in statements the catalog writes once.
public struct SQLDialect: Sendable {
    /// The larger of two expressions (`max(a, b)` in SQLite, `GREATEST(a, b)` in PostgreSQL).
    public let greatest: @Sendable (String, String) -> String

    public init(greatest: @escaping @Sendable (String, String) -> String) {
        self.greatest = greatest
    }
}

/// Statements on one connection, inside a transaction or a read: `?` placeholders, values always bound.
/// Synchronous, so the catalog's logic is written once for both databases (SQLite's connections are used from
/// the thread that holds them; PostgreSQL's session runs on a thread of its own and waits for each answer).
public protocol CatalogSession {
    var dialect: SQLDialect { get }
    /// Runs a statement; returns the rows it changed (0 for one that changes none).
    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> Int
    func fetchAll(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [any CatalogRow]
    /// Streams rows to `body`, one at a time (the ledger's full scans). A row is valid only during the call.
    func forEach(_ sql: String, _ arguments: [any SQLValueConvertible], _ body: (any CatalogRow) throws -> Void) throws
}

extension CatalogSession {
    @discardableResult
    public func execute(_ sql: String) throws -> Int { try execute(sql, []) }

    public func fetchOne(_ sql: String, _ arguments: [any SQLValueConvertible] = []) throws -> (any CatalogRow)? {
        try fetchAll(sql, arguments).first
    }

    public func fetchAll(_ sql: String) throws -> [any CatalogRow] { try fetchAll(sql, []) }

    public func exists(_ sql: String, _ arguments: [any SQLValueConvertible] = []) throws -> Bool {
        try fetchOne(sql, arguments) != nil
    }

    /// The first column of the first row (nil: no row, or NULL).
    public func scalar<T: CatalogValue>(_ type: T.Type, _ sql: String, _ arguments: [any SQLValueConvertible] = []) throws -> T? {
        guard let row = try fetchOne(sql, arguments) else { return nil }
        let value = row.value(at: 0)
        if case .null = value { return nil }
        return T.read(value)
    }

    /// `?, ?, ?` for `count` values (an `IN (…)` list; callers guard an empty list).
    public static func marks(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }
}

/// A database holding the catalog and the ledger: reads, and write transactions that the database serialises
/// (SQLite's single writer; one advisory lock in PostgreSQL), so several processes never fork the ledger.
public protocol CatalogDatabase: Sendable {
    var dialect: SQLDialect { get }
    func read<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T
    func write<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T
    /// That the database answers and accepts our credentials (a server's start-up check).
    func check() async throws
}

/// Periodic jobs (retention, upload expiry, each working copy) run on one process at a time when several share
/// a database: `exclusive` runs `body` unless another holder runs the job of that name, and returns nil then.
public protocol JobLocks: Sendable {
    func exclusive<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T?
}

/// One machine: every job runs (two processes on one SQLite file at once is what its file locks arbitrate).
public struct LocalJobs: JobLocks {
    public init() {}
    public func exclusive<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await body()
    }
}

/// A catalog database that can copy itself consistently while in use (SQLite's online backup), and read such a
/// copy without changing a byte of it.
public protocol CatalogSnapshots: Sendable {
    func snapshot(to path: String) async throws
    /// What a backup needs to know of the snapshot at `path`, read in one go, read-only.
    func contents(ofSnapshotAt path: String) throws -> SnapshotContents
}

/// What a catalog snapshot says about the footage a backup holds.
public struct SnapshotContents: Sendable {
    /// Every blob a non-purged exhibit needs.
    public let exhibitBlobs: [SHA256Digest]
    /// The chunks the uploads still open have stored (their tails are in the snapshot).
    public let openUploads: [Manifest.Entry]
    public let tombstones: SnapshotTombstones

    public init(exhibitBlobs: [SHA256Digest], openUploads: [Manifest.Entry], tombstones: SnapshotTombstones) {
        self.exhibitBlobs = exhibitBlobs
        self.openUploads = openUploads
        self.tombstones = tombstones
    }
}

/// What a catalog snapshot says was purged.
public struct SnapshotTombstones: Sendable {
    public struct Exhibit: Sendable {
        public let id: String
        public let purgedAt: String
        public let purgedBy: String
        public let reason: String
        /// The deletion the purge ended (when, by whom, why, and the grace period's end), as recorded.
        public let requestedAt: String
        public let requestedBy: String
        public let deletionReason: String
        public let purgeAfter: String

        public init(id: String, purgedAt: String, purgedBy: String, reason: String, requestedAt: String, requestedBy: String,
                    deletionReason: String, purgeAfter: String) {
            self.id = id
            self.purgedAt = purgedAt
            self.purgedBy = purgedBy
            self.reason = reason
            self.requestedAt = requestedAt
            self.requestedBy = requestedBy
            self.deletionReason = deletionReason
            self.purgeAfter = purgeAfter
        }
    }

    public let exhibits: [Exhibit]
    /// The blobs no exhibit that is not purged needs any more.
    public let freedBlobs: Set<SHA256Digest>

    public init(exhibits: [Exhibit], freedBlobs: Set<SHA256Digest>) {
        self.exhibits = exhibits
        self.freedBlobs = freedBlobs
    }
}
