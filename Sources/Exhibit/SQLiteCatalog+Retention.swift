public import Custody
public import ExhibitCrypto
import Foundation
import GRDB

/// Case outcomes, legal holds and the deletion of exhibits (README, "Retention").
extension SQLiteCatalog {
    public func setCaseStatus(
        caseID: String, change: CaseStatusChange, retentionClass: ClassChange, event: CustodyEvent.Draft
    ) async throws -> CaseRecord {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM cases WHERE id = ?", arguments: [caseID]) == true else {
                throw ExhibitError(.notFound, "no case \(caseID)")
            }
            try db.execute(
                sql: "INSERT INTO case_statuses (case_id, status, at, release_date, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [caseID, change.status, change.at, change.releaseDate, change.setBy, change.setAt])
            try db.execute(
                sql: """
                    UPDATE cases SET status = ?, status_at = ?, release_date = ?, status_version = status_version + 1
                    WHERE id = ?
                    """,
                arguments: [change.status, change.at, change.releaseDate, caseID])
            switch retentionClass {
            case .keep: break
            case .set(let name):
                try db.execute(sql: "UPDATE cases SET retention_class = ? WHERE id = ?", arguments: [name, caseID])
            }
            _ = try self.append(event, in: db)
            return Self.caseRecord(try Row.fetchOne(db, sql: "SELECT * FROM cases WHERE id = ?", arguments: [caseID])!)
        }
    }

    public func statusHistory(caseID: String) async throws -> [CaseStatusChange] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM case_statuses WHERE case_id = ? ORDER BY id", arguments: [caseID])
                .map { CatalogRows.statusChange(SQLiteRow($0)) }
        }
    }

    // MARK: Holds

    static func hold(_ row: Row) -> HoldRecord { CatalogRows.hold(SQLiteRow(row)) }

    public func insertHold(_ hold: HoldRecord, event: CustodyEvent.Draft) async throws {
        try await write { db in
            let standing = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id = ?)",
                arguments: [hold.caseID, hold.exhibitID]) ?? false
            if standing { throw ExhibitError(.conflict, "a legal hold already stands there (release it first to change its reason)") }
            if let exhibitID = hold.exhibitID,
               try String.fetchOne(db, sql: "SELECT state FROM exhibits WHERE id = ?", arguments: [exhibitID]) == "purged" {
                throw ExhibitError(.gone, "the exhibit was purged: there is nothing left to hold")
            }
            try db.execute(
                sql: "INSERT INTO holds (id, case_id, exhibit_id, reason, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [hold.id, hold.caseID, hold.exhibitID, hold.reason, hold.setBy, hold.setAt])
            _ = try self.append(event, in: db)
        }
    }

    public func releaseHold(
        caseID: String?, exhibitID: String?, by user: String, reason: String?,
        event: @escaping @Sendable (HoldRecord) -> CustodyEvent.Draft
    ) async throws -> HoldRecord {
        try await write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id = ?)",
                arguments: [caseID, exhibitID])
            else { throw ExhibitError(.notFound, "no legal hold stands there") }
            let now = self.timestamp
            try db.execute(
                sql: "UPDATE holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?",
                arguments: [user, now, reason, row["id"] as String])
            var hold = Self.hold(row)
            hold.releasedBy = user
            hold.releasedAt = now
            hold.releaseReason = reason
            _ = try self.append(event(hold), in: db)
            return hold
        }
    }

    public func standingHolds() async throws -> [HoldRecord] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM holds WHERE released_at IS NULL ORDER BY set_at").map(Self.hold) }
    }

    public func holds(caseID: String?, exhibitIDs: [String]) async throws -> [HoldRecord] {
        try await read { db in
            let marks = exhibitIDs.map { _ in "?" }.joined(separator: ",")
            var arguments: [(any DatabaseValueConvertible)?] = [caseID]
            arguments += exhibitIDs
            return try Row.fetchAll(
                db, sql: "SELECT * FROM holds WHERE case_id = ? OR exhibit_id IN (\(exhibitIDs.isEmpty ? "NULL" : marks)) ORDER BY set_at",
                arguments: StatementArguments(arguments)).map(Self.hold)
        }
    }

    // MARK: Deletion

    /// Refuses (conflict) when, inside the transaction, the case changed status since the plan was made or a hold
    /// now stands on the case or any of `ids`.
    private func check(_ guardState: RetentionGuard, ids: [String], in db: Database) throws {
        let version = try Int.fetchOne(db, sql: "SELECT status_version FROM cases WHERE id = ?", arguments: [guardState.caseID])
        guard version == guardState.statusVersion else {
            throw ExhibitError(.conflict, "the case's status changed since the plan was made")
        }
        let marks = ids.map { _ in "?" }.joined(separator: ",")
        var arguments: [(any DatabaseValueConvertible)?] = [guardState.caseID]
        arguments += ids
        let held = try Bool.fetchOne(
            db, sql: "SELECT 1 FROM holds WHERE released_at IS NULL AND (case_id = ? OR exhibit_id IN (\(marks)))",
            arguments: StatementArguments(arguments)) ?? false
        guard !held else { throw ExhibitError(.conflict, "a legal hold now stands on it") }
    }

    private func states(_ ids: [String], in db: Database) throws -> [String: String] {
        let marks = ids.map { _ in "?" }.joined(separator: ",")
        var states: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, state FROM exhibits WHERE id IN (\(marks))", arguments: StatementArguments(ids)) {
            states[row["id"]] = row["state"]
        }
        return states
    }

    public func scheduleDeletion(
        _ ids: [String], guard guardState: RetentionGuard, deletion: ExhibitDeletion, events: [CustodyEvent.Draft]
    ) async throws {
        try await write { db in
            try self.check(guardState, ids: ids, in: db)
            guard try self.states(ids, in: db).values.allSatisfy({ $0 == "live" }) else {
                throw ExhibitError(.conflict, "not every exhibit is live any more")
            }
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            var arguments: [(any DatabaseValueConvertible)?] = [deletion.requestedAt, deletion.requestedBy, deletion.reason, deletion.purgeAfter]
            arguments += ids
            try db.execute(
                sql: """
                    UPDATE exhibits SET state = 'pending-deletion', deletion_requested_at = ?, deletion_requested_by = ?,
                        deletion_reason = ?, purge_after = ? WHERE id IN (\(marks))
                    """,
                arguments: StatementArguments(arguments))
            for event in events { _ = try self.append(event, in: db) }
        }
    }

    public func restoreExhibits(_ ids: [String], events: [CustodyEvent.Draft]) async throws {
        try await write { db in
            guard try self.states(ids, in: db).values.allSatisfy({ $0 == "pending-deletion" }) else {
                throw ExhibitError(.conflict, "only an exhibit pending deletion can be restored (a purged one is gone)")
            }
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            try db.execute(
                sql: """
                    UPDATE exhibits SET state = 'live', deletion_requested_at = NULL, deletion_requested_by = NULL,
                        deletion_reason = NULL, purge_after = NULL WHERE id IN (\(marks))
                    """,
                arguments: StatementArguments(ids))
            for event in events { _ = try self.append(event, in: db) }
        }
    }

    public func purgeExhibits(
        _ ids: [String], guard guardState: RetentionGuard, by user: String, reason: String,
        makeEvent: @escaping @Sendable (ExhibitRecord, PurgeEffect) -> CustodyEvent.Draft
    ) async throws -> [SHA256Digest] {
        try await write { db in
            try self.check(guardState, ids: ids, in: db)
            let now = self.timestamp
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            let records = try Row.fetchAll(db, sql: Self.exhibitSelect + " WHERE e.id IN (\(marks))", arguments: StatementArguments(ids)).map(Self.exhibit)
            guard records.count == ids.count, records.allSatisfy({ $0.state == "pending-deletion" }) else {
                throw ExhibitError(.conflict, "not every exhibit is pending deletion any more")
            }
            guard records.allSatisfy({ ($0.deletion?.purgeAfter ?? "9") <= now }) else {
                throw ExhibitError(.conflict, "the grace period has not ended")
            }
            var arguments: [(any DatabaseValueConvertible)?] = [now, user, reason]
            arguments += ids
            try db.execute(
                sql: "UPDATE exhibits SET state = 'purged', purged_at = ?, purged_by = ?, purge_reason = ? WHERE id IN (\(marks))",
                arguments: StatementArguments(arguments))
            var freed: [SHA256Digest] = []
            for record in records {
                try db.execute(
                    sql: "UPDATE shares SET revoked_at = ?, revoked_reason = 'purged' WHERE exhibit = ? AND revoked_at IS NULL",
                    arguments: [now, record.id])
                let revoked = db.changesCount
                // The footage goes only when no exhibit that is not purged (in this case or any other) still uses it.
                let inUse = try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM exhibits WHERE blob = ? AND state <> 'purged'", arguments: [record.sha256.hex]) ?? false
                if !inUse && !freed.contains(record.sha256) {
                    try db.execute(sql: "UPDATE blobs SET purged_at = ? WHERE sha256 = ?", arguments: [now, record.sha256.hex])
                    freed.append(record.sha256)
                }
                _ = try self.append(makeEvent(record, PurgeEffect(sharesRevoked: revoked, footageFreed: !inUse)), in: db)
            }
            return freed
        }
    }

    public func liveBlobs() async throws -> Set<SHA256Digest> {
        try await read { db in
            var live = Set<SHA256Digest>()
            let cursor = try String.fetchCursor(db, sql: "SELECT sha256 FROM blobs WHERE purged_at IS NULL")
            while let hex = try cursor.next() {
                if let digest = SHA256Digest(hex: hex) { live.insert(digest) }
            }
            return live
        }
    }
}

/// What a retention step expects still to be true when it runs: the case's status unchanged since the plan
/// (`status_version`) and no hold standing.
public struct RetentionGuard: Sendable {
    public let caseID: String
    public let statusVersion: Int

    public init(caseID: String, statusVersion: Int) {
        self.caseID = caseID
        self.statusVersion = statusVersion
    }
}

/// Whether a status change also sets the case's own retention class.
public enum ClassChange: Sendable {
    case keep
    case set(String?)
}

/// What purging one exhibit did besides making it a tombstone.
public struct PurgeEffect: Sendable {
    public let sharesRevoked: Int
    /// No other exhibit uses its footage: the blob's chunks go with the next garbage collection.
    public let footageFreed: Bool
}
