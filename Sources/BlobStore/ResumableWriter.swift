public import ExhibitCrypto
public import NIOCore

/// Writes one blob from several bodies that arrive over time (a resumable upload), each made durable before the
/// next: the chunks cut so far are in the store, and what remains is the bytes after the last cut (the *tail*,
/// shorter than the largest chunk), which the caller keeps with `entries` and `offset`.
///
/// Content-defined cutting depends only on the bytes since the last cut, so a writer rebuilt from `entries` and
/// the tail (after a restart) cuts the rest exactly as an uninterrupted one would: no chunk is written twice.
/// The whole-file SHA-256 is computed as the bytes arrive; a writer rebuilt after a restart computes it at the
/// end by reading the chunks back.
public final class ResumableWriter: @unchecked Sendable {
    // The caller runs one append (or finish) at a time; the state below is touched by nothing else.
    private let store: BlobStore
    private let lease: (any WriteLease)?
    public private(set) var entries: [Manifest.Entry]
    private var cutState: BlobStore.CutState
    private var hasher: SHA256?
    public private(set) var offset: Int64
    /// Bytes in chunks this writer created (not found already present).
    public private(set) var newBytes: Int64 = 0
    public private(set) var newChunks = 0

    /// A writer going on from `entries` and `tail`; `hashedFromStart` only for a new blob (nothing yet).
    public init(store: BlobStore, lease: (any WriteLease)?, entries: [Manifest.Entry] = [], tail: ByteBuffer = ByteBuffer()) {
        self.store = store
        self.lease = lease
        self.entries = entries
        var state = BlobStore.CutState(chunking: store.chunking)
        var cuts: [Int] = []
        tail.withUnsafeReadableBytes { state.chunker.scan($0, cuts: &cuts) }
        precondition(cuts.isEmpty, "a tail is shorter than a chunk")
        if tail.readableBytes > 0 {
            state.pending = [tail]
            state.pendingLength = tail.readableBytes
        }
        self.cutState = state
        self.offset = entries.reduce(0) { $0 + Int64($1.length) } + Int64(tail.readableBytes)
        self.hasher = offset == 0 ? SHA256() : nil
    }

    /// The bytes after the last cut, to keep with `entries`.
    public var tail: ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(cutState.pendingLength)
        for part in cutState.pending { out.writeImmutableBuffer(part) }
        return out
    }

    /// Where the tail starts in the blob.
    public var tailStart: Int64 { offset - Int64(cutState.pendingLength) }

    public struct Appended: Sendable {
        /// Bytes kept from this body.
        public let bytes: Int64
        /// The body broke off (a connection cut); what arrived before is kept when no checksum was asked for.
        public let interruption: (any Error)?
    }

    public enum AppendError: Error, Sendable {
        /// The body's SHA-256 differs from the one announced; nothing of it was kept.
        case checksumMismatch(expected: SHA256Digest, actual: SHA256Digest)
        /// The body broke off before its checksum could be checked; nothing of it was kept.
        case interruptedBeforeChecksum(any Error)
    }

    /// Appends one body of at most `limit` bytes (more is `tooLarge`, and nothing is kept). With `checksum`, the
    /// body's SHA-256 must match or nothing of it is kept. Chunks are durable when this returns; the caller then
    /// records `entries`, `tail` and `offset`.
    public func append<Body: AsyncSequence>(
        _ body: Body, limit: Int64, checksum: SHA256Digest? = nil
    ) async throws -> Appended where Body.Element == ByteBuffer {
        let savedState = cutState
        let saved = Hashers(hasher?.copy())
        let hashers = Hashers(hasher.take(), request: checksum == nil ? nil : SHA256())
        let batch = store.backend.batch()
        func rollBack() async {
            await batch.abort()
            cutState = savedState
            hasher = saved.whole.take()
        }
        let streamed: BlobStore.Streamed
        do {
            streamed = try await BlobStore.stream(
                body, cutState: &cutState, flush: false, sizeLimit: limit, into: batch, lease: lease, hashers: hashers)
        } catch {
            await rollBack()
            throw error
        }
        if let checksum {
            let actual = hashers.request.take()!.finalize()
            if let interruption = streamed.bodyError {
                await rollBack()
                throw AppendError.interruptedBeforeChecksum(interruption)
            }
            guard actual == checksum else {
                await rollBack()
                throw AppendError.checksumMismatch(expected: checksum, actual: actual)
            }
        }
        let created: Set<ObjectKey>
        do {
            created = try await batch.commit()
        } catch {
            await rollBack()
            throw error
        }
        for entry in streamed.entries where created.contains(.chunk(entry.chunk)) {
            newBytes += Int64(entry.length)
            newChunks += 1
        }
        entries += streamed.entries
        offset += streamed.size
        hasher = hashers.whole.take()
        return Appended(bytes: streamed.size, interruption: streamed.bodyError)
    }

    /// Ends the blob: the tail becomes its last chunk and the manifest is written (both durable). Throws
    /// `digestMismatch` when `expectedDigest` differs from the blob's digest.
    public func finish(expectedDigest: SHA256Digest? = nil) async throws -> BlobStore.PutResult {
        let batch = store.backend.batch()
        var entries = self.entries
        if cutState.pendingLength > 0 {
            var chunkHasher = SHA256()
            for part in cutState.pending { part.withUnsafeReadableBytes { chunkHasher.update($0) } }
            let digest = chunkHasher.finalize()
            try await lease?.hold([.chunk(digest)])
            do {
                _ = try await batch.store(.chunk(digest), parts: cutState.pending, length: cutState.pendingLength)
                let created = try await batch.commit()
                if created.contains(.chunk(digest)) {
                    newBytes += Int64(cutState.pendingLength)
                    newChunks += 1
                }
            } catch {
                await batch.abort()
                throw error
            }
            entries.append(Manifest.Entry(chunk: digest, length: cutState.pendingLength))
        }
        let digest: SHA256Digest
        if let whole = hasher.take() {
            digest = whole.finalize()
        } else {
            digest = try await readBack(entries)
        }
        if let expectedDigest, expectedDigest != digest {
            throw BlobStoreError(.digestMismatch, "the bytes received hash to \(digest.hex), not the announced \(expectedDigest.hex)")
        }
        let manifest = Manifest(blob: digest, entries: entries)
        try await store.store(manifest, lease: lease)
        return BlobStore.PutResult(
            blob: BlobInfo(digest: digest, size: manifest.size), manifest: manifest, newBytes: newBytes, newChunks: newChunks)
    }

    /// The SHA-256 of the chunks in order, read back from the store (each checked against its name).
    private func readBack(_ entries: [Manifest.Entry]) async throws -> SHA256Digest {
        var whole = SHA256()
        for entry in entries {
            let bytes = try await store.backend.read(.chunk(entry.chunk), offset: 0, length: entry.length)
            let actual = bytes.withUnsafeReadableBytes { SHA256.hash($0) }
            guard bytes.readableBytes == entry.length, actual == entry.chunk else {
                throw BlobStoreError(.corruptChunk, "chunk \(entry.chunk.hex) of the upload is damaged in the store")
            }
            bytes.withUnsafeReadableBytes { whole.update($0) }
        }
        return whole.finalize()
    }
}
