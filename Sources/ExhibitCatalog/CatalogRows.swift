package import Custody
package import ExhibitCrypto
package import ExhibitModel
import Foundation
import MediaProbe

/// The catalog's records from rows, and the statements more than one method shares (one text for both databases).
package enum CatalogRows {
    package static func user(_ row: any CatalogRow) -> User {
        User(name: row["name"], fullName: row["full_name"], initials: row["initials"], role: row["role"], createdAt: row["created_at"],
             disabledAt: row["disabled_at"], disabledReason: row["disabled_reason"], tokenIssuedAt: row["token_issued_at"],
             tokenExpiresAt: row["token_expires_at"])
    }

    package static let insertUser = """
        INSERT INTO users (name, full_name, initials, role, token_sha256, created_at, token_issued_at, token_expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    package static func insertUserArguments(_ user: User, _ tokenSHA256: String) -> [any SQLValueConvertible] {
        [user.name, user.fullName, user.initials, user.role, tokenSHA256, user.createdAt, user.tokenIssuedAt, user.tokenExpiresAt]
    }

    package static func caseRecord(_ row: any CatalogRow) -> CaseRecord {
        CaseRecord(id: row["id"], reference: row["reference"], title: row["title"], createdBy: row["created_by"],
                   createdAt: row["created_at"], status: row["status"], statusAt: row["status_at"], releaseDate: row["release_date"],
                   retentionClass: row["retention_class"], statusVersion: row["status_version"])
    }

    /// Records a blob, or brings a purged one back with the probe results it had or now has.
    package static let upsertBlob = """
        INSERT INTO blobs (sha256, size, chunks, media, integrity, verdict, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET
            purged_at = NULL,
            media = coalesce(excluded.media, blobs.media),
            integrity = coalesce(excluded.integrity, blobs.integrity),
            verdict = coalesce(excluded.verdict, blobs.verdict)
        """

    /// Exhibits with their case reference and their blob's size, media and integrity (`exhibit(_:)`).
    package static let exhibitSelect = """
        SELECT e.*, c.reference AS case_reference, b.size AS size, b.media AS media, b.integrity AS integrity,
               r.reference AS request_reference, r.owner_name AS request_owner
        FROM exhibits e JOIN cases c ON c.id = e.case_id JOIN blobs b ON b.sha256 = e.blob
        LEFT JOIN footage_requests r ON r.id = e.request_id
        """

    /// What a blob column that is not 64 hex digits reads as (all zeros: no footage hashes to it, so scrub and every
    /// download report the mismatch).
    package static let unreadableDigest: SHA256Digest = {
        let zeros = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        return zeros.withUnsafeBytes { SHA256Digest(bytes: $0) }
    }()

    /// From `exhibitSelect`. JSON columns that do not decode read as absent (the record still lists).
    package static func exhibit(_ row: any CatalogRow) -> ExhibitRecord {
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ column: String) -> T? {
            (row[column] as String?).flatMap { try? decoder.decode(T.self, from: Data($0.utf8)) }
        }
        var record = ExhibitRecord(
            id: row["id"], caseID: row["case_id"], caseReference: row["case_reference"], reference: row["reference"],
            filename: row["filename"], sha256: SHA256Digest(hex: row["blob"] as String) ?? CatalogRows.unreadableDigest, size: row["size"],
            uploadedBy: row["uploaded_by"], uploadedAt: row["uploaded_at"],
            integrity: decode(IntegrityReport.self, "integrity"), media: decode(MediaInfo.self, "media"),
            coverage: decode(TimeCoverage.self, "coverage"),
            masterID: row["master_id"], lineage: decode(Lineage.self, "lineage"),
            workingCopyStatus: row["working_copy_status"], workingCopyError: row["working_copy_error"])
        record.state = row["state"]
        if let requestID = row["request_id"] as RequestID?, let reference = row["request_reference"] as String? {
            record.submittedThrough = SubmittedThrough(requestID: requestID, requestReference: reference, owner: row["request_owner"] ?? "")
        }
        if let requestedAt = row["deletion_requested_at"] as String? {
            record.deletion = ExhibitDeletion(
                requestedAt: requestedAt, requestedBy: row["deletion_requested_by"], reason: row["deletion_reason"],
                purgeAfter: row["purge_after"], purgedAt: row["purged_at"], purgedBy: row["purged_by"], purgeReason: row["purge_reason"])
        }
        return record
    }

    /// Shares with what their links served through playback (`played_bytes`), summed from their views.
    package static let shareSelect = """
        SELECT shares.*, (SELECT CAST(COALESCE(SUM(v.bytes), 0) AS BIGINT) FROM share_views v
                          WHERE v.share_id = shares.id AND v.kind = 'play') AS played_bytes FROM shares
        """

    package static func share(_ row: any CatalogRow) -> ShareRecord {
        ShareRecord(
            id: row["id"], exhibitID: row["exhibit"], createdBy: row["created_by"], createdAt: row["created_at"],
            expiresAt: row["expires_at"], maxDownloads: row["max_downloads"], downloads: row["downloads"],
            revokedAt: row["revoked_at"], recipient: row["recipient"], note: row["note"], keyID: row["key_id"] ?? "",
            revokedReason: row["revoked_reason"], playedBytes: row["played_bytes"] ?? 0)
    }

    /// Open, unexpired uploads of `owner` and in all, counted in the transaction that adds one.
    package static let countOpenUploads = """
        SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN owner = ? THEN 1 ELSE 0 END), 0) AS BIGINT)
        FROM uploads WHERE state = 'open' AND expires_at > ?
        """

    package static func viewSummary(_ row: any CatalogRow) -> ShareViewSummary {
        ShareViewSummary(
            shareID: row["share_id"], viewID: row["view_id"], kind: row["kind"], firstAt: row["first_at"], lastAt: row["last_at"],
            requests: row["requests"], bytes: row["bytes"], exhibitID: row["exhibit"], caseReference: row["case_ref"],
            client: row["client"])
    }

    package static func hold(_ row: any CatalogRow) -> HoldRecord {
        HoldRecord(
            id: row["id"], caseID: row["case_id"], exhibitID: row["exhibit_id"], reason: row["reason"], setBy: row["set_by"],
            setAt: row["set_at"], releasedBy: row["released_by"], releasedAt: row["released_at"], releaseReason: row["release_reason"])
    }

    package static func statusChange(_ row: any CatalogRow) -> CaseStatusChange {
        CaseStatusChange(status: row["status"], at: row["at"], releaseDate: row["release_date"], setBy: row["set_by"], setAt: row["set_at"])
    }

    package static func upload(_ row: any CatalogRow) -> UploadRecord {
        var upload = UploadRecord(
            id: row["id"], owner: row["owner"], caseID: row["case_id"], filename: row["filename"], length: row["length"],
            offset: row["offset"], metadata: row["metadata"], expectedSHA256: row["expected_sha256"], timeInputs: row["time_inputs"],
            entries: UploadRecord.parseEntries(row["entries"]), tailStart: row["tail_start"], createdAt: row["created_at"],
            updatedAt: row["updated_at"], expiresAt: row["expires_at"], state: row["state"], exhibitID: row["exhibit_id"],
            error: row["error"], patches: row["patches"], resumptions: row["resumptions"], interrupted: row["interrupted"],
            client: row["client"])
        upload.requestID = row["request_id"]
        return upload
    }

    /// From `SELECT seq, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash …`.
    package static func event(_ row: any CatalogRow) -> CustodyEvent {
        CustodyEvent(
            seq: row[0], at: row[1], actor: row[2], role: row[3], action: row[4], exhibit: row[5],
            caseReference: row[6], detailsJSON: row[7], client: row[8], prevHash: row[9], hash: row[10])
    }
}
