public import ExhibitCrypto

/// What a garbage collection found and removed.
public struct CollectionReport: Sendable, Codable {
    public var dryRun = false
    public var manifestsChecked = 0
    public var chunksChecked = 0
    public var manifestsRemoved = 0
    public var chunksRemoved = 0
    public var bytesRemoved: Int64 = 0
    /// Objects not removed because an upload in flight holds them.
    public var leased = 0
    /// The blobs whose manifests were removed (or would be, in a dry run).
    public var blobs: [SHA256Digest] = []

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run"
        case manifestsChecked = "manifests_checked"
        case chunksChecked = "chunks_checked"
        case manifestsRemoved = "manifests_removed"
        case chunksRemoved = "chunks_removed"
        case bytesRemoved = "bytes_removed"
        case leased, blobs
    }
}

extension BlobStore {
    /// Removes the manifests of blobs that are not live and the chunks that no live blob's manifest names.
    ///
    /// Safe while uploads run, here or in other processes: objects named by a write lease are kept (see
    /// `WriteLeases`), and the set of live blobs is read again under the leases' exclusive lock, so a blob
    /// recorded since the first look keeps its chunks. When the manifest of a live blob is missing or unreadable
    /// nothing is removed (its chunks could not be told from orphans): `verify` names the damage.
    ///
    /// - Parameter live: the blobs the catalog still needs, and chunks it needs outside any blob (those of
    ///   resumable uploads still open).
    public func collectGarbage(
        live: @escaping @Sendable () async throws -> (blobs: Set<SHA256Digest>, chunks: Set<SHA256Digest>), dryRun: Bool = false
    ) async throws -> CollectionReport {
        guard let leases else { throw BlobStoreError(.collectionRefused, "this store has no write leases: it cannot be collected safely") }
        var report = CollectionReport()
        report.dryRun = dryRun

        // Candidates: what is in the store now. Objects written later are not candidates.
        var manifestKeys = Set<SHA256Digest>()
        for try await key in backend.keys(.manifest) { manifestKeys.insert(key.digest) }
        var chunkKeys = Set<SHA256Digest>()
        for try await key in backend.keys(.chunk) { chunkKeys.insert(key.digest) }
        report.manifestsChecked = manifestKeys.count
        report.chunksChecked = chunkKeys.count

        let first = try await live()
        let seen = first.blobs
        var referenced = first.chunks
        try await addChunks(of: seen, to: &referenced)

        let plan = try await leases.exclusively { [referenced, seen, manifestKeys, chunkKeys] leased in
            var referenced = referenced
            var seen = seen
            let again = try await live()
            let now = again.blobs
            referenced.formUnion(again.chunks)
            let added = now.subtracting(seen)
            try await self.addChunks(of: added, to: &referenced)
            seen.formUnion(added)
            var manifests: [SHA256Digest] = []
            var chunks: [SHA256Digest] = []
            var held = 0
            for digest in manifestKeys.sorted() where !now.contains(digest) {
                if leased.contains(.manifest(digest)) { held += 1 } else { manifests.append(digest) }
            }
            for digest in chunkKeys.sorted() where !referenced.contains(digest) {
                if leased.contains(.chunk(digest)) { held += 1 } else { chunks.append(digest) }
            }
            var bytes: Int64 = 0
            for digest in chunks { bytes += try await self.backend.size(of: .chunk(digest)) ?? 0 }
            if !dryRun {
                // Manifests first: a crash half-way leaves chunks without a manifest (removed next time), never
                // a manifest without its chunks.
                for digest in manifests { try await self.backend.delete(.manifest(digest)) }
                for digest in chunks { try await self.backend.delete(.chunk(digest)) }
            }
            return (manifests, chunks, bytes, held)
        }
        report.blobs = plan.0
        report.manifestsRemoved = plan.0.count
        report.chunksRemoved = plan.1.count
        report.bytesRemoved = plan.2
        report.leased = plan.3
        if !dryRun { dropCachedManifests(plan.0) }
        return report
    }

    /// Adds the chunks named by the manifests of `blobs`; a live blob without a readable manifest stops collection.
    private func addChunks(of blobs: Set<SHA256Digest>, to referenced: inout Set<SHA256Digest>) async throws {
        for blob in blobs {
            let manifest: Manifest
            do {
                manifest = try await self.manifest(of: blob)
            } catch {
                throw BlobStoreError(
                    .collectionRefused,
                    "the manifest of live blob \(blob.hex) cannot be read (\(error)); nothing was collected: run `exhibit verify`")
            }
            for entry in manifest.entries { referenced.insert(entry.chunk) }
        }
    }
}
