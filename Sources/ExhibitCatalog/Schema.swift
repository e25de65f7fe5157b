import Foundation

/// The catalog's schema: one frozen timeline of migrations for both databases, rendered by each driver's
/// `SchemaDialect` (README, "Design"). A migration that has shipped never changes; a change is a new one.
///
/// The text is the common subset of SQLite and PostgreSQL; what they spell differently is a placeholder the dialect
/// fills: `{int}` (a 64-bit integer), `{serial}` (a key the database numbers), `{bytes}`, and the rules that refuse
/// changes (`appendOnly`, `refuse`). Times are TEXT: the exact text that is hashed into the ledger.
public enum Schema {
    /// The migrations, in order, as `dialect` writes them.
    public static func migrations(_ dialect: SchemaDialect) -> [(name: String, sql: String)] {
        timeline.map { migration in (migration.name, dialect.render(migration.sql(dialect))) }
    }

    /// The names of the migrations, in order.
    public static var names: [String] { timeline.map(\.name) }

    private struct Migration: Sendable {
        let name: String
        let sql: @Sendable (SchemaDialect) -> String
    }

    private static let timeline: [Migration] = [
        Migration(name: "v1: users, cases, exhibits, blobs, shares, custody ledger") { dialect in
            dialect.prelude + """
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
                    status TEXT NOT NULL DEFAULT 'open'
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
                    size {int} NOT NULL CHECK (size >= 0),
                    chunks {int} NOT NULL,
                    media TEXT,
                    integrity TEXT,
                    verdict TEXT,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE exhibits (
                    id TEXT PRIMARY KEY,
                    case_id TEXT NOT NULL REFERENCES cases(id),
                    reference TEXT NOT NULL,
                    initials TEXT NOT NULL,
                    number {int} NOT NULL,
                    filename TEXT NOT NULL,
                    blob TEXT NOT NULL REFERENCES blobs(sha256),
                    uploaded_by TEXT NOT NULL REFERENCES users(name),
                    uploaded_at TEXT NOT NULL,
                    coverage TEXT,
                    UNIQUE (case_id, reference)
                );
                CREATE INDEX exhibits_by_blob ON exhibits(blob);
                CREATE TABLE shares (
                    id TEXT PRIMARY KEY,
                    exhibit TEXT NOT NULL REFERENCES exhibits(id),
                    created_by TEXT NOT NULL REFERENCES users(name),
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    max_downloads {int},
                    downloads {int} NOT NULL DEFAULT 0,
                    revoked_at TEXT,
                    recipient TEXT,
                    note TEXT
                );
                CREATE TABLE custody_events (
                    seq {int} PRIMARY KEY,
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

                """ + dialect.appendOnly("custody_events", "custody events are append-only") + """
                CREATE TABLE checkpoints (
                    id {serial},
                    seq {int} NOT NULL,
                    hash TEXT NOT NULL,
                    at TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    signature TEXT NOT NULL
                );

                """ + dialect.appendOnly("checkpoints", "checkpoints are append-only")
        },
        Migration(name: "v2: working copies") { _ in
            """
            ALTER TABLE exhibits ADD COLUMN master_id TEXT REFERENCES exhibits(id);
            ALTER TABLE exhibits ADD COLUMN lineage TEXT;
            ALTER TABLE exhibits ADD COLUMN working_copy_status TEXT;
            ALTER TABLE exhibits ADD COLUMN working_copy_error TEXT;
            CREATE INDEX exhibits_by_master ON exhibits(master_id);
            """
        },
        Migration(name: "v3: share links") { _ in
            """
            ALTER TABLE shares ADD COLUMN key_id TEXT;
            CREATE INDEX shares_by_exhibit ON shares(exhibit);
            CREATE TABLE share_views (
                share_id TEXT NOT NULL REFERENCES shares(id),
                view_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                first_at TEXT NOT NULL,
                last_at TEXT NOT NULL,
                requests {int} NOT NULL DEFAULT 1,
                bytes {int} NOT NULL DEFAULT 0,
                exhibit TEXT,
                case_ref TEXT,
                client TEXT,
                closed {int} NOT NULL DEFAULT 0,
                PRIMARY KEY (share_id, view_id, kind)
            );
            CREATE INDEX share_views_open ON share_views(closed, last_at);
            """
        },
        Migration(name: "v4: retention, holds, deletion") { dialect in
            """
            ALTER TABLE cases ADD COLUMN status_at TEXT;
            ALTER TABLE cases ADD COLUMN release_date TEXT;
            ALTER TABLE cases ADD COLUMN retention_class TEXT;
            ALTER TABLE cases ADD COLUMN status_version {int} NOT NULL DEFAULT 0;
            CREATE TABLE case_statuses (
                id {serial},
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
            ALTER TABLE exhibits ADD COLUMN state TEXT NOT NULL DEFAULT 'live'
                CHECK (state IN ('live', 'pending-deletion', 'purged'));
            ALTER TABLE exhibits ADD COLUMN deletion_requested_at TEXT;
            ALTER TABLE exhibits ADD COLUMN deletion_requested_by TEXT;
            ALTER TABLE exhibits ADD COLUMN deletion_reason TEXT;
            ALTER TABLE exhibits ADD COLUMN purge_after TEXT;
            ALTER TABLE exhibits ADD COLUMN purged_at TEXT;
            ALTER TABLE exhibits ADD COLUMN purged_by TEXT;
            ALTER TABLE exhibits ADD COLUMN purge_reason TEXT;
            CREATE INDEX exhibits_by_state ON exhibits(state);
            ALTER TABLE blobs ADD COLUMN purged_at TEXT;
            ALTER TABLE shares ADD COLUMN revoked_reason TEXT;

            """
                // A purged exhibit is a tombstone for good: nothing brings it back or rewrites it.
                + dialect.refuse("exhibits_tombstones_stay", "UPDATE", "exhibits", "OLD.state = 'purged'", "a purged exhibit is a tombstone and cannot change")
                + dialect.refuse("exhibits_never_deleted", "DELETE", "exhibits", nil, "exhibits are never deleted: they are purged and keep a tombstone")
        },
        Migration(name: "v5: resumable uploads") { _ in
            """
            CREATE TABLE uploads (
                id TEXT PRIMARY KEY,
                owner TEXT NOT NULL REFERENCES users(name),
                case_id TEXT NOT NULL REFERENCES cases(id),
                filename TEXT NOT NULL,
                length {int} NOT NULL CHECK (length >= 0),
                "offset" {int} NOT NULL DEFAULT 0,
                metadata TEXT NOT NULL,
                expected_sha256 TEXT,
                time_inputs TEXT,
                entries TEXT NOT NULL DEFAULT '',
                tail_start {int} NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed', 'failed', 'terminated', 'expired')),
                exhibit_id TEXT,
                error TEXT,
                patches {int} NOT NULL DEFAULT 0,
                resumptions {int} NOT NULL DEFAULT 0,
                interrupted {int} NOT NULL DEFAULT 0,
                client TEXT
            );
            CREATE INDEX uploads_open ON uploads(state, expires_at);
            """
        },
        Migration(name: "v6: open uploads counted per owner") { _ in
            "CREATE INDEX uploads_open_by_owner ON uploads(owner, expires_at) WHERE state = 'open';\n"
        },
        Migration(name: "v7: users disabled, tokens reissued and with a lifetime") { _ in
            """
            ALTER TABLE users ADD COLUMN disabled_at TEXT;
            ALTER TABLE users ADD COLUMN disabled_reason TEXT;
            ALTER TABLE users ADD COLUMN token_issued_at TEXT;
            ALTER TABLE users ADD COLUMN token_expires_at TEXT;
            CREATE INDEX users_by_initials ON users(initials);
            """
        },
        Migration(name: "v8: upload tails kept with the upload's progress") { _ in
            """
            CREATE TABLE upload_tails (
                upload_id TEXT PRIMARY KEY REFERENCES uploads(id),
                start {int} NOT NULL,
                bytes {bytes} NOT NULL
            );
            """
        },
        Migration(name: "v9: web app sessions") { _ in
            """
            CREATE TABLE web_sessions (
                token_hash TEXT PRIMARY KEY,
                "user" TEXT NOT NULL REFERENCES users(name),
                created_at TEXT NOT NULL,
                last_seen_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                ended_at TEXT,
                client TEXT
            );
            CREATE INDEX web_sessions_by_user ON web_sessions("user", ended_at);
            """
        },
        Migration(name: "v10: footage requests") { _ in
            """
            CREATE TABLE footage_requests (
                id TEXT PRIMARY KEY,
                reference TEXT NOT NULL UNIQUE,
                case_id TEXT NOT NULL REFERENCES cases(id),
                created_by TEXT NOT NULL REFERENCES users(name),
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                key_id TEXT NOT NULL,
                window_from TEXT NOT NULL,
                window_to TEXT NOT NULL,
                location TEXT NOT NULL,
                camera TEXT,
                owner_name TEXT NOT NULL,
                owner_contact TEXT,
                note TEXT,
                prefix TEXT NOT NULL,
                max_files {int} NOT NULL,
                max_file_size {int} NOT NULL,
                max_total_size {int} NOT NULL,
                max_submissions {int} NOT NULL,
                submissions {int} NOT NULL DEFAULT 0,
                opens {int} NOT NULL DEFAULT 0,
                first_opened_at TEXT,
                last_opened_at TEXT,
                clock_offset {int},
                clock_checked_at TEXT,
                revoked_at TEXT,
                revoked_by TEXT,
                revoked_reason TEXT,
                expiry_recorded {int} NOT NULL DEFAULT 0
            );
            CREATE INDEX footage_requests_by_case ON footage_requests(case_id, created_at);
            CREATE TABLE request_receipts (
                request_id TEXT NOT NULL REFERENCES footage_requests(id),
                number {int} NOT NULL,
                submitted_at TEXT NOT NULL,
                receipt TEXT NOT NULL,
                PRIMARY KEY (request_id, number)
            );
            ALTER TABLE uploads ADD COLUMN request_id TEXT REFERENCES footage_requests(id);
            ALTER TABLE exhibits ADD COLUMN request_id TEXT REFERENCES footage_requests(id);
            ALTER TABLE exhibits ADD COLUMN submission {int};
            CREATE INDEX uploads_by_request ON uploads(request_id) WHERE request_id IS NOT NULL;
            CREATE INDEX exhibits_by_request ON exhibits(request_id) WHERE request_id IS NOT NULL;
            """
        },
        Migration(name: "v11: the ledger as a Merkle tree, checkpoints as signed notes, witness cosignatures") { dialect in
            // custody_tree.n is a node's place in the order appends create nodes (`Merkle.NodeID.storedIndex`): one
            // integer key (SQLite's rowid itself), rows only ever added at the end. Filled for older ledgers by
            // the first append after the upgrade (`Catalog.growTree`).
            """
            CREATE TABLE custody_tree (
                n {int} PRIMARY KEY,
                hash {bytes} NOT NULL
            );

            """ + dialect.appendOnly("custody_tree", "the custody tree is append-only") + """
            ALTER TABLE checkpoints ADD COLUMN note TEXT;
            CREATE TABLE checkpoint_cosignatures (
                checkpoint_id {int} NOT NULL,
                witness TEXT NOT NULL,
                signature TEXT NOT NULL,
                received_at TEXT NOT NULL,
                PRIMARY KEY (checkpoint_id, witness)
            );

            """ + dialect.appendOnly("checkpoint_cosignatures", "cosignatures are append-only")
        },
    ]

    /// The tables in an order that satisfies every foreign key, each with the order its rows are copied in (moving a
    /// catalog from SQLite into PostgreSQL).
    package static let copyOrder: [(table: String, order: String)] = [
        ("users", "name"), ("cases", "created_at, id"), ("case_members", "case_id, \"user\""),
        ("footage_requests", "created_at, id"), ("request_receipts", "request_id, number"), ("blobs", "sha256"),
        ("exhibits", "master_id IS NOT NULL, uploaded_at, id"), ("shares", "created_at, id"),
        ("share_views", "share_id, view_id, kind"), ("case_statuses", "id"), ("holds", "set_at, id"), ("uploads", "created_at, id"),
        ("upload_tails", "upload_id"), ("web_sessions", "created_at, token_hash"), ("custody_events", "seq"), ("checkpoints", "id"),
        ("custody_tree", "n"), ("checkpoint_cosignatures", "checkpoint_id, witness"),
    ]
}

/// How one database writes what the schema's text leaves open.
public struct SchemaDialect: Sendable {
    /// A 64-bit integer column.
    public let integer: String
    /// A key the database numbers (`id` columns of append-mostly tables).
    public let serial: String
    /// A column of bytes.
    public let bytes: String
    /// Statements run before the first migration's (functions the rules call).
    public let prelude: String
    /// The statements that make `table` append-only (no update, no delete, and no truncation where that exists).
    public let appendOnly: @Sendable (_ table: String, _ message: String) -> String
    /// The statement that refuses `event` (`UPDATE` or `DELETE`) on `table` (when `condition` holds) with `message`.
    public let refuse: @Sendable (_ name: String, _ event: String, _ table: String, _ condition: String?, _ message: String) -> String

    public init(
        integer: String, serial: String, bytes: String, prelude: String,
        appendOnly: @escaping @Sendable (String, String) -> String,
        refuse: @escaping @Sendable (String, String, String, String?, String) -> String
    ) {
        self.integer = integer
        self.serial = serial
        self.bytes = bytes
        self.prelude = prelude
        self.appendOnly = appendOnly
        self.refuse = refuse
    }

    func render(_ sql: String) -> String {
        sql.replacingOccurrences(of: "{int}", with: integer).replacingOccurrences(of: "{serial}", with: serial)
            .replacingOccurrences(of: "{bytes}", with: bytes)
    }
}
