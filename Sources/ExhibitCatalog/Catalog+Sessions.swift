public import Custody
public import ExhibitModel

/// The web app's signed-in sessions (README, "Web app"): one row per session, found by its token's SHA-256; a
/// session that ended keeps its row (who was signed in, when, from where). Starting and ending one is recorded
/// in the ledger in the same transaction.
extension Catalog {
    public func startSession(_ session: WebSession, event: CustodyEvent.Draft) async throws {
        try await write { db in
            try db.execute(
                """
                INSERT INTO web_sessions (token_hash, "user", created_at, last_seen_at, expires_at, client)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [session.tokenHash, session.user, session.createdAt, session.lastSeenAt, session.expiresAt, session.client])
            _ = try self.append(event, in: db)
        }
    }

    public func session(tokenHash: String) async throws -> WebSession? {
        try await read { db in
            try db.fetchOne("SELECT * FROM web_sessions WHERE token_hash = ?", [tokenHash]).map { row in
                WebSession(
                    tokenHash: row["token_hash"], user: row["user"], createdAt: row["created_at"], lastSeenAt: row["last_seen_at"],
                    expiresAt: row["expires_at"], endedAt: row["ended_at"], client: row["client"])
            }
        }
    }

    /// Moves a live session's last use on (its idle time starts again).
    public func touchSession(tokenHash: String, at time: String) async throws {
        try await write { db in
            _ = try db.execute("UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ? AND ended_at IS NULL", [time, tokenHash])
        }
    }

    /// Ends a session (signing out, or the user disabled); `false` when it had already ended.
    public func endSession(tokenHash: String, event: CustodyEvent.Draft) async throws -> Bool {
        try await write { db in
            let ended = try db.execute("UPDATE web_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL", [self.timestamp, tokenHash])
            guard ended > 0 else { return false }
            _ = try self.append(event, in: db)
            return true
        }
    }
}
