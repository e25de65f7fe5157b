import ExhibitCatalog
public import ExhibitModel
import ExhibitPolicies
public import BlobStore
import Custody
import ExhibitCrypto

/// What `EvidenceStore.scrub` checked and found (README, "Checking the store").
public struct ScrubReport: Sendable, Codable {
    /// One exhibit whose footage the scrub found broken.
    public struct Damaged: Sendable, Codable {
        public let exhibit: ExhibitID
        public let caseReference: String
        public let reference: String
        public let sha256: String
        /// What is wrong, one line each (`missing-chunk: chunk ab12…: not in the store`).
        public var problems: [String]
        /// Whether `--repair-from` made it whole again.
        public var repaired = false

        enum CodingKeys: String, CodingKey {
            case exhibit
            case caseReference = "case"
            case reference, sha256, problems, repaired
        }
    }

    /// `store`, `case` or `exhibit`.
    public var scope: String
    public var exhibitsChecked = 0
    public var blobsChecked = 0
    public var chunksChecked = 0
    public var bytesChecked: Int64 = 0
    /// Exhibits found broken (before any repair).
    public var damaged: [Damaged] = []
    /// Damage that breaks no exhibit: corrupt chunks no manifest names, manifests of blobs no exhibit has.
    public var otherProblems: [String] = []
    /// What `--repair-from` restored and could not, when it was asked for.
    public var repair: RepairReport?
    /// Nothing is broken any more (after repair, when asked for).
    public var clean = true
    /// The sequence number of the `store.verified` custody event recording this scrub.
    public var eventSeq: Int64 = 0

    /// Names each problem against the exhibits whose footage it breaks (or as other damage when it breaks none).
    mutating func attribute(_ problems: [VerificationReport.Problem], to exhibits: [ExhibitRecord]) {
        var byBlob: [SHA256Digest: [ExhibitRecord]] = [:]
        for exhibit in exhibits { byBlob[exhibit.sha256, default: []].append(exhibit) }
        var damagedIndex: [ExhibitID: Int] = [:]
        for problem in problems {
            let line = EvidenceStore.describe(problem)
            let owners = problem.blobs.flatMap { byBlob[$0] ?? [] }
            if owners.isEmpty { otherProblems.append(line) }
            for exhibit in owners {
                if let index = damagedIndex[exhibit.id] {
                    damaged[index].problems.append(line)
                } else {
                    damagedIndex[exhibit.id] = damaged.count
                    damaged.append(.init(
                        exhibit: exhibit.id, caseReference: exhibit.caseReference, reference: exhibit.reference,
                        sha256: exhibit.sha256.hex, problems: [line]))
                }
            }
        }
    }

    /// The `store.verified` event's details: the result, bounded (at most 1,000 exhibits named, 100 problems each).
    func eventDetails(repairFrom source: RepairSource?) -> JSONValue {
        var details: [String: JSONValue] = [
            "scope": .string(scope),
            "clean": .bool(clean),
            "exhibits_checked": .int(Int64(exhibitsChecked)),
            "blobs_checked": .int(Int64(blobsChecked)),
            "chunks_checked": .int(Int64(chunksChecked)),
            "bytes_checked": .int(bytesChecked),
            "damaged": .array(damaged.prefix(1000).map { damaged in
                .object([
                    "exhibit": .string(damaged.exhibit), "case": .string(damaged.caseReference),
                    "reference": .string(damaged.reference), "sha256": .string(damaged.sha256),
                    "problems": .array(damaged.problems.prefix(100).map { .string($0) }),
                    "repaired": .bool(damaged.repaired),
                ])
            }),
            "damaged_count": .int(Int64(damaged.count)),
            "other_problems": .array(otherProblems.prefix(100).map { .string($0) }),
        ]
        if let repair {
            details["repair_from"] = .string(source?.root ?? "")
            details["restored"] = .array(repair.restored.prefix(1000).map { .string($0) })
            details["not_restored"] = .array(repair.missed.prefix(1000).map { .string($0.description) })
        }
        return .object(details)
    }

    enum CodingKeys: String, CodingKey {
        case scope
        case exhibitsChecked = "exhibits_checked"
        case blobsChecked = "blobs_checked"
        case chunksChecked = "chunks_checked"
        case bytesChecked = "bytes_checked"
        case damaged
        case otherProblems = "other_problems"
        case repair, clean
        case eventSeq = "event_seq"
    }
}

extension EvidenceStore {
    /// Re-reads and re-hashes footage: one exhibit, every exhibit of a case, or (neither given) the whole store,
    /// including chunks no exhibit uses. Each broken exhibit is named with its case, reference and what is wrong.
    /// With `repairFrom`, broken chunks and manifests are restored from that copy when their bytes check out, and
    /// the footage is checked again. The result, clean or not, is recorded as a `store.verified` custody event.
    public func scrub(
        exhibit name: String? = nil, case caseName: String? = nil, repairFrom source: RepairSource? = nil, by actor: Actor,
        scheduled: Bool = false, pace: (@Sendable (Int) async throws -> Void)? = nil
    ) async throws -> ScrubReport {
        let scope = try await scrubScope(exhibit: name, case: caseName, by: actor)
        var report = ScrubReport(scope: scope.name)
        report.exhibitsChecked = scope.exhibits.count

        var blobs = Set(scope.exhibits.map(\.sha256))
        var live = blobs
        if scope.wholeStore {
            live.formUnion(try await catalog.liveBlobs())
            blobs.formUnion(live)
            for try await key in self.blobs.backend.keys(.manifest) { blobs.insert(key.digest) }
        }
        var verification = try await self.blobs.verify(blobs: blobs.sorted(), includeUnreferenced: scope.wholeStore, pace: pace)
        report.blobsChecked = verification.blobsChecked
        report.chunksChecked = verification.chunksChecked
        report.bytesChecked = verification.bytesChecked
        // A manifest of a blob nothing needs may be collected while we look: not damage.
        verification.problems.removeAll { $0.kind == .missingManifest && $0.blobs.allSatisfy { !live.contains($0) } }
        report.attribute(verification.problems, to: scope.exhibits)

        var remaining = verification
        if let source, !verification.isClean {
            let repair: RepairReport
            (repair, remaining) = try await repairRounds(verification, from: source, wholeStore: scope.wholeStore)
            let broken = remaining.brokenBlobs
            for index in report.damaged.indices {
                report.damaged[index].repaired = SHA256Digest(hex: report.damaged[index].sha256).map { !broken.contains($0) } ?? false
            }
            report.repair = repair
        }
        report.clean = remaining.isClean
        var details = report.eventDetails(repairFrom: source)
        if scheduled, case .object(var fields) = details {
            fields["scheduled"] = true
            details = .object(fields)
        }
        let event = try await catalog.append(actor.event(
            .storeVerified, exhibit: scope.eventExhibit, caseReference: scope.eventCase, details: details))
        report.eventSeq = event.seq
        return report
    }

    /// What a scrub covers: one exhibit, one case, or (for a role that sees every case) the whole store; purged
    /// exhibits are left out (their bytes are gone on purpose).
    private func scrubScope(exhibit name: String?, case caseName: String?, by actor: Actor) async throws
        -> (name: String, exhibits: [ExhibitRecord], wholeStore: Bool, eventExhibit: ExhibitID?, eventCase: String?)
    {
        if let name {
            let found = try await findExhibit(name, case: caseName, for: actor)
            return ("exhibit", found.isPurged ? [] : [found], false, found.id, found.caseReference)
        }
        if let caseName {
            let record = try await findCase(caseName, for: actor)
            return ("case", try await catalog.exhibits(caseID: record.id).filter { !$0.isPurged }, false, nil, record.reference)
        }
        guard actor.role.scope == .all || actor.isSystem else {
            throw ExhibitError(.forbidden, "only a role that sees every case may check the whole store; name a case or an exhibit")
        }
        return ("store", try await catalog.allExhibits().filter { !$0.isPurged }, true, nil, nil)
    }

    /// Restores what `verification` found broken from `source`, checking again after each round (a restored
    /// manifest can name chunks that are missing too: a few rounds restore those); returns what was restored
    /// and what is still broken.
    private func repairRounds(
        _ verification: VerificationReport, from source: RepairSource, wholeStore: Bool
    ) async throws -> (RepairReport, VerificationReport) {
        var repair = RepairReport()
        var remaining = verification
        for _ in 0..<3 where !remaining.isClean {
            let round = try await self.blobs.repair(remaining, from: source)
            repair.restored += round.restored
            let again = try await self.blobs.verify(blobs: Array(remaining.brokenBlobs).sorted(), includeUnreferenced: false)
            var stillBroken = again.problems
            if wholeStore {
                // Corrupt chunks no blob names are checked by name.
                for problem in remaining.problems where problem.blobs.isEmpty {
                    if let chunk = problem.chunk, !round.restored.contains(ObjectKey.chunk(chunk).path) {
                        stillBroken.append(problem)
                    }
                }
            }
            remaining.problems = stillBroken
            repair.missed = round.missed
            if round.restored.isEmpty { break }
        }
        if remaining.isClean { repair.missed = [] }
        return (repair, remaining)
    }

    static func describe(_ problem: VerificationReport.Problem) -> String {
        let what = problem.chunk.map { "chunk \($0.hex)" } ?? (problem.blobs.first.map { "manifest of \($0.hex)" } ?? "")
        return "\(problem.kind.rawValue): \(what): \(problem.detail)"
    }
}
