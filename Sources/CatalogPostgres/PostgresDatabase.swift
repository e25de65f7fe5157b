public import ExhibitCatalog
public import ExhibitModel
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The catalog and ledger in PostgreSQL, for several servers sharing one database (README, "Deploying at scale").
///
/// The same schema meaning as `SQLiteCatalog`: times stored as the exact text that is hashed, the ledger and its
/// checkpoints append-only (triggers refuse UPDATE, DELETE and TRUNCATE), tombstones never change. Every write
/// transaction first takes one transaction-scoped advisory lock, so writers from any number of servers are
/// serialised by the database as SQLite's single writer serialises them: the hash chain stays linear, and the
/// read-then-insert allocations (exhibit numbers, share views) cannot race. Reads take no lock.
public final class PostgresDatabase: CatalogDatabase {
    let client: PostgresClient
    /// The one task this catalog owns, for its lifetime (cancelled when it goes): it runs the connection pool and
    /// removes the rows of released write leases (`PostgresLease.release`), one after another.
    let runner: Task<Void, Never>
    /// Write leases released and not yet removed.
    let releasedLeases: AsyncStream<String>.Continuation
    /// The schema migration of this process: made on first use, made again after a failure (the database was
    /// down), so a server started before its database recovers when it comes.
    let migration = Mutex<Task<Void, any Error>?>(nil)
    /// How long a request waits for a connection before the database counts as unavailable.
    static let connectionDeadline: Duration = .seconds(10)
    public let location: PostgresLocation
    let sealKey: [UInt8]
    let logger: Logger
    /// Threads that run catalog transactions: the catalog's statements are synchronous (one text for both
    /// databases), so each transaction runs on a thread of its own that waits for each answer, never on Swift's
    /// cooperative pool. As many as the connection pool has connections.
    let threads: NIOThreadPool
    /// The advisory lock every write transaction holds (an arbitrary constant: "EXHIBIT" in ASCII).
    static let writeLock: Int64 = 0x45_58_48_49_42_49_54

    /// `sealKey` is checked against the fingerprint the catalog recorded (every server seals with the same key).
    public init(location: PostgresLocation, sealKey: [UInt8]) {
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
        self.sealKey = sealKey
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: configuration.options.maximumConnections)
        threads.start()
        let (released, releasedLeases) = AsyncStream.makeStream(of: String.self)
        self.releasedLeases = releasedLeases
        runner = Task { [logger] in
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await Self.removeLeases(released, client: client, logger: logger) }
            }
        }
    }

    deinit {
        releasedLeases.finish()
        runner.cancel()
        threads.shutdownGracefully { _ in }
    }

    public var dialect: SQLDialect { Self.dialect }
    static let dialect = SQLDialect(greatest: { "GREATEST(\($0), \($1))" })

    /// Waits until the schema is migrated (the first call of each process).
    func awaitReady() async throws {
        let task = migration.withLock { current in
            if let current { return current }
            let made = Task { [self] in
                try await Self.mapErrors(location) {
                    try await connection { connection in
                        try await self.blocking(connection) { db in try Self.migrate(db, sealKey: self.sealKey) }
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
    public func check() async throws {
        try await probe()
        try await awaitReady()
    }

    public func probe() async throws {
        if location.requireTLS { return }  // the pool's own error is all there is to say
        try await Self.mapErrors(location) {
            let connection = try await directConnection()
            do {
                _ = try await connection.query("SELECT 1", logger: logger).collect()
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

    /// Runs `body` on a thread of `threads` with `connection` as a session.
    func blocking<T: Sendable>(_ connection: PostgresConnection, _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        let session = PostgresSession(connection: connection, logger: logger)
        return try await threads.runIfActive { try body(session) }
    }

    /// One write transaction holding the write lock from its first statement (see the type's notes).
    public func write<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T {
        try await locked(Self.writeLock, body)
    }

    /// One transaction on a pooled connection under the advisory lock `key` (shared or exclusive).
    func locked<T: Sendable>(_ key: Int64, shared: Bool = false, _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await awaitReady()
        return try await Self.mapErrors(location) {
            try await connection { connection in
                try await self.blocking(connection) { db in try db.transaction(locking: key, shared: shared) { try body(db) } }
            }
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T {
        try await awaitReady()
        return try await Self.mapErrors(location) {
            try await connection { connection in try await self.blocking(connection, body) }
        }
    }
}

final class AcquiredFlag: Sendable {
    let value = Atomic<Bool>(false)
}
