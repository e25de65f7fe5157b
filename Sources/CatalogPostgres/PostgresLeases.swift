public import BlobStore
public import ExhibitCatalog
import ExhibitCrypto
import ExhibitModel
import Custody
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Write leases in PostgreSQL, for several servers sharing one bucket: the same protocol as `LocalLeases`, with
/// the database's advisory lock in place of the lock file. A writer adds its keys in a transaction holding the
/// collection lock shared; the collector holds it exclusively for the whole of its reading and deleting, so no
/// lease grows meanwhile, whichever server the writer is on.
///
/// A lease belongs to a process that holds an advisory lock of its own (its *owner* key) on a connection kept
/// for its lifetime: when the process ends or dies, the database releases that lock with the connection, and the
/// collector drops the process's leases (as `LocalLeases` drops those of a dead pid). Leases older than
/// `staleAfter` are dropped too, as a backstop. If the owner connection is lost while the process lives (the
/// database restarted), a lease that existed before fails its next `hold`: its upload fails and is sent again,
/// rather than trusting chunks a collection may have removed meanwhile.
public final class PostgresLeases: WriteLeases {
    let catalog: PostgresDatabase
    let staleAfter: Duration
    let owner: OwnerLock
    /// The advisory lock of garbage collection ("EXHIBGC" in ASCII).
    static let collectionLock: Int64 = 0x45_58_48_49_42_47_43

    public init(database catalog: PostgresDatabase, staleAfter: Duration) {
        self.catalog = catalog
        self.staleAfter = staleAfter
        self.owner = OwnerLock(catalog: catalog)
    }

    public func lease() throws -> any WriteLease {
        PostgresLease(
            catalog: catalog, owner: owner, id: Base64URL.encode(SecureRandom.bytes(count: 12)), server: ProcessInfo.processInfo.hostName)
    }

    public func exclusively<T: Sendable>(_ body: @Sendable (Set<ObjectKey>) async throws -> T) async throws -> T {
        let cutoff = CustodyTime.string(Date().addingTimeInterval(-Double(staleAfter.components.seconds)))
        // A session lock held across `body` (which stores and deletes objects): writers' shared transaction locks on
        // the same key wait for it, on any server.
        return try await catalog.holdingLock(Self.collectionLock) {
            let keys = try await catalog.read { db in
                // Leases whose process no longer holds its owner lock (it ended or died), and very old ones.
                try db.execute(
                    """
                    DELETE FROM write_leases w WHERE w.created_at < ? OR NOT EXISTS (
                        SELECT 1 FROM pg_locks l
                        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                          AND ((l.classid::bigint << 32) | l.objid::bigint) = w.owner)
                    """,
                    [cutoff])
                var keys = Set<ObjectKey>()
                try db.forEach("SELECT kind, digest FROM write_leases", []) { row in
                    if let kind = ObjectKey.Kind(rawValue: row[0] as String), let digest = SHA256Digest(hex: row[1] as String) {
                        keys.insert(ObjectKey(kind: kind, digest: digest))
                    }
                }
                return keys
            }
            return try await body(keys)
        }
    }
}

/// The process's owner lock: a session advisory lock on a connection of its own, taken on first use and taken
/// again (with a new generation) if the connection is lost.
final class OwnerLock: Sendable {
    let catalog: PostgresDatabase
    /// The owner key: positive, so it reads back the same from `pg_locks`' two 32-bit halves.
    let key = Int64.random(in: 1..<(1 << 62))
    private let state = Mutex<(connection: PostgresConnection?, generation: Int)>((nil, 0))
    private let taking = AsyncSerial()

    init(catalog: PostgresDatabase) { self.catalog = catalog }

    /// The current generation, taking the lock first when it is not held.
    func hold() async throws -> Int {
        try await taking.run {
            let (connection, generation) = state.withLock { ($0.connection, $0.generation) }
            if let connection, !connection.isClosed { return generation }
            let made = try await catalog.directConnection()
            do {
                _ = try await made.query(PostgresSession.query("SELECT pg_advisory_lock(?)", [key]), logger: catalog.logger).collect()
            } catch {
                try? await made.close()
                throw error
            }
            return state.withLock { state in
                state.connection = made
                state.generation += 1
                return state.generation
            }
        }
    }

    deinit {
        // The connection must outlive its closing (PostgresNIO checks it was closed when it goes).
        if let connection = state.withLock({ $0.connection }) {
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }
}

/// Runs async bodies one at a time, in the order they came: a waiter is suspended until the body before it
/// ends (no polling).
final class AsyncSerial: Sendable {
    private let state = Mutex<(busy: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if state.busy {
                    state.waiting.append(turn)
                    return false
                }
                state.busy = true
                return true
            }
            if now { turn.resume() }
        }
        defer {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.waiting.isEmpty {
                    state.busy = false
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}

final class PostgresLease: WriteLease {
    let catalog: PostgresDatabase
    let owner: OwnerLock
    let id: String
    let server: String
    private let released = Mutex(false)
    /// The owner lock's generation when this lease first held a key.
    private let generation = Mutex<Int?>(nil)

    init(catalog: PostgresDatabase, owner: OwnerLock, id: String, server: String) {
        self.catalog = catalog
        self.owner = owner
        self.id = id
        self.server = server
    }

    func hold(_ keys: [ObjectKey]) async throws {
        guard !keys.isEmpty else { return }
        let current = try await PostgresDatabase.mapErrors(catalog.location) { try await owner.hold() }
        let first = generation.withLock { generation in
            if generation == nil { generation = current }
            return generation!
        }
        guard first == current else {
            throw ExhibitError(.unavailable, "the catalog database restarted while this upload was being stored; send it again")
        }
        let ownerKey = owner.key
        let now = CustodyTime.string(Date())
        try await catalog.locked(PostgresLeases.collectionLock, shared: true) { [id, server] db in
            let rows = keys.map { _ in "(?, ?, ?, ?, ?, ?)" }.joined(separator: ", ")
            var arguments: [any SQLValueConvertible] = []
            for key in keys { arguments += [id, key.kind.rawValue, key.digest.hex, server, ownerKey, now] as [any SQLValueConvertible] }
            try db.execute(
                "INSERT INTO write_leases (lease, kind, digest, server, owner, created_at) VALUES \(rows) ON CONFLICT DO NOTHING", arguments)
        }
    }

    func release() {
        let first = released.withLock { released in
            defer { released = true }
            return !released
        }
        guard first else { return }
        // Removing the rows may wait for a collection to end; nothing waits for it: the catalog's own task does it.
        catalog.releasedLeases.yield(id)
    }

    deinit { release() }
}

extension PostgresDatabase {
    /// Runs `body` holding the session advisory lock `key` on a pooled connection (waiting for it), released after.
    func holdingLock<T: Sendable>(_ key: Int64, _ body: @Sendable () async throws -> T) async throws -> T {
        try await awaitReady()
        return try await Self.mapErrors(location) {
            try await connection { connection in
                _ = try await connection.query(PostgresSession.query("SELECT pg_advisory_lock(?)", [key]), logger: logger).collect()
                do {
                    let value = try await body()
                    _ = try await connection.query(PostgresSession.query("SELECT pg_advisory_unlock(?)", [key]), logger: logger).collect()
                    return value
                } catch {
                    _ = try? await connection.query(PostgresSession.query("SELECT pg_advisory_unlock(?)", [key]), logger: logger).collect()
                    throw error
                }
            }
        }
    }
}

/// Periodic jobs run on one server at a time: a session advisory lock per job name, held on a connection for the
/// job's duration (a server that dies releases it with its connection).
public struct PostgresJobLocks: JobLocks {
    let database: PostgresDatabase

    public init(database: PostgresDatabase) { self.database = database }

    /// Runs `body` only when no other server runs the job `name`; returns nil when another does.
    public func exclusive<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await database.awaitReady()
        let key = Int64(bitPattern: UInt64(SHA256.hash(Array(("exhibit-job:" + name).utf8)).hex.prefix(15), radix: 16) ?? 1)
        let logger = database.logger
        return try await PostgresDatabase.mapErrors(database.location) {
            try await database.connection { connection in
                let taken = try await connection.query(
                    PostgresSession.query("SELECT CASE WHEN pg_try_advisory_lock(?) THEN 1 ELSE 0 END", [key]), logger: logger
                ).collect().first.map { PostgresRowValues($0)[0] as Int } == 1
                guard taken else { return nil }
                let unlock = try PostgresSession.query("SELECT pg_advisory_unlock(?)", [key])
                do {
                    let value = try await body()
                    _ = try await connection.query(unlock, logger: logger).collect()
                    return value
                } catch {
                    _ = try? await connection.query(unlock, logger: logger).collect()
                    throw error
                }
            }
        }
    }
}

extension PostgresDatabase {
    /// Removes the rows of released write leases, as they come (the catalog's own task runs this). A removal that
    /// fails is tried again a few times; if it fails for good, the rows go when this process's owner lock does.
    static func removeLeases(_ released: AsyncStream<String>, client: PostgresClient, logger: Logger) async {
        for await id in released {
            for attempt in 0..<5 {
                do {
                    try await client.withConnection { connection in
                        _ = try await connection.query(PostgresSession.query("DELETE FROM write_leases WHERE lease = ?", [id]), logger: logger).collect()
                    }
                    break
                } catch {
                    logger.warning("cannot release write lease \(id) (attempt \(attempt + 1)): \(error)")
                    try? await Task.sleep(for: .milliseconds(200 << attempt))
                }
            }
        }
    }
}
