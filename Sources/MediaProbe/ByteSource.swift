import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Random-access bytes that FFmpeg reads through a custom I/O context: a file, or a blob in the store.
///
/// Called synchronously from FFmpeg's read and seek callbacks on the probing thread.
public protocol ByteSource: AnyObject {
    /// The total size in bytes.
    var size: Int64 { get }
    /// Reads up to `buffer.count` bytes at `offset`; returns how many (0 only at the end).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

public struct ByteSourceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A regular file read with `pread`.
public final class FileByteSource: ByteSource {
    public let path: String
    public let size: Int64
    private let descriptor: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ByteSourceError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ByteSourceError("\(path) is not a regular file")
        }
        self.path = path
        self.descriptor = fd
        self.size = Int64(info.st_size)
    }

    deinit { close(descriptor) }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw ByteSourceError("cannot read \(path): \(String(cString: strerror(errno)))") }
        }
    }
}

/// Bytes in memory (tests, fuzzing).
public final class MemoryByteSource: ByteSource {
    let bytes: [UInt8]
    public var size: Int64 { Int64(bytes.count) }
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < Int64(bytes.count) else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<Int(offset) + n]))
        }
        return n
    }
}
