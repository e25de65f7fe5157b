public import BlobStore
public import Custody
public import ExhibitCatalog
public import ExhibitCrypto
public import ExhibitModel
import Foundation
import NIOCore

/// Backups of a store into a `BackupTarget`, a folder laid out as a storage root or a bucket holding the same
/// names (README, "Backups"):
///
///     chunks/…, manifests/…      the content-addressed objects, shared by every backup (each run copies only
///                                what the target lacks, re-hashing every chunk it reads)
///     backups/<id>/catalog.sqlite   the catalog and ledger as of one transaction
///     backups/<id>/custody.pub.pem  the custody public key
///     backups/<id>/keys.sealed      the secret keys, only with --include-keys, sealed under a passphrase
///     backups/<id>/backup.json      the signed record of the backup, written last: a backup without it is not one
public enum Backups {
    public static let format = "exhibit-backup"

    /// What a backup holds (`backup.json` without its signature).
    public struct Record: Codable, Sendable {
        public var format = Backups.format
        public var version = 1
        public var id: String
        public var createdAt: String
        public var createdBy: String
        public var origin: String
        public var checkpoint: String
        public var treeSize: Int64
        public var catalogSHA256: String
        public var catalogBytes: Int64
        public var blobs: Int
        public var chunks: Int
        public var chunkBytes: Int64
        public var newChunks: Int
        public var newChunkBytes: Int64
        public var sealedKeys: Bool
        public var previous: String?
        /// Purged footage this run took out of the folder: its blobs' manifests, and the chunks no other needed.
        public var removedBlobs: Int
        public var removedChunks: Int

        enum CodingKeys: String, CodingKey {
            case format, version, id, origin, checkpoint, blobs, chunks, previous
            case createdAt = "created_at"
            case createdBy = "created_by"
            case treeSize = "tree_size"
            case catalogSHA256 = "catalog_sha256"
            case catalogBytes = "catalog_bytes"
            case chunkBytes = "chunk_bytes"
            case newChunks = "new_chunks"
            case newChunkBytes = "new_chunk_bytes"
            case sealedKeys = "sealed_keys"
            case removedBlobs = "removed_blobs"
            case removedChunks = "removed_chunks"
        }
    }

    /// The signed text of a record: its canonical JSON (the ledger's), signed by the custody key.
    static func canonical(_ record: Record) throws -> String {
        let data = try JSONEncoder().encode(record)
        guard let value = JSONValue.parse(String(decoding: data, as: UTF8.self)) else { throw ExhibitError(.storage, "cannot encode the backup record") }
        return value.canonical
    }

    /// A backup read back, its signature checked.
    public struct Found: Sendable {
        public let record: Record
        public let publicKey: Ed25519PublicKey
        /// Where its files are in the target: `backups/<id>/`.
        public var folder: String { "backups/" + record.id + "/" }
        public var catalog: String { folder + "catalog.sqlite" }
    }

    /// The largest `backup.json`, `custody.pub.pem` or `keys.sealed` read back.
    public static let smallFileLimit = 1 << 20

    /// Every complete backup in `target`, oldest first; a backup whose signature fails is an error naming it.
    public static func list(_ target: any BackupTarget) async throws -> [Found] {
        var found: [Found] = []
        for id in try await target.backupIDs() {
            let folder = "backups/" + id + "/"
            guard let data = try await target.read(folder + "backup.json", limit: smallFileLimit) else { continue }
            guard case .object(var fields)? = JSONValue.parse(String(decoding: data, as: UTF8.self)),
                  case .string(let signature)? = fields.removeValue(forKey: "signature"),
                  let raw = Data(base64Encoded: signature)
            else { throw ExhibitError(.damaged, "backup \(id): backup.json is not a signed backup record") }
            let record = try JSONDecoder().decode(Record.self, from: Data(JSONValue.object(fields).canonical.utf8))
            guard let pem = try await target.read(folder + "custody.pub.pem", limit: smallFileLimit) else {
                throw ExhibitError(.damaged, "backup \(id): its custody.pub.pem is missing")
            }
            let key = try Ed25519PublicKey(pem: String(decoding: pem, as: UTF8.self))
            guard record.id == id, key.isValidSignature([UInt8](raw), for: Array(JSONValue.object(fields).canonical.utf8)) else {
                throw ExhibitError(.damaged, "backup \(id): its record's signature does not verify: it was changed")
            }
            found.append(Found(record: record, publicKey: key))
        }
        return found
    }

    /// A local path to the backup's catalog (the file itself in a folder, else a copy under `scratch`), checked
    /// against the SHA-256 its signed record gives.
    public static func catalog(of found: Found, in target: any BackupTarget, scratch: String) async throws -> String {
        let path = try await target.localFile(found.catalog, scratch: scratch)
        let (digest, _) = try sha256(ofFile: path)
        guard digest.hex == found.record.catalogSHA256 else {
            throw ExhibitError(.damaged, "backup \(found.record.id): its catalog does not match the SHA-256 its signed record gives: it was changed")
        }
        return path
    }

    /// Copies the blobs `digests` (their manifests and chunks) and the loose chunks `uploads` (those open uploads
    /// have stored) the destination lacks, re-hashing every chunk read against its name; returns what was
    /// copied. Each blob's manifest goes after its chunks.
    public static func copy(
        _ digests: [SHA256Digest], uploads: [Manifest.Entry] = [], from source: any ObjectBackend, to destination: any ObjectBackend
    ) async throws -> (chunks: Int, bytes: Int64, newChunks: Int, newBytes: Int64) {
        var seen = Set<SHA256Digest>()
        var result = (chunks: 0, bytes: Int64(0), newChunks: 0, newBytes: Int64(0))
        /// One chunk into `batch` unless the destination has it (or, `known`, its blob's manifest says so).
        func chunk(_ entry: Manifest.Entry, of owner: String, known: Bool, into batch: any ObjectBatch) async throws {
            guard seen.insert(entry.chunk).inserted else { return }
            result.chunks += 1
            result.bytes += Int64(entry.length)
            let key = ObjectKey.chunk(entry.chunk)
            if known { return }
            if try await destination.size(of: key) == Int64(entry.length) { return }
            let bytes = try await source.read(key, offset: 0, length: entry.length)
            let actual = bytes.withUnsafeReadableBytes { SHA256.hash($0) }
            guard actual == entry.chunk, bytes.readableBytes == entry.length else {
                throw ExhibitError(.damaged, "chunk \(entry.chunk.hex) of \(owner) does not match its name: the source is damaged (exhibit verify)")
            }
            _ = try await batch.store(key, parts: [bytes], length: entry.length)
            result.newChunks += 1
            result.newBytes += Int64(entry.length)
        }
        func inBatch(_ body: (any ObjectBatch) async throws -> Void) async throws {
            let batch = destination.batch()
            do {
                try await body(batch)
                _ = try await batch.commit()
            } catch {
                await batch.abort()
                throw error
            }
        }
        for digest in digests {
            let manifestKey = ObjectKey.manifest(digest)
            guard let manifestSize = try await source.size(of: manifestKey) else {
                throw ExhibitError(.damaged, "the manifest of blob \(digest.hex) is missing from the source")
            }
            let manifestBytes = try await source.read(manifestKey, offset: 0, length: Int(manifestSize))
            let manifest = try Manifest(parsing: manifestBytes)
            guard manifest.blob == digest else { throw ExhibitError(.damaged, "the manifest named \(digest.hex) is of blob \(manifest.blob.hex)") }
            // A manifest is stored after its chunks: where the destination has it, it has them (`backup verify`
            // re-hashes them), and an incremental run asks nothing more of that blob.
            let present = try await destination.size(of: manifestKey) != nil
            try await inBatch { batch in
                for entry in manifest.entries { try await chunk(entry, of: "blob \(digest.hex)", known: present, into: batch) }
                if !present { _ = try await batch.store(manifestKey, parts: [manifestBytes], length: manifestBytes.readableBytes) }
            }
        }
        if !uploads.isEmpty {
            try await inBatch { batch in
                for entry in uploads { try await chunk(entry, of: "an open upload", known: false, into: batch) }
            }
        }
        return result
    }

    /// Removes the manifests of `blobs` from `folder`, and every chunk they named that no remaining manifest nor
    /// open upload (`uploads`) names; returns how many of each went.
    public static func remove(
        _ blobs: Set<SHA256Digest>, keeping uploads: [Manifest.Entry] = [], from folder: any ObjectBackend
    ) async throws -> (blobs: Int, chunks: Int) {
        var candidates = Set<SHA256Digest>()
        var removedBlobs = 0
        for blob in blobs {
            let key = ObjectKey.manifest(blob)
            guard let size = try await folder.size(of: key) else { continue }
            let manifest = try Manifest(parsing: try await folder.read(key, offset: 0, length: Int(size)))
            candidates.formUnion(manifest.entries.map(\.chunk))
            try await folder.delete(key)
            removedBlobs += 1
        }
        candidates.subtract(uploads.map(\.chunk))
        guard !candidates.isEmpty else { return (removedBlobs, 0) }
        for try await key in folder.keys(.manifest) {
            guard let size = try await folder.size(of: key) else { continue }
            let manifest = try Manifest(parsing: try await folder.read(key, offset: 0, length: Int(size)))
            candidates.subtract(manifest.entries.map(\.chunk))
        }
        for chunk in candidates { try await folder.delete(.chunk(chunk)) }
        return (removedBlobs, candidates.count)
    }

    /// The SHA-256 and size of a file of a backup, or an error naming it.
    public static func sha256(ofFile path: String) throws -> (SHA256Digest, Int64) {
        guard let (digest, size) = try SHA256.file(atPath: path) else { throw ExhibitError(.fileNotFound, "cannot read \(path)") }
        return (digest, size)
    }
}

extension EvidenceStore {
    /// Backs the store up into the folder `target` (README, "Backups"): records `store.backed-up` and signs a
    /// checkpoint, snapshots the catalog (which holds that event), then copies every chunk and manifest the
    /// snapshot's exhibits need that the folder lacks, and writes the signed record last. An upload acknowledged
    /// before the backup started is in its snapshot, and its chunks were durable before it was acknowledged.
    public func backup(to target: any BackupTarget, includeKeys passphrase: String?, by actor: Actor) async throws -> Backups.Record {
        try await authorize(actor, .userManage)
        guard let snapshots else { throw ExhibitError(.badRequest, "this deployment's catalog cannot be snapshotted for a backup") }
        guard !target.overlaps(storeAt: root, chunks: deployment.chunks) else {
            throw ExhibitError(.badRequest, "a backup goes to another folder, bucket or prefix than the store's own")
        }
        try await target.objects.checkAvailable()
        let earlier = try await Backups.list(target)
        let id = CustodyTime.string(now()).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: ".", with: "") + "-" + Base64URL.encode(SecureRandom.bytes(count: 3))
        let folder = "backups/" + id + "/"
        let scratch = local.temporaryPath("backup-" + id)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            let (event, signed) = try await catalog.appendAndCheckpoint(
                actor.event(.storeBackedUp, details: ["backup": .string(id), "target": .string(target.description), "keys": .bool(passphrase != nil)]),
                sign: checkpointSigner)
            let checkpoint = await witnessed(signed).checkpoint
            let snapshot = scratch + "/catalog.sqlite"
            try await snapshots.snapshot(to: snapshot)
            let (catalogDigest, catalogBytes) = try Backups.sha256(ofFile: snapshot)
            let contents = try snapshots.contents(ofSnapshotAt: snapshot)
            // Uploads still open keep their chunks (their tails are in the snapshot): restored, they resume.
            let copied = try await Backups.copy(contents.exhibitBlobs, uploads: contents.openUploads, from: chunks, to: target.objects)
            // Footage purged under the retention policy leaves the backups too, at the first run after its purge.
            let removed = try await Backups.remove(contents.tombstones.freedBlobs, keeping: contents.openUploads, from: target.objects)
            try await target.store(file: snapshot, as: folder + "catalog.sqlite")
            try await target.write(folder + "custody.pub.pem", Data(keys.custodyPublicKey.pem.utf8))
            if let passphrase {
                try await target.write(folder + "keys.sealed", Data(try PassphraseBox.seal(try keys.archive(), passphrase: passphrase)))
            }
            let record = Backups.Record(
                id: id, createdAt: event.at, createdBy: actor.name, origin: custodyOrigin, checkpoint: checkpoint.note ?? "",
                treeSize: checkpoint.seq, catalogSHA256: catalogDigest.hex, catalogBytes: catalogBytes, blobs: contents.exhibitBlobs.count,
                chunks: copied.chunks, chunkBytes: copied.bytes, newChunks: copied.newChunks, newChunkBytes: copied.newBytes,
                sealedKeys: passphrase != nil, previous: earlier.last?.record.id, removedBlobs: removed.blobs,
                removedChunks: removed.chunks)
            let canonical = try Backups.canonical(record)
            let signature = Data(try keys.custodyKey.sign(Array(canonical.utf8))).base64EncodedString()
            guard case .object(var fields)? = JSONValue.parse(canonical) else { throw ExhibitError(.storage, "cannot encode the backup record") }
            fields["signature"] = .string(signature)
            // The record last: until it is there, the backup is not one.
            try await target.write(folder + "backup.json", Data((JSONValue.object(fields).canonical + "\n").utf8))
            return record
        } catch {
            await target.discard(id)
            throw error
        }
    }


    /// Records, in a store just restored from `record`, that it was restored (and signs a checkpoint): its
    /// ledger then extends the backup's with this event.
    public func recordRestore(_ record: Backups.Record, from target: String, by actor: Actor) async throws -> CustodyEvent {
        try await authorize(actor, .userManage)
        let (event, signed) = try await catalog.appendAndCheckpoint(
            actor.event(.storeRestored, details: [
                "backup": .string(record.id), "from": .string(target), "tree_size": .int(record.treeSize),
                "catalog_sha256": .string(record.catalogSHA256),
            ]),
            sign: checkpointSigner)
        _ = await witnessed(signed)
        return event
    }

    /// In a store just restored from an older backup: the exhibits a newer backup records as purged are purged
    /// here too (their footage has left the backups), each with its `exhibit.purged` event, so a restore never
    /// brings back what retention deleted.
    public func applyTombstones(_ tombstones: SnapshotTombstones, recordedIn backup: String, by actor: Actor) async throws -> Int {
        try await authorize(actor, .userManage)
        return try await catalog.applyTombstones(tombstones.exhibits) { record, tombstone in
            actor.event(
                .exhibitPurged, exhibit: record.id, caseReference: record.caseReference,
                details: [
                    "reference": .string(record.reference), "sha256": .string(record.sha256.hex), "filename": .string(record.filename),
                    "size": .int(record.size), "purged_at": .string(tombstone.purgedAt), "reason": .string(tombstone.reason),
                    "recorded_in_backup": .string(backup),
                ])
        }
    }
}
