import ExhibitCatalog
public import ExhibitModel
import ExhibitPolicies
import BlobStore
import Custody
public import ExhibitCrypto
import Foundation
public import MediaProbe
public import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Resumable uploads (tus 1.0, README "Uploading"): an upload is created with its length and metadata, receives
/// its bytes over any number of requests, each made durable before it is acknowledged, and becomes an exhibit
/// through the same path as a single-request upload when its last byte arrives.
///
/// What a request stored is durable in three places, in this order: its chunks in the blob store; the bytes after
/// the last chunk boundary (the *tail*, under 4 MiB) in `Storage/uploads/<id>/tail-<start>`; the offset and the
/// chunk list in the catalog. A restart finds the upload where the last acknowledged request left it.
final class UploadSessions: Sendable {
    /// A writer kept between requests (so the whole-file hash goes on without reading anything back).
    final class Session: @unchecked Sendable {
        // Used by one request at a time: `busy` is taken under the sessions' lock before any use.
        let writer: ResumableWriter
        let lease: (any WriteLease)?
        /// Made from the catalog after a restart, and not used since.
        var rebuilt: Bool
        var busy = false

        init(writer: ResumableWriter, lease: (any WriteLease)?, rebuilt: Bool) {
            self.writer = writer
            self.lease = lease
            self.rebuilt = rebuilt
        }
    }

    private let sessions = Mutex<[UploadID: Session]>([:])

    enum Taken {
        case session(Session)
        case busy
        case absent
    }

    /// Takes the session of `id` for one request.
    func take(_ id: UploadID) -> Taken {
        sessions.withLock { sessions in
            guard let session = sessions[id] else { return .absent }
            guard !session.busy else { return .busy }
            session.busy = true
            return .session(session)
        }
    }

    /// Adds a new session, taken; false when another request added one first.
    func insertTaken(_ id: UploadID, _ session: Session) -> Bool {
        sessions.withLock { sessions in
            guard sessions[id] == nil else { return false }
            session.busy = true
            sessions[id] = session
            return true
        }
    }

    /// Puts `session` (taken) in place of a stale one this request holds.
    func replaceTaken(_ id: UploadID, with session: Session) {
        sessions.withLock { sessions in
            session.busy = true
            sessions[id] = session
        }
    }

    func giveBack(_ session: Session) {
        sessions.withLock { _ in session.busy = false }
    }

    /// Forgets a session (the upload ended), releasing its lease.
    func drop(_ id: UploadID) {
        let session = sessions.withLock { $0.removeValue(forKey: id) }
        session?.lease?.release()
    }
}

extension EvidenceStore {
    var uploadsFolder: String { root + "/uploads" }

    func uploadFolder(_ id: UploadID) -> String { uploadsFolder + "/" + id.rawValue }

    /// What a client announces when it creates an upload.
    public struct UploadRequest: Sendable {
        public var caseName: String
        public var filename: String
        public var length: Int64
        /// `Upload-Metadata` as sent (kept for HEAD).
        public var metadata: String
        public var expectedSHA256: SHA256Digest?
        public var time: TimeCoverage.Inputs

        public init(caseName: String, filename: String, length: Int64, metadata: String, expectedSHA256: SHA256Digest?, time: TimeCoverage.Inputs) {
            self.caseName = caseName
            self.filename = filename
            self.length = length
            self.metadata = metadata
            self.expectedSHA256 = expectedSHA256
            self.time = time
        }
    }

    /// Creates a resumable upload into a case (the actor must be able to upload there).
    public func createUpload(_ request: UploadRequest, by actor: Actor) async throws -> UploadRecord {
        let record = try await findCase(request.caseName, for: actor, needing: .exhibitUpload)
        guard request.length > 0 else { throw ExhibitError(.badRequest, "Upload-Length is 0: " + Self.emptyFile) }
        guard request.length <= policies.storage.maxUploadSize else {
            throw ExhibitError(.tooLarge, "the upload (\(request.length) bytes) is larger than the limit of \(policies.storage.maxUploadSize) bytes")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let now = timestamp
        let upload = UploadRecord(
            id: .new(), owner: actor.name, caseID: record.id, filename: Self.safeFilename(request.filename),
            length: request.length, offset: 0, metadata: request.metadata, expectedSHA256: request.expectedSHA256?.hex,
            timeInputs: request.time.isEmpty ? nil : String(decoding: try encoder.encode(request.time), as: UTF8.self),
            entries: [], tailStart: 0, createdAt: now, updatedAt: now, expiresAt: uploadExpiry(), state: .open, exhibitID: nil,
            error: nil, patches: 0, resumptions: 0, interrupted: false, client: actor.client)
        try await catalog.insertUpload(upload, limits: policies.storage.openUploads)
        return upload
    }

    func uploadExpiry() -> String {
        CustodyTime.string(now().addingTimeInterval(Double(policies.storage.uploadExpiry.components.seconds)))
    }

    /// An upload of the actor's: someone else's does not exist for them; an expired one is gone.
    public func findUpload(_ id: String, for actor: Actor) async throws -> UploadRecord {
        // A user's own uploads are theirs alone; a request's link reaches only the uploads started through it.
        let owned: (UploadRecord) -> Bool = { upload in
            if let request = actor.requestID { return upload.requestID == request }
            return upload.requestID == nil && upload.owner == actor.name
        }
        guard id.count <= 40, let upload = try await catalog.upload(id: UploadID(id)), owned(upload), upload.state != .terminated
        else { throw ExhibitError(.notFound, "no upload \(id.prefix(40))") }
        if upload.state == .expired || (upload.state == .open && upload.expiresAt <= timestamp) {
            throw ExhibitError(.gone, "the upload expired at \(upload.expiresAt) with \(upload.offset) of \(upload.length) bytes; start it again")
        }
        return upload
    }

    /// What a request appending to an upload did.
    public struct UploadProgress: Sendable {
        public let upload: UploadRecord
        /// The exhibit, when this request completed the upload.
        public let ingested: Ingested?
        /// The request's body broke off (what arrived is kept unless it carried a checksum).
        public let interrupted: Bool
    }

    /// Appends one request's body at `offset` (which must be the upload's offset: 409 otherwise). With
    /// `checksum` (the body's SHA-256, from `Upload-Checksum`) a mismatch keeps nothing (460). When the last byte
    /// arrives the upload becomes an exhibit, its whole-file SHA-256 checked against the announced one.
    public func appendUpload<Body: AsyncSequence>(
        _ id: String, offset: Int64, body: Body, checksum: SHA256Digest?, by actor: Actor
    ) async throws -> UploadProgress where Body.Element == ByteBuffer {
        uploadsRunning.add(1, ordering: .relaxed)
        defer { uploadsRunning.subtract(1, ordering: .relaxed) }
        var upload = try await findUpload(id, for: actor)
        guard upload.state == .open else {
            throw ExhibitError(.conflict, "the upload is \(upload.state)\(upload.exhibitID.map { " (exhibit \($0))" } ?? "")")
        }
        guard offset == upload.offset else {
            throw ExhibitError(.conflict, "Upload-Offset \(offset) does not match the upload's offset \(upload.offset): ask with HEAD")
        }
        var session = try await takeSession(for: upload)
        defer {
            // Between requests an open upload holds no bytes in memory: its tail is durable on disk (or in the
            // database) and is read back by its next request.
            session.writer.suspend()
            uploadSessions.giveBack(session)
        }
        // Read again under the session: the request that held it may have moved the offset.
        upload = try await findUpload(id, for: actor)
        guard upload.state == .open, offset == upload.offset else {
            throw ExhibitError(.conflict, "Upload-Offset \(offset) does not match the upload's offset \(upload.offset): ask with HEAD")
        }
        if session.writer.offset != upload.offset {
            // Another server took the upload on since this one last wrote to it: its session is stale.
            let fresh = try await makeSession(for: upload)
            session.lease?.release()
            uploadSessions.replaceTaken(upload.id, with: fresh)
            session = fresh
        }
        if session.writer.isSuspended { try session.writer.resume(tail: try await readTail(upload)) }
        // A resumption: the request before this one was cut short, or the server lost its session (a restart).
        if upload.offset > 0 && (upload.interrupted || session.rebuilt) { upload.resumptions += 1 }
        session.rebuilt = false
        let writer = session.writer
        let appended = try await append(body, to: &upload, writer: writer, checksum: checksum)
        upload.offset = writer.offset
        upload.entries = writer.entries
        upload.tailStart = writer.tailStart
        upload.patches += 1
        upload.interrupted = appended.interruption != nil
        upload.updatedAt = timestamp
        upload.expiresAt = uploadExpiry()
        upload.client = actor.client
        // The new tail and the progress that names it become durable together, in one catalog transaction: a crash
        // (or a failed catalog write) leaves the previous tail with the progress the catalog still has.
        try await catalog.saveUploadProgress(upload, tail: writer.tail)
        removeLegacyTail(upload.id)
        guard upload.offset == upload.length, appended.interruption == nil else {
            return UploadProgress(upload: upload, ingested: nil, interrupted: appended.interruption != nil)
        }
        let ingested = try await completeUpload(upload, writer: writer, by: actor)
        upload.state = .completed
        upload.exhibitID = ingested.exhibit.id
        return UploadProgress(upload: upload, ingested: ingested, interrupted: false)
    }

    /// The upload's session, taken for this request: the one this server holds, or a new one. A request cut short
    /// may still be finishing on the server when its client comes back, so a busy session is waited for a little.
    private func takeSession(for upload: UploadRecord) async throws -> UploadSessions.Session {
        for attempt in 0..<50 {
            switch uploadSessions.take(upload.id) {
            case .session(let taken):
                return taken
            case .absent:
                let made = try await makeSession(for: upload)
                if uploadSessions.insertTaken(upload.id, made) { return made }
                made.lease?.release()
            case .busy:
                if attempt < 49 { try await Task.sleep(for: .milliseconds(100)) }
            }
        }
        throw ExhibitError(.locked, "another request is writing to this upload; try again")
    }

    /// Appends one request's body through `writer`, its failures said in the client's terms; a body that broke off
    /// before its checksum could be checked marks the upload interrupted.
    private func append<Body: AsyncSequence>(
        _ body: Body, to upload: inout UploadRecord, writer: ResumableWriter, checksum: SHA256Digest?
    ) async throws -> ResumableWriter.Appended where Body.Element == ByteBuffer {
        do {
            return try await writer.append(body, limit: upload.length - upload.offset, checksum: checksum)
        } catch ResumableWriter.AppendError.checksumMismatch(let expected, let actual) {
            throw ExhibitError(.checksumMismatch, "the request's bytes hash to \(actual.hex), not the Upload-Checksum \(expected.hex); nothing of it was kept")
        } catch ResumableWriter.AppendError.interruptedBeforeChecksum {
            upload.interrupted = true
            upload.updatedAt = timestamp
            try? await catalog.saveUploadProgress(upload)
            throw ExhibitError(.badRequest, "the request broke off before its Upload-Checksum could be checked; nothing of it was kept")
        } catch let error as BlobStoreError where error.code == .tooLarge {
            throw ExhibitError(.badRequest, "the request carries more bytes than the upload's Upload-Length (\(upload.length)) allows")
        }
    }

    /// The upload's writer, rebuilt from the catalog's chunk list and the tail file.
    private func makeSession(for upload: UploadRecord) async throws -> UploadSessions.Session {
        let lease = try blobs.lease()
        do {
            try await lease?.hold(upload.entries.map { .chunk($0.chunk) })
            let tail = try await readTail(upload)
            let writer = try ResumableWriter(store: blobs, lease: lease, entries: upload.entries, tail: tail)
            guard writer.offset == upload.offset else {
                throw ExhibitError(.storage, "the upload's stored bytes (\(writer.offset)) do not add up to its offset (\(upload.offset))")
            }
            return UploadSessions.Session(writer: writer, lease: lease, rebuilt: upload.offset > 0)
        } catch {
            lease?.release()
            throw error
        }
    }

    private func completeUpload(_ upload: UploadRecord, writer: ResumableWriter, by actor: Actor) async throws -> Ingested {
        let expected = upload.expectedSHA256.flatMap { SHA256Digest(hex: $0) }
        let stored: BlobStore.PutResult
        do {
            stored = try await writer.finish(expectedDigest: expected)
        } catch let error as BlobStoreError where error.code == .digestMismatch {
            try await catalog.endUpload(id: upload.id, state: .failed, error: error.message)
            endSession(upload.id)
            throw ExhibitError(.digestMismatch, error.message + "; no exhibit was made: upload the file again")
        }
        guard let record = try await catalog.caseRecord(upload.caseID) else { throw ExhibitError(.notFound, "the case is gone") }
        let time = try upload.timeInputs.map { try JSONDecoder().decode(TimeCoverage.Inputs.self, from: Data($0.utf8)) } ?? .init()
        let request: FootageRequest?
        do {
            request = try await requestForCompletion(upload)
        } catch {
            try await catalog.endUpload(id: upload.id, state: .failed, error: "\(error)")
            endSession(upload.id)
            throw error
        }
        var details: [String: JSONValue] = [
            "upload": .string(upload.id), "resumptions": .int(Int64(upload.resumptions)), "requests": .int(Int64(upload.patches)),
            "client_sha256": JSONValue(upload.expectedSHA256), "created_from": JSONValue(upload.client),
        ]
        if let request {
            details["submitted_via"] = .string(request.reference)
            details["request"] = .string(request.id)
            details["submitted_by"] = .string(request.ownerName)
            details["client"] = .string(actor.client)
        }
        let ingested = try await self.record(
            stored, filename: upload.filename, in: record, by: actor, time: time, uploadID: upload.id, through: request,
            extraDetails: details)
        endSession(upload.id)
        return ingested
    }

    /// Ends an upload (tus termination): its tail goes; its chunks are reclaimed by the next garbage collection.
    public func terminateUpload(_ id: String, by actor: Actor) async throws {
        let upload = try await findUpload(id, for: actor)
        guard upload.state == .open else { throw ExhibitError(.conflict, "the upload is \(upload.state)") }
        try await catalog.endUpload(id: upload.id, state: .terminated, error: nil)
        endSession(upload.id)
    }

    /// Expires uploads with no request for `expire_after` (Policies/storage.yaml); their bytes are reclaimed
    /// by a garbage collection when any expired. Returns how many expired.
    @discardableResult
    public func expireUploads() async throws -> Int {
        let expired = try await catalog.expiredUploads(before: timestamp)
        for upload in expired {
            try await catalog.endUpload(id: upload.id, state: .expired, error: "no request since \(upload.updatedAt)")
            endSession(upload.id)
        }
        if !expired.isEmpty { _ = try await collectGarbage(dryRun: false, by: Actor.system(client: "upload expiry")) }
        return expired.count
    }

    private func endSession(_ id: UploadID) {
        uploadSessions.drop(id)
        try? FileManager.default.removeItem(atPath: uploadFolder(id))
    }

    // MARK: Tails

    /// An upload's tail: from the catalog, where it is saved with the progress that names it. (A store made before
    /// tails moved into the SQLite catalog kept them as files under `uploads/<id>/`; those are still read.)
    private func readTail(_ upload: UploadRecord) async throws -> ByteBuffer {
        let length = Int(upload.offset - upload.tailStart)
        guard length > 0 else { return ByteBuffer() }
        if let tail = try await catalog.uploadTail(id: upload.id) {
            guard tail.start == upload.tailStart, tail.bytes.readableBytes >= length,
                  let bytes = tail.bytes.getSlice(at: tail.bytes.readerIndex, length: length)
            else { throw ExhibitError(.storage, "the upload's tail is missing or short: start the upload again") }
            return bytes
        }
        let path = "\(uploadFolder(upload.id))/tail-\(upload.tailStart)"
        guard let data = FileManager.default.contents(atPath: path), data.count >= length else {
            throw ExhibitError(.storage, "the upload's tail is missing or short: start the upload again")
        }
        return ByteBuffer(bytes: data.prefix(length))
    }

    /// Removes a tail file an older store left once the catalog holds the upload's tail.
    private func removeLegacyTail(_ id: UploadID) {
        let folder = uploadFolder(id)
        guard FileManager.default.fileExists(atPath: folder) else { return }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
