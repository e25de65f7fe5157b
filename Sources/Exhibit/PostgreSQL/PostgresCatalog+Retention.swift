public import BlobStore
public import Custody
import NIOCore
public import ExhibitCrypto
import Foundation

/// Case outcomes, legal holds and the deletion of exhibits in PostgreSQL (the same statements as
/// `SQLiteCatalog+Retention`).
extension PostgresCatalog {
    public func setCaseStatus(
        caseID: String, change: CaseStatusChange, retentionClass: ClassChange, event: CustodyEvent.Draft
    ) async throws -> CaseRecord {
        try await write { db in
            guard try await db.exists(sql: "SELECT 1 FROM cases WHERE id = ?", arguments: [caseID]) else {
                throw ExhibitError(.notFound, "no case \(caseID)")
            }
            try await db.execute(
                sql: "INSERT INTO case_statuses (case_id, status, at, release_date, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [caseID, change.status, change.at, change.releaseDate, change.setBy, change.setAt])
            try await db.execute(
                sql: "UPDATE cases SET status = ?, status_at = ?, release_date = ?, status_version = status_version + 1 WHERE id = ?",
                arguments: [change.status, change.at, change.releaseDate, caseID])
            if case .set(let name) = retentionClass {
                try await db.execute(sql: "UPDATE cases SET retention_class = ? WHERE id = ?", arguments: [name, caseID])
            }
            _ = try await self.append(event, in: db)
            return Self.caseRecord(try await db.fetchOne(sql: "SELECT * FROM cases WHERE id = ?", arguments: [caseID])!)
        }
    }

    public func statusHistory(caseID: String) async throws -> [CaseStatusChange] {
        try await read { db in
            try await db.fetchAll(sql: "SELECT * FROM case_statuses WHERE case_id = ? ORDER BY id", arguments: [caseID])
                .map(CatalogRows.statusChange)
        }
    }

    // MARK: Holds

    static func hold(_ row: PGRow) -> HoldRecord { CatalogRows.hold(row) }

    public func insertHold(_ hold: HoldRecord, event: CustodyEvent.Draft) async throws {
        try await write { db in
            if try await db.exists(
                sql: "SELECT 1 FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id = ?)",
                arguments: [hold.caseID, hold.exhibitID]) {
                throw ExhibitError(.conflict, "a legal hold already stands there (release it first to change its reason)")
            }
            if let exhibitID = hold.exhibitID,
               try await db.scalar(String.self, sql: "SELECT state FROM exhibits WHERE id = ?", arguments: [exhibitID]) == "purged" {
                throw ExhibitError(.gone, "the exhibit was purged: there is nothing left to hold")
            }
            try await db.execute(
                sql: "INSERT INTO holds (id, case_id, exhibit_id, reason, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [hold.id, hold.caseID, hold.exhibitID, hold.reason, hold.setBy, hold.setAt])
            _ = try await self.append(event, in: db)
        }
    }

    public func releaseHold(
        caseID: String?, exhibitID: String?, by user: String, reason: String?,
        event: @escaping @Sendable (HoldRecord) -> CustodyEvent.Draft
    ) async throws -> HoldRecord {
        try await write { db in
            guard let row = try await db.fetchOne(
                sql: "SELECT * FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id = ?)",
                arguments: [caseID, exhibitID])
            else { throw ExhibitError(.notFound, "no legal hold stands there") }
            let now = self.timestamp
            try await db.execute(
                sql: "UPDATE holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?",
                arguments: [user, now, reason, row["id"] as String])
            var hold = Self.hold(row)
            hold.releasedBy = user
            hold.releasedAt = now
            hold.releaseReason = reason
            _ = try await self.append(event(hold), in: db)
            return hold
        }
    }

    public func standingHolds() async throws -> [HoldRecord] {
        try await read { db in try await db.fetchAll(sql: "SELECT * FROM holds WHERE released_at IS NULL ORDER BY set_at").map(Self.hold) }
    }

    public func holds(caseID: String?, exhibitIDs: [String]) async throws -> [HoldRecord] {
        try await read { db in
            let marks = exhibitIDs.isEmpty ? "NULL" : exhibitIDs.map { _ in "?" }.joined(separator: ",")
            return try await db.fetchAll(
                sql: "SELECT * FROM holds WHERE case_id = ? OR exhibit_id IN (\(marks)) ORDER BY set_at",
                arguments: [caseID] + exhibitIDs.map { $0 as (any PGBindable)? }).map(Self.hold)
        }
    }

    // MARK: Deletion

    /// Refuses (conflict) when, inside the transaction, the case changed status since the plan was made or a hold
    /// now stands on the case or any of `ids`.
    private func check(_ guardState: RetentionGuard, ids: [String], in db: PGSession) async throws {
        let version = try await db.scalar(Int.self, sql: "SELECT status_version FROM cases WHERE id = ?", arguments: [guardState.caseID])
        guard version == guardState.statusVersion else {
            throw ExhibitError(.conflict, "the case's status changed since the plan was made")
        }
        let marks = ids.map { _ in "?" }.joined(separator: ",")
        let held = try await db.exists(
            sql: "SELECT 1 FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id IN (\(marks)))",
            arguments: [guardState.caseID] + ids.map { $0 as (any PGBindable)? })
        guard !held else { throw ExhibitError(.conflict, "a legal hold now stands on it") }
    }

    private func states(_ ids: [String], in db: PGSession) async throws -> [String: String] {
        let marks = ids.map { _ in "?" }.joined(separator: ",")
        var states: [String: String] = [:]
        for row in try await db.fetchAll(sql: "SELECT id, state FROM exhibits WHERE id IN (\(marks))", arguments: ids) {
            states[row["id"]] = row["state"]
        }
        return states
    }

    public func scheduleDeletion(
        _ ids: [String], guard guardState: RetentionGuard, deletion: ExhibitDeletion, events: [CustodyEvent.Draft]
    ) async throws {
        try await write { db in
            try await self.check(guardState, ids: ids, in: db)
            guard try await self.states(ids, in: db).values.allSatisfy({ $0 == "live" }) else {
                throw ExhibitError(.conflict, "not every exhibit is live any more")
            }
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            let arguments: [(any PGBindable)?] = [deletion.requestedAt, deletion.requestedBy, deletion.reason, deletion.purgeAfter]
            try await db.execute(
                sql: """
                    UPDATE exhibits SET state = 'pending-deletion', deletion_requested_at = ?, deletion_requested_by = ?,
                        deletion_reason = ?, purge_after = ? WHERE id IN (\(marks))
                    """,
                arguments: arguments + ids.map { $0 as (any PGBindable)? })
            for event in events { _ = try await self.append(event, in: db) }
        }
    }

    public func restoreExhibits(_ ids: [String], events: [CustodyEvent.Draft]) async throws {
        try await write { db in
            guard try await self.states(ids, in: db).values.allSatisfy({ $0 == "pending-deletion" }) else {
                throw ExhibitError(.conflict, "only an exhibit pending deletion can be restored (a purged one is gone)")
            }
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            try await db.execute(
                sql: """
                    UPDATE exhibits SET state = 'live', deletion_requested_at = NULL, deletion_requested_by = NULL,
                        deletion_reason = NULL, purge_after = NULL WHERE id IN (\(marks))
                    """,
                arguments: ids)
            for event in events { _ = try await self.append(event, in: db) }
        }
    }

    public func purgeExhibits(
        _ ids: [String], guard guardState: RetentionGuard, by user: String, reason: String,
        makeEvent: @escaping @Sendable (ExhibitRecord, PurgeEffect) -> CustodyEvent.Draft
    ) async throws -> [SHA256Digest] {
        try await write { db in
            try await self.check(guardState, ids: ids, in: db)
            let now = self.timestamp
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            let records = try await db.fetchAll(sql: Self.exhibitSelect + " WHERE e.id IN (\(marks))", arguments: ids).map(Self.exhibit)
            guard records.count == ids.count, records.allSatisfy({ $0.state == "pending-deletion" }) else {
                throw ExhibitError(.conflict, "not every exhibit is pending deletion any more")
            }
            guard records.allSatisfy({ ($0.deletion?.purgeAfter ?? "9") <= now }) else {
                throw ExhibitError(.conflict, "the grace period has not ended")
            }
            let arguments: [(any PGBindable)?] = [now, user, reason]
            try await db.execute(
                sql: "UPDATE exhibits SET state = 'purged', purged_at = ?, purged_by = ?, purge_reason = ? WHERE id IN (\(marks))",
                arguments: arguments + ids.map { $0 as (any PGBindable)? })
            var freed: [SHA256Digest] = []
            for record in records {
                let revoked = try await db.changes(
                    sql: "UPDATE shares SET revoked_at = ?, revoked_reason = 'purged' WHERE exhibit = ? AND revoked_at IS NULL",
                    arguments: [now, record.id])
                // The footage goes only when no exhibit that is not purged (in this case or any other) still uses it.
                let inUse = try await db.exists(
                    sql: "SELECT 1 FROM exhibits WHERE blob = ? AND state <> 'purged'", arguments: [record.sha256.hex])
                if !inUse && !freed.contains(record.sha256) {
                    try await db.execute(sql: "UPDATE blobs SET purged_at = ? WHERE sha256 = ?", arguments: [now, record.sha256.hex])
                    freed.append(record.sha256)
                }
                _ = try await self.append(makeEvent(record, PurgeEffect(sharesRevoked: revoked, footageFreed: !inUse)), in: db)
            }
            return freed
        }
    }

    public func liveBlobs() async throws -> Set<SHA256Digest> {
        try await read { db in
            var live = Set<SHA256Digest>()
            try await db.forEach(sql: "SELECT sha256 FROM blobs WHERE purged_at IS NULL") { row in
                if let digest = SHA256Digest(hex: row[0] as String) { live.insert(digest) }
            }
            return live
        }
    }

    // MARK: Resumable uploads

    static func upload(_ row: PGRow) -> UploadRecord { CatalogRows.upload(row) }

    public func insertUpload(_ upload: UploadRecord, limits: OpenUploadLimits) async throws {
        try await write { db in
            let row = try await db.fetchOne(sql: CatalogRows.countOpenUploads, arguments: [upload.owner, upload.createdAt])
            try limits.check(all: row.map { $0[0] as Int64 } ?? 0, owner: row.map { $0[1] as Int64 } ?? 0, name: upload.owner)
            try await db.execute(
                sql: """
                    INSERT INTO uploads (id, owner, case_id, filename, length, "offset", metadata, expected_sha256, time_inputs,
                                         entries, tail_start, created_at, updated_at, expires_at, state, client)
                    VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, '', 0, ?, ?, ?, 'open', ?)
                    """,
                arguments: [upload.id, upload.owner, upload.caseID, upload.filename, upload.length, upload.metadata,
                            upload.expectedSHA256, upload.timeInputs, upload.createdAt, upload.updatedAt, upload.expiresAt, upload.client])
        }
    }

    public func upload(id: String) async throws -> UploadRecord? {
        try await read { db in try await db.fetchOne(sql: "SELECT * FROM uploads WHERE id = ?", arguments: [id]).map(Self.upload) }
    }

    /// The progress and the tail it names, in one transaction.
    func saveUploadProgress(_ upload: UploadRecord, tail: ByteBuffer) async throws {
        try await write { db in
            try await self.updateUploadProgress(upload, in: db)
            try await db.execute(
                sql: """
                    INSERT INTO upload_tails (upload_id, start, bytes) VALUES (?, ?, ?)
                    ON CONFLICT (upload_id) DO UPDATE SET start = excluded.start, bytes = excluded.bytes
                    """,
                arguments: [upload.id, upload.tailStart, tail])
        }
    }

    public func saveUploadProgress(_ upload: UploadRecord) async throws {
        try await write { db in try await self.updateUploadProgress(upload, in: db) }
    }

    private func updateUploadProgress(_ upload: UploadRecord, in db: PGSession) async throws {
        let changed = try await db.changes(
            sql: """
                UPDATE uploads SET "offset" = ?, entries = ?, tail_start = ?, updated_at = ?, expires_at = ?, patches = ?,
                    resumptions = ?, interrupted = ?, client = ?
                WHERE id = ? AND state = 'open'
                """,
            arguments: [upload.offset, UploadRecord.encodeEntries(upload.entries), upload.tailStart, upload.updatedAt,
                        upload.expiresAt, upload.patches, upload.resumptions, upload.interrupted, upload.client, upload.id])
        guard changed == 1 else { throw ExhibitError(.conflict, "the upload is no longer open") }
    }

    public func endUpload(id: String, state: String, error: String?) async throws {
        try await write { db in
            try await db.execute(
                sql: "UPDATE uploads SET state = ?, error = ?, updated_at = ? WHERE id = ? AND state = 'open'",
                arguments: [state, error, self.timestamp, id])
        }
    }

    public func expiredUploads(before time: String) async throws -> [UploadRecord] {
        try await read { db in
            try await db.fetchAll(sql: "SELECT * FROM uploads WHERE state = 'open' AND expires_at <= ?", arguments: [time]).map(Self.upload)
        }
    }

    public func openUploadChunks() async throws -> Set<SHA256Digest> {
        try await read { db in
            var chunks = Set<SHA256Digest>()
            try await db.forEach(sql: "SELECT entries FROM uploads WHERE state = 'open'") { row in
                for entry in UploadRecord.parseEntries(row[0]) { chunks.insert(entry.chunk) }
            }
            return chunks
        }
    }

    // MARK: Upload tails

    func uploadTail(id: String) async throws -> (start: Int64, bytes: ByteBuffer)? {
        try await read { db in
            try await db.fetchOne(sql: "SELECT start, bytes FROM upload_tails WHERE upload_id = ?", arguments: [id]).map {
                (start: $0["start"] as Int64, bytes: $0["bytes"] as ByteBuffer)
            }
        }
    }

    func removeUploadTail(id: String) async throws {
        try await read { db in try await db.execute(sql: "DELETE FROM upload_tails WHERE upload_id = ?", arguments: [id]) }
    }
}
