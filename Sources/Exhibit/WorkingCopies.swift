import ExhibitCatalog
public import ExhibitModel
import ExhibitPolicies
import BlobStore
import Custody
import ExhibitCrypto
import Foundation
public import MediaProbe
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension EvidenceStore {
    /// What asking for a working copy came to.
    public enum DeriveOutcome: Sendable {
        /// A new copy was made.
        case created(ExhibitRecord)
        /// The master already has one.
        case existing(ExhibitRecord)
        /// The master plays as it is, or has no video.
        case notNeeded(String)
        /// The copy could not be made; the custody record says why.
        case failed(String)
    }

    /// The plan for an exhibit's working copy (from its stored probe).
    public func workingCopyPlan(_ exhibit: ExhibitRecord) -> WorkingCopyPlan {
        WorkingCopyPlan.plan(exhibit.media, verdict: exhibit.integrity?.verdict ?? .notMedia)
    }

    /// Makes a browser-playable working copy of a master (see `WorkingCopyPlan`), unless it has one or needs
    /// none. The master's bytes are only ever read. Every step is a custody event; a failed or cancelled copy
    /// leaves nothing but its `working-copy.failed` event (and the decode errors it found, in the master's
    /// integrity report).
    public func derive(
        _ master: ExhibitRecord, by actor: Actor, isCancelled: @escaping @Sendable () -> Bool = { false }
    ) async throws -> DeriveOutcome {
        guard !master.isWorkingCopy else {
            throw ExhibitError(.badRequest, "\(master.reference) is itself a working copy; its master is \(master.lineage?.masterReference ?? "?")")
        }
        try await authorize(actor, .exhibitDownload)
        try requireFootage(master)
        if let existing = try await catalog.workingCopies(of: master.id).last { return .existing(existing) }
        guard master.isLive else {
            throw ExhibitError(.conflict, "\(master.reference) is pending deletion: restore it before making a working copy")
        }
        let plan = workingCopyPlan(master)
        guard plan.operation == .remux || plan.operation == .transcode else {
            if master.workingCopyStatus != .notNeeded {
                try await catalog.setWorkingCopyStatus(masterID: master.id, status: "not-needed", error: nil, masterIntegrity: nil, event: nil)
            }
            return .notNeeded(plan.reason)
        }
        let started = timestamp
        _ = try await catalog.append(actor.event(
            .workingCopyStarted, exhibit: master.id, caseReference: master.caseReference,
            details: ["reference": .string(master.reference), "operation": .string(plan.operation.rawValue), "reason": .string(plan.reason)]))
        let temporary = local.temporaryPath("working") + ".mp4"
        defer { unlink(temporary) }
        let settings = policies.storage.workingCopies.encoder
        let limits = policies.storage.probe
        let blobs = self.blobs
        var transcode: TranscodeReport?
        do {
            let report = try await MediaWork.run {
                try Transcoder.make(
                    from: BlobByteSource(blobs: blobs, blob: master.sha256, size: master.size), filename: master.filename,
                    plan: plan, to: temporary, settings: settings, probeLimits: limits, isCancelled: isCancelled)
            }
            transcode = report
            // Check the copy before it enters the store: a failed check leaves nothing behind.
            let copyReport = try await MediaWork.run { try MediaProbe.examine(path: temporary, limits: limits) }
            let check = try Self.check(copy: copyReport, against: master)
            // Leased until the catalog records the copy, so garbage collection cannot take its chunks meanwhile.
            let lease = try blobs.lease()
            defer { lease?.release() }
            let stored = try await blobs.put(try FileBytes(path: temporary), sizeLimit: nil, lease: lease)
            let finished = timestamp
            let lineage = Lineage(
                masterID: master.id, masterReference: master.reference, masterSHA256: master.sha256.hex,
                operation: plan.operation.rawValue, reason: plan.reason, requestedBy: actor.name, requestedFrom: actor.client,
                startedAt: started, finishedAt: finished, transcode: report, encoder: settings, check: check)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let base = (master.filename as NSString).deletingPathExtension
            let copy = NewExhibit(
                id: .new(), caseID: master.caseID, initials: "", filename: base + ".working-copy.mp4",
                // Filed under the master's uploader; who asked for it is in the lineage and the custody event.
                blob: stored.blob.digest, size: stored.blob.size, chunks: stored.chunkCount, uploadedBy: master.uploadedBy,
                media: MediaJSON(
                    media: try copyReport.media.map { String(decoding: try encoder.encode($0), as: UTF8.self) },
                    integrity: String(decoding: try encoder.encode(copyReport.integrity), as: UTF8.self),
                    verdict: copyReport.integrity.verdict.rawValue),
                coverage: nil)
            let (record, _) = try await catalog.insertWorkingCopy(
                copy, masterID: master.id, lineage: String(decoding: try encoder.encode(lineage), as: UTF8.self),
                masterIntegrity: try masterIntegrity(master, report.decodeErrors, report.corruptFrames, report.framesDecoded)
            ) { reference in
                actor.event(
                    .workingCopyCreated, exhibit: copy.id, caseReference: master.caseReference,
                    details: [
                        "reference": .string(reference), "master": .string(master.reference),
                        "master_sha256": .string(master.sha256.hex), "sha256": .string(stored.blob.digest.hex),
                        "size": .int(stored.blob.size), "operation": .string(plan.operation.rawValue),
                        "decode_errors": .int(Int64(report.decodeErrors)),
                        "libavcodec": .string(report.libraries["libavcodec"] ?? "?"),
                    ])
            }
            return .created(record)
        } catch {
            let reason = (error as? TranscodeError)?.description ?? (error as? ExhibitError)?.message ?? "\(error)"
            let decodeErrors = (error as? TranscodeError)?.decodeErrors ?? transcode?.decodeErrors ?? 0
            let interrupted = isCancelled()
            try await catalog.setWorkingCopyStatus(
                masterID: master.id, status: interrupted ? "interrupted" : "failed", error: reason,
                masterIntegrity: decodeErrors > 0 ? try masterIntegrity(master, decodeErrors, 0, 0) : nil,
                event: actor.event(
                    .workingCopyFailed, exhibit: master.id, caseReference: master.caseReference,
                    details: ["reference": .string(master.reference), "operation": .string(plan.operation.rawValue),
                              "reason": .string(reason), "decode_errors": .int(Int64(decodeErrors))]))
            return .failed(reason)
        }
    }

    /// The master's integrity report with the decode check added, as stored JSON (nil when nothing changes).
    func masterIntegrity(_ master: ExhibitRecord, _ errors: Int, _ corrupt: Int, _ frames: Int) throws -> MasterIntegrity? {
        guard var integrity = master.integrity else { return nil }
        integrity.decode = .init(errors: errors, corruptFrames: corrupt, framesDecoded: frames, checkedAt: timestamp)
        if errors > 0 || corrupt > 0 {
            let problem = "decoding found \(errors) error(s) and \(corrupt) corrupt frame(s) the demuxer did not see"
            integrity.addLaterDamage(problem)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return MasterIntegrity(json: String(decoding: try encoder.encode(integrity), as: UTF8.self), verdict: integrity.verdict.rawValue)
    }

    /// A copy passes when it has the master's video (and audio, if any), its duration and its number of frames
    /// within one frame per second of footage. A copy that loses video or half the footage is a failure.
    static func check(copy: MediaReport, against master: ExhibitRecord) throws -> CopyCheck {
        guard let media = copy.media, copy.integrity.verdict == .complete else {
            throw ExhibitError(.damaged, "the copy does not read back whole: \(copy.integrity.summary)")
        }
        guard let masterMedia = master.media, let masterIntegrity = master.integrity else {
            throw ExhibitError(.damaged, "the master has no probe to compare with")
        }
        let fps = masterMedia.videoStreams.first?.framesPerSecond ?? 25
        let masterFrames = masterIntegrity.streams.first { $0.codecType == "video" }?.packets ?? 0
        let copyFrames = copy.integrity.streams.first { $0.codecType == "video" }?.packets ?? 0
        let masterDuration = masterIntegrity.readableDuration ?? Double(masterFrames) / fps
        let copyDuration = copy.integrity.readableDuration ?? 0
        let tolerance = max(1, masterDuration) / fps
        let masterStreams = "\(masterMedia.videoStreams.isEmpty ? 0 : 1) video, \(min(1, masterMedia.audioStreams.count)) audio"
        let copyStreams = "\(media.videoStreams.count) video, \(media.audioStreams.count) audio"
        let check = CopyCheck(
            masterDuration: masterDuration, copyDuration: copyDuration, masterFrames: masterFrames, copyFrames: copyFrames,
            tolerance: tolerance, masterStreams: masterStreams, copyStreams: copyStreams)
        guard masterStreams == copyStreams else {
            throw ExhibitError(.damaged, "the copy has \(copyStreams) streams; the master has \(masterStreams)")
        }
        guard abs(copyDuration - masterDuration) <= tolerance else {
            throw ExhibitError(.damaged, String(format: "the copy lasts %.2f s; the master %.2f s", copyDuration, masterDuration))
        }
        guard abs(copyFrames - masterFrames) <= Int(max(1, masterDuration).rounded(.up)) else {
            throw ExhibitError(.damaged, "the copy has \(copyFrames) frames; the master \(masterFrames)")
        }
        return check
    }

    /// A master's working copies (for the exhibit's JSON and the share page).
    public func workingCopies(of master: ExhibitRecord) async throws -> [ExhibitRecord] {
        try await catalog.workingCopies(of: master.id)
    }

    /// Masters that still need a working copy (planned but not made, or interrupted): for the server at start.
    /// Masters never planned (stored by the CLI, or just before a crash) are included only when the policy makes
    /// copies automatically.
    public func mastersAwaitingWorkingCopies() async throws -> [ExhibitRecord] {
        try await catalog.masters(
            withWorkingCopyStatus: ["pending", "interrupted"], includeUnplanned: policies.storage.workingCopies.automatic
        ).filter { master in
            guard master.isLive else { return false }
            let operation = workingCopyPlan(master).operation
            return operation == .remux || operation == .transcode
        }
    }

    /// Marks a master as waiting for its copy (the server queues it).
    public func markWorkingCopyPending(_ master: ExhibitRecord) async throws {
        try await catalog.setWorkingCopyStatus(masterID: master.id, status: "pending", error: nil, masterIntegrity: nil, event: nil)
    }
}
