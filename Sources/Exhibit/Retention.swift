import ExhibitCatalog
public import ExhibitModel
import ExhibitPolicies
public import BlobStore
import Custody
public import Foundation
import ExhibitCrypto

/// Case outcomes, legal holds, the retention plan and deletion with a record (README, "Retention").
extension EvidenceStore {
    // MARK: Case status

    /// Records a case's outcome. `at` is when it happened (default: now; never in the future); a release date goes
    /// only with a conviction and never before it. `retentionClass` gives the case a class of its own (e.g.
    /// `major-crime`), or removes it (`.set(nil)`).
    public func setCaseStatus(
        _ caseName: String, status statusText: String, at: Date? = nil, releaseDate: Date? = nil,
        retentionClass: ClassChange = .keep, by actor: Actor
    ) async throws -> CaseRecord {
        guard let status = CaseStatus(rawValue: statusText) else {
            throw ExhibitError(.badRequest, "unknown status '\(statusText.prefix(40))' (statuses: \(CaseStatus.list))")
        }
        let record = try await findCase(caseName, for: actor, needing: .caseStatus)
        let current = now()
        let date = at ?? current
        guard date <= current.addingTimeInterval(300) else {
            throw ExhibitError(.badRequest, "the status date \(CustodyTime.string(date)) is in the future: give the date it happened")
        }
        if let releaseDate {
            guard status == .convicted else {
                throw ExhibitError(.badRequest, "a release date goes only with the status convicted (not \(status.rawValue))")
            }
            guard releaseDate >= date else {
                throw ExhibitError(
                    .badRequest,
                    "the release date \(CustodyTime.string(releaseDate)) is before the conviction on \(CustodyTime.string(date))")
            }
        }
        if case .set(let name?) = retentionClass, policies.retention.classes[name] == nil {
            let known = policies.retention.classes.keys.sorted().joined(separator: ", ")
            throw ExhibitError(.badRequest, "unknown retention class '\(name.prefix(40))' (Policies/retention.yaml has: \(known))")
        }
        let change = CaseStatusChange(
            status: status, at: CustodyTime.string(date), releaseDate: releaseDate.map(CustodyTime.string),
            setBy: actor.name, setAt: timestamp)
        var details: [String: JSONValue] = [
            "status": .string(status.rawValue), "previous": .string(record.status.rawValue), "at": .string(change.at),
            "release_date": JSONValue(change.releaseDate),
        ]
        if case .set(let name) = retentionClass { details["class"] = JSONValue(name) }
        let updated = try await catalog.setCaseStatus(
            caseID: record.id, change: change, retentionClass: retentionClass,
            event: actor.event(.caseStatusChanged, caseReference: record.reference, details: .object(details)))
        return try await describe(updated)
    }

    /// A case with its retention deadline and standing hold filled in.
    public func describe(_ record: CaseRecord) async throws -> CaseRecord {
        var record = record
        record.retention = policies.retention.deadline(for: record, history: try await catalog.statusHistory(caseID: record.id))
        record.hold = try await catalog.holds(caseID: record.id, exhibitIDs: []).first { $0.releasedAt == nil }
        return record
    }

    /// The statuses a case went through, oldest first.
    public func statusHistory(of record: CaseRecord, for actor: Actor) async throws -> [CaseStatusChange] {
        try await authorize(actor, .caseRead, case: record)
        return try await catalog.statusHistory(caseID: record.id)
    }

    /// An exhibit with its retention (deadline of its case, and the hold that keeps it) filled in.
    public func describe(_ exhibit: ExhibitRecord) async throws -> ExhibitRecord {
        var exhibit = exhibit
        guard let record = try await catalog.caseRecord(exhibit.caseID) else { return exhibit }
        let deadline = policies.retention.deadline(for: record, history: try await catalog.statusHistory(caseID: record.id))
        let family = [exhibit.id] + (exhibit.masterID.map { [$0] } ?? [])
        let hold = try await catalog.holds(caseID: record.id, exhibitIDs: family).first { $0.releasedAt == nil }
        exhibit.retention = ExhibitRetention(deadline: deadline.date, because: deadline.because, hold: hold)
        return exhibit
    }

    // MARK: Legal holds

    /// Puts a legal hold on a case (every exhibit in it) or on one exhibit (with its working copies).
    public func setHold(case caseName: String?, exhibit exhibitName: String?, reason: String, by actor: Actor) async throws -> HoldRecord {
        let target = try await holdTarget(case: caseName, exhibit: exhibitName, needing: .holdSet, by: actor)
        try Self.requireReason(reason)
        let hold = HoldRecord(
            id: .new(), caseID: target.exhibit == nil ? target.case.id : nil, exhibitID: target.exhibit?.id,
            reason: reason, setBy: actor.name, setAt: timestamp)
        try await catalog.insertHold(
            hold,
            event: actor.event(
                .holdSet, exhibit: target.exhibit?.id, caseReference: target.case.reference,
                details: ["hold": .string(hold.id), "on": .string(target.exhibit?.reference ?? "case"), "reason": .string(reason)]))
        return hold
    }

    /// Lifts the legal hold standing on a case or an exhibit.
    /// A reason is required, as to set one: lifting a hold is as much a decision on the record.
    public func releaseHold(case caseName: String?, exhibit exhibitName: String?, reason: String?, by actor: Actor) async throws -> HoldRecord {
        let target = try await holdTarget(case: caseName, exhibit: exhibitName, needing: .holdRelease, by: actor)
        try Self.requireReason(reason)
        return try await catalog.releaseHold(
            caseID: target.exhibit == nil ? target.case.id : nil, exhibitID: target.exhibit?.id, by: actor.name, reason: reason
        ) { hold in
            actor.event(
                .holdReleased, exhibit: target.exhibit?.id, caseReference: target.case.reference,
                details: [
                    "hold": .string(hold.id), "on": .string(target.exhibit?.reference ?? "case"), "reason": JSONValue(reason),
                    "set_by": .string(hold.setBy), "set_at": .string(hold.setAt),
                ])
        }
    }

    /// Standing holds on cases the actor can see.
    public func standingHolds(for actor: Actor) async throws -> [HoldRecord] {
        let visible = Dictionary(try await cases(for: actor).map { ($0.id, $0.reference) }, uniquingKeysWith: { first, _ in first })
        var out: [HoldRecord] = []
        for var hold in try await catalog.standingHolds() {
            if let caseID = hold.caseID, let reference = visible[caseID] {
                hold.caseReference = reference
                out.append(hold)
            }
            if let exhibitID = hold.exhibitID, let exhibit = try await catalog.exhibit(id: exhibitID), visible[exhibit.caseID] != nil {
                hold.caseReference = exhibit.caseReference
                hold.exhibitReference = exhibit.reference
                out.append(hold)
            }
        }
        return out
    }

    private func holdTarget(
        case caseName: String?, exhibit exhibitName: String?, needing permission: Permission, by actor: Actor
    ) async throws -> (case: CaseRecord, exhibit: ExhibitRecord?) {
        if let exhibitName {
            let exhibit = try await findExhibit(exhibitName, case: caseName, for: actor, needing: .exhibitRead)
            guard let record = try await catalog.caseRecord(exhibit.caseID) else { throw ExhibitError(.notFound, "no case") }
            try await authorize(actor, permission, case: record)
            return (record, exhibit)
        }
        guard let caseName else { throw ExhibitError(.badRequest, "name a case or an exhibit") }
        return (try await findCase(caseName, for: actor, needing: permission), nil)
    }

    static func requireReason(_ reason: String?) throws {
        guard let reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ExhibitError(.badRequest, "a reason is required (it goes on the custody record)", field: "reason")
        }
        try Validate.text(reason, "the reason", max: 1000)
    }

    // MARK: Plan

    /// What retention would do at `asOf` (default now); changes nothing.
    public func retentionPlan(asOf: Date? = nil, for actor: Actor) async throws -> RetentionPlan {
        try await authorize(actor, .retentionRead)
        return try await computePlan(asOf: asOf ?? now()).plan
    }

    /// One master with its working copies: they are deleted, held and restored together.
    struct Family {
        let members: [ExhibitRecord]
        let guardState: RetentionGuard
        var ids: [ExhibitID] { members.map(\.id) }
    }

    func computePlan(asOf: Date) async throws -> (plan: RetentionPlan, families: [ExhibitID: Family]) {
        let asOfText = CustodyTime.string(asOf)
        let holds = try await catalog.standingHolds()
        let heldCases = Dictionary(holds.compactMap { h in h.caseID.map { ($0, h) } }, uniquingKeysWith: { a, _ in a })
        let heldExhibits = Dictionary(holds.compactMap { h in h.exhibitID.map { ($0, h) } }, uniquingKeysWith: { a, _ in a })
        var entries: [RetentionPlan.Entry] = []
        var families: [ExhibitID: Family] = [:]
        for record in try await catalog.cases() {
            let exhibits = try await catalog.exhibits(caseID: record.id).filter { !$0.isPurged }
            guard !exhibits.isEmpty else { continue }
            let deadline = policies.retention.deadline(for: record, history: try await catalog.statusHistory(caseID: record.id))
            let due = deadline.date.map { $0 <= asOfText } ?? false
            for master in exhibits where !master.isWorkingCopy {
                let members = [master] + exhibits.filter { $0.masterID == master.id && $0.state == master.state }
                let hold = heldCases[record.id] ?? members.lazy.compactMap { heldExhibits[$0.id] }.first
                let action: RetentionPlan.Action
                var note = deadline.because
                switch master.state {
                case .live:
                    guard due else { continue }
                    action = hold == nil ? .delete : .held
                case .pendingDeletion:
                    if let hold {
                        action = .restore
                        note = "held since \(hold.setAt) by \(hold.setBy): \(hold.reason)"
                    } else if !due {
                        action = .restore
                        note = "no longer due: " + deadline.because
                    } else if let purgeAfter = master.deletion?.purgeAfter, purgeAfter <= asOfText {
                        action = .purge
                    } else {
                        action = .wait
                    }
                case .purged:
                    continue
                }
                families[master.id] = Family(members: members, guardState: RetentionGuard(caseID: record.id, statusVersion: record.statusVersion))
                for member in members {
                    entries.append(RetentionPlan.Entry(
                        exhibitID: member.id, reference: member.reference, caseReference: record.reference, filename: member.filename,
                        sha256: member.sha256.hex, size: member.size, state: member.state.rawValue, action: action, deadline: deadline.date,
                        because: note, purgeAfter: member.deletion?.purgeAfter, hold: hold,
                        masterReference: member.isWorkingCopy ? master.reference : nil))
                }
            }
        }
        return (RetentionPlan(asOf: asOfText, gracePeriod: policies.retention.gracePeriod.description, entries: entries), families)
    }

    // MARK: Apply

    /// Applies the plan now: due exhibits go to pending deletion for the grace period; pending ones past it are
    /// purged (tombstones; their links stop working; their footage's chunks go unless another exhibit uses them);
    /// pending ones now held or no longer due are restored. Every step is a custody event; a step whose case
    /// changed meanwhile is skipped, not forced.
    public func applyRetention(reason: String, by actor: Actor) async throws -> RetentionApplied {
        try await authorize(actor, .retentionApply)
        try Self.requireReason(reason)
        let started = now()
        let (plan, families) = try await computePlan(asOf: started)
        var applied = RetentionApplied()
        var freed = false
        let purgeAfter = policies.retention.gracePeriod.end(from: started) ?? started
        for (masterID, family) in families.sorted(by: { $0.key < $1.key }) {
            guard let entry = plan.entries.first(where: { $0.exhibitID == masterID }) else { continue }
            do {
                switch entry.action {
                case .delete:
                    try await scheduleDeletion(of: family, entry, reason: reason, purgeAfter: purgeAfter, by: actor)
                    applied.scheduled += family.members.map { $0.caseReference + " " + $0.reference }
                case .purge:
                    freed = try await purge(family, reason: reason, by: actor) || freed
                    applied.purged += family.members.map { $0.caseReference + " " + $0.reference }
                case .restore:
                    try await catalog.restoreExhibits(family.ids, events: family.members.map { member in
                        actor.event(
                            .exhibitRestored, exhibit: member.id, caseReference: member.caseReference,
                            details: ["reference": .string(member.reference), "reason": .string(entry.because)])
                    })
                    applied.restored += family.members.map { $0.caseReference + " " + $0.reference }
                case .held, .wait:
                    continue
                }
            } catch let error as ExhibitError where error.code == .conflict {
                applied.skipped.append("\(entry.caseReference) \(entry.reference): \(error.message)")
            }
        }
        if freed { applied.collection = try await collectGarbage(dryRun: false, by: actor) }
        _ = try await catalog.append(actor.event(
            .retentionApplied,
            details: [
                "reason": .string(reason), "scheduled": .int(Int64(applied.scheduled.count)), "purged": .int(Int64(applied.purged.count)),
                "restored": .int(Int64(applied.restored.count)), "skipped": .int(Int64(applied.skipped.count)),
                "bytes_removed": .int(applied.collection?.bytesRemoved ?? 0),
            ]))
        return applied
    }

    /// Schedules a master and its working copies for deletion after the grace period, one event each.
    private func scheduleDeletion(
        of family: Family, _ entry: RetentionPlan.Entry, reason: String, purgeAfter: Date, by actor: Actor
    ) async throws {
        let deletion = ExhibitDeletion(
            requestedAt: timestamp, requestedBy: actor.name, reason: reason, purgeAfter: CustodyTime.string(purgeAfter))
        try await catalog.scheduleDeletion(
            family.ids, guard: family.guardState, deletion: deletion,
            events: family.members.map { member in
                actor.event(
                    .exhibitDeletionScheduled, exhibit: member.id, caseReference: member.caseReference,
                    details: [
                        "reference": .string(member.reference), "sha256": .string(member.sha256.hex),
                        "deadline": JSONValue(entry.deadline), "because": .string(entry.because),
                        "purge_after": .string(deletion.purgeAfter), "reason": .string(reason),
                    ])
            })
    }

    /// Purges a family whose grace period has ended (tombstones stay, one event each); whether footage was freed.
    private func purge(_ family: Family, reason: String, by actor: Actor) async throws -> Bool {
        let result = try await catalog.purgeExhibits(family.ids, guard: family.guardState, by: actor.name, reason: reason) { member, effect in
            actor.event(
                .exhibitPurged, exhibit: member.id, caseReference: member.caseReference,
                details: [
                    "reference": .string(member.reference), "sha256": .string(member.sha256.hex),
                    "filename": .string(member.filename), "size": .int(member.size), "reason": .string(reason),
                    "deletion_requested_by": JSONValue(member.deletion?.requestedBy),
                    "deletion_requested_at": JSONValue(member.deletion?.requestedAt),
                    "shares_revoked": .int(Int64(effect.sharesRevoked)), "footage_freed": .bool(effect.footageFreed),
                ])
        }
        return !result.isEmpty
    }

    /// Takes an exhibit (with its working copies, or its master's family when it is a copy) out of pending deletion.
    public func restore(_ exhibitName: String, case caseName: String?, reason: String, by actor: Actor) async throws -> (restored: [ExhibitRecord], stillDue: Bool) {
        try Self.requireReason(reason)
        var exhibit = try await findExhibit(exhibitName, case: caseName, for: actor, needing: .retentionApply)
        if let masterID = exhibit.masterID, let master = try await catalog.exhibit(id: masterID) { exhibit = master }
        if exhibit.isPurged {
            throw ExhibitError(.gone, "\(exhibit.reference) was purged at \(exhibit.deletion?.purgedAt ?? "?"): only its tombstone is left")
        }
        guard exhibit.state == .pendingDeletion else { throw ExhibitError(.conflict, "\(exhibit.reference) is not pending deletion") }
        let family = [exhibit] + (try await catalog.workingCopies(of: exhibit.id)).filter { $0.state == .pendingDeletion }
        try await catalog.restoreExhibits(family.map(\.id), events: family.map { member in
            actor.event(
                .exhibitRestored, exhibit: member.id, caseReference: member.caseReference,
                details: ["reference": .string(member.reference), "reason": .string(reason)])
        })
        let described = try await describe(exhibit)
        let stillDue = (described.retention?.deadline).map { $0 <= timestamp } ?? false
        return (try await family.asyncMap { try await self.catalog.exhibit(id: $0.id)! }, stillDue && described.retention?.hold == nil)
    }

    // MARK: Garbage collection

    /// Removes chunks and manifests no live exhibit needs (and temporary files of dead writers), as a `store.gc`
    /// event. Safe while uploads run.
    public func collectGarbage(dryRun: Bool, by actor: Actor) async throws -> CollectionReport {
        let catalog = self.catalog
        if !dryRun { local.removeStaleTemporaryFiles() }
        let report = try await blobs.collectGarbage(
            live: { (try await catalog.liveBlobs(), try await catalog.openUploadChunks()) }, dryRun: dryRun)
        if !dryRun {
            _ = try await catalog.append(actor.event(
                .storeGC,
                details: [
                    "manifests_removed": .int(Int64(report.manifestsRemoved)), "chunks_removed": .int(Int64(report.chunksRemoved)),
                    "bytes_removed": .int(report.bytesRemoved), "leased": .int(Int64(report.leased)),
                    "blobs": .array(report.blobs.map { .string($0.hex) }),
                ]))
        }
        return report
    }

    /// Writes the plan to `Storage/retention-plan.json` (and, when it is not empty, a `retention.planned` event);
    /// applies it when the policy says `auto_apply: true`. The server runs this every `plan_every`.
    public func runScheduledRetention() async throws -> (plan: RetentionPlan, applied: RetentionApplied?) {
        let system = Actor.system(client: "exhibit serve")
        let (plan, _) = try await computePlan(asOf: now())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try DurableFile.replace(retentionPlanPath, with: try encoder.encode(plan), mode: 0o644)
        if !plan.entries.isEmpty {
            _ = try await catalog.append(system.event(.retentionPlanned, details: .object(plan.counts.mapValues { .int(Int64($0)) })))
        }
        guard policies.retention.autoApply, plan.entries.contains(where: { [.delete, .purge, .restore].contains($0.action) }) else {
            return (plan, nil)
        }
        return (plan, try await applyRetention(reason: "auto_apply: true in Policies/retention.yaml", by: system))
    }

    public var retentionPlanPath: String { root + "/retention-plan.json" }
}

/// What retention would do, exhibit by exhibit.
public struct RetentionPlan: Sendable, Codable {
    public enum Action: String, Sendable, Codable {
        /// Due: goes to pending deletion for the grace period.
        case delete
        /// Due, but a legal hold keeps it.
        case held
        /// Pending deletion, in its grace period.
        case wait
        /// Pending deletion past its grace period: purged.
        case purge
        /// Pending deletion but now held or no longer due: restored.
        case restore
    }

    public struct Entry: Sendable, Codable {
        public let exhibitID: ExhibitID
        public let reference: String
        public let caseReference: String
        public let filename: String
        public let sha256: String
        public let size: Int64
        public let state: String
        public let action: Action
        public let deadline: String?
        public let because: String
        public let purgeAfter: String?
        public let hold: HoldRecord?
        public let masterReference: String?

        enum CodingKeys: String, CodingKey {
            case exhibitID = "exhibit_id"
            case reference
            case caseReference = "case"
            case filename, sha256, size, state, action, deadline, because
            case purgeAfter = "purge_after"
            case hold
            case masterReference = "master"
        }
    }

    public let asOf: String
    public let gracePeriod: String
    public let entries: [Entry]

    public var counts: [String: Int] {
        var counts: [String: Int] = [:]
        for entry in entries { counts[entry.action.rawValue, default: 0] += 1 }
        return counts
    }

    enum CodingKeys: String, CodingKey {
        case asOf = "as_of"
        case gracePeriod = "grace_period"
        case entries
    }
}

/// What `applyRetention` did.
public struct RetentionApplied: Sendable, Codable {
    /// `<case> <reference>` of each exhibit.
    public var scheduled: [String] = []
    public var purged: [String] = []
    public var restored: [String] = []
    /// Steps not taken because the case or a hold changed while applying.
    public var skipped: [String] = []
    public var collection: CollectionReport?
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
