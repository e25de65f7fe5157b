import BlobStore
import CatalogPostgres
import CatalogSQLite
public import Exhibit
import ExhibitCatalog
import ExhibitModel
public import ExhibitPolicies
public import Foundation
import S3Store

/// Opening a storage root: the one place that chooses backends (README, "Design"). A root records where its chunks
/// and its catalog live (`Deployment`); this makes the object backend, the database driver, the write leases and
/// the job locks that match, and hands them to the use-cases, which know none of them by name.
extension EvidenceStore {
    /// Opens the store at `root`, creating its folders, keys and (SQLite) database when missing. Chunks and the
    /// catalog live where the root recorded when it was made (`Deployment`); `chunks` and `catalog` choose those
    /// places for a new root, and must match them for an existing one. The secret keys are in `keys` when given
    /// (a folder several servers share), else in the root's `keys/`.
    public convenience init(
        root: String, policies: Policies, chunks requestedChunks: ChunkLocation? = nil, catalog requestedCatalog: CatalogLocation? = nil,
        keys keysFolder: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        let root = URL(fileURLWithPath: root).standardizedFileURL.path
        let local = try LocalBackend(root: root)
        let settled = try Deployment.settle(root: root, chunks: requestedChunks, catalog: requestedCatalog, environment: environment)
        let chunks = settled.deployment.chunks.objects(local: local)
        // Several servers of one deployment share one keys folder (`--keys`); one server keeps it in its root.
        let keys = try KeyRing.load(folder: keysFolder.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? root + "/keys")
        var parts: StoreParts
        switch settled.deployment.catalog {
        case .sqlite:
            let database = try SQLiteDatabase(path: root + "/exhibit.sqlite")
            parts = StoreParts(
                local: local, chunks: chunks, database: database, leases: LocalLeases(root: root),
                jobs: LocalJobs(), keys: keys, recordedNow: settled.recordedNow)
            parts.snapshots = database
        case .postgres(let location):
            let database = PostgresDatabase(location: location, sealKey: keys.sealKey)
            // Writers on any server must be seen by the collector on any other.
            parts = StoreParts(
                local: local, chunks: chunks, database: database,
                leases: PostgresLeases(database: database, staleAfter: policies.storage.uploadExpiry * 2),
                jobs: PostgresJobLocks(database: database), keys: keys, recordedNow: settled.recordedNow)
            parts.snapshots = PostgresSnapshots(database: database)
        }
        if !policies.custody.witnesses.isEmpty { parts.witnessTransport = WitnessHTTP() }
        self.init(root: root, policies: policies, deployment: settled.deployment, parts: parts, now: now)
    }
}

extension ChunkLocation {
    /// Where these chunks are read and written: the root's own folder (`local`), or the bucket.
    func objects(local: LocalBackend) -> any ObjectBackend {
        switch self {
        case .local: local
        case .s3(let location): S3Backend(location: location)
        }
    }
}
