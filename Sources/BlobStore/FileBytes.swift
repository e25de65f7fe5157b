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
