import Custody
import ExhibitCrypto
import Foundation
import PostgresNIO

/// The PostgreSQL schema: the same tables, columns and rules as the SQLite one (its migrations v1–v5 as they
/// stand), as one frozen timeline of its own. Integers are BIGINT; times are TEXT, the exact text hashed.
extension PostgresCatalog {
    static let migrations: [(String, String)] = [
        ("v1: the catalog, custody ledger, shares, retention and resumable uploads", """
            CREATE FUNCTION exhibit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;
            CREATE TABLE users (
                name TEXT PRIMARY KEY,
                full_name TEXT,
                initials TEXT NOT NULL,
                role TEXT NOT NULL,
                token_sha256 TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE TABLE cases (
                id TEXT PRIMARY KEY,
                reference TEXT NOT NULL UNIQUE,
                title TEXT,
                created_by TEXT NOT NULL REFERENCES users(name),
                created_at TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open',
                status_at TEXT,
                release_date TEXT,
                retention_class TEXT,
                status_version BIGINT NOT NULL DEFAULT 0
            );
            CREATE TABLE case_members (
                case_id TEXT NOT NULL REFERENCES cases(id),
                "user" TEXT NOT NULL REFERENCES users(name),
                added_by TEXT NOT NULL,
                added_at TEXT NOT NULL,
                PRIMARY KEY (case_id, "user")
            );
            CREATE TABLE blobs (
                sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
                size BIGINT NOT NULL CHECK (size >= 0),
                chunks BIGINT NOT NULL,
                media TEXT,
                integrity TEXT,
                verdict TEXT,
                created_at TEXT NOT NULL,
                purged_at TEXT
            );
            CREATE TABLE exhibits (
                id TEXT PRIMARY KEY,
                case_id TEXT NOT NULL REFERENCES cases(id),
                reference TEXT NOT NULL,
                initials TEXT NOT NULL,
                number BIGINT NOT NULL,
                filename TEXT NOT NULL,
                blob TEXT NOT NULL REFERENCES blobs(sha256),
                uploaded_by TEXT NOT NULL REFERENCES users(name),
                uploaded_at TEXT NOT NULL,
                coverage TEXT,
                master_id TEXT REFERENCES exhibits(id),
                lineage TEXT,
                working_copy_status TEXT,
                working_copy_error TEXT,
                state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'pending-deletion', 'purged')),
                deletion_requested_at TEXT,
                deletion_requested_by TEXT,
                deletion_reason TEXT,
                purge_after TEXT,
                purged_at TEXT,
                purged_by TEXT,
                purge_reason TEXT,
                UNIQUE (case_id, reference)
            );
            CREATE INDEX exhibits_by_blob ON exhibits(blob);
            CREATE INDEX exhibits_by_master ON exhibits(master_id);
            CREATE INDEX exhibits_by_state ON exhibits(state);
            CREATE TRIGGER exhibits_tombstones_stay BEFORE UPDATE ON exhibits FOR EACH ROW
                WHEN (OLD.state = 'purged') EXECUTE FUNCTION exhibit_refuse('a purged exhibit is a tombstone and cannot change');
            CREATE TRIGGER exhibits_never_deleted BEFORE DELETE ON exhibits FOR EACH ROW
                EXECUTE FUNCTION exhibit_refuse('exhibits are never deleted: they are purged and keep a tombstone');
            CREATE TABLE shares (
                id TEXT PRIMARY KEY,
                exhibit TEXT NOT NULL REFERENCES exhibits(id),
                created_by TEXT NOT NULL REFERENCES users(name),
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                max_downloads BIGINT,
                downloads BIGINT NOT NULL DEFAULT 0,
                revoked_at TEXT,
                recipient TEXT,
                note TEXT,
                key_id TEXT,
                revoked_reason TEXT
            );
            CREATE INDEX shares_by_exhibit ON shares(exhibit);
            CREATE TABLE share_views (
                share_id TEXT NOT NULL REFERENCES shares(id),
                view_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                first_at TEXT NOT NULL,
                last_at TEXT NOT NULL,
                requests BIGINT NOT NULL DEFAULT 1,
                bytes BIGINT NOT NULL DEFAULT 0,
                exhibit TEXT,
                case_ref TEXT,
                client TEXT,
                closed BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (share_id, view_id, kind)
            );
            CREATE INDEX share_views_open ON share_views(closed, last_at);
            CREATE TABLE custody_events (
                seq BIGINT PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                role TEXT,
                action TEXT NOT NULL,
                exhibit TEXT,
                "case" TEXT,
                details TEXT NOT NULL,
                client TEXT,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL,
                seal TEXT NOT NULL
            );
            CREATE TRIGGER custody_events_append_only BEFORE UPDATE OR DELETE ON custody_events FOR EACH ROW
                EXECUTE FUNCTION exhibit_refuse('custody events are append-only');
            CREATE TRIGGER custody_events_no_truncate BEFORE TRUNCATE ON custody_events FOR EACH STATEMENT
                EXECUTE FUNCTION exhibit_refuse('custody events are append-only');
            CREATE TABLE checkpoints (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL,
                at TEXT NOT NULL,
                key_id TEXT NOT NULL,
                signature TEXT NOT NULL
            );
            CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW
                EXECUTE FUNCTION exhibit_refuse('checkpoints are append-only');
            CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT
                EXECUTE FUNCTION exhibit_refuse('checkpoints are append-only');
            CREATE TABLE case_statuses (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                case_id TEXT NOT NULL REFERENCES cases(id),
                status TEXT NOT NULL,
                at TEXT NOT NULL,
                release_date TEXT,
                set_by TEXT NOT NULL,
                set_at TEXT NOT NULL
            );
            CREATE INDEX case_statuses_by_case ON case_statuses(case_id, id);
            CREATE TABLE holds (
                id TEXT PRIMARY KEY,
                case_id TEXT REFERENCES cases(id),
                exhibit_id TEXT REFERENCES exhibits(id),
                reason TEXT NOT NULL,
                set_by TEXT NOT NULL,
                set_at TEXT NOT NULL,
                released_by TEXT,
                released_at TEXT,
                release_reason TEXT,
                CHECK ((case_id IS NULL) <> (exhibit_id IS NULL))
            );
            CREATE UNIQUE INDEX holds_standing_case ON holds(case_id) WHERE released_at IS NULL AND case_id IS NOT NULL;
            CREATE UNIQUE INDEX holds_standing_exhibit ON holds(exhibit_id) WHERE released_at IS NULL AND exhibit_id IS NOT NULL;
            CREATE TABLE uploads (
                id TEXT PRIMARY KEY,
                owner TEXT NOT NULL REFERENCES users(name),
                case_id TEXT NOT NULL REFERENCES cases(id),
                filename TEXT NOT NULL,
                length BIGINT NOT NULL CHECK (length >= 0),
                "offset" BIGINT NOT NULL DEFAULT 0,
                metadata TEXT NOT NULL,
                expected_sha256 TEXT,
                time_inputs TEXT,
                entries TEXT NOT NULL DEFAULT '',
                tail_start BIGINT NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed', 'failed', 'terminated', 'expired')),
                exhibit_id TEXT,
                error TEXT,
                patches BIGINT NOT NULL DEFAULT 0,
                resumptions BIGINT NOT NULL DEFAULT 0,
                interrupted BIGINT NOT NULL DEFAULT 0,
                client TEXT
            );
            CREATE INDEX uploads_open ON uploads(state, expires_at);
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
            CREATE TABLE upload_tails (
                upload_id TEXT PRIMARY KEY REFERENCES uploads(id),
                start BIGINT NOT NULL,
                bytes BYTEA NOT NULL
            );
            """),
        ("v2: open uploads counted per owner", CatalogRows.openUploadsIndex),
        ("v3: users disabled, tokens reissued and with a lifetime", CatalogRows.usersDisabledAndTokensMigration),
    ]

    /// Applies the migrations not yet applied, each in a transaction, under the write lock (several servers
    /// starting at once migrate once).
    ///
    /// Every server of a deployment must seal events with the same key: the first records a fingerprint of its
    /// seal key, and a server with another key is refused (its events would not verify).
    static func migrate(_ db: PGSession, sealKey: [UInt8]) async throws {
        try await db.transaction(locking: writeLock) {
            try await db.execute(sql: "CREATE TABLE IF NOT EXISTS exhibit_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            let applied = Set(try await db.fetchAll(sql: "SELECT name FROM exhibit_migrations").map { $0[0] as String })
            for (name, sql) in migrations where !applied.contains(name) {
                // One statement at a time (the extended protocol takes one): statements end with ";" at a line's end.
                for statement in sql.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try await db.execute(sql: statement)
                }
                try await db.execute(
                    sql: "INSERT INTO exhibit_migrations (name, applied_at) VALUES (?, ?)",
                    arguments: [name, CustodyTime.string(Date())])
            }
            let fingerprint = Hex.encode(Array(HMACSHA256.mac(key: sealKey, message: Array("exhibit ledger seal key".utf8)).prefix(16)))
            try await db.execute(
                sql: "INSERT INTO exhibit_settings (name, value) VALUES ('seal_key', ?) ON CONFLICT DO NOTHING", arguments: [fingerprint])
            let recorded = try await db.scalar(String.self, sql: "SELECT value FROM exhibit_settings WHERE name = 'seal_key'")
            guard recorded == fingerprint else {
                throw ExhibitError(
                    .conflict,
                    "this server's ledger seal key (\(fingerprint)) is not the one the catalog's events are sealed with (\(recorded ?? "?")): give every server the same keys folder (--keys)")
            }
        }
    }
}
