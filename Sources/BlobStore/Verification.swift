public import ExhibitCrypto
import NIOCore

/// What `BlobStore.verify` found.
public struct VerificationReport: Sendable, Codable {
    public enum ProblemKind: String, Sendable, Codable {
        /// A manifest names a chunk the store does not have.
        case missingChunk = "missing-chunk"
        /// A chunk's bytes do not hash to its name (or it is shorter or longer than a manifest says).
        case corruptChunk = "corrupt-chunk"
        /// A manifest cannot be read or parsed.
        case corruptManifest = "corrupt-manifest"
        /// A blob that should be present has no manifest.
        case missingManifest = "missing-manifest"
        /// All chunks are sound but together they do not hash to the blob's digest: the manifest lists the
        /// wrong chunks.
        case blobMismatch = "manifest-mismatch"
    }

    public struct Problem: Sendable, Codable, CustomStringConvertible {
        public let kind: ProblemKind
        /// The chunk concerned, for chunk problems.
        public let chunk: SHA256Digest?
        /// The blobs this problem breaks.
        public var blobs: [SHA256Digest]
        public let detail: String

        public var description: String {
            let what = chunk.map { "chunk \($0.hex)" } ?? "blob"
            let broken = blobs.map(\.hex).joined(separator: ", ")
            return "\(kind.rawValue): \(what): \(detail)" + (blobs.isEmpty ? "" : " (breaks blob \(broken))")
        }
    }

    public var blobsChecked = 0
    public var chunksChecked = 0
    public var bytesChecked: Int64 = 0
    public var problems: [Problem] = []

    public var isClean: Bool { problems.isEmpty }

    /// Blobs broken by any problem.
    public var brokenBlobs: Set<SHA256Digest> { Set(problems.flatMap(\.blobs)) }
}

extension BlobStore {
    /// Re-reads and re-hashes the store.
    ///
    /// Every blob listed (all manifests in the store by default, or `blobs`) is streamed chunk by chunk: each
    /// chunk is hashed once against its name and the whole blob against its digest. With `includeUnreferenced`
    /// the chunks that no checked manifest names are hashed too. Each corrupt or missing chunk is reported with
    /// the blobs it breaks.
    /// `pace`, when given, is awaited after each chunk read with its length: a scheduled scrub slows down or
    /// pauses there.
    public func verify(
        blobs: [SHA256Digest]? = nil, includeUnreferenced: Bool = true, pace: (@Sendable (Int) async throws -> Void)? = nil
    ) async throws -> VerificationReport {
        var report = VerificationReport()
        var chunkState: [SHA256Digest: ChunkCheck] = [:]
        var problemIndex: [SHA256Digest: Int] = [:]

        func note(_ kind: VerificationReport.ProblemKind, chunk: SHA256Digest, blob: SHA256Digest?, _ detail: String) {
            if let index = problemIndex[chunk] {
                if let blob, !report.problems[index].blobs.contains(blob) { report.problems[index].blobs.append(blob) }
            } else {
                problemIndex[chunk] = report.problems.count
                report.problems.append(.init(kind: kind, chunk: chunk, blobs: blob.map { [$0] } ?? [], detail: detail))
            }
        }

        var list: [SHA256Digest]
        if let blobs {
            list = blobs
        } else {
            list = []
            for try await key in backend.keys(.manifest) { list.append(key.digest) }
            list.sort()
        }
        dropCachedManifests()

        for blob in list {
            report.blobsChecked += 1
            let manifest: Manifest
            do {
                manifest = try await self.manifest(of: blob)
            } catch let error as BlobStoreError where error.code == .blobNotFound {
                report.problems.append(.init(kind: .missingManifest, chunk: nil, blobs: [blob], detail: "no manifest"))
                continue
            } catch let error as BlobStoreError where error.code == .corruptManifest {
                report.problems.append(.init(kind: .corruptManifest, chunk: nil, blobs: [blob], detail: error.message))
                continue
            }
            var blobHasher = SHA256()
            var blobIntact = true
            for entry in manifest.entries {
                if let known = chunkState[entry.chunk] {
                    switch known {
                    case .missing:
                        note(.missingChunk, chunk: entry.chunk, blob: blob, "not in the store")
                        blobIntact = false
                        continue
                    case .corrupt:
                        note(.corruptChunk, chunk: entry.chunk, blob: blob, "bytes do not match the name")
                        blobIntact = false
                        continue
                    case .sound(let length) where length != entry.length:
                        note(.corruptChunk, chunk: entry.chunk, blob: blob, "has \(length) bytes, manifest says \(entry.length)")
                        blobIntact = false
                        continue
                    case .sound:
                        break
                    }
                    // Known sound: only the blob digest needs its bytes.
                    if blobIntact {
                        try await stream(entry.chunk, length: entry.length) { blobHasher.update($0) }
                        try await pace?(entry.length)
                    }
                    continue
                }
                let check = try await checkChunk(entry.chunk) { bytes in
                    if blobIntact { blobHasher.update(bytes) }
                }
                chunkState[entry.chunk] = check
                report.chunksChecked += 1
                try await pace?(entry.length)
                switch check {
                case .missing:
                    note(.missingChunk, chunk: entry.chunk, blob: blob, "not in the store")
                    blobIntact = false
                case .corrupt:
                    note(.corruptChunk, chunk: entry.chunk, blob: blob, "bytes do not match the name")
                    blobIntact = false
                case .sound(let length):
                    report.bytesChecked += Int64(length)
                    if length != entry.length {
                        note(.corruptChunk, chunk: entry.chunk, blob: blob, "has \(length) bytes, manifest says \(entry.length)")
                        blobIntact = false
                    }
                }
            }
            let digest = blobHasher.finalize()
            if blobIntact && digest != blob {
                report.problems.append(
                    .init(kind: .blobMismatch, chunk: nil, blobs: [blob], detail: "the chunks it lists hash to \(digest.hex), not to the blob"))
            }
        }

        if includeUnreferenced {
            for try await key in backend.keys(.chunk) where chunkState[key.digest] == nil {
                let check = try await checkChunk(key.digest) { _ in }
                chunkState[key.digest] = check
                report.chunksChecked += 1
                switch check {
                case .corrupt: note(.corruptChunk, chunk: key.digest, blob: nil, "bytes do not match the name")
                case .sound(let length):
                    report.bytesChecked += Int64(length)
                    try await pace?(length)
                case .missing: break  // removed while we looked
                }
            }
        }
        return report
    }

    enum ChunkCheck {
        case missing
        case corrupt
        case sound(length: Int)
    }

    /// Hashes one stored chunk, handing its bytes to `body` as they are read.
    func checkChunk(_ digest: SHA256Digest, _ body: (UnsafeRawBufferPointer) -> Void) async throws -> ChunkCheck {
        guard let size = try await backend.size(of: .chunk(digest)) else { return .missing }
        var hasher = SHA256()
        try await stream(digest, length: Int(size)) { bytes in
            hasher.update(bytes)
            body(bytes)
        }
        return hasher.finalize() == digest ? .sound(length: Int(size)) : .corrupt
    }

    private func stream(
        _ chunk: SHA256Digest, length: Int, _ body: (UnsafeRawBufferPointer) -> Void
    ) async throws {
        var offset = 0
        let piece = 1 << 20
        while offset < length {
            let buffer = try await backend.read(.chunk(chunk), offset: Int64(offset), length: min(piece, length - offset))
            guard buffer.readableBytes > 0 else { break }
            buffer.withUnsafeReadableBytes { body($0) }
            offset += buffer.readableBytes
        }
    }
}
