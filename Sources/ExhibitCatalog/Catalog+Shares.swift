public import Custody
public import ExhibitModel

extension Catalog {
    public func insertShare(_ share: ShareRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            try db.execute(
                """
                INSERT INTO shares (id, exhibit, created_by, created_at, expires_at, max_downloads, downloads, revoked_at,
                                    recipient, note, key_id)
                VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)
                """,
                [share.id, share.exhibitID, share.createdBy, share.createdAt, share.expiresAt, share.maxDownloads, share.recipient,
                 share.note, share.keyID])
            return try self.append(event, in: db)
        }
    }

    public func share(id: String) async throws -> ShareRecord? {
        try await read { db in try db.fetchOne(CatalogRows.shareSelect + " WHERE id = ?", [id]).map(CatalogRows.share) }
    }

    public func shares(exhibitID: ExhibitID) async throws -> [ShareRecord] {
        try await read { db in
            try db.fetchAll(CatalogRows.shareSelect + " WHERE exhibit = ? ORDER BY created_at", [exhibitID]).map(CatalogRows.share)
        }
    }

    /// Marks a share revoked (an error when it already is), with its event.
    public func revokeShare(id: String, event: CustodyEvent.Draft) async throws -> ShareRecord {
        try await write { db in
            guard let row = try db.fetchOne(CatalogRows.shareSelect + " WHERE id = ?", [id]) else {
                throw ExhibitError(.notFound, "no share \(id)")
            }
            guard (row["revoked_at"] as String?) == nil else { throw ExhibitError(.conflict, "share \(id) is already revoked") }
            try db.execute("UPDATE shares SET revoked_at = ? WHERE id = ?", [self.timestamp, id])
            _ = try self.append(event, in: db)
            guard let revoked = try db.fetchOne(CatalogRows.shareSelect + " WHERE id = ?", [id]) else {
                throw ExhibitError(.notFound, "no share \(id)")
            }
            return CatalogRows.share(revoked)
        }
    }

    /// Records a view of a share: the event is appended only for a view id not seen before (one playback, many
    /// range requests, one event); a view closed as idle starts again as a new access. Returns whether it was new.
    public func recordShareView(shareID: String, viewID: String, kind: String, event: CustodyEvent.Draft) async throws -> Bool {
        try await write { db in
            let now = self.timestamp
            let inserted = try db.execute(
                """
                INSERT INTO share_views (share_id, view_id, kind, first_at, last_at, requests, exhibit, case_ref, client, closed)
                VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """,
                [shareID, viewID, kind, now, now, event.exhibit, event.caseReference, event.client, kind == "page" || kind == "head"])
            if inserted == 0 {
                let counted = try db.execute(
                    "UPDATE share_views SET requests = requests + 1, last_at = ? WHERE share_id = ? AND view_id = ? AND kind = ? AND closed = 0",
                    [now, shareID, viewID, kind])
                if counted > 0 { return false }
                try db.execute(
                    """
                    UPDATE share_views SET closed = 0, first_at = ?, last_at = ?, requests = 1, bytes = 0, client = ?
                    WHERE share_id = ? AND view_id = ? AND kind = ?
                    """,
                    [now, now, event.client, shareID, viewID, kind])
            }
            _ = try self.append(event, in: db)
            return true
        }
    }

    /// Closes the views of links with no request since `idleSince` (a custody time), appending for each the event
    /// `event` makes from its summary, in one transaction. Returns what was closed.
    public func closeShareViews(
        idleSince: String, event: @escaping @Sendable (ShareViewSummary) -> CustodyEvent.Draft
    ) async throws -> [ShareViewSummary] {
        try await write { db in
            var closed: [ShareViewSummary] = []
            for row in try db.fetchAll("SELECT * FROM share_views WHERE closed = 0 AND last_at <= ? ORDER BY first_at", [idleSince]) {
                let summary = CatalogRows.viewSummary(row)
                try db.execute(
                    "UPDATE share_views SET closed = 1 WHERE share_id = ? AND view_id = ? AND kind = ?",
                    [summary.shareID, summary.viewID, summary.kind])
                _ = try self.append(event(summary), in: db)
                closed.append(summary)
            }
            return closed
        }
    }

    /// Ends a download response: adds its bytes and closes its view; when `complete` (the file's last byte was sent)
    /// counts one download if the share has one left. One transaction with the event `event` makes (given whether
    /// the download was counted). Returns whether it was counted.
    public func endShareDownload(
        shareID: String, viewID: String, bytes: Int, complete: Bool,
        event: @escaping @Sendable (_ counted: Bool, ShareViewSummary) -> CustodyEvent.Draft
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                "UPDATE share_views SET bytes = bytes + ?, last_at = ?, closed = 1 WHERE share_id = ? AND view_id = ? AND kind = 'download'",
                [bytes, self.timestamp, shareID, viewID])
            guard let row = try db.fetchOne(
                "SELECT * FROM share_views WHERE share_id = ? AND view_id = ? AND kind = 'download'", [shareID, viewID])
            else { return false }
            var counted = false
            if complete {
                counted = try db.execute(
                    "UPDATE shares SET downloads = downloads + 1 WHERE id = ? AND (max_downloads IS NULL OR downloads < max_downloads)",
                    [shareID]) > 0
            }
            _ = try self.append(event(counted, CatalogRows.viewSummary(row)), in: db)
            return counted
        }
    }

    /// Adds requests and bytes counted in memory to open views (one transaction for all).
    public func addShareViewTallies(_ tallies: [ShareViewTally]) async throws {
        guard !tallies.isEmpty else { return }
        try await write { db in
            let latest = db.dialect.greatest("last_at", "?")
            for tally in tallies {
                try db.execute(
                    """
                    UPDATE share_views SET requests = requests + ?, bytes = bytes + ?, last_at = \(latest)
                    WHERE share_id = ? AND view_id = ? AND kind = ?
                    """,
                    [tally.requests, tally.bytes, tally.lastAt, tally.shareID, tally.viewID, tally.kind])
            }
        }
    }
}
