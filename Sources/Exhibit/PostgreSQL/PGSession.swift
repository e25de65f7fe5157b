import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A value bound to a `?` of a statement.
protocol PGBindable: Sendable {
    func bind(into bindings: inout PostgresBindings)
}

extension String: PGBindable {
    func bind(into bindings: inout PostgresBindings) { bindings.append(self) }
}

extension Int: PGBindable {
    func bind(into bindings: inout PostgresBindings) { bindings.append(Int64(self)) }
}

extension Int64: PGBindable {
    func bind(into bindings: inout PostgresBindings) { bindings.append(self) }
}

extension ByteBuffer: PGBindable {
    func bind(into bindings: inout PostgresBindings) { bindings.append(self) }
}

extension Bool: PGBindable {
    /// Flags are integers 0/1, as in the SQLite schema, so the same statements compare them the same way.
    func bind(into bindings: inout PostgresBindings) { bindings.append(Int64(self ? 1 : 0)) }
}

/// One row, read by column name or index like GRDB's `Row`; a value of the wrong type is a programming error.
struct PGRow: CatalogRow {
    let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) { cells = row.makeRandomAccess() }

    subscript<T: CatalogValue>(_ column: String) -> T { T.read(cells[column]) }
    subscript<T: CatalogValue>(_ index: Int) -> T { T.read(cells[index]) }
}

/// Statements on one connection, written as for SQLite (`?` placeholders), so the PostgreSQL catalog reads
/// like the SQLite one. Placeholders become `$1…$n` (never inside a quoted literal); values are always bound.
struct PGSession {
    let connection: PostgresConnection
    let logger: Logger

    static func query(_ sql: String, _ arguments: [(any PGBindable)?]) -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + 16)
        var index = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                index += 1
                text += "$\(index)"
            } else {
                text.append(character)
            }
        }
        precondition(index == arguments.count, "\(index) placeholders, \(arguments.count) arguments: \(sql)")
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            if let argument { argument.bind(into: &bindings) } else { bindings.appendNull() }
        }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    func execute(sql: String, arguments: [(any PGBindable)?] = []) async throws {
        try await connection.query(Self.query(sql, arguments), logger: logger).collect()
    }

    /// Runs an UPDATE/INSERT/DELETE and returns how many rows it changed.
    func changes(sql: String, arguments: [(any PGBindable)?] = []) async throws -> Int {
        try await connection.query(Self.query(sql + " RETURNING 1", arguments), logger: logger).collect().count
    }

    func fetchAll(sql: String, arguments: [(any PGBindable)?] = []) async throws -> [PGRow] {
        try await connection.query(Self.query(sql, arguments), logger: logger).collect().map(PGRow.init)
    }

    func fetchOne(sql: String, arguments: [(any PGBindable)?] = []) async throws -> PGRow? {
        try await fetchAll(sql: sql, arguments: arguments).first
    }

    func exists(sql: String, arguments: [(any PGBindable)?] = []) async throws -> Bool {
        try await fetchOne(sql: sql, arguments: arguments) != nil
    }

    /// The first column of the first row, or nil (no row, or NULL).
    func scalar<T: CatalogValue>(_ type: T.Type, sql: String, arguments: [(any PGBindable)?] = []) async throws -> T? {
        guard let row = try await fetchOne(sql: sql, arguments: arguments) else { return nil }
        return row.cells[0].bytes == nil ? nil : T.read(row.cells[0])
    }

    /// Runs `body` in a transaction that first takes the transaction-scoped advisory lock `key` (shared or
    /// exclusive); commits when it returns, rolls back when it throws.
    func transaction<T>(locking key: Int64, shared: Bool = false, _ body: () async throws -> T) async throws -> T {
        try await execute(sql: "BEGIN")
        do {
            try await execute(sql: shared ? "SELECT pg_advisory_xact_lock_shared(?)" : "SELECT pg_advisory_xact_lock(?)", arguments: [key])
            let value = try await body()
            try await execute(sql: "COMMIT")
            return value
        } catch {
            try? await execute(sql: "ROLLBACK")
            throw error
        }
    }

    /// Streams the rows of a query to `body`, one at a time (for the ledger's full scans).
    func forEach(sql: String, arguments: [(any PGBindable)?] = [], _ body: (PGRow) throws -> Void) async throws {
        for try await row in try await connection.query(Self.query(sql, arguments), logger: logger) {
            try body(PGRow(row))
        }
    }
}
