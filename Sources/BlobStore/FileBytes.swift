public import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A regular file's bytes as an async sequence of buffers, read on a blocking-I/O thread.
///
/// `open` checks up front that the path is a readable regular file, so a caller can refuse a bad path before
/// storing anything.
public final class FileBytes: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let path: String
    public let size: Int64
    private let descriptor: Int32
    private let pieceSize: Int

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    public init(path: String, pieceSize: Int = 1 << 20) throws(BlobStoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .posix(errno, "cannot open", path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            throw .posix(error, "cannot stat", path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw BlobStoreError(.fileNotFound, "\(path) is not a regular file")
        }
        self.path = path
        self.size = Int64(info.st_size)
        self.descriptor = fd
        self.pieceSize = pieceSize
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { close(descriptor) }

    public func makeAsyncIterator() -> Iterator { Iterator(file: self) }

    /// Reads one piece at `offset` on the blocking-I/O pool.
    func readPiece(at offset: Int64) async throws -> ByteBuffer {
        try await FileBytes.pool.runIfActive { () throws -> ByteBuffer in
            var buffer = ByteBufferAllocator().buffer(capacity: self.pieceSize)
            while true {
                let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: self.pieceSize) { target in
                    pread(self.descriptor, target.baseAddress, self.pieceSize, off_t(offset))
                }
                if n >= 0 { return buffer }
                if errno != EINTR { throw BlobStoreError.posix(errno, "cannot read", self.path) }
            }
        }
    }

    /// Reads ahead by one piece, so the next read overlaps the caller's work on the current one.
    public struct Iterator: AsyncIteratorProtocol {
        let file: FileBytes
        var offset: Int64 = 0
        var ahead: Task<ByteBuffer, any Error>?

        init(file: FileBytes) {
            self.file = file
        }

        public mutating func next() async throws -> ByteBuffer? {
            let file = self.file
            let current = ahead ?? Task { [offset] in try await file.readPiece(at: offset) }
            let buffer = try await withTaskCancellationHandler {
                try await current.value
            } onCancel: {
                current.cancel()
            }
            guard buffer.readableBytes > 0 else {
                ahead = nil
                return nil
            }
            offset += Int64(buffer.readableBytes)
            ahead = Task { [offset] in try await file.readPiece(at: offset) }
            return buffer
        }
    }
}

/// Copies a stream of small buffers (a socket's, typically 2–64 KiB) into buffers of `size` bytes.
///
/// The small buffers are released at once (a network stack can reuse them), and the put pipeline handles a
/// few large pieces instead of many small ones.
public struct Coalesced<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    public typealias Element = ByteBuffer
    let base: Base
    let size: Int

    public init(_ base: Base, size: Int = 1 << 20) {
        self.base = base
        self.size = size
    }

    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), size: size) }

    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let size: Int
        var done = false

        public mutating func next() async throws -> ByteBuffer? {
            guard !done else { return nil }
            var out: ByteBuffer?
            while true {
                guard var piece = try await base.next() else {
                    done = true
                    return out
                }
                if out == nil {
                    // A piece already as large as wanted passes through without a copy.
                    if piece.readableBytes >= size { return piece }
                    out = ByteBufferAllocator().buffer(capacity: size)
                }
                out!.writeBuffer(&piece)
                if out!.readableBytes >= size - (64 << 10) { return out }
            }
        }
    }
}

extension Coalesced: Sendable where Base: Sendable {}
