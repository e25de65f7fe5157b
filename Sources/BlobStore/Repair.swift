import ExhibitCrypto
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What `BlobStore.repair` restored, and what it could not.
public struct RepairReport: Sendable, Codable {
    public struct Miss: Sendable, Codable, CustomStringConvertible {
        public let object: String
        public let reason: String
        public var description: String { "\(object): \(reason)" }
    }

    /// Objects replaced by a sound copy (paths such as `chunks/ab/cd/abcd…`).
    public var restored: [String] = []
    /// Objects that stayed broken, with the reason.
    public var missed: [Miss] = []

    public init() {}
}

/// Another copy of a store's objects, laid out as under a storage root (`chunks/ab/cd/<hex>`,
/// `manifests/ab/cd/<hex>`): a backup of `Storage/`, a mounted snapshot, a copy on removable media, or a
/// backup in a bucket (`objects`). Read only; nothing in it is changed.
public struct RepairSource: Sendable {
    /// The folder, or how the other copy is named in reports.
    public let root: String
    let objects: (any ObjectBackend)?

    /// The objects of another backend (a backup in a bucket), named `name` in reports.
    public init(objects: any ObjectBackend, name: String) {
        self.root = name
        self.objects = objects
    }

    /// Fails when `root` holds neither `chunks/` nor `manifests/`.
    public init(root: String) throws(BlobStoreError) {
        let root = URL(fileURLWithPath: root).standardizedFileURL.path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
            throw BlobStoreError(.fileNotFound, "no folder \(root) to repair from")
        }
        let chunks = FileManager.default.fileExists(atPath: root + "/chunks")
        let manifests = FileManager.default.fileExists(atPath: root + "/manifests")
        guard chunks || manifests else {
            throw BlobStoreError(
                .fileNotFound, "\(root) holds no chunks/ or manifests/ folder: give a copy of a storage root")
        }
        self.root = root
        self.objects = nil
    }

    /// The whole object, in pieces, when present and no larger than `limit`.
    func read(_ key: ObjectKey, limit: Int) async throws -> [ByteBuffer]? {
        guard let objects else { return try readFile(key, limit: limit) }
        guard let size = try await objects.size(of: key) else { return nil }
        guard size <= Int64(limit) else { throw BlobStoreError(.tooLarge, "\(key) in \(root) has \(size) bytes, more than an object may have") }
        var parts: [ByteBuffer] = []
        var offset: Int64 = 0
        while offset < size {
            let piece = try await objects.read(key, offset: offset, length: min(4 << 20, Int(size - offset)))
            if piece.readableBytes == 0 { break }
            offset += Int64(piece.readableBytes)
            parts.append(piece)
        }
        return parts
    }

    func readFile(_ key: ObjectKey, limit: Int) throws -> [ByteBuffer]? {
        let path = root + "/" + key.path
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw BlobStoreError.posix(errno, "cannot stat", path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        guard info.st_size <= off_t(limit) else {
            throw BlobStoreError(.tooLarge, "\(path) has \(info.st_size) bytes, more than an object may have")
        }
        var parts: [ByteBuffer] = []
        var offset: Int64 = 0
        let piece = 1 << 20
        while offset < Int64(info.st_size) {
            let buffer = try LocalBackend.readBlocking(path, offset: offset, length: min(piece, Int(Int64(info.st_size) - offset)))
            if buffer.readableBytes == 0 { break }
            offset += Int64(buffer.readableBytes)
            parts.append(buffer)
        }
        return parts
    }
}

extension BlobStore {
    /// The largest chunk a repair reads (the chunker's ceiling is 16 MiB) and the largest manifest.
    static let repairLimit = 64 << 20

    /// Replaces the broken objects named in `report` with their copies in `source`, each only when its bytes
    /// check out: a chunk must hash to its name, a manifest must parse and name its blob. Manifests are restored
    /// before chunks so that a restored manifest's chunks are checked in the next `verify`. Nothing in `source`
    /// is trusted: a copy that does not check out is reported and left where it is.
    public func repair(_ report: VerificationReport, from source: RepairSource) async throws -> RepairReport {
        var result = RepairReport()
        var manifests: [SHA256Digest] = []
        var chunks: [SHA256Digest] = []
        for problem in report.problems {
            switch problem.kind {
            case .missingManifest, .corruptManifest, .blobMismatch:
                manifests.append(contentsOf: problem.blobs)
            case .missingChunk, .corruptChunk:
                if let chunk = problem.chunk { chunks.append(chunk) }
            }
        }
        for blob in Set(manifests).sorted() {
            let key = ObjectKey.manifest(blob)
            guard let parts = try await source.read(key, limit: Self.repairLimit) else {
                result.missed.append(.init(object: key.path, reason: "not in \(source.root)"))
                continue
            }
            let length = parts.reduce(0) { $0 + $1.readableBytes }
            var joined = ByteBuffer()
            joined.reserveCapacity(length)
            for var part in parts { joined.writeBuffer(&part) }
            let copy: Manifest
            do {
                copy = try Manifest(parsing: joined)
            } catch {
                result.missed.append(.init(object: key.path, reason: "the copy in \(source.root) is corrupt too (\(error.message))"))
                continue
            }
            guard copy.blob == blob else {
                result.missed.append(.init(object: key.path, reason: "the copy in \(source.root) names blob \(copy.blob.hex)"))
                continue
            }
            if let size = try await backend.size(of: key), size == Int64(length),
               let current = try? await backend.read(key, offset: 0, length: length), current == joined {
                result.missed.append(.init(object: key.path, reason: "the copy in \(source.root) is the same as the broken one"))
                continue
            }
            try await backend.repair(key, parts: [joined], length: length)
            result.restored.append(key.path)
        }
        for chunk in Set(chunks).sorted() {
            let key = ObjectKey.chunk(chunk)
            guard let parts = try await source.read(key, limit: Self.repairLimit) else {
                result.missed.append(.init(object: key.path, reason: "not in \(source.root)"))
                continue
            }
            var hasher = SHA256()
            for part in parts { part.withUnsafeReadableBytes { hasher.update($0) } }
            guard hasher.finalize() == chunk else {
                result.missed.append(.init(object: key.path, reason: "the copy in \(source.root) does not hash to its name either"))
                continue
            }
            try await backend.repair(key, parts: parts, length: parts.reduce(0) { $0 + $1.readableBytes })
            result.restored.append(key.path)
        }
        dropCachedManifests()
        return result
    }
}
