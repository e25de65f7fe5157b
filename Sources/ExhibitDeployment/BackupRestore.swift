import BlobStore
import CatalogSQLite
public import Custody
public import Exhibit
import ExhibitCatalog
import ExhibitCrypto
import ExhibitModel
public import ExhibitPolicies
import Foundation
import NIOCore

/// Restoring a store from a backup target, and checking a target (README, "Backups"). Here, not in `Exhibit`,
/// because both open catalog files themselves, and a restore may make a PostgreSQL catalog.
public enum BackupRestore {
    /// Rebuilds a storage root at `newRoot` (which must not exist, or be empty) from backup `id` (the latest when
    /// nil) in `target`: the keys (sealed in the backup, or from `keysFolder`), every chunk and manifest its
    /// exhibits need, each re-hashed, into the root or the bucket `chunks` names, then the catalog snapshot (as
    /// the root's SQLite file, or moved into the empty PostgreSQL database `catalog` names); then records
    /// `store.restored` in the restored ledger as `user`, and signs a checkpoint.
    public static func restore(
        from target: any BackupTarget, at id: String?, to newRoot: String, chunks: ChunkLocation? = nil, catalog: CatalogLocation? = nil,
        passphrase: String?, keysFolder: String?, policies: Policies, as user: String, client: String
    ) async throws -> (record: Backups.Record, event: CustodyEvent) {
        let newRoot = URL(fileURLWithPath: newRoot).standardizedFileURL.path
        let backups = try await Backups.list(target)
        guard let found = id.map({ id in backups.first { $0.record.id == id } }) ?? backups.last else {
            throw ExhibitError(.notFound, id.map { "no backup \($0) in \(target) (exhibit backup list \(target))" } ?? "no backup in \(target)")
        }
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: newRoot), !contents.isEmpty {
            throw ExhibitError(.conflict, "\(newRoot) is not empty: a store is restored into a new, empty folder")
        }
        let scratch = NSTemporaryDirectory() + "/exhibit-restore-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let snapshot = try await Backups.catalog(of: found, in: target, scratch: scratch)
        try FileManager.default.createDirectory(atPath: newRoot, withIntermediateDirectories: true)
        do {
            // The keys first: without them the restored ledger's seals and links cannot be checked.
            let ring = try await placeKeys(of: found, among: backups, in: target, passphrase: passphrase, keysFolder: keysFolder, into: newRoot)
            // What the newest backup records as purged stays purged: its footage has left the backups.
            let contents = try SQLiteDatabase.contents(ofSnapshotAt: snapshot)
            let newest = backups[backups.count - 1]
            let tombstones = newest.record.id == found.record.id
                ? contents.tombstones
                : try SQLiteDatabase.contents(ofSnapshotAt: try await Backups.catalog(of: newest, in: target, scratch: scratch)).tombstones
            // The footage before the catalog: a catalog never names a blob the store lacks.
            let destination = (chunks ?? .local).objects(local: try LocalBackend(root: newRoot))
            try await destination.checkAvailable()
            _ = try await Backups.copy(
                contents.exhibitBlobs.filter { !tombstones.freedBlobs.contains($0) }, uploads: contents.openUploads, from: target.objects,
                to: destination)
            try await placeCatalog(snapshot, at: catalog ?? .sqlite, root: newRoot, keys: ring)
            let store = try EvidenceStore(root: newRoot, policies: policies, chunks: chunks ?? .local, catalog: catalog ?? .sqlite)
            let actor = try await store.actor(named: user, client: client)
            if newest.record.id != found.record.id {
                _ = try await store.applyTombstones(tombstones, recordedIn: newest.record.id, by: actor)
            }
            let event = try await store.recordRestore(found.record, from: target.description, by: actor)
            return (found.record, event)
        } catch {
            try? FileManager.default.removeItem(atPath: newRoot)
            throw error
        }
    }

    /// The catalog snapshot as the root's SQLite file, or moved into an empty PostgreSQL database in one
    /// transaction (all or nothing; refused when the database holds a catalog).
    static func placeCatalog(_ snapshot: String, at catalog: CatalogLocation, root newRoot: String, keys ring: KeyRing) async throws {
        switch catalog {
        case .sqlite:
            try DurableFile.copy(snapshot, to: newRoot + "/exhibit.sqlite")
        case .postgres(let location):
            let moved = try await CatalogMove.sqliteToPostgres(path: snapshot, to: location, keys: ring)
            guard moved.targetHead == moved.sourceHead else {
                throw ExhibitError(.storage, "the ledger's head in PostgreSQL differs from the backup's")
            }
        }
    }

    /// Puts the backup's keys into `newRoot/keys` (unsealed with the passphrase, or copied from a folder kept
    /// elsewhere) and checks they are the backup's.
    static func placeKeys(
        of found: Backups.Found, among backups: [Backups.Found], in target: any BackupTarget, passphrase: String?, keysFolder: String?,
        into newRoot: String
    ) async throws -> KeyRing {
        if found.record.sealedKeys, let passphrase {
            guard let sealed = try await target.read(found.folder + "keys.sealed", limit: Backups.smallFileLimit) else {
                throw ExhibitError(.damaged, "backup \(found.record.id): its keys.sealed is missing")
            }
            try KeyRing.unarchive(try PassphraseBox.open([UInt8](sealed), passphrase: passphrase), into: newRoot + "/keys")
        } else if let keysFolder {
            try FileManager.default.copyItem(atPath: keysFolder, toPath: newRoot + "/keys")
        } else {
            let withKeys = backups.last { $0.record.sealedKeys }?.record.id
            throw ExhibitError(.badRequest, found.record.sealedKeys
                ? "the backup's keys are sealed: give the passphrase (--passphrase-file)"
                : "backup \(found.record.id) holds no secret keys (made without --include-keys): give the keys folder kept elsewhere (--keys-from DIR)"
                    + (withKeys.map { ", or restore backup \($0), which holds them sealed (--at \($0) --passphrase-file)" } ?? ""))
        }
        let ring = try KeyRing.load(folder: newRoot + "/keys")
        guard ring.custodyPublicKey == found.publicKey else {
            throw ExhibitError(.badRequest, "the keys given are not this store's: their custody key is not the backup's")
        }
        return ring
    }

    /// What `verify` found.
    public struct Report: Sendable {
        public var backups = 0
        public var chunks = 0
        public var bytes: Int64 = 0
        public var problems: [String] = []
        public var proved: [String] = []
    }

    /// Re-hashes every chunk in `target`, checks that every backup's record is signed, its catalog matches its
    /// SHA-256, its ledger's tree has the signed root, each needed manifest and chunk is there, and that each
    /// backup's ledger extends the one before it (an RFC 9162 consistency proof).
    public static func verify(_ target: any BackupTarget) async throws -> Report {
        var report = Report()
        let backups = try await Backups.list(target)
        report.backups = backups.count
        let scratch = NSTemporaryDirectory() + "/exhibit-backup-verify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await rehashChunks(of: target.objects, into: &report)
        // Each backup on its own, then against the one before. Footage the newest backup records as purged has
        // left the target on purpose: older backups are not faulted for lacking it. The newest catalog is fetched
        // (from a bucket, downloaded) once, for its tombstones and again as itself.
        var newestCatalog: String?
        if let newest = backups.last { newestCatalog = try? await Backups.catalog(of: newest, in: target, scratch: scratch) }
        let freed = try newestCatalog.map { try SQLiteDatabase.contents(ofSnapshotAt: $0).tombstones.freedBlobs } ?? []
        if !freed.isEmpty { report.proved.append("\(freed.count) purged blob(s) left the backups under the retention policy") }
        var previous: (Backups.Found, TreeHead)?
        for found in backups {
            let record = found.record
            guard found.publicKey == backups[0].publicKey else {
                report.problems.append("backup \(record.id) is signed by another custody key than the first backup's")
                continue
            }
            let path: String
            do {
                if record.id == backups.last?.record.id, let newestCatalog {
                    path = newestCatalog
                } else {
                    path = try await Backups.catalog(of: found, in: target, scratch: scratch)
                }
            } catch {
                report.problems.append("backup \(record.id): its catalog does not match the SHA-256 of its signed record, or is missing")
                continue
            }
            let note = try SignedNote(parsing: record.checkpoint)
            let head = try TreeHead(parsing: note.text)
            guard try note.check(try Checkpoint.logKey(origin: head.origin, publicKey: found.publicKey)) != nil, head.size == record.treeSize else {
                report.problems.append("backup \(record.id): its checkpoint is not signed by the store's key")
                continue
            }
            report.problems += try await missingObjects(of: found, snapshot: path, freed: freed, in: target.objects)
            if try await checkLedger(of: found, head: head, snapshot: path, after: previous, scratch: scratch, into: &report) {
                previous = (found, head)
            }
        }
        return report
    }

    /// Every chunk in `objects` hashed against its name.
    static func rehashChunks(of objects: any ObjectBackend, into report: inout Report) async throws {
        for try await key in objects.keys(.chunk) {
            guard let size = try await objects.size(of: key) else { continue }
            let bytes = try await objects.read(key, offset: 0, length: Int(size))
            let actual = bytes.withUnsafeReadableBytes { SHA256.hash($0) }
            report.chunks += 1
            report.bytes += size
            if actual != key.digest { report.problems.append("chunk \(key.digest.hex) does not match its name (it reads as \(actual.hex))") }
        }
    }

    /// What a backup needs and the target lacks: the manifests of its exhibits' footage (but what `freed` says
    /// was purged since) and their chunks, and the chunks its open uploads had stored.
    static func missingObjects(
        of found: Backups.Found, snapshot path: String, freed: Set<SHA256Digest>, in objects: any ObjectBackend
    ) async throws -> [String] {
        var problems: [String] = []
        let id = found.record.id
        let contents = try SQLiteDatabase.contents(ofSnapshotAt: path)
        for blob in contents.exhibitBlobs where !freed.contains(blob) {
            guard let size = try await objects.size(of: .manifest(blob)) else {
                problems.append("backup \(id): the manifest of blob \(blob.hex) is missing")
                continue
            }
            let manifest = try Manifest(parsing: try await objects.read(.manifest(blob), offset: 0, length: Int(size)))
            for entry in manifest.entries where try await objects.size(of: .chunk(entry.chunk)) != Int64(entry.length) {
                problems.append("backup \(id): chunk \(entry.chunk.hex) of blob \(blob.hex) is missing or truncated")
            }
        }
        for entry in contents.openUploads where try await objects.size(of: .chunk(entry.chunk)) != Int64(entry.length) {
            problems.append("backup \(id): chunk \(entry.chunk.hex) of an open upload is missing or truncated")
        }
        return problems
    }

    /// Whether the backup's ledger has the Merkle root its checkpoint signs (false: a problem is reported), and,
    /// after `previous`, that it extends that backup's ledger.
    static func checkLedger(
        of found: Backups.Found, head: TreeHead, snapshot path: String, after previous: (Backups.Found, TreeHead)?, scratch: String,
        into report: inout Report
    ) async throws -> Bool {
        let id = found.record.id
        // Opened from a copy: opening a catalog runs migrations, and a backup never changes.
        let copy = scratch + "/verify-" + id + ".sqlite"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        if path.hasPrefix(scratch) { try? FileManager.default.removeItem(atPath: path) }
        let catalog = Catalog(database: try SQLiteDatabase(path: copy), sealKey: [])
        guard try await catalog.treeRoot(size: head.size) == head.root else {
            report.problems.append("backup \(id): its ledger's Merkle root is not the one its checkpoint signs")
            return false
        }
        if let (older, olderHead) = previous {
            do {
                let proof = olderHead.size < head.size ? try await catalog.consistencyProof(from: olderHead.size, to: head.size) : []
                try Merkle.verifyConsistency(from: olderHead.size, to: head.size, fromRoot: olderHead.root, toRoot: head.root, proof: proof)
                report.proved.append("backup \(id)'s ledger (\(head.size) events) extends backup \(older.record.id)'s (\(olderHead.size))")
            } catch {
                report.problems.append("backup \(id)'s ledger does not extend backup \(older.record.id)'s: \(error)")
            }
        }
        return true
    }
}
