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
        public let exhibit: String
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
        exhibit name: String? = nil, case caseName: String? = nil, repairFrom source: RepairSource? = nil, by actor: Actor
    ) async throws -> ScrubReport {
        var exhibits: [ExhibitRecord]
        var report: ScrubReport
        var eventExhibit: String?
        var eventCase: String?
        if let name {
            let found = try await findExhibit(name, case: caseName, for: actor)
            exhibits = [found]
            report = ScrubReport(scope: "exhibit")
            eventExhibit = found.id
            eventCase = found.caseReference
        } else if let caseName {
            let record = try await findCase(caseName, for: actor)
            exhibits = try await catalog.exhibits(caseID: record.id)
            report = ScrubReport(scope: "case")
            eventCase = record.reference
        } else {
            guard actor.role.scope == .all || actor.isSystem else {
                throw ExhibitError(.forbidden, "only a role that sees every case may check the whole store; name a case or an exhibit")
            }
            exhibits = try await catalog.allExhibits()
            report = ScrubReport(scope: "store")
        }
        exhibits.removeAll { $0.isPurged }
        report.exhibitsChecked = exhibits.count
        let wholeStore = name == nil && caseName == nil

        var blobs = Set(exhibits.map(\.sha256))
        var live = blobs
        if wholeStore {
            live.formUnion(try await catalog.liveBlobs())
            blobs.formUnion(live)
            for try await key in self.blobs.backend.keys(.manifest) { blobs.insert(key.digest) }
        }
        let list = blobs.sorted()

        var verification = try await self.blobs.verify(blobs: list, includeUnreferenced: wholeStore)
        report.blobsChecked = verification.blobsChecked
        report.chunksChecked = verification.chunksChecked
        report.bytesChecked = verification.bytesChecked
        // A manifest of a blob nothing needs may be collected while we look: not damage.
        verification.problems.removeAll { $0.kind == .missingManifest && $0.blobs.allSatisfy { !live.contains($0) } }

        var byBlob: [SHA256Digest: [ExhibitRecord]] = [:]
        for exhibit in exhibits { byBlob[exhibit.sha256, default: []].append(exhibit) }
        var damagedIndex: [String: Int] = [:]
        for problem in verification.problems {
            let line = Self.describe(problem)
            let owners = problem.blobs.flatMap { byBlob[$0] ?? [] }
            if owners.isEmpty { report.otherProblems.append(line) }
            for exhibit in owners {
                if let index = damagedIndex[exhibit.id] {
                    report.damaged[index].problems.append(line)
                } else {
                    damagedIndex[exhibit.id] = report.damaged.count
                    report.damaged.append(.init(
                        exhibit: exhibit.id, caseReference: exhibit.caseReference, reference: exhibit.reference,
                        sha256: exhibit.sha256.hex, problems: [line]))
                }
            }
        }

        var remaining = verification
        if let source, !verification.isClean {
            var repair = RepairReport()
            // A restored manifest can name chunks that are missing too: a few rounds restore those.
            for _ in 0..<3 where !remaining.isClean {
                let round = try await self.blobs.repair(remaining, from: source)
                repair.restored += round.restored
                let checkAgain = Array(remaining.brokenBlobs).sorted()
                let again = try await self.blobs.verify(blobs: checkAgain, includeUnreferenced: false)
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
                if round.restored.isEmpty {
                    repair.missed = round.missed
                    break
                }
                repair.missed = round.missed
            }
            let broken = remaining.brokenBlobs
            for index in report.damaged.indices {
                report.damaged[index].repaired = SHA256Digest(hex: report.damaged[index].sha256).map { !broken.contains($0) } ?? false
            }
            if remaining.isClean { repair.missed = [] }
            report.repair = repair
        }
        report.clean = remaining.isClean

        var details: [String: JSONValue] = [
            "scope": .string(report.scope),
            "clean": .bool(report.clean),
            "exhibits_checked": .int(Int64(report.exhibitsChecked)),
            "blobs_checked": .int(Int64(report.blobsChecked)),
            "chunks_checked": .int(Int64(report.chunksChecked)),
            "bytes_checked": .int(report.bytesChecked),
            "damaged": .array(report.damaged.prefix(1000).map { damaged in
                .object([
                    "exhibit": .string(damaged.exhibit), "case": .string(damaged.caseReference),
                    "reference": .string(damaged.reference), "sha256": .string(damaged.sha256),
                    "problems": .array(damaged.problems.prefix(100).map { .string($0) }),
                    "repaired": .bool(damaged.repaired),
                ])
            }),
            "damaged_count": .int(Int64(report.damaged.count)),
            "other_problems": .array(report.otherProblems.prefix(100).map { .string($0) }),
        ]
        if let repair = report.repair {
            details["repair_from"] = .string(source?.root ?? "")
            details["restored"] = .array(repair.restored.prefix(1000).map { .string($0) })
            details["not_restored"] = .array(repair.missed.prefix(1000).map { .string($0.description) })
        }
        let event = try await catalog.append(actor.event(.storeVerified, exhibit: eventExhibit, caseReference: eventCase, details: .object(details)))
        report.eventSeq = event.seq
        return report
    }

    static func describe(_ problem: VerificationReport.Problem) -> String {
        let what = problem.chunk.map { "chunk \($0.hex)" } ?? (problem.blobs.first.map { "manifest of \($0.hex)" } ?? "")
        return "\(problem.kind.rawValue): \(what): \(problem.detail)"
    }
}
