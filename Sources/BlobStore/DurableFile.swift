#if canImport(Glibc)
internal import Glibc
#endif
public import Foundation

/// Small files that must survive a crash whole or not at all (keys, records, state, exports): written to a
/// temporary file beside their place, synced, given their name in one step, and the folder synced so the name
/// itself is on disk. Every step's failure is an error (a full disk included: `.noSpace`); nothing half-written
/// ever takes the name. Chunks and manifests have their own path (`LocalBackend`), with the same steps.
public enum DurableFile {
    /// Replaces (or creates) `path` with `bytes`, mode `mode`.
    public static func replace(_ path: String, with bytes: Data, mode: mode_t = 0o600) throws {
        let temporary = try writeTemporary(beside: path, bytes, mode: mode)
        defer { unlink(temporary) }
        try commit(temporary, to: path)
    }

    /// Creates `path` with `bytes` unless it exists (another process won the race): `false` then, and the file
    /// that is there is left as it is.
    public static func create(_ path: String, with bytes: Data, mode: mode_t = 0o600) throws -> Bool {
        let temporary = try writeTemporary(beside: path, bytes, mode: mode)
        defer { unlink(temporary) }
        if link(temporary, path) != 0 {
            if errno == EEXIST { return false }
            throw BlobStoreError.posix(errno, "cannot create", path)
        }
        try syncFolder(of: path)
        return true
    }

    /// Copies the file `source` to `path` (replacing it) whole or not at all: into a temporary file beside it, then
    /// `commit`.
    public static func copy(_ source: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
            try commit(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Gives a complete, already written file its name: syncs it, renames it over `path`, syncs the folder.
    public static func commit(_ temporary: String, to path: String) throws {
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobStoreError.posix(errno, "cannot open", temporary) }
        let synced = fsync(fd) == 0 ? 0 : errno
        close(fd)
        guard synced == 0 else { throw BlobStoreError.posix(synced, "cannot sync", temporary) }
        guard rename(temporary, path) == 0 else { throw BlobStoreError.posix(errno, "cannot rename into", path) }
        try syncFolder(of: path)
    }

    /// Syncs the folder holding `path`, so a name just made or changed in it is on disk.
    public static func syncFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobStoreError.posix(errno, "cannot open folder", folder) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BlobStoreError.posix(errno, "cannot sync folder", folder) }
    }

    /// A new file beside `path` holding `bytes`, synced.
    static func writeTemporary(beside path: String, _ bytes: Data, mode: mode_t) throws -> String {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw BlobStoreError.posix(errno, "cannot create", temporary) }
        var failure: Int32 = 0
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress?.advanced(by: offset), buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        guard failure == 0 else {
            unlink(temporary)
            throw BlobStoreError.posix(failure, "cannot write", temporary)
        }
        return temporary
    }
}
