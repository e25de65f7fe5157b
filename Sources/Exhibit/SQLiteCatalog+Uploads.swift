public import BlobStore
public import ExhibitCrypto
import Foundation
import GRDB

/// Resumable uploads in progress (README, "Uploading").
extension SQLiteCatalog {
    static let uploadsMigration = """
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL REFERENCES users(name),
            case_id TEXT NOT NULL REFERENCES cases(id),
            filename TEXT NOT NULL,
            length INTEGER NOT NULL CHECK (length >= 0),
            "offset" INTEGER NOT NULL DEFAULT 0,
            metadata TEXT NOT NULL,
            expected_sha256 TEXT,
            time_inputs TEXT,
            entries TEXT NOT NULL DEFAULT '',
            tail_start INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed', 'failed', 'terminated', 'expired')),
            exhibit_id TEXT,
            error TEXT,
            patches INTEGER NOT NULL DEFAULT 0,
            resumptions INTEGER NOT NULL DEFAULT 0,
            interrupted INTEGER NOT NULL DEFAULT 0,
            client TEXT
        );
        CREATE INDEX uploads_open ON uploads(state, expires_at);
        """

    static func upload(_ row: Row) -> UploadRecord { CatalogRows.upload(SQLiteRow(row)) }

    public func insertUpload(_ upload: UploadRecord, limits: OpenUploadLimits) async throws {
        try await write { db in
            let row = try Row.fetchOne(db, sql: CatalogRows.countOpenUploads, arguments: [upload.owner, upload.createdAt])
            try limits.check(all: (row?[0] as Int64?) ?? 0, owner: (row?[1] as Int64?) ?? 0, name: upload.owner)
            try db.execute(
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
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM uploads WHERE id = ?", arguments: [id]).map(Self.upload) }
    }

    public func saveUploadProgress(_ upload: UploadRecord) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE uploads SET "offset" = ?, entries = ?, tail_start = ?, updated_at = ?, expires_at = ?, patches = ?,
                        resumptions = ?, interrupted = ?, client = ?
                    WHERE id = ? AND state = 'open'
                    """,
                arguments: [upload.offset, UploadRecord.encodeEntries(upload.entries), upload.tailStart, upload.updatedAt,
                            upload.expiresAt, upload.patches, upload.resumptions, upload.interrupted, upload.client, upload.id])
            guard db.changesCount == 1 else { throw ExhibitError(.conflict, "the upload is no longer open") }
        }
    }

    public func endUpload(id: String, state: String, error: String?) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE uploads SET state = ?, error = ?, updated_at = ? WHERE id = ? AND state = 'open'",
                arguments: [state, error, self.timestamp, id])
        }
    }

    public func expiredUploads(before time: String) async throws -> [UploadRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM uploads WHERE state = 'open' AND expires_at <= ?", arguments: [time]).map(Self.upload)
        }
    }

    public func openUploadChunks() async throws -> Set<SHA256Digest> {
        try await read { db in
            var chunks = Set<SHA256Digest>()
            let cursor = try String.fetchCursor(db, sql: "SELECT entries FROM uploads WHERE state = 'open'")
            while let text = try cursor.next() {
                for entry in UploadRecord.parseEntries(text) { chunks.insert(entry.chunk) }
            }
            return chunks
        }
    }
}

/// A resumable (tus) upload: what has arrived, durably, and what it will become.
public struct UploadRecord: Sendable {
    public let id: String
    public let owner: String
    public let caseID: String
    public let filename: String
    /// The whole file's length (`Upload-Length`).
    public let length: Int64
    /// Bytes received and made durable.
    public var offset: Int64
    /// `Upload-Metadata` as sent.
    public let metadata: String
    /// The whole file's SHA-256 the client announced (hex), checked when the last byte arrives.
    public let expectedSHA256: String?
    /// Time-coverage inputs (JSON of `TimeCoverage.Inputs`).
    public let timeInputs: String?
    /// Chunks cut so far (in the store); the bytes after `tailStart` are in the tail file.
    public var entries: [Manifest.Entry]
    public var tailStart: Int64
    public let createdAt: String
    public var updatedAt: String
    public var expiresAt: String
    /// `open`, `completed`, `failed`, `terminated` or `expired`.
    public var state: String
    public var exhibitID: String?
    public var error: String?
    public var patches: Int
    /// PATCH requests that went on after an interruption (a request cut short, a server restart).
    public var resumptions: Int
    /// The last PATCH was cut short (or the server restarted since).
    public var interrupted: Bool
    public var client: String?

    static func parseEntries(_ text: String) -> [Manifest.Entry] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let digest = SHA256Digest(hex: parts[0]), let length = Int(parts[1]) else { return nil }
            return Manifest.Entry(chunk: digest, length: length)
        }
    }

    static func encodeEntries(_ entries: [Manifest.Entry]) -> String {
        entries.map { "\($0.chunk.hex) \($0.length)\n" }.joined()
    }
}
