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
    public init(store: BlobStore, lease: (any WriteLease)?, entries: [Manifest.Entry] = [], tail: ByteBuffer = ByteBuffer()) throws {
        self.store = store
        self.lease = lease
        self.entries = entries
        self.cutState = BlobStore.CutState(chunking: store.chunking)
        self.offset = entries.reduce(0) { $0 + Int64($1.length) } + Int64(tail.readableBytes)
        self.hasher = offset == 0 ? SHA256() : nil
        try Self.scan(tail, into: &cutState)
    }

    /// The chunker's state after `tail` (the bytes since the last cut), as if it had just read them.
    /// A tail with a cut inside was not cut with these chunking parameters (they changed while the upload was
    /// open): it cannot go on as one blob.
    private static func scan(_ tail: ByteBuffer, into state: inout BlobStore.CutState) throws {
        var cuts: [Int] = []
        tail.withUnsafeReadableBytes { state.chunker.scan($0, cuts: &cuts) }
        guard cuts.isEmpty else {
            throw BlobStoreError(.corruptChunk, "the upload's pending bytes were cut with other chunking settings: start the upload again")
        }
        if tail.readableBytes > 0 {
            state.pending = [tail]
            state.pendingLength = tail.readableBytes
        }
    }

    /// The tail's length while suspended (its bytes are kept elsewhere), nil while they are here.
    private var suspendedTail: Int?

    /// Whether the tail's bytes have been let go (`resume(tail:)` before the next append or finish).
    public var isSuspended: Bool { suspendedTail != nil }

    /// Lets go of the tail's bytes between requests: they are durable where the caller keeps them (a file, a
    /// database row), and an open upload should hold no memory while it waits for its next request. The chunk
    /// list and the whole-file hash state stay (a few bytes per chunk).
    public func suspend() {
        guard suspendedTail == nil else { return }
        suspendedTail = cutState.pendingLength
        cutState = BlobStore.CutState(chunking: store.chunking)
    }

    /// Takes the tail back (the bytes `suspend` let go of, read from where the caller kept them).
    public func resume(tail: ByteBuffer) throws {
        guard let length = suspendedTail else { return }
        guard tail.readableBytes == length else {
            throw BlobStoreError(.corruptChunk, "the upload's kept tail has \(tail.readableBytes) bytes, not \(length)")
        }
        var state = BlobStore.CutState(chunking: store.chunking)
        try Self.scan(tail, into: &state)
        cutState = state
        suspendedTail = nil
    }

    /// The bytes after the last cut, to keep with `entries`.
    public var tail: ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(cutState.pendingLength)
        for part in cutState.pending { out.writeImmutableBuffer(part) }
        return out
    }

    /// Where the tail starts in the blob.
    public var tailStart: Int64 { offset - Int64(suspendedTail ?? cutState.pendingLength) }

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
        guard suspendedTail == nil else { throw BlobStoreError(.corruptChunk, "the upload's tail was not taken back before appending") }
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
        guard suspendedTail == nil else { throw BlobStoreError(.corruptChunk, "the upload's tail was not taken back before finishing") }
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
