import Foundation
import GRDB

/// Moving an install's catalog and ledger from its SQLite file into PostgreSQL (`exhibit migrate`).
extension PostgresCatalog {
    /// The tables in an order that satisfies every foreign key, each with the order its rows are copied in.
    static let migrationOrder: [(table: String, order: String)] = [
        ("users", "name"), ("cases", "created_at, id"), ("case_members", "case_id, user"), ("blobs", "sha256"),
        ("exhibits", "master_id IS NOT NULL, uploaded_at, id"), ("shares", "created_at, id"),
        ("share_views", "share_id, view_id, kind"), ("case_statuses", "id"), ("holds", "set_at, id"), ("uploads", "created_at, id"),
        ("custody_events", "seq"), ("checkpoints", "id"),
    ]

    /// Copies every row of the SQLite catalog at `path` into this database, which must hold no events yet, in one
    /// transaction (all or nothing). Values are copied as stored (text stays the exact text that was hashed).
    /// Returns the rows copied per table.
    public func importSQLite(path: String) async throws -> [(table: String, rows: Int)] {
        var configuration = Configuration()
        configuration.readonly = true
        let source = try DatabaseQueue(path: path, configuration: configuration)
        return try await write { db in
            let events = try await db.scalar(Int.self, sql: "SELECT count(*) FROM custody_events") ?? 0
            let users = try await db.scalar(Int.self, sql: "SELECT count(*) FROM users") ?? 0
            guard events == 0 && users == 0 else {
                throw ExhibitError(.conflict, "the database \(self.location.description) already holds a catalog (\(users) users, \(events) events); migrate into an empty one")
            }
            var copied: [(String, Int)] = []
            for (table, order) in Self.migrationOrder {
                let rows = try await source.read { db in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(order)") }
                for row in rows {
                    let columns = Array(row.columnNames)
                    var arguments: [(any PGBindable)?] = []
                    for value in row.databaseValues {
                        switch value.storage {
                        case .null: arguments.append(nil)
                        case .int64(let number): arguments.append(number)
                        case .string(let text): arguments.append(text)
                        case .double(let number): arguments.append(String(number))
                        case .blob: throw ExhibitError(.storage, "\(table) holds a binary value: not an Exhibit catalog")
                        }
                    }
                    let names = columns.map { "\"\($0)\"" }.joined(separator: ", ")
                    let marks = columns.map { _ in "?" }.joined(separator: ", ")
                    let identity = table == "checkpoints" || table == "case_statuses" ? " OVERRIDING SYSTEM VALUE" : ""
                    try await db.execute(sql: "INSERT INTO \(table) (\(names))\(identity) VALUES (\(marks))", arguments: arguments)
                }
                if table == "checkpoints" || table == "case_statuses" {
                    try await db.execute(
                        sql: "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM \(table)), false)")
                }
                copied.append((table, rows.count))
            }
            return copied
        }
    }
}
