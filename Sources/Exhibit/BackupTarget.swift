public import BlobStore
public import ExhibitModel
public import Foundation
import NIOCore
public import S3Store

/// Where backups go (README, "Backups"): a folder, or a bucket (and prefix) of S3-compatible storage. Both hold
/// the same names: the content-addressed `chunks/…` and `manifests/…` shared by every backup, and each backup's
/// files under `backups/<id>/`, its signed `backup.json` written last (a backup without it is not one).
public protocol BackupTarget: Sendable, CustomStringConvertible {
    /// The chunks and manifests.
    var objects: any ObjectBackend { get }
    /// The ids of the backups whose record is there, oldest first.
    func backupIDs() async throws -> [String]
    /// A small file of a backup (`backups/<id>/backup.json`), whole, or nil when it is not there; larger than
    /// `limit` is an error.
    func read(_ name: String, limit: Int) async throws -> Data?
    /// Writes a small file durably (replacing one of that name).
    func write(_ name: String, _ bytes: Data) async throws
    /// Stores the local file at `path` under `name`, streamed, durably.
    func store(file path: String, as name: String) async throws
    /// A local path holding the file `name`: the file itself in a folder, else a copy made under `scratch`
    /// (streamed). The caller must not change it.
    func localFile(_ name: String, scratch: String) async throws -> String
    /// Removes whatever a backup that did not finish left under `backups/<id>/`.
    func discard(_ id: String) async
    /// Whether backing up into it would write among the store's own objects (its root, or its chunks' bucket and
    /// prefix).
    func overlaps(storeAt root: String, chunks: ChunkLocation) -> Bool
}

public enum BackupTargets {
    /// A folder (made when missing), or `s3://bucket[/prefix]` at `endpoint` (keys from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY), whose bucket must exist.
    /// The endpoint comes from `endpoint`, else `$EXHIBIT_S3_ENDPOINT`.
    public static func open(_ address: String, endpoint: String?) throws -> any BackupTarget {
        if address.hasPrefix("s3://") { return BucketBackupTarget(S3Backend(location: try location(address, endpoint: endpoint))) }
        return try FolderBackupTarget(address)
    }

    /// Where `--repair-from` or `scrub.repair_from` reads: a folder laid out as a storage root, or a backup bucket.
    public static func repairSource(_ address: String, endpoint: String?) throws -> RepairSource {
        if address.hasPrefix("s3://") {
            let location = try location(address, endpoint: endpoint)
            return RepairSource(objects: S3Backend(location: location), name: BucketBackupTarget.name(location))
        }
        return try RepairSource(root: address)
    }

    static func location(_ address: String, endpoint: String?) throws -> S3Location {
        let endpoint = endpoint ?? ProcessInfo.processInfo.environment["EXHIBIT_S3_ENDPOINT"]
        guard case .s3(let location) = try ChunkLocation.parse(address, endpoint: endpoint) else {
            throw ExhibitError(.badRequest, "'\(address)' is not an s3://bucket/prefix address")
        }
        return location
    }

}

/// Backups in a local folder, laid out as a storage root (so `--repair-from` takes it as it is).
public struct FolderBackupTarget: BackupTarget {
    public let root: String
    let local: LocalBackend
    public var objects: any ObjectBackend { local }
    public var description: String { root }

    public init(_ folder: String) throws {
        root = URL(fileURLWithPath: folder).standardizedFileURL.path
        local = try LocalBackend(root: root)
    }

    func path(_ name: String) -> String { root + "/" + name }

    public func backupIDs() async throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/backups")) ?? []
        return names.filter { !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: path("backups/\($0)/backup.json")) }.sorted()
    }

    public func read(_ name: String, limit: Int) async throws -> Data? {
        let path = path(name)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        guard let size = attributes[.size] as? Int, size <= limit else { throw ExhibitError(.damaged, "\(path) is larger than such a file can be") }
        return FileManager.default.contents(atPath: path)
    }

    public func write(_ name: String, _ bytes: Data) async throws {
        let path = path(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try DurableFile.replace(path, with: bytes, mode: name.hasSuffix(".sealed") ? 0o600 : 0o644)
    }

    public func store(file source: String, as name: String) async throws {
        let path = path(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try DurableFile.copy(source, to: path)
    }

    public func localFile(_ name: String, scratch: String) async throws -> String {
        let path = path(name)
        guard FileManager.default.fileExists(atPath: path) else { throw ExhibitError(.damaged, "\(path) is missing") }
        return path
    }

    public func discard(_ id: String) async {
        try? FileManager.default.removeItem(atPath: path("backups/" + id))
    }

    public func overlaps(storeAt storeRoot: String, chunks: ChunkLocation) -> Bool {
        root == URL(fileURLWithPath: storeRoot).standardizedFileURL.path
    }
}

/// Backups in a bucket of S3-compatible storage, under the same names as in a folder. Every object is durable
/// when its PUT returns; the catalog goes up in parts, so memory holds one part whatever its size.
public struct BucketBackupTarget: BackupTarget {
    public let bucket: S3Backend
    public var objects: any ObjectBackend { bucket }
    public var description: String { Self.name(bucket.location) }

    static func name(_ location: S3Location) -> String {
        "s3://\(location.bucket)\(location.prefix.isEmpty ? "" : "/" + location.prefix)"
    }

    public init(_ bucket: S3Backend) { self.bucket = bucket }

    public func backupIDs() async throws -> [String] {
        var ids: [String] = []
        for try await name in bucket.objectNames(startingWith: "backups/") {
            let parts = name.split(separator: "/")
            if parts.count == 3, parts[2] == "backup.json", !parts[1].hasPrefix(".") { ids.append(String(parts[1])) }
        }
        return ids.sorted()
    }

    public func read(_ name: String, limit: Int) async throws -> Data? {
        guard let size = try await bucket.sizeOfObject(named: name) else { return nil }
        guard size <= Int64(limit) else { throw ExhibitError(.damaged, "\(description)/\(name) is larger than such a file can be") }
        return try await bucket.readObject(named: name, offset: 0, length: Int(size)).map { Data($0.readableBytesView) }
    }

    public func write(_ name: String, _ bytes: Data) async throws {
        try await bucket.putObject(named: name, bytes: ByteBuffer(bytes: bytes))
    }

    public func store(file path: String, as name: String) async throws {
        try await bucket.putObject(named: name, file: path)
    }

    public func localFile(_ name: String, scratch: String) async throws -> String {
        guard let size = try await bucket.sizeOfObject(named: name) else { throw ExhibitError(.damaged, "\(description)/\(name) is missing") }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = scratch + "/" + name.replacingOccurrences(of: "/", with: "_")
        FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var offset: Int64 = 0
        while offset < size {
            guard let piece = try await bucket.readObject(named: name, offset: offset, length: min(S3Backend.partSize, Int(size - offset))),
                  piece.readableBytes > 0
            else { throw ExhibitError(.damaged, "\(description)/\(name) ended at \(offset) of its \(size) bytes") }
            try handle.write(contentsOf: Data(piece.readableBytesView))
            offset += Int64(piece.readableBytes)
        }
        return path
    }

    public func discard(_ id: String) async {
        var names: [String] = []
        do { for try await name in bucket.objectNames(startingWith: "backups/\(id)/") { names.append(name) } } catch { return }
        for name in names { try? await bucket.deleteObject(named: name) }
    }

    public func overlaps(storeAt root: String, chunks: ChunkLocation) -> Bool {
        guard case .s3(let location) = chunks else { return false }
        return location.bucket == bucket.location.bucket && location.prefix == bucket.location.prefix
    }
}

extension EvidenceStore {
    /// The S3 endpoint a backup address without one uses: `$EXHIBIT_S3_ENDPOINT`, else the store's own.
    public var defaultBackupEndpoint: String? {
        if let endpoint = ProcessInfo.processInfo.environment["EXHIBIT_S3_ENDPOINT"] { return endpoint }
        if case .s3(let location) = deployment.chunks { return location.endpoint.absoluteString }
        return nil
    }
}
