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

/// Restoring a store from a backup folder, and checking such a folder (README, "Backups"). Here, not in
/// `Exhibit`, because both open catalog files themselves.
public enum BackupRestore {
    /// Rebuilds a storage root at `newRoot` (which must not exist, or be empty) from backup `id` (the latest when
    /// nil) in `target`: the catalog snapshot, the keys (sealed in the backup, or from `keysFolder`), and every
    /// chunk and manifest its exhibits need, each re-hashed; then records `store.restored` in the restored ledger
    /// as `user`, and signs a checkpoint.
    public static func restore(
        from target: String, at id: String?, to newRoot: String, passphrase: String?, keysFolder: String?, policies: Policies,
        as user: String, client: String
    ) async throws -> (record: Backups.Record, event: CustodyEvent) {
        let target = URL(fileURLWithPath: target).standardizedFileURL.path
        let newRoot = URL(fileURLWithPath: newRoot).standardizedFileURL.path
        let backups = try Backups.list(target)
        guard let found = id.map({ id in backups.first { $0.record.id == id } }) ?? backups.last else {
            throw ExhibitError(.notFound, id.map { "no backup \($0) in \(target) (exhibit backup list \(target))" } ?? "no backup in \(target)")
        }
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: newRoot), !contents.isEmpty {
            throw ExhibitError(.conflict, "\(newRoot) is not empty: a store is restored into a new, empty folder")
        }
        let (catalogDigest, _) = try Backups.sha256(ofFile: found.folder + "/catalog.sqlite")
        guard catalogDigest.hex == found.record.catalogSHA256 else {
            throw ExhibitError(.damaged, "backup \(found.record.id): its catalog does not match the SHA-256 its signed record gives: it was changed")
        }
        try FileManager.default.createDirectory(atPath: newRoot, withIntermediateDirectories: true)
        do {
            // The keys first: without them the restored ledger's seals and links cannot be checked.
            if found.record.sealedKeys, let passphrase {
                let sealed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: found.folder + "/keys.sealed")))
                try KeyRing.unarchive(try PassphraseBox.open(sealed, passphrase: passphrase), into: newRoot + "/keys")
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
            try DurableFile.replace(newRoot + "/exhibit.sqlite", with: try Data(contentsOf: URL(fileURLWithPath: found.folder + "/catalog.sqlite")), mode: 0o600)
            // What the newest backup records as purged stays purged: its footage has left the backups.
            let newest = backups[backups.count - 1]
            let tombstones = try SQLiteDatabase.tombstones(inSnapshotAt: newest.folder + "/catalog.sqlite")
            let freed = Set(tombstones.freedBlobs)
            let digests = try SQLiteDatabase.exhibitBlobs(inSnapshotAt: newRoot + "/exhibit.sqlite").filter { !freed.contains($0) }
                .compactMap { SHA256Digest(hex: $0) }
            _ = try await Backups.copy(digests, from: try LocalBackend(root: target), to: try LocalBackend(root: newRoot))
            let store = try EvidenceStore(root: newRoot, policies: policies, chunks: .local, catalog: .sqlite)
            let actor = try await store.actor(named: user, client: client)
            if newest.record.id != found.record.id {
                _ = try await store.applyTombstones(tombstones, recordedIn: newest.record.id, by: actor)
            }
            let event = try await store.recordRestore(found.record, from: target, by: actor)
            return (found.record, event)
        } catch {
            try? FileManager.default.removeItem(atPath: newRoot)
            throw error
        }
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
    public static func verify(_ target: String) async throws -> Report {
        var report = Report()
        let backups = try Backups.list(target)
        report.backups = backups.count
        let objects = try LocalBackend(root: target)
        // 1. Every chunk hashes to its name.
        for try await key in objects.keys(.chunk) {
            guard let size = try await objects.size(of: key) else { continue }
            let bytes = try await objects.read(key, offset: 0, length: Int(size))
            let actual = bytes.withUnsafeReadableBytes { SHA256.hash($0) }
            report.chunks += 1
            report.bytes += size
            if actual != key.digest { report.problems.append("chunk \(key.digest.hex) does not match its name (it reads as \(actual.hex))") }
        }
        // 2. Each backup on its own, then against the one before. Footage the newest backup records as purged
        // has left the folder on purpose: older backups are not faulted for lacking it.
        let freed = try backups.last.map { Set(try SQLiteDatabase.tombstones(inSnapshotAt: $0.folder + "/catalog.sqlite").freedBlobs) } ?? []
        if !freed.isEmpty { report.proved.append("\(freed.count) purged blob(s) left the folder under the retention policy") }
        var previous: (Backups.Found, TreeHead)?
        for found in backups {
            let record = found.record
            guard found.publicKey == backups[0].publicKey else {
                report.problems.append("backup \(record.id) is signed by another custody key than the first backup's")
                continue
            }
            let (digest, _) = try Backups.sha256(ofFile: found.folder + "/catalog.sqlite")
            guard digest.hex == record.catalogSHA256 else {
                report.problems.append("backup \(record.id): its catalog does not match the SHA-256 of its signed record")
                continue
            }
            let note = try SignedNote(parsing: record.checkpoint)
            let head = try TreeHead(parsing: note.text)
            guard try note.check(try Checkpoint.logKey(origin: head.origin, publicKey: found.publicKey)) != nil, head.size == record.treeSize else {
                report.problems.append("backup \(record.id): its checkpoint is not signed by the store's key")
                continue
            }
            let digests = try SQLiteDatabase.exhibitBlobs(inSnapshotAt: found.folder + "/catalog.sqlite").filter { !freed.contains($0) }
                .compactMap { SHA256Digest(hex: $0) }
            for blob in digests {
                guard let size = try await objects.size(of: .manifest(blob)) else {
                    report.problems.append("backup \(record.id): the manifest of blob \(blob.hex) is missing")
                    continue
                }
                let manifest = try Manifest(parsing: try await objects.read(.manifest(blob), offset: 0, length: Int(size)))
                for entry in manifest.entries where try await objects.size(of: .chunk(entry.chunk)) != Int64(entry.length) {
                    report.problems.append("backup \(record.id): chunk \(entry.chunk.hex) of blob \(blob.hex) is missing or truncated")
                }
            }
            // The snapshot's tree, opened from a copy (opening a catalog runs migrations; the backup never changes).
            let copy = NSTemporaryDirectory() + "/exhibit-verify-" + record.id + ".sqlite"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: found.folder + "/catalog.sqlite", toPath: copy)
            defer { try? FileManager.default.removeItem(atPath: copy) }
            let catalog = Catalog(database: try SQLiteDatabase(path: copy), sealKey: [])
            if try await catalog.treeRoot(size: head.size) != head.root {
                report.problems.append("backup \(record.id): its ledger's Merkle root is not the one its checkpoint signs")
                continue
            }
            if let (older, olderHead) = previous {
                do {
                    let proof = olderHead.size < head.size ? try await catalog.consistencyProof(from: olderHead.size, to: head.size) : []
                    try Merkle.verifyConsistency(from: olderHead.size, to: head.size, fromRoot: olderHead.root, toRoot: head.root, proof: proof)
                    report.proved.append("backup \(record.id)'s ledger (\(head.size) events) extends backup \(older.record.id)'s (\(olderHead.size))")
                } catch {
                    report.problems.append("backup \(record.id)'s ledger does not extend backup \(older.record.id)'s: \(error)")
                }
            }
            previous = (found, head)
        }
        return report
    }
}
