public import BlobStore
import ExhibitCrypto
import Custody
import Foundation
import PostgresNIO
import Synchronization

/// Write leases in PostgreSQL, for several servers sharing one bucket: the same protocol as `LocalLeases`, with
/// the database's advisory lock in place of the lock file. A writer adds its keys in a transaction holding the
/// collection lock shared; the collector holds it exclusively for the whole of its reading and deleting, so no
/// lease grows meanwhile, whichever server the writer is on.
///
/// A lease of a server that died stays as rows; the collector ignores (and removes) leases older than `staleAfter`
/// (twice the resumable-upload expiry by default: no writer lives that long), keeping their keys until then.
public final class PostgresLeases: WriteLeases {
    let catalog: PostgresCatalog
    let staleAfter: Duration
    /// The advisory lock of garbage collection ("EXHIBGC" in ASCII).
    static let collectionLock: Int64 = 0x45_58_48_49_42_47_43

    public init(catalog: PostgresCatalog, staleAfter: Duration) {
        self.catalog = catalog
        self.staleAfter = staleAfter
    }

    public func lease() throws -> any WriteLease {
        PostgresLease(catalog: catalog, id: Base64URL.encode(SecureRandom.bytes(count: 12)), server: ProcessInfo.processInfo.hostName)
    }

    public func exclusively<T: Sendable>(_ body: @Sendable (Set<ObjectKey>) async throws -> T) async throws -> T {
        try await catalog.awaitReady()
        let cutoff = CustodyTime.string(catalog.now().addingTimeInterval(-Double(staleAfter.components.seconds)))
        return try await PostgresCatalog.mapErrors(catalog.location) {
            try await catalog.connection { connection in
                let db = PGSession(connection: connection, logger: catalog.logger)
                try await db.execute(sql: "BEGIN")
                do {
                    try await db.execute(sql: "SELECT pg_advisory_xact_lock(?)", arguments: [Self.collectionLock])
                    try await db.execute(sql: "DELETE FROM write_leases WHERE created_at < ?", arguments: [cutoff])
                    var keys = Set<ObjectKey>()
                    try await db.forEach(sql: "SELECT kind, digest FROM write_leases") { row in
                        if let kind = ObjectKey.Kind(rawValue: row[0] as String), let digest = SHA256Digest(hex: row[1] as String) {
                            keys.insert(ObjectKey(kind: kind, digest: digest))
                        }
                    }
                    let value = try await body(keys)
                    try await db.execute(sql: "COMMIT")
                    return value
                } catch {
                    try? await db.execute(sql: "ROLLBACK")
                    throw error
                }
            }
        }
    }
}

final class PostgresLease: WriteLease {
    let catalog: PostgresCatalog
    let id: String
    let server: String
    private let released = Mutex(false)

    init(catalog: PostgresCatalog, id: String, server: String) {
        self.catalog = catalog
        self.id = id
        self.server = server
    }

    func hold(_ keys: [ObjectKey]) async throws {
        guard !keys.isEmpty else { return }
        try await catalog.awaitReady()
        let now = catalog.timestamp
        try await PostgresCatalog.mapErrors(catalog.location) {
            try await catalog.connection { connection in
                let db = PGSession(connection: connection, logger: catalog.logger)
                try await db.execute(sql: "BEGIN")
                do {
                    try await db.execute(sql: "SELECT pg_advisory_xact_lock_shared(?)", arguments: [PostgresLeases.collectionLock])
                    let rows = keys.map { _ in "(?, ?, ?, ?, ?)" }.joined(separator: ", ")
                    var arguments: [(any PGBindable)?] = []
                    for key in keys { arguments += [id, key.kind.rawValue, key.digest.hex, server, now] }
                    try await db.execute(
                        sql: "INSERT INTO write_leases (lease, kind, digest, server, created_at) VALUES \(rows) ON CONFLICT DO NOTHING",
                        arguments: arguments)
                    try await db.execute(sql: "COMMIT")
                } catch {
                    try? await db.execute(sql: "ROLLBACK")
                    throw error
                }
            }
        }
    }

    func release() {
        let first = released.withLock { released in
            defer { released = true }
            return !released
        }
        guard first else { return }
        // Removing the rows may wait for a collection to end; nothing waits for it.
        let catalog = self.catalog, id = self.id
        Task {
            try? await catalog.read { db in
                try await db.execute(sql: "DELETE FROM write_leases WHERE lease = ?", arguments: [id])
            }
        }
    }

    deinit { release() }
}

extension PostgresCatalog {
    /// Runs `body` only when no other server runs the job `name` (a session advisory lock on a connection held for
    /// the job's duration); returns nil when another does. A server that dies releases it with its connection.
    public func exclusiveJob<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await awaitReady()
        let key = Int64(bitPattern: UInt64(SHA256.hash(Array(("exhibit-job:" + name).utf8)).hex.prefix(15), radix: 16) ?? 1)
        return try await Self.mapErrors(location) {
            try await connection { connection in
                let db = PGSession(connection: connection, logger: logger)
                guard try await db.scalar(Bool.self, sql: "SELECT CASE WHEN pg_try_advisory_lock(?) THEN 1 ELSE 0 END", arguments: [key]) == true
                else { return nil }
                do {
                    let value = try await body()
                    try await db.execute(sql: "SELECT pg_advisory_unlock(?)", arguments: [key])
                    return value
                } catch {
                    try? await db.execute(sql: "SELECT pg_advisory_unlock(?)", arguments: [key])
                    throw error
                }
            }
        }
    }
}
