import BlobStore
import ExhibitCrypto
import ExhibitTesting
import Testing

@Suite struct ChunkerTests {
    @Test func parametersAreValidated() {
        #expect(throws: BlobStoreError.self) { try ChunkingParameters(minSize: 1024, averageSize: 1 << 20, maxSize: 4 << 20) }
        #expect(throws: BlobStoreError.self) { try ChunkingParameters(minSize: 256 << 10, averageSize: 1_000_000, maxSize: 4 << 20) }
        #expect(throws: BlobStoreError.self) { try ChunkingParameters(minSize: 2 << 20, averageSize: 1 << 20, maxSize: 4 << 20) }
        #expect(throws: BlobStoreError.self) { try ChunkingParameters(minSize: 256 << 10, averageSize: 1 << 20, maxSize: 64 << 20) }
        #expect(throws: Never.self) { try ChunkingParameters(minSize: 16 << 10, averageSize: 64 << 10, maxSize: 256 << 10) }
    }

    @Test func gearTableIsTheDocumentedOne() {
        // GEAR[i] = first 8 bytes (big-endian) of SHA-256("exhibit-fastcdc-gear-v1" || i); Storage/README.md.
        for i in [0, 1, 127, 255] {
            var message = Array("exhibit-fastcdc-gear-v1".utf8)
            message.append(UInt8(i))
            let expected = SHA256.hash(message).bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            #expect(Chunker.gearValue(i) == expected)
        }
        // Pinned values, computed independently with Python's hashlib.
        #expect(Chunker.gearValue(0) == 0x726e_0ddd_45a1_7804)
        #expect(Chunker.gearValue(255) == 0xfd3d_55b6_d7cf_7005)
    }

    @Test func boundariesDoNotDependOnBuffering() {
        var random = DeterministicRandom(seed: 42)
        let data = random.bytes(24 << 20)
        let reference = data.withUnsafeBytes { Chunker.cuts(of: $0) }
        #expect(reference.count > 10)
        for round in 0..<6 {
            var chunker = Chunker()
            var cuts: [Int] = []
            var offset = 0
            while offset < data.count {
                // Buffer sizes from 1 byte to ~2 MiB, including the pathological tiny ones.
                let n = min(round == 0 ? 1 + Int(random.next() % 7) : 1 + Int(random.next() % (2 << 20)), data.count - offset)
                var local: [Int] = []
                data.withUnsafeBytes { chunker.scan(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n]), cuts: &local) }
                cuts.append(contentsOf: local.map { $0 + offset })
                offset += n
                if round == 0 && offset > 3 << 20 { break }
            }
            if round == 0 {
                #expect(cuts == reference.filter { $0 <= offset })
            } else {
                if chunker.finish() > 0 { cuts.append(data.count) }
                #expect(cuts == reference)
            }
        }
    }

    @Test func minimumAndMaximumAreRespected() {
        var random = DeterministicRandom(seed: 1)
        let parameters = ChunkingParameters.default
        let noisy = random.bytes(40 << 20)
        let zeros = [UInt8](repeating: 0, count: 20 << 20)
        for data in [noisy, zeros] {
            let cuts = data.withUnsafeBytes { Chunker.cuts(of: $0) }
            var previous = 0
            for (index, cut) in cuts.enumerated() {
                let length = cut - previous
                #expect(length <= parameters.maxSize)
                if index < cuts.count - 1 { #expect(length >= parameters.minSize) }
                previous = cut
            }
            #expect(cuts.last == data.count)
        }
        // Data with no content boundary at all is cut at exactly max.
        let zeroCuts = zeros.withUnsafeBytes { Chunker.cuts(of: $0) }
        #expect(zeroCuts.first == parameters.maxSize)
        // Random data averages close to the configured size (normalized chunking: between avg and 2·avg).
        let noisyCuts = noisy.withUnsafeBytes { Chunker.cuts(of: $0) }
        let average = noisy.count / noisyCuts.count
        #expect(average > parameters.averageSize)
        #expect(average < 2 * parameters.averageSize)
    }

    @Test func emptyAndTinyInputs() {
        #expect([UInt8]().withUnsafeBytes { Chunker.cuts(of: $0) } == [])
        #expect([UInt8](repeating: 7, count: 1).withUnsafeBytes { Chunker.cuts(of: $0) } == [1])
        let small = DeterministicRandom.bytes(100_000, seed: 3)
        #expect(small.withUnsafeBytes { Chunker.cuts(of: $0) } == [100_000])
        var chunker = Chunker()
        var cuts: [Int] = []
        chunker.scan(UnsafeRawBufferPointer(start: nil, count: 0), cuts: &cuts)
        #expect(cuts.isEmpty)
        #expect(chunker.finish() == 0)
    }

    /// Inserting 1 MiB at 100 MiB of a 300 MiB file changes at most 3 chunks besides those made only of the
    /// inserted bytes: content-defined boundaries resynchronise right after an edit.
    @Test func insertionChangesFewChunks() {
        let size = 300 << 20
        let insertAt = 100 << 20
        let inserted = 1 << 20
        let original = chunkDigests(size: size, insertAt: nil, insertLength: 0)
        let edited = chunkDigests(size: size, insertAt: insertAt, insertLength: inserted)
        let known = Set(original.map(\.digest))
        let changed = edited.filter { !known.contains($0.digest) }
        // Chunks lying wholly inside the inserted bytes are the insertion itself.
        let besidesInserted = changed.filter { !($0.start >= insertAt && $0.end <= insertAt + inserted) }
        #expect(besidesInserted.count <= 3, "changed chunks: \(changed.map { ($0.start, $0.end) })")
        // Everything after the edit is shared again.
        #expect(edited.last.map { known.contains($0.digest) } == true)
    }

    struct ChunkSpan {
        let start: Int
        let end: Int
        let digest: SHA256Digest
    }

    /// Chunks a generated stream (optionally with other random bytes inserted) 4 MiB at a time.
    func chunkDigests(size: Int, insertAt: Int?, insertLength: Int) -> [ChunkSpan] {
        var base = DeterministicRandom(seed: 300)
        var extra = DeterministicRandom(seed: 301)
        var chunker = Chunker()
        var spans: [ChunkSpan] = []
        var hasher = SHA256()
        var chunkStart = 0
        var produced = 0
        var baseProduced = 0
        let total = size + (insertAt == nil ? 0 : insertLength)
        var piece = [UInt8](repeating: 0, count: 4 << 20)
        while produced < total {
            var n = min(piece.count, total - produced)
            if let insertAt {
                if baseProduced < insertAt {
                    n = min(n, insertAt - baseProduced)
                    piece.withUnsafeMutableBytes { base.fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
                    baseProduced += n
                } else if produced < insertAt + insertLength {
                    n = min(n, insertAt + insertLength - produced)
                    piece.withUnsafeMutableBytes { extra.fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
                } else {
                    piece.withUnsafeMutableBytes { base.fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
                    baseProduced += n
                }
            } else {
                piece.withUnsafeMutableBytes { base.fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
            }
            var cuts: [Int] = []
            piece.withUnsafeBytes { chunker.scan(UnsafeRawBufferPointer(rebasing: $0[0..<n]), cuts: &cuts) }
            var from = 0
            for cut in cuts {
                piece.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[from..<cut])) }
                let digest = hasher.finalize()
                hasher = SHA256()
                spans.append(ChunkSpan(start: chunkStart, end: produced + cut, digest: digest))
                chunkStart = produced + cut
                from = cut
            }
            piece.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[from..<n])) }
            produced += n
        }
        if chunker.finish() > 0 {
            spans.append(ChunkSpan(start: chunkStart, end: produced, digest: hasher.finalize()))
        }
        return spans
    }
}
