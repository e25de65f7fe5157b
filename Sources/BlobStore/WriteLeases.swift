import ExhibitCrypto
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Keeps garbage collection away from the objects writers are about to rely on.
///
/// A writer names every chunk and manifest in its lease *before* it looks for it or writes it, and releases the
/// lease only once the catalog records the blob. The collector reads every lease while no lease can grow, so for
/// each object either the collector saw its lease, or the writer's look at the store came after the collector's
/// deletions and found the object gone (and wrote it again). Collection therefore never removes an object an
/// upload in flight — in this process or another — has counted on, even one it found already present (dedupe).
public protocol WriteLeases: Sendable {
    /// A new lease for one writer.
    func lease() throws -> any WriteLease
    /// Runs `body` with every leased key while no lease can add one.
    func exclusively<T: Sendable>(_ body: @Sendable (Set<ObjectKey>) async throws -> T) async throws -> T
}

public protocol WriteLease: Sendable {
    /// Adds keys to the lease; returns once they are visible to the collector.
    func hold(_ keys: [ObjectKey]) async throws
    /// Ends the lease (after the catalog recorded what it protected, or after the write failed).
    func release()
}

/// Leases as files in the store's `tmp/` (`lease-<pid>-<random>`, a line per key) under a lock file
/// (`gc.lock`): writers add lines under a shared `flock`, the collector reads them under an exclusive one.
/// A lease of a process that died is stale and ignored (and removed), like its other temporary files.
public final class LocalLeases: WriteLeases {
    let lockPath: String
    let folder: String

    public init(root: String) {
        self.lockPath = root + "/gc.lock"
        self.folder = root + "/tmp"
    }

    public func lease() throws -> any WriteLease {
        try LocalLease(lockPath: lockPath, path: LocalLeases.newLeasePath(in: folder))
    }

    static func newLeasePath(in folder: String) -> String {
        let random = (0..<2).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 16) }.joined()
        return "\(folder)/lease-\(getpid())-\(random)"
    }

    static func openLock(_ path: String) throws(BlobStoreError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .posix(errno, "cannot open", path) }
        return fd
    }

    public func exclusively<T: Sendable>(_ body: @Sendable (Set<ObjectKey>) async throws -> T) async throws -> T {
        let fd = try Self.openLock(lockPath)
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw BlobStoreError.posix(errno, "cannot lock", lockPath) }
            try await Task.sleep(for: .milliseconds(5))
        }
        defer { flock(fd, LOCK_UN) }
        return try await body(try readLeases())
    }

    /// Every key in the leases of running processes (leases of dead ones are removed).
    func readLeases() throws -> Set<ObjectKey> {
        var keys = Set<ObjectKey>()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix("lease-") {
            let path = folder + "/" + name
            let fields = name.split(separator: "-")
            if fields.count == 3, let pid = Int32(fields[1]), kill(pid, 0) != 0, errno == ESRCH {
                unlink(path)
                continue
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }  // released meanwhile
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let kind = ObjectKey.Kind(rawValue: String(parts[0])),
                      let digest = SHA256Digest(hex: String(parts[1])) else { continue }
                keys.insert(ObjectKey(kind: kind, digest: digest))
            }
        }
        return keys
    }
}

final class LocalLease: WriteLease {
    private struct State {
        var lockFD: Int32
        var fileFD: Int32
        var released = false
    }
    private let state: Mutex<State>
    private let path: String

    init(lockPath: String, path: String) throws {
        let lockFD = try LocalLeases.openLock(lockPath)
        let fileFD = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard fileFD >= 0 else {
            let error = errno
            close(lockFD)
            throw BlobStoreError.posix(error, "cannot create", path)
        }
        self.path = path
        self.state = Mutex(State(lockFD: lockFD, fileFD: fileFD))
    }

    func hold(_ keys: [ObjectKey]) async throws {
        guard !keys.isEmpty else { return }
        let text = keys.map { "\($0.kind.rawValue) \($0.digest.hex)\n" }.joined()
        while true {
            // One attempt under the mutex: the shared lock belongs to this lease's descriptor, which concurrent
            // holds of the same lease share, so they take turns.
            let done = try state.withLock { state throws -> Bool in
                precondition(!state.released, "hold after release")
                guard flock(state.lockFD, LOCK_SH | LOCK_NB) == 0 else {
                    if errno == EWOULDBLOCK || errno == EINTR { return false }
                    throw BlobStoreError.posix(errno, "cannot lock", path)
                }
                defer { flock(state.lockFD, LOCK_UN) }
                let written = text.withCString { write(state.fileFD, $0, strlen($0)) }
                guard written == text.utf8.count else { throw BlobStoreError.posix(errno, "cannot write", path) }
                return true
            }
            if done { return }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func release() {
        state.withLock { state in
            guard !state.released else { return }
            state.released = true
            unlink(path)
            close(state.fileFD)
            close(state.lockFD)
        }
    }

    deinit { release() }
}
