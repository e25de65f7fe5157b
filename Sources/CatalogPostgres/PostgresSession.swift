import ExhibitCatalog
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Statements on one connection, written as for SQLite (`?` placeholders), run from a thread that may wait (one
/// of `PostgresDatabase.threads`, never an event loop or Swift's cooperative pool). Placeholders become `$1…$n`
/// (never inside a quoted literal or identifier); values are always bound.
final class PostgresSession: CatalogSession, @unchecked Sendable {
    // @unchecked: one session is used by one thread at a time (the transaction it runs), never shared.
    let connection: PostgresConnection
    let logger: Logger
    /// Inside BEGIN … COMMIT (a cursor needs a transaction).
    private var inTransaction = false
    private var cursors = 0

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    var dialect: SQLDialect { PostgresDatabase.dialect }

    static func query(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + 16)
        var index = 0
        var quote: Character?
        for character in sql {
            if character == "'" || character == "\"" {
                if quote == nil { quote = character } else if quote == character { quote = nil }
            }
            if character == "?" && quote == nil {
                index += 1
                text += "$\(index)"
            } else {
                text.append(character)
            }
        }
        guard index == arguments.count else {
            throw ExhibitCatalogError.arguments("\(index) placeholders, \(arguments.count) arguments: \(sql.prefix(200))")
        }
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: bindings.appendNull()
            case .integer(let number): bindings.append(number)
            case .real(let number): bindings.append(number)
            case .text(let value): bindings.append(value)
            case .blob(let bytes): bindings.append(bytes)
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    private func run(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> PostgresQueryResult {
        try connection.query(Self.query(sql, arguments), logger: logger).wait()
    }

    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    func fetchAll(_ sql: String, _ arguments: [any SQLValueConvertible]) throws -> [any CatalogRow] {
        try run(sql, arguments).rows.map(PostgresRowValues.init)
    }

    /// Streams rows through a cursor, a page at a time: memory stays bounded however many rows match.
    func forEach(_ sql: String, _ arguments: [any SQLValueConvertible], _ body: (any CatalogRow) throws -> Void) throws {
        let own = !inTransaction
        if own { _ = try run("BEGIN READ ONLY", []) }
        cursors += 1
        let name = "exhibit_cursor_\(cursors)"
        do {
            _ = try run("DECLARE \(name) NO SCROLL CURSOR FOR " + sql, arguments)
            while true {
                let page = try run("FETCH FORWARD 1000 FROM \(name)", []).rows
                for row in page { try body(PostgresRowValues(row)) }
                if page.count < 1000 { break }
            }
            _ = try run("CLOSE \(name)", [])
            if own { _ = try run("COMMIT", []) }
        } catch {
            if own { _ = try? run("ROLLBACK", []) }
            throw error
        }
    }

    /// Runs `body` in a transaction that first takes the transaction-scoped advisory lock `key` (shared or
    /// exclusive); commits when it returns, rolls back when it throws.
    func transaction<T>(locking key: Int64, shared: Bool = false, _ body: () throws -> T) throws -> T {
        _ = try run("BEGIN", [])
        inTransaction = true
        defer { inTransaction = false }
        do {
            _ = try run(shared ? "SELECT pg_advisory_xact_lock_shared(?)" : "SELECT pg_advisory_xact_lock(?)", [key])
            let value = try body()
            _ = try run("COMMIT", [])
            return value
        } catch {
            _ = try? run("ROLLBACK", [])
            throw error
        }
    }
}

/// What the catalog's session protocol cannot run.
enum ExhibitCatalogError: Error, CustomStringConvertible {
    case arguments(String)

    var description: String {
        switch self {
        case .arguments(let text): "a catalog statement was given the wrong number of values: \(text)"
        }
    }
}

/// A PostgreSQL row as a catalog row: each cell read by its type (integers, text, bytes; flags are integers).
struct PostgresRowValues: CatalogRow {
    let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

    func value(_ column: String) -> SQLValue { row.contains(column) ? Self.value(row[column]) : .null }
    func value(at index: Int) -> SQLValue { index < row.count ? Self.value(row[index]) : .null }

    var columns: [(name: String, value: SQLValue)] {
        (0..<row.count).map { (row[$0].columnName, Self.value(row[$0])) }
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8:
            return (try? cell.decode(Int64.self)).map(SQLValue.integer) ?? .null
        case .bool:
            return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
        case .float4, .float8:
            return (try? cell.decode(Double.self)).map(SQLValue.real) ?? .null
        case .bytea:
            return (try? cell.decode(ByteBuffer.self)).map(SQLValue.blob) ?? .null
        case .numeric:
            guard let text = try? cell.decode(String.self) else { return .null }
            return Int64(text).map(SQLValue.integer) ?? Double(text).map(SQLValue.real) ?? .text(text)
        default:
            return (try? cell.decode(String.self)).map(SQLValue.text) ?? .null
        }
    }
}
