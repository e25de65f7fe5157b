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

        // Named objects beside them (a backup's files): a 40 MiB file goes up in three parts (multipart upload)
        // and comes back byte for byte; names are listed, sized, removed; a name that could leave the prefix is
        // refused before any request.
        let named = S3Backend(location: gateway.location(bucket: "exhibit-blobs", prefix: "backups-test"))
        let folder = try TemporaryDirectory("named")
        let large = DeterministicRandom.bytes(40 << 20, seed: 46)
        try Data(large).write(to: URL(fileURLWithPath: folder.appending("catalog.sqlite")))
        try await named.putObject(named: "backups/one/catalog.sqlite", file: folder.appending("catalog.sqlite"))
        try await named.putObject(named: "backups/one/backup.json", bytes: ByteBuffer(string: "{}"))
        #expect(try await named.sizeOfObject(named: "backups/one/catalog.sqlite") == Int64(large.count), "the multipart object's size")
        var back = [UInt8]()
        while back.count < large.count {
            let piece = try #require(try await named.readObject(named: "backups/one/catalog.sqlite", offset: Int64(back.count), length: 7 << 20))
            #expect(piece.readableBytes > 0, "an empty read at \(back.count)")
            if piece.readableBytes == 0 { break }
            back += Array(piece.readableBytesView)
        }
        #expect(back == large, "the multipart object did not come back byte for byte")
        var names: [String] = []
        for try await name in named.objectNames(startingWith: "backups/") { names.append(name) }
        #expect(names.sorted() == ["backups/one/backup.json", "backups/one/catalog.sqlite"], "listed names: \(names)")
        for unsafe in ["../escape", "/absolute", "a//b", "backups/./x", "spaced name"] {
            await #expect(throws: BlobStoreError.self, "the name '\(unsafe)' was accepted") {
                try await named.putObject(named: unsafe, bytes: ByteBuffer(string: "x"))
            }
        }
        try await named.deleteObject(named: "backups/one/catalog.sqlite")
        #expect(try await named.sizeOfObject(named: "backups/one/catalog.sqlite") == nil, "a deleted object is still there")
        #expect(try await named.readObject(named: "backups/one/catalog.sqlite", offset: 0, length: 10) == nil, "a deleted object still reads")
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
