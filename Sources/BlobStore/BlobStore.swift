public import ExhibitCrypto
public import NIOCore
import Synchronization

/// A content-addressed store of blobs cut into content-defined chunks.
///
/// Like git's object store it is complete on its own: every chunk is named by the SHA-256 of its bytes, every
/// blob by the SHA-256 of all its bytes, and a blob's manifest lists its chunks. The catalog refers to blobs only
/// by their digest.
///
///     let store = try BlobStore(backend: LocalBackend(root: "Storage"))
///     let result = try await store.put(body)          // any AsyncSequence of ByteBuffer
///     for try await piece in try await store.contents(of: result.blob.digest, range: 0..<1024) { ... }
public final class BlobStore: Sendable {
    public let backend: any ObjectBackend
    public let chunking: ChunkingParameters
    /// Leases that keep garbage collection off objects being written (nil: this store is never collected).
    public let leases: (any WriteLeases)?
    private let manifests = Mutex<ManifestCache>(ManifestCache())

    /// Bytes the put pipeline lets wait for each stage (whole-file hashing, chunk hashing, chunk writes);
    /// with the maximum chunk size this bounds a put's memory.
    static let wholeFileBatchBytes = 1 << 20
    static let queuedBatches = 2
    static let queuedChunks = 2
    /// Chunk bytes being hashed or written at once (the worst case, every chunk at the maximum size, still fits
    /// the memory bound).
    static let bytesInFlight = 8 << 20

    public init(backend: any ObjectBackend, chunking: ChunkingParameters = .default, leases: (any WriteLeases)? = nil) {
        self.backend = backend
        self.chunking = chunking
        self.leases = leases
    }

    /// A lease for a writer that must keep what it stores from garbage collection beyond `put` (until the catalog
    /// records the blob): pass it to `put` and release it afterwards.
    public func lease() throws -> (any WriteLease)? { try leases?.lease() }

    // MARK: Writing

    /// What `put` stored.
    public struct PutResult: Sendable {
        public let blob: BlobInfo
        public let manifest: Manifest
        /// Bytes in chunks that were not in the store before this put.
        public let newBytes: Int64
        public let newChunks: Int
        public var chunkCount: Int { manifest.entries.count }
    }

    /// Stores the bytes of `body` as a blob and returns its digest, size and manifest.
    ///
    /// Chunking, chunk hashing and whole-file hashing run while the body streams in, on separate tasks with
    /// bounded queues between them; chunks are written as they are hashed. Only when the body has ended and its
    /// digest is known are the chunks committed (durable under their names), then the manifest. Throws
    /// `tooLarge` past `sizeLimit`, and `digestMismatch` when `expectedDigest` differs from the digest of the
    /// bytes; then, as on any failure of the body, nothing is committed and the written chunks are removed.
    ///
    /// Every chunk and the manifest are named in `lease` (a lease of the put's own, released when it returns, when
    /// none is given) before they are looked for or written, so garbage collection never removes them.
    public func put<Body: AsyncSequence>(
        _ body: Body, sizeLimit: Int64? = nil, expectedDigest: SHA256Digest? = nil, lease: (any WriteLease)? = nil
    ) async throws -> PutResult where Body.Element == ByteBuffer {
        let ownLease = lease == nil ? try leases?.lease() : nil
        defer { ownLease?.release() }
        let batch = backend.batch()
        do {
            return try await put(body, into: batch, sizeLimit: sizeLimit, expectedDigest: expectedDigest, lease: lease ?? ownLease)
        } catch {
            await batch.abort()
            throw error
        }
    }

    private func put<Body: AsyncSequence>(
        _ body: Body, into batch: any ObjectBatch, sizeLimit: Int64?, expectedDigest: SHA256Digest?, lease: (any WriteLease)?
    ) async throws -> PutResult where Body.Element == ByteBuffer {
        let hashers = Hashers(SHA256())
        var cutState = CutState(chunking: chunking)
        let streamed = try await Self.stream(
            body, cutState: &cutState, flush: true, sizeLimit: sizeLimit, into: batch, lease: lease, hashers: hashers)
        if let error = streamed.bodyError { throw error }
        let digest = hashers.finalize()
        let size = streamed.size
        let entries = streamed.entries

        if let expectedDigest, expectedDigest != digest {
            throw BlobStoreError(
                .digestMismatch, "the body's SHA-256 is \(digest.hex), not the expected \(expectedDigest.hex)")
        }
        // Chunks durable under their names before a manifest can point at them.
        let created = try await batch.commit()
        var newBytes: Int64 = 0
        var counted = Set<SHA256Digest>()
        for entry in entries where created.contains(.chunk(entry.chunk)) && counted.insert(entry.chunk).inserted {
            newBytes += Int64(entry.length)
        }
        let manifest = Manifest(blob: digest, entries: entries)
        precondition(manifest.size == size, "chunk lengths must add up to the bytes received")
        try await store(manifest, lease: lease)
        return PutResult(
            blob: BlobInfo(digest: digest, size: size), manifest: manifest, newBytes: newBytes,
            newChunks: counted.count)
    }

    /// Writes a manifest durably (after its chunks), named in `lease` first.
    func store(_ manifest: Manifest, lease: (any WriteLease)?) async throws {
        let text = ByteBuffer(string: manifest.encoded)
        let manifestBatch = backend.batch()
        do {
            try await lease?.hold([.manifest(manifest.blob)])
            _ = try await manifestBatch.store(.manifest(manifest.blob), parts: [text], length: text.readableBytes)
            _ = try await manifestBatch.commit()
        } catch {
            await manifestBatch.abort()
            throw error
        }
        manifests.withLock { $0.insert(manifest) }
    }

    struct ChunkJob: Sendable {
        let parts: [ByteBuffer]
        let length: Int
    }

    /// Where a stream is cut: the chunker's state and the bytes since the last cut (fewer than the largest chunk).
    struct CutState: Sendable {
        var chunker: Chunker
        var pending: [ByteBuffer] = []
        var pendingLength = 0

        init(chunking: ChunkingParameters) { chunker = Chunker(parameters: chunking) }
    }

    /// What `stream` did with a body.
    struct Streamed: Sendable {
        /// The chunks cut from it, in order (each hashed and stored in the batch).
        let entries: [Manifest.Entry]
        /// Bytes read from the body.
        let size: Int64
        /// Set when the body itself failed (a connection cut): everything read before it was processed.
        let bodyError: (any Error)?
    }

    /// Streams `body` through the chunker (going on from `cutState`), hashing every buffer in `hashers` on one task
    /// and every chunk on others, and storing the chunks in `batch`. With `flush` the bytes after the last cut
    /// are a final chunk; without, they stay in `cutState` for the next body. A failure of the body ends the
    /// stream with what was read before it (`bodyError`); any other failure throws.
    static func stream<Body: AsyncSequence>(
        _ body: Body, cutState: inout CutState, flush: Bool, sizeLimit: Int64?, into batch: any ObjectBatch,
        lease: (any WriteLease)?, hashers: Hashers
    ) async throws -> Streamed where Body.Element == ByteBuffer {
        let wholeFile = BoundedChannel<[ByteBuffer]>(capacity: Self.queuedBatches)
        let chunks = BoundedChannel<ChunkJob>(capacity: Self.queuedChunks)
        var state = cutState
        let result = try await withThrowingTaskGroup(of: [Manifest.Entry]?.self) { group in
            group.addTask {
                do {
                    while let pieces = try await wholeFile.next() { hashers.update(pieces) }
                } catch {
                    wholeFile.close(throwing: error)
                    throw error
                }
                return nil
            }
            group.addTask {
                do {
                    return try await Self.hashAndWrite(chunks, into: batch, lease: lease)
                } catch {
                    chunks.close(throwing: error)
                    throw error
                }
            }
            let size: Int64
            let bodyError: (any Error)?
            do {
                (size, bodyError) = try await Self.cut(
                    body, state: &state, flush: flush, sizeLimit: sizeLimit, wholeFile: wholeFile, chunks: chunks)
                wholeFile.finish()
                chunks.finish()
            } catch {
                wholeFile.close(throwing: error)
                chunks.close(throwing: error)
                while !group.isEmpty { _ = try? await group.next() }
                throw error
            }
            var entries: [Manifest.Entry]?
            do {
                while let stage = try await group.next() {
                    if let stage { entries = stage }
                }
            } catch {
                wholeFile.close(throwing: error)
                chunks.close(throwing: error)
                while !group.isEmpty { _ = try? await group.next() }
                throw error
            }
            return Streamed(entries: entries!, size: size, bodyError: bodyError)
        }
        cutState = state
        return result
    }

    /// Reads the body, finds chunk boundaries and feeds both hashing stages. Returns the bytes read, and the
    /// body's error if it failed (between two buffers, so everything before it was fed).
    private static func cut<Body: AsyncSequence>(
        _ body: Body, state: inout CutState, flush: Bool, sizeLimit: Int64?,
        wholeFile: BoundedChannel<[ByteBuffer]>, chunks: BoundedChannel<ChunkJob>
    ) async throws -> (Int64, (any Error)?) where Body.Element == ByteBuffer {
        var chunker = state.chunker
        var pending = state.pending
        var pendingLength = state.pendingLength
        var batch: [ByteBuffer] = []
        var batchLength = 0
        var cuts: [Int] = []
        var size: Int64 = 0
        var bodyError: (any Error)?
        var iterator = body.makeAsyncIterator()
        while true {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch {
                bodyError = error
                break
            }
            guard let buffer = next else { break }
            let count = buffer.readableBytes
            guard count > 0 else { continue }
            size += Int64(count)
            if let sizeLimit, size > sizeLimit {
                throw BlobStoreError(.tooLarge, "the body is larger than the limit of \(sizeLimit) bytes")
            }
            cuts.removeAll(keepingCapacity: true)
            buffer.withUnsafeReadableBytes { chunker.scan($0, cuts: &cuts) }
            var start = 0
            for cut in cuts {
                pending.append(buffer.getSlice(at: buffer.readerIndex + start, length: cut - start)!)
                pendingLength += cut - start
                try await chunks.send(ChunkJob(parts: pending, length: pendingLength))
                pending = []
                pendingLength = 0
                start = cut
            }
            if start < count {
                pending.append(buffer.getSlice(at: buffer.readerIndex + start, length: count - start)!)
                pendingLength += count - start
            }
            batch.append(buffer)
            batchLength += count
            if batchLength >= wholeFileBatchBytes {
                try await wholeFile.send(batch)
                batch = []
                batchLength = 0
            }
        }
        if batchLength > 0 { try await wholeFile.send(batch) }
        if flush {
            let last = chunker.finish()
            precondition(last == pendingLength)
            if pendingLength > 0 { try await chunks.send(ChunkJob(parts: pending, length: pendingLength)) }
            pending = []
            pendingLength = 0
        }
        state.chunker = chunker
        state.pending = pending
        state.pendingLength = pendingLength
        return (size, bodyError)
    }

    /// Hashes each chunk and writes the new ones into the batch, a few megabytes of chunks in flight at a time
    /// (hashing runs in the child tasks, so chunks are hashed in parallel with each other and with the
    /// whole-file digest). A chunk that occurs again in the same body is written once.
    static func hashAndWrite(
        _ chunks: BoundedChannel<ChunkJob>, into batch: any ObjectBatch, lease: (any WriteLease)?
    ) async throws -> [Manifest.Entry] {
        var digests: [SHA256Digest?] = []
        var lengths: [Int] = []
        let claimed = DigestClaims()
        try await withThrowingTaskGroup(of: (Int, SHA256Digest).self) { group in
            var inFlight = 0
            var inFlightBytes = 0
            func account(_ done: (Int, SHA256Digest)) {
                inFlight -= 1
                inFlightBytes -= lengths[done.0]
                digests[done.0] = done.1
            }
            while let job = try await chunks.next() {
                let index = digests.count
                digests.append(nil)
                lengths.append(job.length)
                while inFlight > 0 && inFlightBytes + job.length > bytesInFlight, let done = try await group.next() {
                    account(done)
                }
                group.addTask {
                    var hasher = SHA256()
                    for part in job.parts { part.withUnsafeReadableBytes { hasher.update($0) } }
                    let digest = hasher.finalize()
                    // The first task to claim a digest writes it; the batch commits them all together.
                    if claimed.claim(digest) {
                        try await lease?.hold([.chunk(digest)])
                        _ = try await batch.store(.chunk(digest), parts: job.parts, length: job.length)
                    }
                    return (index, digest)
                }
                inFlight += 1
                inFlightBytes += job.length
            }
            while let done = try await group.next() { account(done) }
        }
        return zip(digests, lengths).map { Manifest.Entry(chunk: $0!, length: $1) }
    }

    /// Digests already being written by one put.
    private final class DigestClaims: Sendable {
        private let claimed = Mutex(Set<SHA256Digest>())
        func claim(_ digest: SHA256Digest) -> Bool { claimed.withLock { $0.insert(digest).inserted } }
    }

    // MARK: Reading

    /// The manifest of a blob; `blobNotFound` when the store has none.
    /// Forgets cached manifests of blobs that were removed.
    func dropCachedManifests(_ blobs: [SHA256Digest]) {
        manifests.withLock { cache in for blob in blobs { cache.remove(blob) } }
    }

    public func manifest(of blob: SHA256Digest) async throws -> Manifest {
        if let cached = manifests.withLock({ $0[blob] }) { return cached }
        let key = ObjectKey.manifest(blob)
        guard let size = try await backend.size(of: key) else {
            throw BlobStoreError(.blobNotFound, "no blob \(blob.hex) in the store")
        }
        guard size < 64 << 20 else { throw BlobStoreError(.corruptManifest, "manifest of \(blob.hex) is too large") }
        let manifest = try Manifest(parsing: try await backend.read(key, offset: 0, length: Int(size)))
        guard manifest.blob == blob else {
            throw BlobStoreError(.corruptManifest, "manifest stored as \(blob.hex) names blob \(manifest.blob.hex)")
        }
        manifests.withLock { $0.insert(manifest) }
        return manifest
    }

    /// Whether the store has a manifest for `blob`.
    public func contains(_ blob: SHA256Digest) async throws -> Bool {
        if manifests.withLock({ $0[blob] }) != nil { return true }
        return try await backend.size(of: .manifest(blob)) != nil
    }

    /// Streams the bytes of `range` of a blob (the whole blob by default) in pieces of at most `pieceSize`.
    ///
    /// A chunk read whole is checked against its digest as it streams; a mismatch ends the stream with
    /// `corruptChunk` before its last piece is handed out.
    public func contents(
        of blob: SHA256Digest, range: Range<Int64>? = nil, pieceSize: Int = 1 << 20
    ) async throws -> BlobContents {
        let manifest = try await manifest(of: blob)
        let range = range ?? 0..<manifest.size
        guard range.lowerBound >= 0, range.upperBound <= manifest.size else {
            throw BlobStoreError(.invalidRange, "range \(range) is outside the blob's \(manifest.size) bytes")
        }
        return BlobContents(manifest: manifest, range: range, backend: backend, pieceSize: pieceSize)
    }

    /// Forgets cached manifests (after a manifest was deleted or repaired).
    public func dropCachedManifests() {
        manifests.withLock { $0 = ManifestCache() }
    }
}

/// A blob's digest and size.
public struct BlobInfo: Sendable, Equatable, Codable {
    public let digest: SHA256Digest
    public let size: Int64
    public init(digest: SHA256Digest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}

/// A small bounded cache of parsed manifests (they never change once written).
struct ManifestCache {
    private var items: [SHA256Digest: Manifest] = [:]
    private var cachedEntries = 0
    static let maxEntries = 1 << 18

    subscript(blob: SHA256Digest) -> Manifest? { items[blob] }

    mutating func insert(_ manifest: Manifest) {
        if cachedEntries + manifest.entries.count > Self.maxEntries {
            items.removeAll()
            cachedEntries = 0
        }
        if items.updateValue(manifest, forKey: manifest.blob) == nil {
            cachedEntries += manifest.entries.count + 1
        }
    }

    mutating func remove(_ blob: SHA256Digest) {
        if let manifest = items.removeValue(forKey: blob) { cachedEntries -= manifest.entries.count + 1 }
    }
}

/// The bytes of a range of a blob, as an async sequence of buffers.
///
/// Reads ahead: while the caller sends piece *k*, the next pieces are read on other tasks (one for a local
/// folder, several for object storage, where each read is a round trip: `ObjectBackend.readAhead`). Pieces are
/// checked in order as they are handed out: every chunk read whole is hashed against its name.
public struct BlobContents: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let manifest: Manifest
    let range: Range<Int64>
    let backend: any ObjectBackend
    let pieceSize: Int

    public var count: Int64 { range.upperBound - range.lowerBound }

    public func makeAsyncIterator() -> Iterator {
        Iterator(plan: PiecePlan(contents: self), checker: PieceChecker(manifest: manifest), depth: Swift.max(1, backend.readAhead))
    }

    public struct Iterator: AsyncIteratorProtocol {
        var plan: PiecePlan
        let checker: PieceChecker
        let depth: Int
        var ahead: [(Piece, Task<ByteBuffer, any Error>)] = []

        public mutating func next() async throws -> ByteBuffer? {
            if ahead.isEmpty {
                // The first piece (or the end): read here, no task needed.
                guard let piece = plan.next() else { return nil }
                let buffer = try await plan.contents.backend.read(.chunk(piece.chunk), offset: piece.offsetInChunk, length: piece.length)
                try checker.check(buffer, piece)
                if piece.isWholeChunk { try checker.verifyWhole(buffer, piece) }
                fill()
                return buffer
            }
            let (piece, task) = ahead.removeFirst()
            let buffer = try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
            try checker.check(buffer, piece)
            fill()
            return buffer
        }

        /// Starts reads until `depth` pieces are in flight or the range is planned to its end. A whole chunk is
        /// hashed in its read's task, so the next chunk is verified on another core while this one is sent.
        mutating func fill() {
            let backend = plan.contents.backend
            let checker = self.checker
            while ahead.count < depth, let piece = plan.next() {
                ahead.append((piece, Task {
                    let buffer = try await backend.read(.chunk(piece.chunk), offset: piece.offsetInChunk, length: piece.length)
                    if piece.isWholeChunk { try checker.verifyWhole(buffer, piece) }
                    return buffer
                }))
            }
        }
    }
}

/// One read of a blob's range: part (or all) of one chunk.
struct Piece: Sendable {
    let chunk: SHA256Digest
    let entryIndex: Int
    let offsetInChunk: Int64
    let length: Int
    /// The piece starts a chunk that the range covers whole (the chunk is hashed).
    let startsWholeChunk: Bool
    /// The piece ends its chunk.
    let endsChunk: Bool

    /// The piece is a whole chunk: it is hashed as it is read, before any of it is handed out.
    var isWholeChunk: Bool { startsWholeChunk && endsChunk }
}

/// Cuts a blob's range into pieces: never across a chunk, never longer than the piece size.
struct PiecePlan: Sendable {
    let contents: BlobContents
    var position: Int64
    var entryIndex: Int

    init(contents: BlobContents) {
        self.contents = contents
        self.position = contents.range.lowerBound
        self.entryIndex = contents.range.isEmpty ? 0 : contents.manifest.entryIndex(containing: contents.range.lowerBound)
    }

    mutating func next() -> Piece? {
        let manifest = contents.manifest
        guard position < contents.range.upperBound else { return nil }
        let chunkStart = manifest.offsets[entryIndex]
        let chunkEnd = manifest.offsets[entryIndex + 1]
        let offsetInChunk = position - chunkStart
        let wholeChunk = contents.range.lowerBound <= chunkStart && contents.range.upperBound >= chunkEnd
        // A chunk the range covers whole is one piece (chunks are at most 16 MiB): read and verified in one go.
        let limit = wholeChunk && offsetInChunk == 0 ? Int64.max : Int64(contents.pieceSize)
        let length = Int(Swift.min(limit, Swift.min(chunkEnd, contents.range.upperBound) - position))
        let piece = Piece(
            chunk: manifest.entries[entryIndex].chunk, entryIndex: entryIndex, offsetInChunk: offsetInChunk, length: length,
            startsWholeChunk: offsetInChunk == 0 && wholeChunk, endsChunk: position + Int64(length) == chunkEnd)
        position += Int64(length)
        if position == chunkEnd { entryIndex += 1 }
        return piece
    }
}

/// Checks pieces in order: each has its length, and a chunk read whole matches its digest. Used by the one task
/// iterating the contents.
final class PieceChecker: @unchecked Sendable {
    // Mutated only by `check`, called by the iterator's owner one piece at a time.
    let manifest: Manifest
    var hasher: SHA256?

    init(manifest: Manifest) { self.manifest = manifest }

    func check(_ buffer: ByteBuffer, _ piece: Piece) throws {
        guard buffer.readableBytes == piece.length else {
            throw BlobStoreError(
                .corruptChunk, "chunk \(piece.chunk.hex) of blob \(manifest.blob.hex) is shorter than its manifest says")
        }
        // A whole chunk in one piece was verified where it was read (`verifyWhole`).
        guard !piece.isWholeChunk else { return }
        if piece.startsWholeChunk { hasher = SHA256() }
        guard hasher != nil else { return }
        buffer.withUnsafeReadableBytes { hasher!.update($0) }
        if piece.endsChunk {
            let digest = hasher.take()!.finalize()
            guard digest == piece.chunk else {
                throw BlobStoreError(.corruptChunk, "chunk \(piece.chunk.hex) of blob \(manifest.blob.hex) does not match its digest")
            }
        }
    }
}

extension PieceChecker {
    /// Checks a piece that is a whole chunk against the chunk's digest (any task may call it: it touches no state).
    func verifyWhole(_ buffer: ByteBuffer, _ piece: Piece) throws {
        guard buffer.readableBytes == piece.length else {
            throw BlobStoreError(.corruptChunk, "chunk \(piece.chunk.hex) of blob \(manifest.blob.hex) is shorter than its manifest says")
        }
        let digest = buffer.withUnsafeReadableBytes { SHA256.hash($0) }
        guard digest == piece.chunk else {
            throw BlobStoreError(.corruptChunk, "chunk \(piece.chunk.hex) of blob \(manifest.blob.hex) does not match its digest")
        }
    }
}

/// The whole-file hasher of a stream (and, for one request of a resumable upload, that request's own), updated by
/// one task at a time: the stream's hashing task, then its owner after the stream ends.
final class Hashers: @unchecked Sendable {
    // Touched by one task at a time (see above); the hand-over is ordered by the task group's completion.
    var whole: SHA256?
    var request: SHA256?

    init(_ whole: consuming SHA256?, request: consuming SHA256? = nil) {
        self.whole = whole
        self.request = request
    }

    func update(_ pieces: [ByteBuffer]) {
        for buffer in pieces {
            buffer.withUnsafeReadableBytes { bytes in
                whole?.update(bytes)
                request?.update(bytes)
            }
        }
    }

    func finalize() -> SHA256Digest {
        let hasher = whole.take()!
        return hasher.finalize()
    }
}
