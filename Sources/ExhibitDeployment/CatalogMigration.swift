import CatalogPostgres
import CatalogSQLite
public import Exhibit
import ExhibitCatalog
public import ExhibitModel
import Foundation

/// Moving an install's catalog and ledger from its SQLite file into PostgreSQL (`exhibit migrate`).
public enum CatalogMove {
    /// What a move copied, and the ledger's head on both sides.
    public struct Result: Sendable {
        public let copied: [(table: String, rows: Int)]
        public let sourceHead: String?
        public let targetHead: String?
    }

    /// Copies every row of the SQLite catalog at `path` into the PostgreSQL database at `location`, which must hold no
    /// catalog yet, in one transaction (all or nothing), row by row (memory stays bounded). Values are copied as
    /// stored: text stays the exact text that was hashed. `keys` seal and sign the ledger being moved.
    public static func sqliteToPostgres(path: String, to location: PostgresLocation, keys: KeyRing) async throws -> Result {
        let source = try SQLiteDatabase(path: path)
        let sourceHead = try await Catalog(database: source, sealKey: keys.sealKey).head()
        let target = PostgresDatabase(location: location, sealKey: keys.sealKey)
        let copied = try await target.write { db -> [(table: String, rows: Int)] in
            let events = try db.scalar(Int.self, "SELECT count(*) FROM custody_events") ?? 0
            let users = try db.scalar(Int.self, "SELECT count(*) FROM users") ?? 0
            guard events == 0 && users == 0 else {
                throw ExhibitError(.conflict, "the database \(location.description) already holds a catalog (\(users) users, \(events) events); migrate into an empty one")
            }
            var copied: [(table: String, rows: Int)] = []
            for (table, order) in Schema.copyOrder {
                let identity = table == "checkpoints" || table == "case_statuses" ? " OVERRIDING SYSTEM VALUE" : ""
                var rows = 0
                try source.readNow { src in
                    try src.forEach("SELECT * FROM \(table) ORDER BY \(order)", []) { row in
                        let columns = row.columns
                        let values: [any SQLValueConvertible] = try columns.map { column in
                            switch column.value {
                            case .real(let number): return SQLValue.text(String(number))
                            case .blob where table != "upload_tails" && table != "custody_tree":
                                throw ExhibitError(.storage, "\(table).\(column.name) holds a binary value: not an Exhibit catalog")
                            default: return column.value
                            }
                        }
                        let names = columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
                        try db.execute("INSERT INTO \(table) (\(names))\(identity) VALUES (\(Catalog.marks(columns.count)))", values)
                        rows += 1
                    }
                }
                if !identity.isEmpty {
                    try db.execute("SELECT setval(pg_get_serial_sequence('\(table)', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM \(table)), false)")
                }
                copied.append((table, rows))
            }
            return copied
        }
        let targetHead = try await Catalog(database: target, sealKey: keys.sealKey).head()
        return Result(copied: copied, sourceHead: sourceHead?.hash, targetHead: targetHead?.hash)
    }
}
