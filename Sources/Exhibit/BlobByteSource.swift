import ExhibitCatalog
import ExhibitModel
import ExhibitPolicies
import BlobStore
import ExhibitCrypto
import Foundation
import MediaProbe
import NIOCore
import NIOPosix

/// A stored blob as a `ByteSource`, so libavformat reads footage straight out of the blob store by range reads.
///
/// FFmpeg's callbacks are synchronous; each read of a 1 MiB window waits for the async store on the calling
/// thread. Use it only on a thread that may block (`MediaWork.run`), never on the cooperative pool.
final class BlobByteSource: ByteSource {
    let blobs: BlobStore
    let blob: SHA256Digest
    let size: Int64
    private var window: ByteBuffer?
    private var windowStart: Int64 = 0
    static let windowSize: Int64 = 1 << 20

    init(blobs: BlobStore, blob: SHA256Digest, size: Int64) {
        self.blobs = blobs
        self.blob = blob
        self.size = size
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < size, buffer.count > 0 else { return 0 }
        if window == nil || offset < windowStart || offset >= windowStart + Int64(window!.readableBytes) {
            let start = offset - offset % Self.windowSize
            let end = min(size, start + Self.windowSize)
            window = try Self.blocking { [blobs, blob] in
                var collected = ByteBuffer()
                for try await piece in try await blobs.contents(of: blob, range: start..<end, pieceSize: Int(Self.windowSize)) {
                    var piece = piece
                    collected.writeBuffer(&piece)
                }
                return collected
            }
            windowStart = start
        }
        let window = self.window!
        let inWindow = Int(offset - windowStart)
        let n = min(buffer.count, window.readableBytes - inWindow)
        window.withUnsafeReadableBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[inWindow..<inWindow + n]))
        }
        return n
    }

    /// Runs async work and waits for it on this (blocking-allowed) thread.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

/// Hands a result from a task to the thread waiting on a semaphore.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // Written once by the task before it signals; read once by the waiter after the signal.
    var result: Result<T, any Error>?
}

/// Threads for media work (probing, scanning, later transcoding), which blocks in FFmpeg.
enum MediaWork {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
