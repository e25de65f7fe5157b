import Foundation
public import NIOCore
import NIOPosix
import Synchronization
import ExhibitCrypto
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Chunks and manifests as files under a root folder (DESIGN.md §3, Storage/README.md).
///
/// Write path of a batch: each object is written to a new file in `tmp/` and its writeback started at once
/// (`sync_file_range`), so the disk works while the caller hashes the next chunks. `commit` then, many files
/// at a time, `fsync`s each file, makes it read-only and `link`s it to its final name (which fails rather than
/// replace an existing object), removes the temporary name, and finally `fsync`s every folder that gained a
/// name (the first of those commits the journal for all). A crash at any point leaves either no object or a
/// complete one under its name, plus perhaps stray files in `tmp/`, which are removed at start-up.
public final class LocalBackend: ObjectBackend {
    public let root: String
    private let tmp: String
    let pool: NIOThreadPool

    /// Blocking file work runs on its own threads so it never stalls the cooperative pool. Sized for fsync
    /// latency, not CPU: many syncs in flight keep the disk busy.
    private static let sharedPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()
    static let parallelSyncs = 16

    /// Opens (creating when missing) a store rooted at `root`, failing clearly when it cannot be written.
    public init(root: String) throws(BlobStoreError) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.tmp = self.root + "/tmp"
        self.pool = Self.sharedPool
        var ancestors: [String] = []
        var folder = (self.root as NSString).deletingLastPathComponent
        while folder != "/" && !FileManager.default.fileExists(atPath: folder) {
            ancestors.insert(folder, at: 0)
            folder = (folder as NSString).deletingLastPathComponent
        }
        for folder in ancestors + [self.root, self.root + "/chunks", self.root + "/manifests", tmp] {
            if mkdir(folder, 0o750) != 0 && errno != EEXIST {
                throw .posix(errno, "cannot create folder", folder)
            }
        }
        guard access(self.root, W_OK | X_OK) == 0 else { throw .posix(errno, "cannot write to", self.root) }
        guard access(tmp, W_OK | X_OK) == 0 else { throw .posix(errno, "cannot write to", tmp) }
    }

    public func path(of key: ObjectKey) -> String { root + "/" + key.path }

    /// Removes everything left in `tmp/` by interrupted writes. Call only when no put is running.
    public func removeTemporaryFiles() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: tmp) {
            try? FileManager.default.removeItem(atPath: tmp + "/" + name)
        }
    }

    /// Removes the files in `tmp/` left by processes that no longer run (temporary names carry the writer's pid),
    /// so a command can tidy up after a crash without touching a running server's uploads.
    public func removeStaleTemporaryFiles() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: tmp) else { return }
        for name in names {
            let fields = name.split(separator: "-")
            guard fields.count >= 3, let pid = Int32(fields[fields.count - 2]) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(tmp + "/" + name)
            }
        }
    }

    /// A new unique file name in `tmp/`: `<label>-<pid>-<random>`.
    public func temporaryPath(_ label: String) -> String {
        let random = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined()
        return "\(tmp)/\(label)-\(getpid())-\(random)"
    }

    public func batch() -> any ObjectBatch { LocalBatch(backend: self) }

    public func repair(_ key: ObjectKey, parts: [ByteBuffer], length: Int) async throws {
        let final = path(of: key)
        let temporary = temporaryPath("repair")
        try await pool.runIfActive {
            try Self.write(temporary, parts: parts)
            try Self.seal(temporary)
            try Self.makeParents(of: final)
            guard rename(temporary, final) == 0 else {
                let error = errno
                unlink(temporary)
                throw BlobStoreError.posix(error, "cannot replace", final)
            }
            try Self.syncDirectory(final)
        }
    }

    /// Starts writeback of files just written, on one thread of its own: `sync_file_range` blocks while the
    /// device queue is full, and the upload pipeline must not wait for the disk before it commits.
    private static let writeback = DispatchQueue(label: "exhibit.local-backend.writeback")

    static func startWriteback(_ path: String) {
        writeback.async {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }  // already committed and renamed: nothing to do
            _ = exhibit_start_writeback(fd)
            close(fd)
        }
    }

    /// Writes `parts` to a new file at `path`.
    static func write(_ path: String, parts: [ByteBuffer]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BlobStoreError.posix(errno, "cannot create", path) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        try writeAll(fd, parts: parts, path: path)
        ok = true
    }

    /// Syncs a written file and makes it read-only.
    static func seal(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobStoreError.posix(errno, "cannot open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BlobStoreError.posix(errno, "cannot sync", path) }
        guard fchmod(fd, 0o440) == 0 else { throw BlobStoreError.posix(errno, "cannot protect", path) }
    }

    /// Gives a sealed temporary file its final name unless that name exists. `true` when this call created it.
    static func publish(_ temporary: String, as final: String) throws -> Bool {
        defer { unlink(temporary) }
        var attempts = 0
        while link(temporary, final) != 0 {
            let error = errno
            switch error {
            case EEXIST:
                var info = stat()
                if stat(final, &info) == 0, info.st_size == fileSize(temporary) { return false }
                // A damaged copy (disk trouble truncated it): replace it with the checked bytes.
                guard rename(temporary, final) == 0 else { throw BlobStoreError.posix(errno, "cannot replace", final) }
                return true
            case ENOENT where attempts < 2:
                try makeParents(of: final)
                attempts += 1
            default:
                throw BlobStoreError.posix(error, "cannot link", final)
            }
        }
        return true
    }

    static func fileSize(_ path: String) -> off_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_size : -1
    }

    /// `writev` of all parts, handling short writes and EINTR.
    static func writeAll(_ fd: Int32, parts: [ByteBuffer], path: String) throws {
        var index = 0
        var skip = 0  // bytes of parts[index] already written
        while index < parts.count {
            let batch = min(parts.count - index, 512)
            let written: Int = withIOVectors(parts[index..<(index + batch)], skipFirst: skip) { vectors in
                writev(fd, vectors.baseAddress, Int32(vectors.count))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw BlobStoreError.posix(errno, "cannot write", path)
            }
            var remaining = written
            while remaining > 0 && index < parts.count {
                let available = parts[index].readableBytes - skip
                if remaining >= available {
                    remaining -= available
                    index += 1
                    skip = 0
                } else {
                    skip += remaining
                    remaining = 0
                }
            }
            while index < parts.count && parts[index].readableBytes == 0 { index += 1 }
        }
    }

    private static func withIOVectors<R>(
        _ parts: ArraySlice<ByteBuffer>, skipFirst: Int, _ body: (UnsafeBufferPointer<iovec>) -> R
    ) -> R {
        // Build the iovec array from pointers that stay valid inside nested withUnsafeReadableBytes calls.
        func recurse(_ slice: ArraySlice<ByteBuffer>, _ vectors: inout [iovec], _ first: Bool) -> R {
            guard let part = slice.first else {
                return vectors.withUnsafeBufferPointer { body($0) }
            }
            return part.withUnsafeReadableBytes { bytes in
                let offset = first ? skipFirst : 0
                if bytes.count > offset {
                    vectors.append(
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + offset),
                              iov_len: bytes.count - offset))
                }
                return recurse(slice.dropFirst(), &vectors, false)
            }
        }
        var vectors = [iovec]()
        vectors.reserveCapacity(parts.count)
        return recurse(parts, &vectors, true)
    }

    /// Syncs the folder holding `path`.
    static func syncDirectory(_ path: String) throws { try DurableFile.syncFolder(of: path) }

    /// Creates the fan-out folders above `path`, syncing each parent whose entries changed.
    static func makeParents(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        let grandparent = (parent as NSString).deletingLastPathComponent
        for folder in [grandparent, parent] {
            if mkdir(folder, 0o750) == 0 {
                try syncDirectory(folder)
            } else if errno != EEXIST {
                throw BlobStoreError.posix(errno, "cannot create folder", folder)
            }
        }
    }

    public func read(_ key: ObjectKey, offset: Int64, length: Int) async throws -> ByteBuffer {
        let file = path(of: key)
        // A read whose bytes are all in the page cache is done here, without the hop to a blocking thread and
        // back (a player's ranges are mostly such reads); anything the disk must be waited for goes to the pool.
        if length <= Self.cachedReadLimit, let cached = Self.readIfCached(file, offset: offset, length: length) { return cached }
        return try await pool.runIfActive {
            try Self.readBlocking(file, offset: offset, length: length)
        }
    }

    /// The largest read tried from the page cache in place (larger ones are whole-chunk reads, hashed anyway).
    static let cachedReadLimit = 1 << 20

    /// The bytes, when the page cache holds all of them (`preadv2` with `RWF_NOWAIT`, which never waits for the
    /// disk); nil otherwise, or on any error (the blocking read then says what is wrong).
    static func readIfCached(_ path: String, offset: Int64, length: Int) -> ByteBuffer? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        var done = 0
        while done < length {
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length - done) { target in
                max(0, exhibit_pread_nowait(fd, target.baseAddress, UInt(length - done), Int(offset) + done))
            }
            guard n > 0 else { return nil }
            done += n
        }
        return buffer
    }

    static func readBlocking(_ path: String, offset: Int64, length: Int) throws -> ByteBuffer {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobStoreError.posix(errno, "cannot open", path) }
        defer { close(fd) }
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        var done = 0
        while done < length {
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length - done) { target in
                pread(fd, target.baseAddress, length - done, off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw BlobStoreError.posix(errno, "cannot read", path)
            }
            if n == 0 { break }
            done += n
        }
        return buffer
    }

    public func size(of key: ObjectKey) async throws -> Int64? {
        var info = stat()
        guard stat(path(of: key), &info) == 0 else {
            if errno == ENOENT { return nil }
            throw BlobStoreError.posix(errno, "cannot stat", path(of: key))
        }
        return Int64(info.st_size)
    }

    /// Removes the file. The folder is not synced: a removal lost in a crash leaves an orphan, which the next
    /// garbage collection removes again.
    public func delete(_ key: ObjectKey) async throws {
        let file = path(of: key)
        try await pool.runIfActive {
            guard unlink(file) == 0 || errno == ENOENT else { throw BlobStoreError.posix(errno, "cannot delete", file) }
        }
    }

    public func keys(_ kind: ObjectKey.Kind) -> AsyncThrowingStream<ObjectKey, any Error> {
        let base = root + "/" + kind.rawValue
        let pool = self.pool
        return AsyncThrowingStream { continuation in
            pool.submit { _ in
                let manager = FileManager.default
                do {
                    for first in try manager.contentsOfDirectory(atPath: base).sorted() where first.count == 2 {
                        let firstPath = base + "/" + first
                        for second in try manager.contentsOfDirectory(atPath: firstPath).sorted() where second.count == 2 {
                            let secondPath = firstPath + "/" + second
                            for name in try manager.contentsOfDirectory(atPath: secondPath) {
                                if let digest = SHA256Digest(hex: name), name.hasPrefix(first + second) {
                                    continuation.yield(ObjectKey(kind: kind, digest: digest))
                                }
                            }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }
}

/// One batch of writes into a `LocalBackend` (see there for the write path).
final class LocalBatch: ObjectBatch {
    private let backend: LocalBackend
    private struct State {
        var written: [(key: ObjectKey, temporary: String)] = []
        var found: [ObjectKey] = []
        var closed = false
    }
    private let state = Mutex(State())

    init(backend: LocalBackend) {
        self.backend = backend
    }

    func store(_ key: ObjectKey, parts: [ByteBuffer], length: Int) async throws -> Bool {
        let final = backend.path(of: key)
        let temporary = backend.temporaryPath(key.kind == .chunk ? "chunk" : "manifest")
        let wrote = try await backend.pool.runIfActive { () throws -> Bool in
            var info = stat()
            if stat(final, &info) == 0 && Int(info.st_size) == length { return false }
            try LocalBackend.write(temporary, parts: parts)
            LocalBackend.startWriteback(temporary)
            return true
        }
        state.withLock { state in
            precondition(!state.closed, "store after commit or abort")
            if wrote { state.written.append((key, temporary)) } else { state.found.append(key) }
        }
        return wrote
    }

    func commit() async throws -> Set<ObjectKey> {
        let (written, found) = state.withLock { state in
            state.closed = true
            return (state.written, state.found)
        }
        let backend = self.backend
        var created = Set<ObjectKey>()
        do {
            try await withThrowingTaskGroup(of: (ObjectKey, Bool).self) { group in
                var next = 0
                func add() {
                    let (key, temporary) = written[next]
                    next += 1
                    group.addTask {
                        let final = backend.path(of: key)
                        return (key, try await backend.pool.runIfActive {
                            try LocalBackend.seal(temporary)
                            return try LocalBackend.publish(temporary, as: final)
                        })
                    }
                }
                while next < min(written.count, LocalBackend.parallelSyncs) { add() }
                while let (key, isNew) = try await group.next() {
                    if isNew { created.insert(key) }
                    if next < written.count { add() }
                }
            }
        } catch {
            await removeTemporaries(written.map(\.temporary))
            throw error
        }
        let folders = Set((written.map(\.key) + found).map { (backend.path(of: $0) as NSString).deletingLastPathComponent })
        try await backend.pool.runIfActive {
            // The first folder sync commits the journal transaction holding all the new names; the rest find
            // little left to do.
            for folder in folders.sorted() { try LocalBackend.syncDirectory(folder + "/.") }
        }
        return created
    }

    func abort() async {
        let written = state.withLock { state in
            state.closed = true
            defer { state.written = [] }
            return state.written
        }
        await removeTemporaries(written.map(\.temporary))
    }

    private func removeTemporaries(_ paths: [String]) async {
        _ = try? await backend.pool.runIfActive {
            for path in paths { unlink(path) }
        }
    }
}
