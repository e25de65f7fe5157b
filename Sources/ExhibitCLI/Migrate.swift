import ArgumentParser
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import Foundation

extension ExhibitCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a store's catalog and custody ledger from SQLite into PostgreSQL, and verify the ledger there.",
            discussion: """
                Copies every user, case, exhibit, share, hold, upload, custody event and checkpoint, as stored, \
                into an empty PostgreSQL database in one transaction; then points the storage root at it \
                (deployment.json), keeps the SQLite file as exhibit.sqlite.migrated, and verifies the whole \
                ledger (hash chain, seals, checkpoint signature) in PostgreSQL. Stop the server first. The \
                password comes from PGPASSWORD (or the address).

                Example:
                  PGPASSWORD=… exhibit migrate --storage Storage --to postgres://exhibit@db.internal:5432/exhibit
                  copied: users 12, cases 40, exhibits 311, custody_events 20417, checkpoints 93, …
                  ok: 20417 events verify in postgres://exhibit@db.internal:5432/exhibit
                """)

        @OptionGroup var options: StorageOptions

        @Option(help: ArgumentHelp("The SQLite catalog to move (default: sqlite:<storage>/exhibit.sqlite).", valueName: "sqlite:path"))
        var from: String?

        @Option(help: ArgumentHelp("The PostgreSQL database to move it into (empty).", valueName: "postgres://…"))
        var to: String

        func run() async throws {
            let storage = URL(fileURLWithPath: options.storage).standardizedFileURL.path
            var path = storage + "/exhibit.sqlite"
            if let from {
                guard from.hasPrefix("sqlite:") else { throw ValidationError("--from takes sqlite:PATH") }
                path = String(from.dropFirst("sqlite:".count))
            }
            guard FileManager.default.fileExists(atPath: path) else { throw CLIError("no SQLite catalog at \(path)") }
            guard case .postgres(let target) = try CatalogLocation.parse(to) else { throw ValidationError("--to takes a postgres:// address") }
            // The store as it is (SQLite): its keys seal and sign the ledger being moved.
            let before = try EvidenceStore(root: storage, policies: options.loadPolicies(), keys: options.keys)
            guard case .sqlite = before.deployment.catalog else { throw CLIError("this store's catalog is already in \(before.deployment.catalog)") }
            let moved = try await CatalogMove.sqliteToPostgres(path: path, to: target, keys: before.keys)
            guard moved.targetHead == moved.sourceHead else {
                throw CLIError("the ledger's head in PostgreSQL differs from the SQLite one; the store still uses SQLite")
            }
            print("copied: " + moved.copied.map { "\($0.table) \($0.rows)" }.joined(separator: ", "))
            // Point the root at PostgreSQL, keeping the SQLite file aside, then verify through the store itself.
            try Deployment.switchCatalog(root: storage, to: .postgres(target))
            let after = try EvidenceStore(root: storage, policies: options.loadPolicies(), keys: options.keys)
            let report = try await after.verifyCustody()
            guard report.isIntact else {
                try Deployment.switchCatalog(root: storage, to: .sqlite)
                throw CLIError("the ledger does not verify in PostgreSQL (\(report.problems.count) problem(s)); the store still uses SQLite")
            }
            print("ok: \(report.eventsChecked) events verify in \(target.description)")
        }
    }
}
