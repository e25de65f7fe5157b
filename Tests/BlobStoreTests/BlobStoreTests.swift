import BlobStore
import ExhibitCrypto
import ExhibitTesting
import Foundation
import NIOCore
import Testing

/// An in-memory body cut into buffers of random sizes, optionally failing after `failAfter` bytes
/// (a client that disconnects).
struct TestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let data: [UInt8]
    let seed: UInt64
    var maxPiece = 300_000
    var failAfter: Int?

    struct Disconnected: Error {}

    func makeAsyncIterator() -> Iterator { Iterator(body: self, random: DeterministicRandom(seed: seed)) }

    struct Iterator: AsyncIteratorProtocol {
        let body: TestBody
        var random: DeterministicRandom
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            if let failAfter = body.failAfter, offset >= failAfter { throw Disconnected() }
            guard offset < body.data.count else { return nil }
            let n = Swift.min(1 + Int(random.next() % UInt64(body.maxPiece)), body.data.count - offset)
            defer { offset += n }
            return ByteBuffer(bytes: body.data[offset..<offset + n])
        }
    }
}

func collect(_ contents: BlobContents) async throws -> [UInt8] {
    var out: [UInt8] = []
    for try await piece in contents { out.append(contentsOf: piece.readableBytesView) }
    return out
}

func files(under path: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
    var out: [String] = []
    while let name = walker.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
            out.append(name)
        }
    }
    return out.sorted()
}

@Suite struct BlobStoreTests {
    let folder: TemporaryDirectory
    let store: BlobStore

    init() throws {
        folder = try TemporaryDirectory("blobstore")
        store = BlobStore(backend: try LocalBackend(root: folder.path))
    }

    @Test func roundTripAndRanges() async throws {
        var random = DeterministicRandom(seed: 11)
        let data = random.bytes(9 << 20 + 12345)
        let result = try await store.put(TestBody(data: data, seed: 1))
        #expect(result.blob.digest == SHA256.hash(data))
        #expect(result.blob.size == Int64(data.count))
        #expect(result.newBytes == Int64(data.count))
        #expect(result.manifest.entries.reduce(0) { $0 + $1.length } == data.count)
        #expect(try await collect(store.contents(of: result.blob.digest)) == data)

        // Random ranges, including ones crossing chunk boundaries and single bytes at the ends.
        var ranges: [Range<Int64>] = [0..<1, Int64(data.count - 1)..<Int64(data.count), 0..<0]
        for entry in result.manifest.offsets.dropFirst().dropLast() { ranges.append((entry - 10)..<(entry + 10)) }
        for _ in 0..<40 {
            let a = Int64(random.next() % UInt64(data.count))
            let b = a + Int64(random.next() % UInt64(Int64(data.count) - a + 1))
            ranges.append(a..<b)
        }
        for range in ranges {
            let bytes = try await collect(store.contents(of: result.blob.digest, range: range, pieceSize: 100_000))
            #expect(bytes == Array(data[Int(range.lowerBound)..<Int(range.upperBound)]))
        }
        await #expect(throws: BlobStoreError.self) {
            _ = try await store.contents(of: result.blob.digest, range: 0..<Int64(data.count + 1))
        }
        await #expect(throws: BlobStoreError.self) {
            _ = try await store.contents(of: SHA256.hash("absent"))
        }
    }

    @Test func emptyBlob() async throws {
        let result = try await store.put(TestBody(data: [], seed: 1))
        #expect(result.blob.digest.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(result.chunkCount == 0)
        #expect(result.blob.size == 0)
        #expect(try await collect(store.contents(of: result.blob.digest)) == [])
        #expect(try await store.verify().isClean)
    }

    @Test func chunksAreNamedByContentAndReadOnly() async throws {
        let data = DeterministicRandom.bytes(5 << 20, seed: 5)
        let result = try await store.put(TestBody(data: data, seed: 2))
        let chunkFiles = files(under: folder.path + "/chunks")
        #expect(chunkFiles.count == result.chunkCount)
        for name in chunkFiles {
            let path = folder.path + "/chunks/" + name
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let hex = SHA256.hash(bytes).hex
            #expect(name == "\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)")
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
            #expect(mode & 0o222 == 0, "chunk files are read-only")
        }
        let manifest = try String(contentsOfFile: folder.path + "/" + ObjectKey.manifest(result.blob.digest).path, encoding: .utf8)
        #expect(manifest.hasPrefix("exhibit-manifest 1\nblob \(result.blob.digest.hex)\nsize \(data.count)\n"))
        #expect(files(under: folder.path + "/tmp").isEmpty)
    }

    @Test func identicalBytesAreStoredOnce() async throws {
        let data = DeterministicRandom.bytes(6 << 20, seed: 6)
        let first = try await store.put(TestBody(data: data, seed: 3))
        let before = files(under: folder.path + "/chunks")
        let second = try await store.put(TestBody(data: data, seed: 4, maxPiece: 17))
        #expect(second.blob == first.blob)
        #expect(second.newBytes == 0)
        #expect(second.newChunks == 0)
        #expect(second.manifest == first.manifest)
        #expect(files(under: folder.path + "/chunks") == before)
        // Repeated content inside one body is written once too.
        let zeros = [UInt8](repeating: 0, count: 20 << 20)
        let repeated = try await store.put(TestBody(data: zeros, seed: 5))
        #expect(repeated.chunkCount == 5)
        #expect(repeated.newChunks == 1)
        #expect(repeated.newBytes == 4 << 20)
    }

    @Test func eightConcurrentPutsOfTheSameBytes() async throws {
        let data = DeterministicRandom.bytes(12 << 20, seed: 8)
        let store = self.store
        let results = try await withThrowingTaskGroup(of: BlobStore.PutResult.self) { group in
            for seed in 0..<8 { group.addTask { try await store.put(TestBody(data: data, seed: UInt64(seed))) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8)
        #expect(Set(results.map(\.blob.digest)) == [SHA256.hash(data)])
        // Exactly one writer created each chunk: the new bytes add up to the size once.
        #expect(results.reduce(0) { $0 + $1.newBytes } == Int64(data.count))
        #expect(files(under: folder.path + "/chunks").count == results[0].chunkCount)
        #expect(files(under: folder.path + "/manifests").count == 1)
        #expect(files(under: folder.path + "/tmp").isEmpty)
        #expect(try await store.verify().isClean)
    }

    @Test func digestMismatchAndSizeLimitStoreNoManifest() async throws {
        let data = DeterministicRandom.bytes(3 << 20, seed: 9)
        await #expect(throws: BlobStoreError.self) {
            _ = try await store.put(TestBody(data: data, seed: 1), expectedDigest: SHA256.hash("something else"))
        }
        await #expect(throws: BlobStoreError.self) {
            _ = try await store.put(TestBody(data: data, seed: 1), sizeLimit: 1 << 20)
        }
        #expect(files(under: folder.path + "/manifests").isEmpty)
        let ok = try await store.put(TestBody(data: data, seed: 1), sizeLimit: Int64(data.count), expectedDigest: SHA256.hash(data))
        #expect(ok.blob.digest == SHA256.hash(data))
    }

    @Test func aBodyThatFailsHalfWayLeavesNoBlob() async throws {
        let data = DeterministicRandom.bytes(8 << 20, seed: 10)
        await #expect(throws: TestBody.Disconnected.self) {
            _ = try await store.put(TestBody(data: data, seed: 1, failAfter: 5 << 20))
        }
        #expect(files(under: folder.path + "/manifests").isEmpty)
        #expect(files(under: folder.path + "/tmp").isEmpty)
        #expect(try await store.contains(SHA256.hash(data)) == false)
        // Whatever chunks were completed are sound (orphans for gc), and the store verifies.
        #expect(try await store.verify().isClean)
    }

    @Test func verificationNamesEachProblemAndTheBlobsItBreaks() async throws {
        var random = DeterministicRandom(seed: 12)
        let a = random.bytes(6 << 20)
        let b = random.bytes(6 << 20)
        let blobA = try await store.put(TestBody(data: a, seed: 1))
        let blobB = try await store.put(TestBody(data: b, seed: 1))
        #expect(try await store.verify().isClean)

        func chunkPath(_ digest: SHA256Digest) -> String { folder.path + "/" + ObjectKey.chunk(digest).path }
        // Flip one bit in A's second chunk.
        let flipped = blobA.manifest.entries[1].chunk
        try corrupt(chunkPath(flipped)) { $0[1000] ^= 0x01 }
        // Delete B's first chunk, truncate B's last.
        let deleted = blobB.manifest.entries[0].chunk
        try FileManager.default.removeItem(atPath: chunkPath(deleted))
        let truncated = blobB.manifest.entries.last!.chunk
        try corrupt(chunkPath(truncated)) { $0.removeLast(100) }

        let report = try await store.verify()
        #expect(!report.isClean)
        let byChunk = Dictionary(uniqueKeysWithValues: report.problems.compactMap { p in p.chunk.map { ($0, p) } })
        #expect(byChunk[flipped]?.kind == .corruptChunk)
        #expect(byChunk[flipped]?.blobs == [blobA.blob.digest])
        #expect(byChunk[deleted]?.kind == .missingChunk)
        #expect(byChunk[deleted]?.blobs == [blobB.blob.digest])
        #expect(byChunk[truncated]?.kind == .corruptChunk)
        #expect(byChunk[truncated]?.blobs == [blobB.blob.digest])
        #expect(report.brokenBlobs == [blobA.blob.digest, blobB.blob.digest])

        // Reading the damaged chunk whole fails instead of handing out wrong bytes.
        await #expect(throws: BlobStoreError.self) { _ = try await collect(store.contents(of: blobA.blob.digest)) }

        // A deleted manifest is reported for a blob the caller expects.
        try FileManager.default.removeItem(atPath: folder.path + "/" + ObjectKey.manifest(blobA.blob.digest).path)
        store.dropCachedManifests()
        let expected = try await store.verify(blobs: [blobA.blob.digest], includeUnreferenced: false)
        #expect(expected.problems.map(\.kind) == [.missingManifest])
    }

    @Test func storingAgainRepairsATruncatedChunk() async throws {
        let data = DeterministicRandom.bytes(3 << 20, seed: 13)
        let first = try await store.put(TestBody(data: data, seed: 1))
        let victim = first.manifest.entries[0].chunk
        try corrupt(folder.path + "/" + ObjectKey.chunk(victim).path) { $0.removeLast(1) }
        #expect(try await !store.verify().isClean)
        _ = try await store.put(TestBody(data: data, seed: 2))
        #expect(try await store.verify().isClean)
    }

    /// Rewrites a (read-only) file through `change`.
    func corrupt(_ path: String, _ change: (inout Data) -> Void) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        change(&data)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        try data.write(to: URL(fileURLWithPath: path))
    }
}
