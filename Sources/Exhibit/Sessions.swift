import Custody
import ExhibitCatalog
import ExhibitPolicies
public import ExhibitCrypto
public import ExhibitModel
import Foundation

/// Web app sessions (README, "Web app"): a user signs in with their name and token and gets a session token for a
/// cookie; only its SHA-256 is stored. A session ends when its user signs out, after `session_lifetime`, after
/// `session_idle` unused, or when the user is disabled or their token reissued (checked on every use).
extension EvidenceStore {
    /// A started session: the token for the cookie (shown once) and who it is for.
    public struct StartedSession: Sendable {
        public let token: String
        public let actor: Actor
        public let expiresAt: String
    }

    /// Signs `name` in with their bearer token. A wrong name or token, a disabled user or an expired token all get
    /// the same `unauthorized` answer, so nobody learns which names exist.
    public func signIn(name: String, token: String, client: String) async throws -> StartedSession {
        let refused = ExhibitError(.unauthorized, "the name or the token is not right")
        guard let actor = try await authenticate(token: token, client: client),
              ConstantTime.equals(Array(actor.name.utf8), Array(name.utf8)) else { throw refused }
        let sessionToken = "exs_" + Base64URL.encode(SecureRandom.bytes(count: 32))
        let started = now()
        let lifetime = policies.roles.sessionLifetime
        let expires = CustodyTime.string(started.addingTimeInterval(Double(lifetime.components.seconds)))
        let session = WebSession(
            tokenHash: SHA256.hash(sessionToken).hex, user: actor.name, createdAt: CustodyTime.string(started),
            lastSeenAt: CustodyTime.string(started), expiresAt: expires, client: String(client.prefix(300)))
        try await catalog.startSession(session, event: actor.event(.userSignedIn, details: ["expires_at": .string(expires)]))
        return StartedSession(token: sessionToken, actor: actor, expiresAt: expires)
    }

    /// The actor a session token stands for, or nil when it is unknown, ended, expired, idle too long, or its
    /// user may no longer sign in. Its idle time starts again (written at most once a minute).
    public func actor(forSession token: String, client: String) async throws -> Actor? {
        guard token.hasPrefix("exs_"), token.utf8.count <= 100 else { return nil }
        let hash = SHA256.hash(token).hex
        guard let session = try await catalog.session(tokenHash: hash),
              ConstantTime.equals(Array(session.tokenHash.utf8), Array(hash.utf8)),
              session.endedAt == nil else { return nil }
        let current = now()
        let idle = Double(policies.roles.sessionIdle.components.seconds)
        guard let lastSeen = CustodyTime.parse(session.lastSeenAt), let expires = CustodyTime.parse(session.expiresAt),
              current < expires, current.timeIntervalSince(lastSeen) < idle else { return nil }
        // The user is disabled, or their token was reissued or ran out since: the session goes with it.
        guard let user = try await catalog.user(named: session.user), !user.isDisabled else { return nil }
        if let issued = user.tokenIssuedAt, issued > session.createdAt { return nil }
        if let expires = user.tokenExpiresAt, expires <= CustodyTime.string(current) { return nil }
        if current.timeIntervalSince(lastSeen) >= 60 {
            try await catalog.touchSession(tokenHash: hash, at: CustodyTime.string(current))
        }
        return try actor(for: user, client: client)
    }

    /// Ends a session (signing out); signing out of a session that already ended does nothing.
    public func signOut(session token: String, by actor: Actor) async throws {
        let hash = SHA256.hash(token).hex
        _ = try await catalog.endSession(tokenHash: hash, event: actor.event(.userSignedOut))
    }

    /// The token a session's forms carry against cross-site requests: derived from the session's own token (HMAC),
    /// so it needs no storage and changes with every session.
    public static func csrfToken(forSession token: String) -> String {
        Base64URL.encode(HMACSHA256.mac(key: Array(token.utf8), message: Array("exhibit-csrf-v1".utf8)))
    }

    /// Whether `candidate` is the session's CSRF token (compared in constant time).
    public static func checkCSRF(_ candidate: String?, session token: String) -> Bool {
        guard let candidate else { return false }
        return ConstantTime.equals(Array(candidate.utf8), Array(csrfToken(forSession: token).utf8))
    }
}
