import ExhibitCatalog
public import ExhibitModel
import ExhibitPolicies
public import BlobStore
public import Custody
import ExhibitCrypto
import Dispatch
import Foundation
import ShareLinks
import Synchronization

extension EvidenceStore {
    /// A new share and its link (`path` is `/s/<token>`; the token is not stored, it is made again from the share
    /// row and the link key whenever it is needed).
    public struct CreatedShare: Sendable {
        public let share: ShareRecord
        public let token: String
        public var path: String { "/s/" + token }
    }

    /// Shares an exhibit: a link that works until it expires, is revoked, or its downloads run out.
    /// A lifetime or download count over the policy's maximum is refused, never silently clipped.
    public func createShare(
        _ exhibit: ExhibitRecord, expiresIn: Duration?, maxDownloads: Int?, recipient: String?, note: String?, by actor: Actor
    ) async throws -> CreatedShare {
        try await authorize(actor, .shareCreate)
        guard !exhibit.isWorkingCopy else {
            throw ExhibitError(.badRequest, "\(exhibit.reference) is a working copy: share its master \(exhibit.lineage?.masterReference ?? ""); the link offers both")
        }
        try requireFootage(exhibit)
        guard exhibit.isLive else {
            throw ExhibitError(.conflict, "\(exhibit.reference) is pending deletion (\(exhibit.deletion?.reason ?? "")): restore it before sharing it")
        }
        let policy = policies.sharing
        let lifetime = expiresIn ?? policy.defaultLifetime
        guard lifetime >= .seconds(60) else { throw ExhibitError(.badRequest, "a link must live at least a minute", field: "expires_in") }
        guard lifetime <= policy.maxLifetime else {
            throw ExhibitError(
                .badRequest, "a link may live at most \(Self.describe(policy.maxLifetime)) (Policies/sharing.yaml); \(Self.describe(lifetime)) was asked",
                field: "expires_in")
        }
        let downloads = maxDownloads ?? policy.defaultMaxDownloads
        guard downloads >= 1 else { throw ExhibitError(.badRequest, "must be at least 1 (it was \(downloads))", field: "max_downloads") }
        guard downloads <= policy.maxDownloadsLimit else {
            throw ExhibitError(
                .badRequest, "may be at most \(policy.maxDownloadsLimit) (Policies/sharing.yaml); \(downloads) was asked", field: "max_downloads")
        }
        if let recipient { try Validate.text(recipient, "the recipient", max: 200, field: "recipient") }
        if let note { try Validate.text(note, "the note", max: 1000, field: "note") }
        let key = try keys.linkKeyRing().current
        let created = now()
        let expires = Int64(created.timeIntervalSince1970) + lifetime.components.seconds
        let id = ShareID.random()
        let token = ShareToken(keyID: key.id, shareID: id, expiresAt: expires)
        let share = ShareRecord(
            id: id.description, exhibitID: exhibit.id, createdBy: actor.name, createdAt: CustodyTime.string(created),
            expiresAt: CustodyTime.string(Date(timeIntervalSince1970: Double(expires))), maxDownloads: downloads, downloads: 0,
            revokedAt: nil, recipient: recipient, note: note, keyID: key.id.description)
        _ = try await catalog.insertShare(
            share,
            event: actor.event(
                .shareCreated, exhibit: exhibit.id, caseReference: exhibit.caseReference,
                details: [
                    "share": .string(share.id), "reference": .string(exhibit.reference), "expires_at": .string(share.expiresAt),
                    "max_downloads": .int(Int64(downloads)), "recipient": JSONValue(recipient), "note": JSONValue(note),
                ]))
        return CreatedShare(share: share, token: token.signed(with: key))
    }

    /// The link of an existing share, made again from its row (nil when its key has been pruned).
    public func token(for share: ShareRecord) throws -> String? {
        guard let id = ShareID(share.id), let keyID = LinkKeyID(hex: share.keyID),
              let key = try keys.linkKeyRing().key(for: keyID), let expiry = CustodyTime.parse(share.expiresAt)
        else { return nil }
        return ShareToken(keyID: keyID, shareID: id, expiresAt: Int64(expiry.timeIntervalSince1970)).signed(with: key)
    }

    /// Whether `actor` may hold the links of `exhibit`'s shares: a link is a bearer credential to the footage, so
    /// only someone who may download the exhibit themselves sees it after its creation.
    public func maySeeLinks(of exhibit: ExhibitRecord, for actor: Actor) -> Bool {
        may(actor, .exhibitDownload)
    }

    /// An exhibit's shares, for someone who may share it.
    public func shares(of exhibit: ExhibitRecord, for actor: Actor) async throws -> [ShareRecord] {
        try await authorize(actor, .shareCreate, orAnyOf: [.shareRevoke, .custodyRead])
        return try await catalog.shares(exhibitID: exhibit.id)
    }

    /// Revokes a share: its link stops working on the next request.
    public func revokeShare(_ id: String, by actor: Actor) async throws -> ShareRecord {
        let noSuchShare = ExhibitError(.notFound, "no share \(id.prefix(40))")
        guard let share = try await catalog.share(id: id) else { throw noSuchShare }
        // The share's exhibit must be one the actor can see; otherwise the share does not exist for them either,
        // and the answer is the same as for an unknown id (never the exhibit's id or reference).
        let exhibit: ExhibitRecord
        do {
            exhibit = try await findExhibit(share.exhibitID.rawValue, for: actor, needing: .exhibitRead)
        } catch let error as ExhibitError where error.code == .notFound {
            throw noSuchShare
        }
        try await authorize(actor, .shareRevoke)
        playbackShares.withLock { _ = $0.removeValue(forKey: id) }
        defer { playbackShares.withLock { _ = $0.removeValue(forKey: id) } }
        return try await catalog.revokeShare(
            id: id,
            event: actor.event(
                .shareRevoked, exhibit: exhibit.id, caseReference: exhibit.caseReference,
                details: ["share": .string(id), "reference": .string(exhibit.reference)]))
    }

    /// What a presented link leads to.
    public enum LinkResolution: Sendable {
        case valid(ShareRecord, ExhibitRecord)
        /// Malformed, forged, or for a share that does not exist: nothing is there.
        case invalid
        case expired(ShareRecord, ExhibitRecord?)
        case revoked(ShareRecord, ExhibitRecord?)
    }

    /// Checks a link: well-formed → MAC (constant time) → expiry → the share row (revoked?).
    public func resolveLink(_ token: some StringProtocol) async throws -> LinkResolution {
        let ring = try keys.linkKeyRing()
        switch ShareToken.verify(token, keys: ring, now: now()) {
        case .failure(.invalid):
            return .invalid
        case .failure(.expired(let expired)):
            guard let share = try await catalog.share(id: expired.shareID.description) else { return .invalid }
            return .expired(share, try await catalog.exhibit(id: share.exhibitID))
        case .success(let valid):
            guard let share = try await catalog.share(id: valid.shareID.description),
                  Int64(CustodyTime.parse(share.expiresAt)?.timeIntervalSince1970 ?? 0) == valid.expiresAt
            else { return .invalid }
            let exhibit = try await servedExhibit(id: share.exhibitID)
            if share.revokedAt != nil { return .revoked(share, exhibit) }
            guard let exhibit else { return .revoked(share, nil) }
            return .valid(share, exhibit)
        }
    }

    /// How long a share row read for playback serves a player's next ranges without reading it again.
    public static let playbackShareAge: UInt64 = 1_000_000_000

    /// Checks a link for a player's range request: as `resolveLink`, but the share row read for this share less
    /// than `playbackShareAge` ago is used again (a player asks for many ranges a second, and reading the row for
    /// each was most of what a range cost). The token itself is checked every time (MAC, expiry); a revocation
    /// made through this server takes effect at once, one made through another server sharing the catalog within
    /// that second. Pages and downloads always read the row (`resolveLink`).
    public func resolveLinkForPlayback(_ token: some StringProtocol) async throws -> LinkResolution {
        let text = String(token)
        let valid: ShareToken
        if let known = verifiedLinks.withLock({ $0[text] }) {
            valid = known
        } else {
            guard case .success(let verified) = ShareToken.verify(text, keys: try keys.linkKeyRing(), now: now()) else {
                return try await resolveLink(token)
            }
            valid = verified
        }
        // The expiry, against this moment, every time.
        guard Double(valid.expiresAt) > now().timeIntervalSince1970 else { return try await resolveLink(token) }
        let id = valid.shareID.description
        let clock = DispatchTime.now().uptimeNanoseconds
        if let recent = playbackShares.withLock({ $0[id] }), clock &- recent.at < Self.playbackShareAge, recent.expiresAt == valid.expiresAt,
           let exhibit = try await servedExhibit(id: recent.share.exhibitID) {
            return .valid(recent.share, exhibit)
        }
        let resolution = try await resolveLink(token)
        if case .valid(let share, _) = resolution {
            playbackShares.withLock { cache in
                if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
                cache[id] = (share, valid.expiresAt, clock)
            }
            verifiedLinks.withLock { cache in
                if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
                cache[text] = valid
            }
        }
        return resolution
    }

    /// An exhibit for serving its bytes through links: the fields that never change (its blob, size, name,
    /// media) are cached, as players make many requests. The share row, which can change at any time, is
    /// always read afresh; what the page shows is read afresh too.
    func servedExhibit(id: ExhibitID) async throws -> ExhibitRecord? {
        if let cached = servedExhibits.withLock({ $0[id] }) { return cached }
        guard let exhibit = try await catalog.exhibit(id: id) else { return nil }
        servedExhibits.withLock { cache in
            if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
            cache[id] = exhibit
        }
        return exhibit
    }

    /// The actor recorded for accesses through a link: the share itself, never a user.
    public func linkActor(_ share: ShareRecord, client: String) -> Actor {
        Actor(name: "link:\(share.id)", role: Role(name: "link", description: "a share link", scope: .member, permissions: []), client: client)
    }

    /// The bytes of a file a verified link grants (the exhibit or its working copy), once the request was recorded
    /// (`recordLinkAccess`); `range` within the file.
    public func linkContents(_ file: ExhibitRecord, range: Range<Int64>) async throws -> BlobContents {
        try await blobs.contents(of: file.sha256, range: range)
    }

    /// Records a request through a link: the first request of a view (`viewID`, `kind`) is a `share.accessed`
    /// event (returns true); later ones only count (a view closed as idle starts again with a new event).
    @discardableResult
    public func recordLinkAccess(_ share: ShareRecord, _ exhibit: ExhibitRecord, viewID: String, kind: String, client: String, details: [String: JSONValue] = [:]) async throws -> Bool {
        var all = details
        all["share"] = .string(share.id)
        all["kind"] = .string(kind)
        all["view"] = .string(viewID)
        all["reference"] = .string(exhibit.reference)
        return try await catalog.recordShareView(
            shareID: share.id, viewID: viewID, kind: kind,
            event: linkActor(share, client: client).event(.shareAccessed, exhibit: exhibit.id, caseReference: exhibit.caseReference, details: .object(all)))
    }

    /// Ends a download through a link: when `complete` (its response sent the file's last byte) one download is
    /// counted if one is left (`share.downloaded`); otherwise the bytes it sent are recorded (`share.served`).
    public func endLinkDownload(
        _ share: ShareRecord, _ exhibit: ExhibitRecord, file: ExhibitRecord, viewID: String, bytes: Int, complete: Bool, client: String
    ) async throws -> Bool {
        let actor = linkActor(share, client: client)
        return try await catalog.endShareDownload(shareID: share.id, viewID: viewID, bytes: bytes, complete: complete) { counted, view in
            var details: [String: JSONValue] = [
                "share": .string(share.id), "view": .string(viewID), "file": .string(file.reference), "bytes": .int(Int64(bytes)),
                "requests": .int(Int64(view.requests)),
            ]
            if counted {
                details["sha256"] = .string(file.sha256.hex)
                return actor.event(.shareDownloaded, exhibit: exhibit.id, caseReference: exhibit.caseReference, details: .object(details))
            }
            details["kind"] = .string("download")
            details["complete"] = .bool(complete)
            if complete { details["reason"] = .string("no downloads left") }
            return actor.event(.shareServed, exhibit: exhibit.id, caseReference: exhibit.caseReference, details: .object(details))
        }
    }

    /// Closes link views (playback) with no request for `policies.sharing.viewIdle` (or all, with `all`), recording
    /// for each what it served (`share.served`: requests, bytes, first and last request).
    @discardableResult
    public func closeIdleLinkViews(all: Bool = false) async throws -> [ShareViewSummary] {
        let cutoff = all ? now().addingTimeInterval(3600) : now().addingTimeInterval(-Double(policies.sharing.viewIdle.components.seconds))
        return try await catalog.closeShareViews(idleSince: CustodyTime.string(cutoff)) { view in
            CustodyEvent.Draft(
                actor: "link:\(view.shareID)", role: "link", action: .shareServed, exhibit: view.exhibitID?.rawValue, caseReference: view.caseReference,
                details: [
                    "share": .string(view.shareID), "view": .string(view.viewID), "kind": .string(view.kind),
                    "requests": .int(Int64(view.requests)), "bytes": .int(view.bytes), "first_request_at": .string(view.firstAt),
                    "last_request_at": .string(view.lastAt),
                ],
                client: view.client)
        }
    }

    /// Records a refused use of a genuine link (expired or revoked), so attempts are on the record too.
    public func recordLinkRefusal(_ share: ShareRecord, _ exhibit: ExhibitRecord?, reason: String, client: String) async throws {
        _ = try await catalog.append(linkActor(share, client: client).event(
            .shareRefused, exhibit: exhibit?.id, caseReference: exhibit?.caseReference,
            details: ["share": .string(share.id), "reason": .string(reason)]))
    }

    /// Writes requests and bytes counted in memory since the last call.
    public func addLinkViewTallies(_ tallies: [ShareViewTally]) async throws {
        try await catalog.addShareViewTallies(tallies)
    }

    /// Makes a new link key for new links; old keys keep verifying their links until pruned.
    public func rotateLinkKey() throws -> (added: String, pruned: [String]) {
        let key = try keys.addLinkKey(now: now())
        // Keys retired longer ago than the longest a link may live can sign nothing still valid.
        let pruned = try keys.pruneLinkKeys(now: now(), maxLifetime: policies.sharing.maxLifetime)
        return (key.id.description, pruned.map(\.description))
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds % 86400 == 0 { return "\(seconds / 86400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

extension EvidenceStore {
    /// Where a running server records the public address its links start with, for the command line on the same
    /// storage root (`exhibit share create` prints links that point where the server is).
    public var publicURLPath: String { root + "/public-url" }

    /// Records the address a server's links start with.
    public func recordPublicURL(_ url: String) throws {
        try DurableFile.replace(publicURLPath, with: Data((url + "\n").utf8), mode: 0o644)
    }

    /// The address links start with, for the command line: the one the server on this storage root recorded, else
    /// `public_url` from the policy; nil when neither says.
    public func publicURLForLinks() -> String? {
        if let text = try? String(contentsOfFile: publicURLPath, encoding: .utf8),
           let url = SharingPolicy.checkedURL(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return url
        }
        return policies.sharing.publicURL
    }
}
