public import BlobStore
import ExhibitCrypto
public import Foundation
public import NIOCore
import NIOHTTP1

/// Objects under the backend's prefix by a name of the caller's (`backups/<id>/backup.json`), beside the
/// content-addressed chunks and manifests: what a backup in a bucket keeps next to its objects. Names are checked
/// to be relative paths of safe characters, so one never leaves the prefix.
extension S3Backend {
    /// The parts a large object is uploaded in (S3 allows 10,000 parts: up to 160 GiB at this size); memory holds
    /// one part at a time.
    public static let partSize = 16 << 20

    func objectName(named name: String) throws(BlobStoreError) -> String {
        guard !name.isEmpty, name.count <= 512, !name.hasPrefix("/"), !name.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
              name.unicodeScalars.allSatisfy({ CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./").contains($0) })
        else { throw BlobStoreError(.io, "'\(name)' is not a safe object name") }
        return prefixed(name)
    }

    /// Writes a small object whole (replacing one of that name).
    public func putObject(named name: String, bytes: ByteBuffer) async throws {
        let response = try await send(.PUT, object: try objectName(named: name), body: bytes)
        guard response.status == 200 else { throw failure(response, "PUT \(name)") }
    }

    /// Uploads a local file of any size as one object, in parts of `partSize` (one in memory at a time), each
    /// part's SHA-256 in its signature; a file of at most one part goes in one PUT.
    public func putObject(named name: String, file path: String) async throws {
        let file = try FileBytes(path: path, pieceSize: Self.partSize)
        if file.size <= Int64(Self.partSize) {
            var body = ByteBuffer()
            for try await piece in file { body.writeImmutableBuffer(piece) }
            try await putObject(named: name, bytes: body)
            return
        }
        let object = try objectName(named: name)
        let started = try await send(.POST, object: object, query: [("uploads", "")])
        guard started.status == 200, let uploadID = String(buffer: started.body).firstMatch(of: /<UploadId>([^<]+)<\/UploadId>/).map({ String($0.1) }) else {
            throw failure(started, "starting the upload of \(name)")
        }
        do {
            var parts: [(number: Int, etag: String)] = []
            var pending = ByteBuffer()
            func sendPart(_ body: ByteBuffer) async throws {
                let number = parts.count + 1
                let response = try await send(.PUT, object: object, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body)
                guard response.status == 200, let etag = response.headers.first(name: "ETag") else { throw failure(response, "part \(number) of \(name)") }
                parts.append((number, etag))
            }
            for try await piece in file {
                pending.writeImmutableBuffer(piece)
                if pending.readableBytes >= Self.partSize {
                    try await sendPart(pending.readSlice(length: Self.partSize) ?? ByteBuffer())
                    pending.discardReadBytes()
                }
            }
            if pending.readableBytes > 0 { try await sendPart(pending) }
            let xml = "<CompleteMultipartUpload>" + parts.map {
                "<Part><PartNumber>\($0.number)</PartNumber><ETag>\($0.etag.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;"))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let done = try await send(.POST, object: object, query: [("uploadId", uploadID)], body: ByteBuffer(string: xml))
            // S3 may answer 200 with an error in the body when completing.
            guard done.status == 200, !String(buffer: done.body).contains("<Error>") else { throw failure(done, "completing the upload of \(name)") }
        } catch {
            _ = try? await send(.DELETE, object: object, query: [("uploadId", uploadID)])
            throw error
        }
    }

    /// The size of a named object, or nil when it is not there.
    public func sizeOfObject(named name: String) async throws -> Int64? {
        try await size(object: try objectName(named: name), what: name)
    }

    /// `length` bytes of a named object from `offset` (fewer at its end), or nil when it is not there.
    public func readObject(named name: String, offset: Int64, length: Int) async throws -> ByteBuffer? {
        try await read(object: try objectName(named: name), offset: offset, length: length, what: name)
    }

    public func deleteObject(named name: String) async throws {
        try await delete(object: try objectName(named: name), what: name)
    }

    /// The names (relative to the prefix) of every object whose name starts with `start`, a page at a time.
    public func objectNames(startingWith start: String) -> AsyncThrowingStream<String, any Error> {
        let base = prefixed("")
        return listing(base + start) { key in String(key.dropFirst(base.count)) }
    }

    /// Lists the object names under `prefix` (ListObjectsV2, 1,000 a page), each mapped by `name` (nil skips it).
    func listing<Element: Sendable>(_ prefix: String, _ name: @escaping @Sendable (String) -> Element?) -> AsyncThrowingStream<Element, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var token: String?
                    repeat {
                        var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")]
                        if let token { query.append(("continuation-token", token)) }
                        let response = try await self.send(.GET, object: nil, query: query)
                        guard response.status == 200 else { throw self.failure(response, "listing \(prefix)") }
                        let text = String(buffer: response.body)
                        for match in text.matches(of: /<Key>([^<]+)<\/Key>/) {
                            if let element = name(Self.unescapeXML(String(match.1))) { continuation.yield(element) }
                        }
                        let truncated = text.contains("<IsTruncated>true</IsTruncated>")
                        token = truncated ? text.firstMatch(of: /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/).map { Self.unescapeXML(String($0.1)) } : nil
                    } while token != nil
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func unescapeXML(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }
}
