public import Custody
public import ExhibitCrypto
public import ExhibitModel

/// Case outcomes, legal holds and the deletion of exhibits (README, "Retention").
extension Catalog {
    /// Records a case's new status (and its own retention class when `retentionClass` says so) with its history row
    /// and event; bumps the case's `status_version`.
    public func setCaseStatus(
        caseID: CaseID, change: CaseStatusChange, retentionClass: ClassChange, event: CustodyEvent.Draft
    ) async throws -> CaseRecord {
        try await write { db in
            guard try db.exists("SELECT 1 FROM cases WHERE id = ?", [caseID]) else { throw ExhibitError(.notFound, "no case \(caseID)") }
            try db.execute(
                "INSERT INTO case_statuses (case_id, status, at, release_date, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                [caseID, change.status, change.at, change.releaseDate, change.setBy, change.setAt])
            try db.execute(
                "UPDATE cases SET status = ?, status_at = ?, release_date = ?, status_version = status_version + 1 WHERE id = ?",
                [change.status, change.at, change.releaseDate, caseID])
            if case .set(let name) = retentionClass {
                try db.execute("UPDATE cases SET retention_class = ? WHERE id = ?", [name, caseID])
            }
            _ = try self.append(event, in: db)
            guard let row = try db.fetchOne("SELECT * FROM cases WHERE id = ?", [caseID]) else { throw ExhibitError(.notFound, "no case \(caseID)") }
            return CatalogRows.caseRecord(row)
        }
    }

    public func statusHistory(caseID: CaseID) async throws -> [CaseStatusChange] {
        try await read { db in
            try db.fetchAll("SELECT * FROM case_statuses WHERE case_id = ? ORDER BY id", [caseID]).map(CatalogRows.statusChange)
        }
    }

    // MARK: Holds

    /// Sets a hold on a case or an exhibit (conflict when one already stands there).
    public func insertHold(_ hold: HoldRecord, event: CustodyEvent.Draft) async throws {
        try await write { db in
            if try db.exists("SELECT 1 FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id = ?)", [hold.caseID, hold.exhibitID]) {
                throw ExhibitError(.conflict, "a legal hold already stands there (release it first to change its reason)")
            }
            if let exhibitID = hold.exhibitID, try db.scalar(String.self, "SELECT state FROM exhibits WHERE id = ?", [exhibitID]) == "purged" {
                throw ExhibitError(.gone, "the exhibit was purged: there is nothing left to hold")
            }
            try db.execute(
                "INSERT INTO holds (id, case_id, exhibit_id, reason, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                [hold.id, hold.caseID, hold.exhibitID, hold.reason, hold.setBy, hold.setAt])
            _ = try self.append(event, in: db)
        }
    }

    public func releaseHold(
        caseID: CaseID?, exhibitID: ExhibitID?, by user: String, reason: String?,
        event: @escaping @Sendable (HoldRecord) -> CustodyEvent.Draft
    ) async throws -> HoldRecord {
        try await write { db in
            guard let row = try db.fetchOne(
                "SELECT * FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id = ?)", [caseID, exhibitID])
            else { throw ExhibitError(.notFound, "no legal hold stands there") }
            let now = self.timestamp
            try db.execute(
                "UPDATE holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?", [user, now, reason, row["id"] as String])
            var hold = CatalogRows.hold(row)
            hold.releasedBy = user
            hold.releasedAt = now
            hold.releaseReason = reason
            _ = try self.append(event(hold), in: db)
            return hold
        }
    }

    public func standingHolds() async throws -> [HoldRecord] {
        try await read { db in try db.fetchAll("SELECT * FROM holds WHERE released_at IS NULL ORDER BY set_at").map(CatalogRows.hold) }
    }

    /// Every hold, standing or released, on a case or on any of the exhibits.
    public func holds(caseID: CaseID?, exhibitIDs: [ExhibitID]) async throws -> [HoldRecord] {
        try await read { db in
            let list = exhibitIDs.isEmpty ? "NULL" : Self.marks(exhibitIDs.count)
            return try db.fetchAll(
                "SELECT * FROM holds WHERE case_id = ? OR exhibit_id IN (\(list)) ORDER BY set_at", [caseID] + Self.values(exhibitIDs)
            ).map(CatalogRows.hold)
        }
    }

    // MARK: Deletion

    /// Refuses (conflict) when, inside the transaction, the case changed status since the plan was made or a hold now
    /// stands on the case or any of `ids`.
    private func check(_ guardState: RetentionGuard, ids: [ExhibitID], in db: any CatalogSession) throws {
        let version = try db.scalar(Int.self, "SELECT status_version FROM cases WHERE id = ?", [guardState.caseID])
        guard version == guardState.statusVersion else {
            throw ExhibitError(.conflict, "the case's status changed since the plan was made")
        }
        let held = try db.exists(
            "SELECT 1 FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id IN (\(ids.isEmpty ? "NULL" : Self.marks(ids.count))))",
            [guardState.caseID] + Self.values(ids))
        guard !held else { throw ExhibitError(.conflict, "a legal hold now stands on it") }
    }

    private func states(_ ids: [ExhibitID], in db: any CatalogSession) throws -> [ExhibitID: String] {
        guard !ids.isEmpty else { return [:] }
        var states: [ExhibitID: String] = [:]
        for row in try db.fetchAll("SELECT id, state FROM exhibits WHERE id IN (\(Self.marks(ids.count)))", Self.values(ids)) {
            states[row["id"] as ExhibitID] = row["state"] as String
        }
        return states
    }

    /// Moves live exhibits (a master and its working copies) to pending deletion, with their events; refused
    /// (conflict) when the guard no longer holds.
    public func scheduleDeletion(
        _ ids: [ExhibitID], guard guardState: RetentionGuard, deletion: ExhibitDeletion, events: [CustodyEvent.Draft]
    ) async throws {
        guard !ids.isEmpty else { return }
        try await write { db in
            try self.check(guardState, ids: ids, in: db)
            guard try self.states(ids, in: db).values.allSatisfy({ $0 == "live" }) else {
                throw ExhibitError(.conflict, "not every exhibit is live any more")
            }
            let arguments: [any SQLValueConvertible] = [deletion.requestedAt, deletion.requestedBy, deletion.reason, deletion.purgeAfter] + Self.values(ids)
            try db.execute(
                """
                UPDATE exhibits SET state = 'pending-deletion', deletion_requested_at = ?, deletion_requested_by = ?,
                    deletion_reason = ?, purge_after = ? WHERE id IN (\(Self.marks(ids.count)))
                """,
                arguments)
            for event in events { _ = try self.append(event, in: db) }
        }
    }

    public func restoreExhibits(_ ids: [ExhibitID], events: [CustodyEvent.Draft]) async throws {
        guard !ids.isEmpty else { return }
        try await write { db in
            guard try self.states(ids, in: db).values.allSatisfy({ $0 == "pending-deletion" }) else {
                throw ExhibitError(.conflict, "only an exhibit pending deletion can be restored (a purged one is gone)")
            }
            try db.execute(
                """
                UPDATE exhibits SET state = 'live', deletion_requested_at = NULL, deletion_requested_by = NULL,
                    deletion_reason = NULL, purge_after = NULL WHERE id IN (\(Self.marks(ids.count)))
                """,
                ids)
            for event in events { _ = try self.append(event, in: db) }
        }
    }

    /// Makes exhibits pending deletion past their grace period tombstones, revokes their shares and marks blobs no
    /// other exhibit uses as purged, with an event per exhibit, in one transaction. Returns the blobs freed.
    public func purgeExhibits(
        _ ids: [ExhibitID], guard guardState: RetentionGuard, by user: String, reason: String,
        makeEvent: @escaping @Sendable (ExhibitRecord, PurgeEffect) -> CustodyEvent.Draft
    ) async throws -> [SHA256Digest] {
        guard !ids.isEmpty else { return [] }
        return try await write { db in
            try self.check(guardState, ids: ids, in: db)
            let now = self.timestamp
            let marks = Self.marks(ids.count)
            let records = try db.fetchAll(CatalogRows.exhibitSelect + " WHERE e.id IN (\(marks))", ids).map(CatalogRows.exhibit)
            guard records.count == ids.count, records.allSatisfy({ $0.state == .pendingDeletion }) else {
                throw ExhibitError(.conflict, "not every exhibit is pending deletion any more")
            }
            guard records.allSatisfy({ ($0.deletion?.purgeAfter ?? "9") <= now }) else {
                throw ExhibitError(.conflict, "the grace period has not ended")
            }
            try db.execute(
                "UPDATE exhibits SET state = 'purged', purged_at = ?, purged_by = ?, purge_reason = ? WHERE id IN (\(marks))",
                [now, user, reason] + Self.values(ids))
            var freed: [SHA256Digest] = []
            for record in records {
                let revoked = try db.execute(
                    "UPDATE shares SET revoked_at = ?, revoked_reason = 'purged' WHERE exhibit = ? AND revoked_at IS NULL", [now, record.id])
                // The footage goes only when no exhibit that is not purged (in this case or any other) still uses it.
                let inUse = try db.exists("SELECT 1 FROM exhibits WHERE blob = ? AND state <> 'purged'", [record.sha256.hex])
                if !inUse && !freed.contains(record.sha256) {
                    try db.execute("UPDATE blobs SET purged_at = ? WHERE sha256 = ?", [now, record.sha256.hex])
                    freed.append(record.sha256)
                }
                _ = try self.append(makeEvent(record, PurgeEffect(sharesRevoked: revoked, footageFreed: !inUse)), in: db)
            }
            return freed
        }
    }

    /// Marks as purged (with their events) the exhibits of `tombstones` that are not purged here: a store restored
    /// from a backup older than their purge. Their shares are revoked and their blobs freed when nothing else needs
    /// them, as a purge does. Returns how many were purged.
    public func applyTombstones(
        _ tombstones: [SnapshotTombstones.Exhibit],
        makeEvent: @escaping @Sendable (ExhibitRecord, SnapshotTombstones.Exhibit) -> CustodyEvent.Draft
    ) async throws -> Int {
        guard !tombstones.isEmpty else { return 0 }
        return try await write { db in
            let now = self.timestamp
            var count = 0
            for tombstone in tombstones {
                guard let row = try db.fetchOne(CatalogRows.exhibitSelect + " WHERE e.id = ?", [tombstone.id]) else { continue }
                let record = CatalogRows.exhibit(row)
                guard record.state != .purged else { continue }
                let purgedAt = tombstone.purgedAt.isEmpty ? now : tombstone.purgedAt
                try db.execute(
                    """
                    UPDATE exhibits SET state = 'purged', purged_at = ?, purged_by = ?, purge_reason = ?,
                      deletion_requested_at = coalesce(deletion_requested_at, ?), deletion_requested_by = coalesce(deletion_requested_by, ?),
                      deletion_reason = coalesce(deletion_reason, ?), purge_after = coalesce(purge_after, ?)
                    WHERE id = ?
                    """,
                    [purgedAt, tombstone.purgedBy.isEmpty ? "system" : tombstone.purgedBy, tombstone.reason,
                     tombstone.requestedAt.isEmpty ? purgedAt : tombstone.requestedAt, tombstone.requestedBy.isEmpty ? "system" : tombstone.requestedBy,
                     tombstone.deletionReason.isEmpty ? tombstone.reason : tombstone.deletionReason,
                     tombstone.purgeAfter.isEmpty ? purgedAt : tombstone.purgeAfter, record.id])
                try db.execute(
                    "UPDATE shares SET revoked_at = ?, revoked_reason = 'purged' WHERE exhibit = ? AND revoked_at IS NULL", [now, record.id])
                if try !db.exists("SELECT 1 FROM exhibits WHERE blob = ? AND state <> 'purged'", [record.sha256.hex]) {
                    try db.execute("UPDATE blobs SET purged_at = ? WHERE sha256 = ? AND purged_at IS NULL", [now, record.sha256.hex])
                }
                _ = try self.append(makeEvent(record, tombstone), in: db)
                count += 1
            }
            return count
        }
    }

    /// Blobs some exhibit that is not purged still needs (garbage collection keeps their manifests and chunks).
    public func liveBlobs() async throws -> Set<SHA256Digest> {
        try await read { db in
            var live = Set<SHA256Digest>()
            try db.forEach("SELECT sha256 FROM blobs WHERE purged_at IS NULL", []) { row in
                if let digest = SHA256Digest(hex: row[0] as String) { live.insert(digest) }
            }
            return live
        }
    }
}
