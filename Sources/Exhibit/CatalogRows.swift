import Custody
import ExhibitCrypto
import Foundation
import GRDB
import MediaProbe
import PostgresNIO

/// A row of the catalog from either database, read by column name: the SQLite and PostgreSQL catalogs make their
/// records from rows with the same code (`CatalogRows`), and share the statements whose text is the same in both.
protocol CatalogRow {
    subscript<T: CatalogValue>(_ column: String) -> T { get }
}

/// What a catalog row holds: text, integers and flags (integers 0/1 in both schemas), each optional. A value of
/// the wrong type is a programming error (as GRDB treats it).
protocol CatalogValue {
    static func read(_ value: DatabaseValue) -> Self
    static func read(_ cell: PostgresCell) -> Self
}

extension String: CatalogValue {
    static func read(_ value: DatabaseValue) -> String { String.fromDatabaseValue(value)! }
    static func read(_ cell: PostgresCell) -> String { try! cell.decode(String.self) }
}

extension Int64: CatalogValue {
    static func read(_ value: DatabaseValue) -> Int64 { Int64.fromDatabaseValue(value)! }
    static func read(_ cell: PostgresCell) -> Int64 { try! cell.decode(Int64.self) }
}

extension Int: CatalogValue {
    static func read(_ value: DatabaseValue) -> Int { Int.fromDatabaseValue(value)! }
    static func read(_ cell: PostgresCell) -> Int { Int(try! cell.decode(Int64.self)) }
}

extension Bool: CatalogValue {
    static func read(_ value: DatabaseValue) -> Bool { Bool.fromDatabaseValue(value)! }
    static func read(_ cell: PostgresCell) -> Bool { try! cell.decode(Int64.self) != 0 }
}

extension ByteBuffer: CatalogValue {
    static func read(_ value: DatabaseValue) -> ByteBuffer { ByteBuffer(bytes: Data.fromDatabaseValue(value)!) }
    static func read(_ cell: PostgresCell) -> ByteBuffer { try! cell.decode(ByteBuffer.self) }
}

extension Optional: CatalogValue where Wrapped: CatalogValue {
    static func read(_ value: DatabaseValue) -> Wrapped? { value.isNull ? nil : Wrapped.read(value) }
    static func read(_ cell: PostgresCell) -> Wrapped? { cell.bytes == nil ? nil : Wrapped.read(cell) }
}

/// A GRDB row as a `CatalogRow`.
struct SQLiteRow: CatalogRow {
    let row: Row
    init(_ row: Row) { self.row = row }
    subscript<T: CatalogValue>(_ column: String) -> T { T.read(row[column] as DatabaseValue) }
}

/// Statements whose text is the same in SQLite and PostgreSQL.
enum CatalogSQL {
    /// Records a blob, or brings a purged one back with the probe results it had or now has.
    static let upsertBlob = """
        INSERT INTO blobs (sha256, size, chunks, media, integrity, verdict, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET
            purged_at = NULL,
            media = coalesce(excluded.media, blobs.media),
            integrity = coalesce(excluded.integrity, blobs.integrity),
            verdict = coalesce(excluded.verdict, blobs.verdict)
        """

    /// Exhibits with their case reference and their blob's size, media and integrity (`CatalogRows.exhibit`).
    static let exhibitSelect = """
        SELECT e.*, c.reference AS case_reference, b.size AS size, b.media AS media, b.integrity AS integrity
        FROM exhibits e JOIN cases c ON c.id = e.case_id JOIN blobs b ON b.sha256 = e.blob
        """
}

/// The catalog's records from rows, for both databases.
enum CatalogRows {
    static func user(_ row: some CatalogRow) -> User {
        User(name: row["name"], fullName: row["full_name"], initials: row["initials"], role: row["role"], createdAt: row["created_at"],
             disabledAt: row["disabled_at"], disabledReason: row["disabled_reason"], tokenIssuedAt: row["token_issued_at"],
             tokenExpiresAt: row["token_expires_at"])
    }

    static let insertUser = """
        INSERT INTO users (name, full_name, initials, role, token_sha256, created_at, token_issued_at, token_expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func insertUserArguments(_ user: User, _ tokenSHA256: String) -> [String?] {
        [user.name, user.fullName, user.initials, user.role, tokenSHA256, user.createdAt, user.tokenIssuedAt, user.tokenExpiresAt]
    }

    /// Users can be disabled and their tokens reissued or given a lifetime (issue 24).
    static let usersDisabledAndTokensMigration = """
        ALTER TABLE users ADD COLUMN disabled_at TEXT;
        ALTER TABLE users ADD COLUMN disabled_reason TEXT;
        ALTER TABLE users ADD COLUMN token_issued_at TEXT;
        ALTER TABLE users ADD COLUMN token_expires_at TEXT;
        CREATE INDEX users_by_initials ON users(initials);
        """

    static func caseRecord(_ row: some CatalogRow) -> CaseRecord {
        CaseRecord(id: row["id"], reference: row["reference"], title: row["title"], createdBy: row["created_by"],
                   createdAt: row["created_at"], status: row["status"], statusAt: row["status_at"], releaseDate: row["release_date"],
                   retentionClass: row["retention_class"], statusVersion: row["status_version"])
    }

    /// From `CatalogSQL.exhibitSelect`.
    static func exhibit(_ row: some CatalogRow) -> ExhibitRecord {
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ column: String) -> T? {
            (row[column] as String?).flatMap { try? decoder.decode(T.self, from: Data($0.utf8)) }
        }
        var record = ExhibitRecord(
            id: row["id"], caseID: row["case_id"], caseReference: row["case_reference"], reference: row["reference"],
            filename: row["filename"], sha256: SHA256Digest(hex: row["blob"] as String)!, size: row["size"],
            uploadedBy: row["uploaded_by"], uploadedAt: row["uploaded_at"],
            integrity: decode(IntegrityReport.self, "integrity"), media: decode(MediaInfo.self, "media"),
            coverage: decode(TimeCoverage.self, "coverage"),
            masterID: row["master_id"], lineage: decode(Lineage.self, "lineage"),
            workingCopyStatus: row["working_copy_status"], workingCopyError: row["working_copy_error"])
        record.state = row["state"]
        if let requestedAt = row["deletion_requested_at"] as String? {
            record.deletion = ExhibitDeletion(
                requestedAt: requestedAt, requestedBy: row["deletion_requested_by"], reason: row["deletion_reason"],
                purgeAfter: row["purge_after"], purgedAt: row["purged_at"], purgedBy: row["purged_by"], purgeReason: row["purge_reason"])
        }
        return record
    }

    static func share(_ row: some CatalogRow) -> ShareRecord {
        ShareRecord(
            id: row["id"], exhibitID: row["exhibit"], createdBy: row["created_by"], createdAt: row["created_at"],
            expiresAt: row["expires_at"], maxDownloads: row["max_downloads"], downloads: row["downloads"],
            revokedAt: row["revoked_at"], recipient: row["recipient"], note: row["note"], keyID: row["key_id"] ?? "",
            revokedReason: row["revoked_reason"], playedBytes: row["played_bytes"] ?? 0)
    }

    /// Open uploads are counted (per owner and in all) before a new one is made.
    static let openUploadsIndex = "CREATE INDEX uploads_open_by_owner ON uploads(owner, expires_at) WHERE state = 'open'"

    /// Open, unexpired uploads of `owner` and in all, counted in the transaction that adds one.
    static let countOpenUploads = """
        SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN owner = ? THEN 1 ELSE 0 END), 0) AS BIGINT)
        FROM uploads WHERE state = 'open' AND expires_at > ?
        """

    /// Shares with what their links served through playback (`played_bytes`), summed from their views.
    static let shareSelect = """
        SELECT shares.*, (SELECT CAST(COALESCE(SUM(v.bytes), 0) AS BIGINT) FROM share_views v
                          WHERE v.share_id = shares.id AND v.kind = 'play') AS played_bytes FROM shares
        """

    static func viewSummary(_ row: some CatalogRow) -> ShareViewSummary {
        ShareViewSummary(
            shareID: row["share_id"], viewID: row["view_id"], kind: row["kind"], firstAt: row["first_at"], lastAt: row["last_at"],
            requests: row["requests"], bytes: row["bytes"], exhibitID: row["exhibit"], caseReference: row["case_ref"],
            client: row["client"])
    }

    static func hold(_ row: some CatalogRow) -> HoldRecord {
        HoldRecord(
            id: row["id"], caseID: row["case_id"], exhibitID: row["exhibit_id"], reason: row["reason"], setBy: row["set_by"],
            setAt: row["set_at"], releasedBy: row["released_by"], releasedAt: row["released_at"], releaseReason: row["release_reason"])
    }

    static func statusChange(_ row: some CatalogRow) -> CaseStatusChange {
        CaseStatusChange(status: row["status"], at: row["at"], releaseDate: row["release_date"], setBy: row["set_by"], setAt: row["set_at"])
    }

    static func upload(_ row: some CatalogRow) -> UploadRecord {
        UploadRecord(
            id: row["id"], owner: row["owner"], caseID: row["case_id"], filename: row["filename"], length: row["length"],
            offset: row["offset"], metadata: row["metadata"], expectedSHA256: row["expected_sha256"], timeInputs: row["time_inputs"],
            entries: UploadRecord.parseEntries(row["entries"]), tailStart: row["tail_start"], createdAt: row["created_at"],
            updatedAt: row["updated_at"], expiresAt: row["expires_at"], state: row["state"], exhibitID: row["exhibit_id"],
            error: row["error"], patches: row["patches"], resumptions: row["resumptions"], interrupted: row["interrupted"],
            client: row["client"])
    }
}
