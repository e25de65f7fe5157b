public import BlobStore
public import ExhibitCrypto
import Foundation

/// The application over one storage root: the blob store, and (as they land) the catalog and the custody ledger.
///
/// The CLI and the server both open one of these and call its use-cases; neither touches files or SQL itself.
public final class EvidenceStore: Sendable {
    /// The storage root (`Storage/` by default).
    public let root: String
    public let policies: Policies
    public let blobs: BlobStore
    public let backend: LocalBackend

    /// Opens the store at `root`, creating its folders when missing.
    public init(root: String, policies: Policies) throws {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.policies = policies
        self.backend = try LocalBackend(root: self.root)
        self.blobs = BlobStore(backend: backend, chunking: policies.storage.chunking)
        backend.removeStaleTemporaryFiles()
    }

    /// What storing one file produced.
    public struct StoredFile: Sendable, Codable {
        public let file: String
        public let sha256: SHA256Digest
        public let size: Int64
        public let chunks: Int
        public let newBytes: Int64

        enum CodingKeys: String, CodingKey {
            case file, sha256, size, chunks
            case newBytes = "new_bytes"
        }
    }

    /// Stores the bytes of a file in the blob store.
    public func storeFile(at path: String) async throws -> StoredFile {
        let bytes = try FileBytes(path: path)
        let result = try await blobs.put(bytes, sizeLimit: policies.storage.maxUploadSize)
        return StoredFile(
            file: path, sha256: result.blob.digest, size: result.blob.size, chunks: result.chunkCount,
            newBytes: result.newBytes)
    }
}
