import Foundation

/// A storage folder set up through the real CLI: users `jsmith` (investigator), `akhan` (investigator),
/// `sup` (supervisor), `audit` (auditor), `root` (admin), and case `2017/MPS/0421` created by jsmith.
public final class TestStore: Sendable {
    public let folder: TemporaryDirectory
    public let tokens: [String: String]
    /// The PostgreSQL server of the store's catalog when the test gave one of its own.
    let postgres: PostgresServer?
    public static let caseReference = "2017/MPS/0421"

    public var storage: String { folder.appending("Storage") }
    /// `--storage … --policies …`.
    public var common: [String] { ["--storage", storage, "--policies", TestPaths.policies] }

    /// A new store; its chunks go where `TestEngines` says, or to `gateway` when given.
    public init(
        _ label: String = "store", withCase: Bool = true, chunksAt gateway: CephGateway? = nil, catalogAt postgres: PostgresServer? = nil
    ) async throws {
        self.postgres = postgres
        folder = try TemporaryDirectory(label)
        let storage = folder.appending("Storage")
        try await TestEngines.prepare(storage: storage, at: gateway, postgres: postgres)
        let common = ["--storage", storage, "--policies", TestPaths.policies]
        var tokens: [String: String] = [:]
        for (name, role, full) in [
            ("jsmith", "investigator", "John Smith"), ("akhan", "investigator", "Aisha Khan"),
            ("sup", "supervisor", "Sam Upton"), ("audit", "auditor", "Alex Udit"), ("root", "admin", "Rita Oot"),
        ] {
            let result = try await ExhibitCLI.run(["user", "add", name, "--role", role, "--full-name", full, "--json"] + common)
            guard result.status == 0,
                  let object = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any],
                  let token = object["token"] as? String
            else { throw TestSupportError("user add \(name) failed: \(result.err)") }
            tokens[name] = token
        }
        self.tokens = tokens
        if withCase {
            let created = try await ExhibitCLI.run(["case", "create", Self.caseReference, "--title", "Burglary", "--as", "jsmith"] + common)
            guard created.status == 0 else { throw TestSupportError("case create failed: \(created.err)") }
        }
    }

    /// Runs `exhibit <arguments> --storage … --policies …`.
    @discardableResult
    public func run(_ arguments: [String]) async throws -> Subprocess.Result {
        try await ExhibitCLI.run(arguments + common)
    }

    /// Ingests files as `user` into the test case; returns the JSON lines.
    public func ingest(_ files: [String], as user: String = "jsmith", extra: [String] = []) async throws -> [[String: Any]] {
        let result = try await run(["ingest", "--case", Self.caseReference, "--as", user] + extra + files)
        guard result.status == 0 else { throw TestSupportError("ingest failed: \(result.err)") }
        return try ExhibitCLI.jsonLines(result)
    }

    /// Runs SQL on the store's catalog: with the sqlite3 command line, or psql when it is in PostgreSQL (both
    /// print `a|b` lines).
    @discardableResult
    public func sql(_ statements: String) async throws -> Subprocess.Result {
        if let database = postgresDatabase {
            let server: PostgresServer = if let postgres { postgres } else { try await TestEngines.postgresServer() }
            return try await server.psql(database: database, statements)
        }
        return try await Subprocess.run(Subprocess.which("sqlite3") ?? "/usr/bin/sqlite3", [storage + "/exhibit.sqlite", statements])
    }

    /// The PostgreSQL database name of the store's catalog, when it is there.
    public var postgresDatabase: String? {
        guard let data = FileManager.default.contents(atPath: storage + "/deployment.json"),
              let record = try? JSONSerialization.jsonObject(with: data) as? [String: String],
              let catalog = record["catalog"], catalog.hasPrefix("postgres://") else { return nil }
        return catalog.split(separator: "/").last.map(String.init)
    }

    /// SQL that drops the ledger's append-only triggers, as an attacker with the database would first.
    public var dropLedgerTriggers: String {
        postgresDatabase != nil
            ? """
              DROP TRIGGER custody_events_append_only ON custody_events; DROP TRIGGER checkpoints_append_only ON checkpoints;
              DROP TRIGGER custody_tree_append_only ON custody_tree;
              """
            : """
              DROP TRIGGER custody_events_append_only_update; DROP TRIGGER custody_events_append_only_delete;
              DROP TRIGGER checkpoints_append_only_update; DROP TRIGGER checkpoints_append_only_delete;
              DROP TRIGGER custody_tree_append_only_update; DROP TRIGGER custody_tree_append_only_delete;
              """
    }
}
