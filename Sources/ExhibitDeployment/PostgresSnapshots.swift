import CatalogPostgres
import CatalogSQLite
import ExhibitCatalog
import ExhibitModel
import Foundation

/// A PostgreSQL catalog snapshotted for a backup: every table copied, in one `REPEATABLE READ` transaction (so
/// the copy is the catalog as of one moment while writers go on), into a new SQLite file with the same schema. A
/// backup is then the same whatever the deployment; a restore moves it back into PostgreSQL when asked to.
struct PostgresSnapshots: CatalogSnapshots {
    let database: PostgresDatabase

    func snapshot(to path: String) async throws {
        let target = try SQLiteDatabase(path: path)
        try await database.read { db in
            _ = try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            do {
                for (table, order) in Schema.copyOrder {
                    var batch: [[(name: String, value: SQLValue)]] = []
                    func flush() throws {
                        guard !batch.isEmpty else { return }
                        let rows = batch
                        try target.writeNow { sqlite in
                            for columns in rows {
                                let names = columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
                                _ = try sqlite.execute(
                                    "INSERT INTO \(table) (\(names)) VALUES (\(Catalog.marks(columns.count)))", columns.map(\.value))
                            }
                        }
                        batch.removeAll(keepingCapacity: true)
                    }
                    try db.forEach("SELECT * FROM \(table) ORDER BY \(order)", []) { row in
                        batch.append(row.columns)
                        if batch.count == 2000 { try flush() }
                    }
                    try flush()
                }
                _ = try db.execute("COMMIT")
            } catch {
                _ = try? db.execute("ROLLBACK")
                throw error
            }
        }
        // The file is copied whole: its write-ahead log must be in it.
        try target.close()
        try SQLiteDatabase.settleSnapshot(at: path)
    }

    func contents(ofSnapshotAt path: String) throws -> SnapshotContents {
        try SQLiteDatabase.contents(ofSnapshotAt: path)
    }
}
