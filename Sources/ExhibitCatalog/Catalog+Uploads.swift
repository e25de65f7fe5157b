public import ExhibitCrypto
import BlobStore
public import ExhibitModel
public import NIOCore

/// Resumable uploads in progress (README, "Uploading"). An open upload's pending bytes (its *tail*, the bytes after
/// its last chunk boundary, under 4 MiB) are kept in the catalog with its progress, in one transaction: a crash
/// never leaves progress naming a tail that is not there, and any server sharing the catalog takes the upload on.
extension Catalog {
    /// Adds an upload unless its owner, or everyone, already has as many open as `limits` allow (`tooMany`).
    public func insertUpload(_ upload: UploadRecord, limits: OpenUploadLimits) async throws {
        try await write { db in try self.insertUpload(upload, limits: limits, in: db) }
    }

    func insertUpload(_ upload: UploadRecord, limits: OpenUploadLimits, in db: any CatalogSession) throws {
        let row = try db.fetchOne(CatalogRows.countOpenUploads, [upload.owner, upload.createdAt])
        try limits.check(all: row.map { $0[0] as Int64 } ?? 0, owner: row.map { $0[1] as Int64 } ?? 0, name: upload.owner)
        try db.execute(
            """
            INSERT INTO uploads (id, owner, case_id, filename, length, "offset", metadata, expected_sha256, time_inputs,
                                 entries, tail_start, created_at, updated_at, expires_at, state, client, request_id)
            VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, '', 0, ?, ?, ?, 'open', ?, ?)
            """,
            [upload.id, upload.owner, upload.caseID, upload.filename, upload.length, upload.metadata, upload.expectedSHA256,
             upload.timeInputs, upload.createdAt, upload.updatedAt, upload.expiresAt, upload.client, upload.requestID])
    }

    public func upload(id: UploadID) async throws -> UploadRecord? {
        try await read { db in try db.fetchOne("SELECT * FROM uploads WHERE id = ?", [id]).map(CatalogRows.upload) }
    }

    /// Records what an open upload has made durable (offset, chunks, tail start, counters) and, when given, its tail,
    /// in one transaction.
    public func saveUploadProgress(_ upload: UploadRecord, tail: ByteBuffer? = nil) async throws {
        try await write { db in
            let changed = try db.execute(
                """
                UPDATE uploads SET "offset" = ?, entries = ?, tail_start = ?, updated_at = ?, expires_at = ?, patches = ?,
                    resumptions = ?, interrupted = ?, client = ?
                WHERE id = ? AND state = 'open'
                """,
                [upload.offset, UploadRecord.encodeEntries(upload.entries), upload.tailStart, upload.updatedAt, upload.expiresAt,
                 upload.patches, upload.resumptions, upload.interrupted, upload.client, upload.id])
            guard changed == 1 else { throw ExhibitError(.conflict, "the upload is no longer open") }
            if let tail {
                try db.execute(
                    """
                    INSERT INTO upload_tails (upload_id, start, bytes) VALUES (?, ?, ?)
                    ON CONFLICT (upload_id) DO UPDATE SET start = excluded.start, bytes = excluded.bytes
                    """,
                    [upload.id, upload.tailStart, tail])
            }
        }
    }

    /// An open upload's tail and where it starts (nil when none was saved).
    public func uploadTail(id: UploadID) async throws -> (start: Int64, bytes: ByteBuffer)? {
        try await read { db in
            try db.fetchOne("SELECT start, bytes FROM upload_tails WHERE upload_id = ?", [id]).map {
                (start: $0["start"] as Int64, bytes: $0["bytes"] as ByteBuffer)
            }
        }
    }

    /// Ends an open upload (`failed`, `terminated`, `expired`); its tail goes with it.
    public func endUpload(id: UploadID, state: UploadState, error: String?) async throws {
        try await write { db in
            try db.execute("UPDATE uploads SET state = ?, error = ?, updated_at = ? WHERE id = ? AND state = 'open'", [state, error, self.timestamp, id])
            try db.execute("DELETE FROM upload_tails WHERE upload_id = ?", [id])
        }
    }

    public func expiredUploads(before time: String) async throws -> [UploadRecord] {
        try await read { db in
            try db.fetchAll("SELECT * FROM uploads WHERE state = 'open' AND expires_at <= ?", [time]).map(CatalogRows.upload)
        }
    }

    /// Chunks that open uploads have stored: garbage collection keeps them.
    public func openUploadChunks() async throws -> Set<SHA256Digest> {
        try await read { db in
            var chunks = Set<SHA256Digest>()
            try db.forEach("SELECT entries FROM uploads WHERE state = 'open'", []) { row in
                for entry in UploadRecord.parseEntries(row[0] as String) { chunks.insert(entry.chunk) }
            }
            return chunks
        }
    }
}
