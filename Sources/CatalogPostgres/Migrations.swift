import Custody
import ExhibitCatalog
import ExhibitCrypto
import ExhibitModel
import Foundation

/// The PostgreSQL schema: the catalog's one timeline (`Schema`) as PostgreSQL writes it, then what only a shared
/// database needs (write leases across servers, the seal key's fingerprint).
extension PostgresDatabase {
    /// How PostgreSQL writes the schema's open points: BIGINT, identity keys, BYTEA, and rules as triggers that call
    /// `exhibit_refuse` (TRUNCATE refused too).
    static let schemaDialect = SchemaDialect(
        integer: "BIGINT", serial: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", bytes: "BYTEA",
        prelude: """
            CREATE FUNCTION exhibit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;

            """,
        appendOnly: { table, message in
            """
            CREATE TRIGGER \(table)_append_only BEFORE UPDATE OR DELETE ON \(table) FOR EACH ROW
                EXECUTE FUNCTION exhibit_refuse('\(message)');
            CREATE TRIGGER \(table)_no_truncate BEFORE TRUNCATE ON \(table) FOR EACH STATEMENT
                EXECUTE FUNCTION exhibit_refuse('\(message)');

            """
        },
        refuse: { name, event, table, condition, message in
            """
            CREATE TRIGGER \(name) BEFORE \(event) ON \(table) FOR EACH ROW\(condition.map { " WHEN (\($0))" } ?? "")
                EXECUTE FUNCTION exhibit_refuse('\(message)');

            """
        })

    /// The catalog's timeline, then PostgreSQL's own.
    static var migrations: [(name: String, sql: String)] {
        Schema.migrations(schemaDialect) + [
            ("pg1: write leases and settings", """
                CREATE TABLE write_leases (
                    lease TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    server TEXT NOT NULL,
                    owner BIGINT NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (lease, kind, digest)
                );
                CREATE TABLE exhibit_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
        ]
    }

    /// Catalogs made before PostgreSQL followed the one timeline recorded these names; each stands for the
    /// migrations it made.
    static let earlierNames: [String: [String]] = [
        "v1: the catalog, custody ledger, shares, retention and resumable uploads":
            Array(Schema.names.prefix(5)) + [Schema.names[7], "pg1: write leases and settings"],
        "v2: open uploads counted per owner": [Schema.names[5]],
        "v3: users disabled, tokens reissued and with a lifetime": [Schema.names[6]],
    ]

    /// Applies the migrations not yet applied, each in a transaction, under the write lock (several servers
    /// starting at once migrate once).
    ///
    /// Every server of a deployment must seal events with the same key: the first records a fingerprint of its
    /// seal key, and a server with another key is refused (its events would not verify).
    static func migrate(_ db: PostgresSession, sealKey: [UInt8]) throws {
        try db.transaction(locking: writeLock) {
            try db.execute("CREATE TABLE IF NOT EXISTS exhibit_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            var applied = Set<String>()
            for row in try db.fetchAll("SELECT name FROM exhibit_migrations") {
                let name = row[0] as String
                applied.insert(name)
                applied.formUnion(earlierNames[name] ?? [])
            }
            for (name, sql) in migrations where !applied.contains(name) {
                // One statement at a time (the extended protocol takes one): statements end with ";" at a line's end.
                for statement in sql.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try db.execute(statement)
                }
                try db.execute("INSERT INTO exhibit_migrations (name, applied_at) VALUES (?, ?)", [name, CustodyTime.string(Date())])
            }
            let fingerprint = Hex.encode(Array(HMACSHA256.mac(key: sealKey, message: Array("exhibit ledger seal key".utf8)).prefix(16)))
            try db.execute("INSERT INTO exhibit_settings (name, value) VALUES ('seal_key', ?) ON CONFLICT DO NOTHING", [fingerprint])
            let recorded = try db.scalar(String.self, "SELECT value FROM exhibit_settings WHERE name = 'seal_key'")
            guard recorded == fingerprint else {
                throw ExhibitError(
                    .conflict,
                    "this server's ledger seal key (\(fingerprint)) is not the one the catalog's events are sealed with (\(recorded ?? "?")): give every server the same keys folder (--keys)")
            }
        }
    }
}
