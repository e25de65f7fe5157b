import CheckedInput
import BlobStore
import CoreMetrics
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MediaProbe
import NIOCore

/// Counts upload bytes for the metrics, refuses an empty body (even a chunked one), and refuses a body that
/// ends short of its declared `Content-Length`: Hummingbird ends a request body quietly when the connection
/// goes, and a truncated upload must never be stored as if it were whole.
struct CountedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let expectedLength: Int?
    let metrics: ExhibitMetrics
    /// Whether an empty body is allowed (a tus PATCH may carry nothing).
    var allowsEmpty = false
    /// What a body that breaks off (or ends short of its Content-Length) throws, given the bytes received.
    var cut: @Sendable (_ received: Int, _ expected: Int?) -> any Error = { received, expected in
        if let expected, received < expected {
            return Problem(.badRequest, "the body ended after \(received) of its \(expected) bytes; nothing was kept")
        }
        return Problem(.badRequest, "the body was cut off after \(received) bytes (the client went away?); nothing was kept")
    }

    func makeAsyncIterator() -> Iterator { Iterator(body: self, base: base.makeAsyncIterator()) }

    struct Iterator: AsyncIteratorProtocol {
        let body: CountedBody
        var base: Base.AsyncIterator
        var total = 0

        mutating func next() async throws -> ByteBuffer? {
            let next: ByteBuffer?
            do {
                next = try await base.next()
            } catch let problem as Problem {
                throw problem
            } catch {
                throw body.cut(total, nil)
            }
            guard let buffer = next else {
                if total == 0 && !body.allowsEmpty { throw Problem(.badRequest, "the body is empty: there is nothing to store") }
                if let expected = body.expectedLength, total < expected { throw body.cut(total, expected) }
                return nil
            }
            total += buffer.readableBytes
            body.metrics.bytesIn.increment(by: buffer.readableBytes)
            return buffer
        }
    }
}

/// A request body read through one iterator that outlives a consumer that failed, so what the client is still
/// sending can be read and discarded before the error is answered. Closing a connection with unread bytes makes
/// the kernel reset it, and the client never sees the answer (nginx's "lingering close" does the same).
final class DrainableBody: AsyncSequence, @unchecked Sendable {
    // The iterator is used by one task at a time: the ingest, then (after it has ended) `drain`.
    typealias Element = ByteBuffer
    private var iterator: RequestBody.AsyncIterator

    init(_ body: RequestBody) { iterator = body.makeAsyncIterator() }

    struct Iterator: AsyncIteratorProtocol {
        let body: DrainableBody
        func next() async throws -> ByteBuffer? { try await body.nextBuffer() }
    }

    func makeAsyncIterator() -> Iterator { Iterator(body: self) }

    func nextBuffer() async throws -> ByteBuffer? { try await iterator.next() }

    /// Reads and discards the rest of the body, for at most `limit`.
    func drain(for limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let _ = try? await self.nextBuffer() {}
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// An export written to an unlinked temporary file, then streamed back.
final class TemporaryExport {
    // Written by one export, then read once by the response body.
    private let handle: FileHandle
    private var size = 0

    init() throws {
        let path = NSTemporaryDirectory() + "exhibit-export-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw Problem(.internalError, "cannot create a temporary file for the export")
        }
        handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        unlink(path)
    }

    func write(_ text: String) throws {
        let data = Data(text.utf8)
        try handle.write(contentsOf: data)
        size += data.count
    }

    func responseBody() throws -> ResponseBody {
        try handle.seek(toOffset: 0)
        let handle = self.handle
        return ResponseBody(contentLength: size) { writer in
            defer { try? handle.close() }
            while let data = try handle.read(upToCount: 256 << 10), !data.isEmpty {
                try await writer.write(ByteBuffer(bytes: data))
            }
            try await writer.finish(nil)
        }
    }
}
