import BlobStore
import ExhibitCrypto
import ExhibitTesting
import Foundation
import NIOCore
import S3Store
import Testing

@Suite(.serialized, .enabled(if: CephGateway.installed, "SKIPPED LOUDLY: Ceph (ceph-mon, ceph-osd, radosgw) is not installed; run `make deps`"))
struct S3BackendTests {
    @Test func blobsGoIntoObjectStorageAndComeBackIntact() async throws {
        let gateway = try await CephGateway()
        let backend = S3Backend(location: gateway.location(bucket: "exhibit-blobs"))
        try await backend.createBucket()
        try await backend.checkAvailable()

        let leases = try TemporaryDirectory("leases")
        try FileManager.default.createDirectory(atPath: leases.appending("tmp"), withIntermediateDirectories: true)
        let store = BlobStore(backend: backend, leases: LocalLeases(root: leases.path))

        // A 20 MiB file: stored as chunks, read back whole and by range, byte for byte.
        let bytes = DeterministicRandom.bytes(20 << 20, seed: 44)
        let put = try await store.put([ByteBuffer(bytes: bytes)].async)
        #expect(put.blob.digest == SHA256.hash(bytes))
        #expect(put.chunkCount > 5)
        #expect(put.newBytes == Int64(bytes.count))
        var whole = [UInt8]()
        for try await piece in try await store.contents(of: put.blob.digest) { whole += Array(piece.readableBytesView) }
        #expect(whole == bytes)
        var range = [UInt8]()
        for try await piece in try await store.contents(of: put.blob.digest, range: 5_000_000..<9_000_123) { range += Array(piece.readableBytesView) }
        #expect(range == Array(bytes[5_000_000..<9_000_123]))

        // The same bytes again: nothing new is written, and nothing is replaced (If-None-Match).
        let again = try await store.put([ByteBuffer(bytes: bytes)].async)
        #expect(again.newBytes == 0)
        #expect(again.newChunks == 0)
        var listed = 0
        for try await _ in backend.keys(.chunk) { listed += 1 }
        #expect(listed == Set(put.manifest.entries.map(\.chunk)).count)

        // Verification reads everything back; a deleted chunk is named, and repaired from the bytes.
        #expect(try await store.verify().isClean)
        let victim = put.manifest.entries[2].chunk
        try await backend.delete(.chunk(victim))
        let damaged = try await store.verify()
        #expect(damaged.problems.contains { $0.kind == .missingChunk && $0.chunk == victim })
        let offset = Int(put.manifest.offsets[2])
        let original = ByteBuffer(bytes: bytes[offset..<(offset + put.manifest.entries[2].length)])
        try await backend.repair(.chunk(victim), parts: [original], length: original.readableBytes)
        #expect(try await store.verify().isClean)

        // Garbage collection: an orphan blob goes, the live one stays.
        let orphan = try await store.put([ByteBuffer(bytes: DeterministicRandom.bytes(3 << 20, seed: 45))].async)
        let report = try await store.collectGarbage(live: { ([put.blob.digest], []) })
        #expect(report.manifestsRemoved == 1)
        #expect(report.blobs == [orphan.blob.digest])
        #expect(report.chunksRemoved == orphan.chunkCount)
        #expect(try await store.verify().isClean)
    }

    @Test func wrongCredentialsAndAMissingBucketAreClearErrors() async throws {
        let gateway = try await CephGateway()
        let good = S3Backend(location: gateway.location(bucket: "exhibit-auth"))
        try await good.createBucket()
        let wrong = S3Backend(location: gateway.location(bucket: "exhibit-auth", secret: "not-the-secret"))
        do {
            try await wrong.checkAvailable()
            Issue.record("wrong credentials were accepted")
        } catch let error as BlobStoreError {
            #expect(error.code == .permissionDenied, "\(error)")
            #expect(error.message.contains("credentials"), "\(error)")
        }
        let missing = S3Backend(location: gateway.location(bucket: "no-such-bucket"))
        do {
            try await missing.checkAvailable()
            Issue.record("a missing bucket was accepted")
        } catch let error as BlobStoreError {
            #expect(error.message.contains("does not exist"), "\(error)")
        }
        // A PUT with bytes that do not match the signed SHA-256 (a chunk named for other bytes) is refused by the store.
        let liar = ObjectKey.chunk(SHA256.hash([UInt8](repeating: 1, count: 10)))
        await #expect(throws: BlobStoreError.self) {
            _ = try await good.batch().store(liar, parts: [ByteBuffer(bytes: [UInt8](repeating: 2, count: 10))], length: 10)
        }
        #expect(try await good.size(of: liar) == nil)
    }
}

extension Array where Element: Sendable {
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}

extension CephGateway {
    func location(bucket: String, prefix: String = "exhibit", secret: String? = nil) -> S3Location {
        S3Location(endpoint: URL(string: endpoint)!, bucket: bucket, prefix: prefix, accessKey: access, secretKey: secret ?? self.secret)
    }
}
