public import BlobStore
import CheckedInput
public import Custody
public import ExhibitCrypto
public import Foundation
import ShareLinks
public import MediaProbe
public import NIOCore
public import ExhibitCatalog
public import ExhibitModel
public import ExhibitPolicies
import Synchronization

/// What a store is made of besides its policies: the parts `ExhibitDeployment` chooses for a storage root.
public struct StoreParts: Sendable {
    public var local: LocalBackend
    public var chunks: any ObjectBackend
    public var database: any CatalogDatabase
    public var leases: any WriteLeases
    public var jobs: any JobLocks
    public var keys: KeyRing
    /// This open recorded the root's deployment (a new root): a failed start-up check forgets it.
    public var recordedNow: Bool
    /// How checkpoints reach the witnesses of `Policies/custody.yaml` (HTTP, from the deployment); nil: none.
    public var witnessTransport: (any WitnessTransport)?
    /// How the catalog is snapshotted for a backup (SQLite's online backup, or a PostgreSQL catalog copied into a
    /// SQLite file in one transaction); nil: backups are refused.
    public var snapshots: (any CatalogSnapshots)?

    public init(
        local: LocalBackend, chunks: any ObjectBackend, database: any CatalogDatabase, leases: any WriteLeases, jobs: any JobLocks,
        keys: KeyRing, recordedNow: Bool, witnessTransport: (any WitnessTransport)? = nil
    ) {
        self.witnessTransport = witnessTransport
        self.local = local
        self.chunks = chunks
        self.database = database
        self.leases = leases
        self.jobs = jobs
        self.keys = keys
        self.recordedNow = recordedNow
    }
}

/// The application over one storage root: blob store, catalog, custody ledger, keys and policies.
///
/// The CLI and the server both open one of these and call its use-cases with an `Actor`; authorization is
/// decided here, once, for both. Neither shell touches files or SQL itself.
public final class EvidenceStore: Sendable {
    /// The storage root (`Storage/` by default).
    public let root: String
    public let policies: Policies
    public let blobs: BlobStore
    /// The storage root's folders: temporaries, upload tails, working copies in the making; and the chunks
    /// themselves unless they live in object storage (`chunks`).
    public let local: LocalBackend
    /// Where chunks and manifests live: `local`, or an S3-compatible bucket.
    public let chunks: any ObjectBackend
    /// Where the chunks and the catalog live.
    public let deployment: Deployment
    /// This open recorded the deployment (a new root).
    let recordedNow: Bool
    /// The catalog and custody ledger (the use-cases' only way to the database).
    let catalog: Catalog
    /// Periodic jobs run by one server at a time when several share a catalog.
    let jobs: any JobLocks
    let witnessTransport: (any WitnessTransport)?
    let snapshots: (any CatalogSnapshots)?
    public let keys: KeyRing
    public let now: @Sendable () -> Date
    /// Exhibits served through links (see `servedExhibit`).
    let servedExhibits = Mutex<[ExhibitID: ExhibitRecord]>([:])
    /// Share rows read for playback, with when (monotonic nanoseconds): a player's ranges reuse them for a moment.
    let playbackShares = Mutex<[String: (share: ShareRecord, expiresAt: Int64, at: UInt64)]>([:])
    /// Link tokens whose MAC verified, by their text: a player's next ranges skip the HMAC (the expiry is still
    /// checked each time). Forged tokens never enter it and always take the full, constant-time check.
    let verifiedLinks = Mutex<[String: ShareToken]>([:])
    /// Resumable uploads with a request in progress or recently made.
    let uploadSessions = UploadSessions()
    /// Uploads receiving bytes now (single and resumable): the scheduled scrub pauses while any do.
    let uploadsRunning = Atomic<Int>(0)
    public var uploadsInFlight: Int { uploadsRunning.load(ordering: .relaxed) }

    /// The store over parts chosen elsewhere (`ExhibitDeployment` opens a storage root: it settles where the chunks
    /// and the catalog live and makes the drivers). `local` is the root's own folders.
    public init(root: String, policies: Policies, deployment: Deployment, parts: StoreParts, now: @escaping @Sendable () -> Date = { Date() }) {
        self.root = root
        self.policies = policies
        self.deployment = deployment
        self.recordedNow = parts.recordedNow
        self.local = parts.local
        self.chunks = parts.chunks
        self.keys = parts.keys
        self.catalog = Catalog(database: parts.database, sealKey: parts.keys.sealKey, now: now)
        self.jobs = parts.jobs
        self.witnessTransport = parts.witnessTransport
        self.snapshots = parts.snapshots
        self.blobs = BlobStore(backend: parts.chunks, chunking: policies.storage.chunking, leases: parts.leases)
        self.now = now
        local.removeStaleTemporaryFiles()
    }

    var timestamp: String { CustodyTime.string(now()) }

    /// Runs a periodic job (retention, upload expiry, working copies) unless another server sharing the catalog
    /// is running it; returns nil then. With SQLite (one machine) it always runs.
    public func exclusiveJob<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await jobs.exclusive(name, body)
    }

    /// Checks that the chunk store and the catalog answer and accept our credentials (a server's start-up
    /// check). A root whose deployment this open recorded forgets it when the check fails, so a corrected choice
    /// is accepted.
    public func checkDeployment() async throws {
        do {
            try await chunks.checkAvailable()
            try await catalog.database.check()
        } catch {
            if recordedNow { Deployment.forget(root: root) }
            throw error
        }
    }

    /// A light check that the catalog answers (`/healthz`): one read.
    public func checkCatalogAnswers() async throws {
        _ = try await catalog.head()
    }

    /// An exhibit as the catalog holds it now, with no access check: for the server's own services (which act as
    /// the system) and for link pages, whose signed token was verified before.
    public func exhibitRecord(id: ExhibitID) async throws -> ExhibitRecord? {
        try await catalog.exhibit(id: id)
    }

    /// How a user is named to others (a link page's "shared by"): `Full Name (name)`, or the name alone.
    public func displayName(ofUser name: String) async -> String {
        guard let user = try? await catalog.user(named: name) else { return name }
        return user.fullName.map { "\($0) (\(user.name))" } ?? user.name
    }

    // MARK: Actors

    /// The user `name` acting from `client`; unknown users and roles missing from the policy are refused.
    public func actor(named name: String, client: String) async throws -> Actor {
        guard let user = try await catalog.user(named: name) else {
            throw ExhibitError(.unauthorized, "no user named \(name) (add one with `exhibit user add`)")
        }
        return try actor(for: user, client: client)
    }

    func actor(for user: User, client: String) throws -> Actor {
        guard let role = policies.roles[user.role] else {
            throw ExhibitError(.forbidden, "\(user.name)'s role '\(user.role)' is not in Policies/roles.yaml")
        }
        return Actor(name: user.name, role: role, client: client)
    }

    /// The user holding a bearer token, or `nil`. Only the token's SHA-256 is stored; the stored hash is compared
    /// in constant time.
    public func authenticate(token: String, client: String) async throws -> Actor? {
        guard !token.isEmpty, token.count <= 200 else { return nil }
        guard let user = try await catalog.user(tokenSHA256: SHA256.hash(token).hex) else { return nil }
        // A disabled user, or a token past its lifetime, is refused like an unknown token (no hint which).
        if user.isDisabled { return nil }
        if let expires = user.tokenExpiresAt, expires <= timestamp { return nil }
        return try actor(for: user, client: client)
    }

    /// The one door every use-case passes before it acts: refuses what the actor may not do (`permission`, or
    /// any of `alternatives`), and, for a role that sees only its own cases, anything in a case it is not a member
    /// of. A case the actor cannot see is "not found", so nobody learns it exists.
    func authorize(
        _ actor: Actor, _ permission: Permission, orAnyOf alternatives: Set<Permission> = [], case record: CaseRecord? = nil
    ) async throws {
        if let record, actor.role.scope == .member, !actor.isSystem {
            guard try await catalog.isMember(actor.name, of: record.id) else {
                throw ExhibitError(.notFound, "no case \(record.reference)")
            }
        }
        guard may(actor, permission) || alternatives.contains(where: { may(actor, $0) }) else {
            throw ExhibitError(.forbidden, "the \(actor.role.name) role may not \(permission.rawValue)")
        }
    }

    /// Whether `actor`'s role grants `permission` (for what to show; every action goes through `authorize`).
    func may(_ actor: Actor, _ permission: Permission) -> Bool { actor.role.can(permission) }

    // MARK: Users

    /// Adds a user and returns its bearer token, shown once: only its SHA-256 is kept.
    public func addUser(name: String, role: String, fullName: String?, initials: String?, by actor: Actor) async throws -> (User, String) {
        try await authorize(actor, .userManage)
        try Validate.userName(name)
        guard policies.roles[role] != nil else {
            let known = policies.roles.roles.keys.sorted().joined(separator: ", ")
            throw ExhibitError(.badRequest, "no role '\(role)' in Policies/roles.yaml (roles: \(known))")
        }
        if let fullName { try Validate.text(fullName, "a full name", max: 100) }
        let chosen = initials ?? Self.initials(fullName: fullName, name: name)
        try Validate.initials(chosen)
        // Initials name who produced an exhibit (JS/1): two users may not share them.
        let taken = Set(try await catalog.users().map(\.initials))
        if taken.contains(chosen) {
            let free = Self.initialsCandidates(fullName: fullName, name: name).filter { !taken.contains($0) }.prefix(4)
            throw ExhibitError(
                .conflict,
                "\(chosen) are another user's initials (each user's own label their exhibits); give others\(free.isEmpty ? "" : ", e.g. " + free.joined(separator: ", ") + " (free)")",
                field: "initials")
        }
        let token = "exh_" + Base64URL.encode(SecureRandom.bytes(count: 32))
        let now = timestamp
        let user = User(
            name: name, fullName: fullName, initials: chosen, role: role, createdAt: now, tokenIssuedAt: now,
            tokenExpiresAt: tokenExpiry())
        _ = try await catalog.insertUser(
            user, tokenSHA256: SHA256.hash(token).hex,
            event: actor.event(.userAdded, details: ["user": .string(name), "role": .string(role), "initials": .string(chosen)]))
        return (user, token)
    }

    /// When a token issued now stops working (`token_lifetime` in Policies/roles.yaml; nil: never by itself).
    func tokenExpiry() -> String? {
        policies.roles.tokenLifetime.map { CustodyTime.string(now().addingTimeInterval(Double($0.components.seconds))) }
    }

    /// Initials to offer when the obvious ones are taken: the words' first letters with more of the last word,
    /// then more of the first.
    static func initialsCandidates(fullName: String?, name: String) -> [String] {
        let words = (fullName ?? name).split(whereSeparator: { !$0.isLetter }).map { $0.uppercased().filter { $0.isASCII && $0.isLetter } }
            .filter { !$0.isEmpty }
        guard let first = words.first, let last = words.last else { return [] }
        let heads = String(words.map { $0.prefix(1) }.joined().prefix(3))
        var out: [String] = []
        for letter in last.dropFirst() { out.append(String((heads + String(letter)).prefix(4))) }
        for letter in first.dropFirst() { out.append(String((String(first.prefix(1)) + String(letter) + String(last.prefix(1))).prefix(4))) }
        var seen = Set<String>()
        return out.filter { Validate.initialsPattern.matches($0) && seen.insert($0).inserted }
    }

    /// Disables a user: their token is refused at once, on every server (each request reads the catalog); their
    /// exhibits and custody record stay. A reason is required; nobody disables themselves.
    public func disableUser(_ name: String, reason: String, by actor: Actor) async throws -> User {
        try await authorize(actor, .userManage)
        try Validate.text(reason, "the reason", max: 500, field: "reason")
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ExhibitError(.badRequest, "say why the user is disabled", field: "reason")
        }
        guard name != actor.name else { throw ExhibitError(.badRequest, "an admin cannot disable themselves") }
        return try await catalog.updateUser(
            name, .disable(at: timestamp, reason: reason),
            event: actor.event(.userDisabled, details: ["user": .string(name), "reason": .string(reason)]))
    }

    public func enableUser(_ name: String, by actor: Actor) async throws -> User {
        try await authorize(actor, .userManage)
        return try await catalog.updateUser(name, .enable, event: actor.event(.userEnabled, details: ["user": .string(name)]))
    }

    /// Issues a new token for a user (shown once); the old one stops working at once. With `revokeOnly`, no new
    /// token is shown: the user has none until the next reissue.
    public func reissueToken(_ name: String, revokeOnly: Bool = false, by actor: Actor) async throws -> (User, String?) {
        try await authorize(actor, .userManage)
        let token = "exh_" + Base64URL.encode(SecureRandom.bytes(count: 32))
        let user = try await catalog.updateUser(
            name, .token(sha256: SHA256.hash(token).hex, issuedAt: timestamp, expiresAt: revokeOnly ? timestamp : tokenExpiry()),
            event: actor.event(revokeOnly ? .userTokenRevoked : .userTokenReissued, details: ["user": .string(name)]))
        return (user, revokeOnly ? nil : token)
    }

    static func initials(fullName: String?, name: String) -> String {
        let words = (fullName ?? "").split(whereSeparator: { !$0.isLetter }).filter { !$0.isEmpty }
        let fromName = words.compactMap { $0.first?.uppercased() }.joined()
        if fromName.count >= 1, fromName.allSatisfy({ $0.isASCII && $0.isLetter }) { return String(fromName.prefix(4)) }
        let letters = name.filter { $0.isASCII && $0.isLetter }.uppercased()
        return String(letters.prefix(2)).isEmpty ? "X" : String(letters.prefix(2))
    }

    public func users(by actor: Actor) async throws -> [User] {
        try await authorize(actor, .userManage)
        return try await catalog.users()
    }

    /// Whether any user exists yet (the server makes an admin on first start).
    public func hasUsers() async throws -> Bool { try await !catalog.users().isEmpty }

    // MARK: Cases

    public func createCase(reference: String, title: String?, by actor: Actor) async throws -> CaseRecord {
        try await authorize(actor, .caseCreate)
        try Validate.caseReference(reference)
        if let title { try Validate.text(title, "a case title", max: 200) }
        let record = CaseRecord(
            id: .new(), reference: reference, title: title, createdBy: actor.name, createdAt: timestamp,
            status: .open)
        _ = try await catalog.insertCase(
            record, event: actor.event(.caseCreated, caseReference: reference, details: ["case_id": .string(record.id), "title": JSONValue(title)]))
        return record
    }

    /// The cases the actor can see.
    public func cases(for actor: Actor) async throws -> [CaseRecord] {
        try await authorize(actor, .caseRead, orAnyOf: [.exhibitUpload])
        let all = try await catalog.cases()
        if actor.role.scope == .all { return all }
        var visible: [CaseRecord] = []
        for record in all where try await catalog.isMember(actor.name, of: record.id) { visible.append(record) }
        return visible
    }

    /// A case by id or reference, if the actor may see it with `permission`.
    public func findCase(_ idOrReference: String, for actor: Actor, needing permission: Permission = .caseRead) async throws -> CaseRecord {
        guard let record = try await catalog.caseRecord(idOrReference) else {
            throw ExhibitError(.notFound, "no case \(idOrReference.prefix(80))")
        }
        try await authorize(actor, permission, case: record)
        return record
    }

    public func members(of record: CaseRecord, for actor: Actor) async throws -> [String] {
        try await authorize(actor, .caseRead, case: record)
        return try await catalog.members(of: record.id)
    }

    public func addMember(_ user: String, to idOrReference: String, by actor: Actor) async throws {
        let record = try await findCase(idOrReference, for: actor, needing: .caseMembers)
        guard try await catalog.user(named: user) != nil else { throw ExhibitError(.notFound, "no user named \(user.prefix(40))") }
        _ = try await catalog.insertMember(
            caseID: record.id, user: user, addedBy: actor.name,
            event: actor.event(.caseMemberAdded, caseReference: record.reference, details: ["user": .string(user)]))
    }

    // MARK: Exhibits

    /// What an ingest produced.
    public struct Ingested: Sendable {
        public let exhibit: ExhibitRecord
        public let chunks: Int
        public let newBytes: Int64
        public let event: CustodyEvent
    }

    /// The bytes of an exhibit that are new to its case: its size, or 0 when the case already held the same file.
    /// Counting new bytes store-wide would tell an uploader that the same footage sits in a case they cannot see.
    public func newBytesInCase(_ ingested: Ingested) async throws -> Int64 {
        let twins = try await catalog.exhibits(blob: ingested.exhibit.sha256)
        let earlier = twins.contains { $0.caseID == ingested.exhibit.caseID && $0.id != ingested.exhibit.id }
        return earlier ? 0 : ingested.exhibit.size
    }

    /// Stores `body` as a new exhibit in a case: bytes into the blob store, the media probe and integrity scan
    /// read back out of it, then one catalog transaction with the exhibit and its `exhibit.ingested` event.
    public func ingest<Body: AsyncSequence>(
        _ body: Body, filename: String, into caseIDOrReference: String, by actor: Actor,
        time: TimeCoverage.Inputs = .init(), expectedDigest: SHA256Digest? = nil
    ) async throws -> Ingested where Body.Element == ByteBuffer {
        let record = try await findCase(caseIDOrReference, for: actor, needing: .exhibitUpload)
        uploadsRunning.add(1, ordering: .relaxed)
        defer { uploadsRunning.subtract(1, ordering: .relaxed) }
        let name = Self.safeFilename(filename)
        // The chunks and manifest stay leased until the catalog records the exhibit: garbage collection running
        // meanwhile (in this process or another) keeps them.
        let lease = try blobs.lease()
        defer { lease?.release() }
        let stored = try await blobs.put(body, sizeLimit: policies.storage.maxUploadSize, expectedDigest: expectedDigest, lease: lease)
        return try await self.record(stored, filename: name, in: record, by: actor, time: time)
    }

    static let emptyFile = "the file is empty (0 bytes): there is nothing to store"

    /// Records stored bytes as a new exhibit: the media probe and integrity scan read back out of the blob store,
    /// then one catalog transaction with the exhibit and its `exhibit.ingested` event (with `extraDetails`).
    func record(
        _ stored: BlobStore.PutResult, filename name: String, in record: CaseRecord, by actor: Actor, time: TimeCoverage.Inputs,
        uploadID: UploadID? = nil, through request: FootageRequest? = nil, extraDetails: [String: JSONValue] = [:]
    ) async throws -> Ingested {
        // Footage that came through a request is numbered under the request's prefix, and answered for by the
        // investigator who made the request; its event names the request as the actor.
        let initials: String, uploadedBy: String
        if let request {
            (initials, uploadedBy) = (request.prefix, request.createdBy)
        } else {
            guard let user = try await catalog.user(named: actor.name) else { throw ExhibitError(.unauthorized, "no user \(actor.name)") }
            (initials, uploadedBy) = (user.initials, actor.name)
        }
        // One rule for every way in (a single upload, a resumable one, the command line): an empty file holds no
        // footage and is not an exhibit.
        guard stored.blob.size > 0 else { throw ExhibitError(.badRequest, Self.emptyFile) }
        let report = try await probe(stored.blob, filename: name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let fileStart = report.media?.recordedStart.flatMap(Timestamp.parse)
        // Coverage only for footage: a document beside the videos covers no time, whatever the recorder's clock said.
        let coverage = report.isMedia
            ? TimeCoverage.compute(
                inputs: time, fileStart: fileStart, readableDuration: report.integrity.readableDuration, gaps: report.integrity.footageGaps)
            : TimeCoverage.notFootage(inputs: time)
        let media = MediaJSON(
            media: try report.media.map { String(decoding: try encoder.encode($0), as: UTF8.self) },
            integrity: String(decoding: try encoder.encode(report.integrity), as: UTF8.self),
            verdict: report.integrity.verdict.rawValue)
        var new = NewExhibit(
            id: .new(), caseID: record.id, initials: initials, filename: name,
            blob: stored.blob.digest, size: stored.blob.size, chunks: stored.chunkCount, uploadedBy: uploadedBy,
            media: media, coverage: String(decoding: try encoder.encode(coverage), as: UTF8.self))
        new.uploadID = uploadID
        new.requestID = request?.id
        let id = new.id
        let (exhibit, event) = try await catalog.insertExhibit(new) { reference in
            var details: [String: JSONValue] = [
                "reference": .string(reference), "filename": .string(name), "sha256": .string(stored.blob.digest.hex),
                "size": .int(stored.blob.size), "chunks": .int(Int64(stored.chunkCount)),
                "new_bytes": .int(stored.newBytes), "verdict": .string(report.integrity.verdict.rawValue),
                "integrity": .string(report.integrity.summary), "coverage": .string(coverage.summary),
            ]
            details.merge(extraDetails) { _, extra in extra }
            return actor.event(.exhibitIngested, exhibit: id, caseReference: record.reference, details: .object(details))
        }
        return Ingested(exhibit: exhibit, chunks: stored.chunkCount, newBytes: stored.newBytes, event: event)
    }

    /// Ingests a local file (the CLI).
    public func ingest(file path: String, into caseIDOrReference: String, by actor: Actor, time: TimeCoverage.Inputs = .init()) async throws -> Ingested {
        try await ingest(FileBytes(path: path), filename: (path as NSString).lastPathComponent, into: caseIDOrReference, by: actor, time: time)
    }

    /// Probes and scans a stored blob, reading it out of the blob store.
    public func probe(_ blob: BlobInfo, filename: String?) async throws -> MediaReport {
        let limits = policies.storage.probe
        let blobs = self.blobs
        return try await MediaWork.run {
            try MediaProbe.examine(BlobByteSource(blobs: blobs, blob: blob.digest, size: blob.size), filename: filename, limits: limits)
        }
    }

    /// The last path component, without control characters, at most 255 bytes: a filename is kept as a label and
    /// never used as a path.
    public static func safeFilename(_ name: String) -> String {
        var base = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        base = String(base.unicodeScalars.filter { $0.properties.generalCategory != .control && $0 != "\u{7f}" }.map(Character.init))
        base = base.trimmingCharacters(in: .whitespaces)
        if base == "." || base == ".." || base.isEmpty { base = "upload" }
        while base.utf8.count > 255 { base.removeLast() }
        return base
    }

    /// An exhibit by id, `sha256:<hex>`, or reference (with `case` when the reference is ambiguous), if the actor
    /// may `permission` it.
    public func findExhibit(_ name: String, case caseHint: String? = nil, for actor: Actor, needing permission: Permission = .exhibitRead) async throws -> ExhibitRecord {
        var candidates: [ExhibitRecord]
        if name.hasPrefix("ex_") {
            candidates = try await catalog.exhibit(id: ExhibitID(name)).map { [$0] } ?? []
        } else if let digest = SHA256Digest(prefixedHex: name), name.count >= 64 {
            candidates = try await catalog.exhibits(blob: digest)
        } else {
            var caseID: CaseID?
            if let caseHint {
                if permission == .retentionApply && may(actor, .retentionApply) {
                    guard let record = try await catalog.caseRecord(caseHint) else { throw ExhibitError(.notFound, "no case \(caseHint.prefix(80))") }
                    caseID = record.id
                } else {
                    caseID = try await findCase(caseHint, for: actor, needing: .caseRead).id
                }
            }
            candidates = try await catalog.exhibits(reference: name, caseID: caseID)
        }
        var visible: [ExhibitRecord] = []
        for candidate in candidates {
            guard let record = try await catalog.caseRecord(candidate.caseID) else { continue }
            // Retention works store-wide: who may apply it reaches every exhibit to restore it.
            let seesAll = actor.role.scope == .all || actor.isSystem
                || (permission == .retentionApply && may(actor, .retentionApply))
            if seesAll {
                visible.append(candidate)
            } else if try await catalog.isMember(actor.name, of: record.id) {
                visible.append(candidate)
            }
        }
        guard let exhibit = visible.first else { throw ExhibitError(.notFound, "no exhibit \(name.prefix(80))") }
        if visible.count > 1 && !name.hasPrefix("ex_") && SHA256Digest(prefixedHex: name) == nil {
            let cases = visible.map(\.caseReference).joined(separator: ", ")
            throw ExhibitError(.badRequest, "\(name) names exhibits in several cases (\(cases)): say which with --case")
        }
        try await authorize(actor, permission)
        return exhibit
    }

    /// An exhibit's metadata, logged as `exhibit.viewed`.
    public func view(_ exhibit: ExhibitRecord, by actor: Actor) async throws -> ExhibitRecord {
        _ = try await catalog.append(actor.event(.exhibitViewed, exhibit: exhibit.id, caseReference: exhibit.caseReference, details: ["reference": .string(exhibit.reference)]))
        return try await describe(exhibit)
    }

    /// Refuses to serve the bytes of a purged exhibit (only its tombstone is left).
    func requireFootage(_ exhibit: ExhibitRecord) throws {
        guard exhibit.isPurged else { return }
        let deletion = exhibit.deletion
        throw ExhibitError(
            .gone,
            "\(exhibit.reference) was deleted under the retention policy at \(deletion?.purgedAt ?? "?") by \(deletion?.purgedBy ?? "?") (\(deletion?.purgeReason ?? "")): only its record is kept")
    }

    /// The exhibits the actor may read whose span in true time contains `date` (optionally in one case).
    public func exhibits(covering date: Date, in caseName: String?, for actor: Actor) async throws -> [ExhibitRecord] {
        try await authorize(actor, .exhibitRead)
        let candidates: [ExhibitRecord]
        if let caseName {
            candidates = try await exhibits(in: caseName, for: actor)
        } else {
            var visible: [ExhibitRecord] = []
            for record in try await cases(for: actor) { visible += try await catalog.exhibits(caseID: record.id) }
            candidates = visible
        }
        return candidates.filter { exhibit in
            guard let start = exhibit.coverage?.trueStart, let end = exhibit.coverage?.trueEnd else { return false }
            return start <= date && date <= end
        }
    }

    /// The exhibits of a case the actor may read.
    public func exhibits(in idOrReference: String, for actor: Actor) async throws -> [ExhibitRecord] {
        let record = try await findCase(idOrReference, for: actor, needing: .caseRead)
        return try await catalog.exhibits(caseID: record.id)
    }

    /// The bytes of an exhibit (or a range of them), logged as `exhibit.downloaded` before any byte leaves.
    public func download(_ exhibit: ExhibitRecord, range: Range<Int64>? = nil, by actor: Actor) async throws -> BlobContents {
        try await authorize(actor, .exhibitDownload)
        try requireFootage(exhibit)
        let contents = try await blobs.contents(of: exhibit.sha256, range: range)
        var details: JSONValue = ["reference": .string(exhibit.reference), "sha256": .string(exhibit.sha256.hex)]
        if let range, range != 0..<exhibit.size {
            details = ["reference": .string(exhibit.reference), "sha256": .string(exhibit.sha256.hex),
                       "range": .string("\(range.lowerBound)-\(range.upperBound - 1)")]
        }
        _ = try await catalog.append(actor.event(.exhibitDownloaded, exhibit: exhibit.id, caseReference: exhibit.caseReference, details: details))
        return contents
    }

    // MARK: Custody

    public var custodyPublicKeyPEM: String { keys.custodyPublicKey.pem }

    /// The custody log's origin: `Policies/custody.yaml`'s, else derived from the custody key.
    public var custodyOrigin: String {
        policies.custody.origin ?? "exhibit.local/custody/" + keys.custodyPublicKey.keyID
    }

    /// The log's verifier key (C2SP vkey): the custody key under the origin as key name.
    public var custodyVerifierKey: NoteVerifierKey {
        get throws { try Checkpoint.logKey(origin: custodyOrigin, publicKey: keys.custodyPublicKey) }
    }

    /// What signs checkpoints: the chain signature and the signed note of the tree, with the custody key.
    var checkpointSigner: Catalog.CheckpointSigner {
        let key = keys.custodyKey
        let origin = custodyOrigin
        return { seq, hash, at, root in try Checkpoint.sign(seq: seq, hash: hash, at: at, root: root, origin: origin, with: key) }
    }

    /// Signs a checkpoint of the ledger's head (after a `custody.checkpointed` event).
    public func checkpoint(by actor: Actor) async throws -> Checkpoint {
        try await authorize(actor, .custodyCheckpoint)
        let checkpoint = try await catalog.appendAndCheckpoint(actor.event(.custodyCheckpointed), sign: checkpointSigner).1
        return await witnessed(checkpoint).checkpoint
    }

    public typealias ExportFormat = CustodyExportFormat

    /// Exports custody events: logs `custody.exported`, signs a checkpoint at the new head, then writes the
    /// events matching `filter` up to it, one piece of text at a time (`CustodyExport`).
    public func exportCustody(
        _ filter: EventFilter, format: ExportFormat, by actor: Actor, write: (String) throws -> Void
    ) async throws -> (count: Int, checkpoint: Checkpoint) {
        var filter = filter
        if let caseReference = filter.caseReference {
            filter.caseReference = try await findCase(caseReference, for: actor, needing: .custodyRead).reference
        }
        try await authorize(actor, .custodyRead)
        var described: [String: JSONValue] = ["format": .string(format.rawValue)]
        if let c = filter.caseReference { described["case"] = .string(c) }
        if let e = filter.exhibitIDs { described["exhibits"] = .array(e.map(JSONValue.string)) }
        if let s = filter.since { described["since"] = .string(s) }
        if let u = filter.until { described["until"] = .string(u) }
        let signed = try await catalog.appendAndCheckpoint(
            actor.event(.custodyExported, caseReference: filter.caseReference, details: .object(described)), sign: checkpointSigner).1
        let checkpoint = await witnessed(signed).checkpoint
        filter.throughSeq = checkpoint.seq
        var head: [String: String] = [:]
        if let c = filter.caseReference { head["case"] = c }
        if let e = filter.exhibitIDs { head["exhibit"] = e.joined(separator: ",") }
        if let s = filter.since { head["since"] = s }
        if let u = filter.until { head["until"] = u }
        // The CSV is read by people: each exhibit's reference beside its id.
        let references = format == .csv
            ? Dictionary(try await catalog.allExhibits().map { ($0.id.rawValue, $0.reference) }, uniquingKeysWith: { first, _ in first }) : [:]
        let export = CustodyExport(
            format: format, checkpoint: checkpoint, publicKeyPEM: keys.custodyPublicKey.pem, filter: head,
            complete: filter.isEverything, exhibitReferences: references)
        let count = try await export.write(catalog.events(filter).map(\.event), to: write)
        return (count, checkpoint)
    }

    /// Re-checks the whole ledger in the database, its latest checkpoint and the seals after it.
    public func verifyCustody() async throws -> LedgerVerifier.Report {
        let latest = try await catalog.latestCheckpoint()
        var verifier = LedgerVerifier(checkpointSeqs: try await catalog.checkpointSeqs(), sealsAfter: latest?.seq ?? 0)
        verifier = try await catalog.feed(verifier)
        var report = verifier.finish(latest: latest, publicKey: keys.custodyPublicKey, sealKey: keys.sealKey)
        // The stored tree (what proofs and tiles are made from) must be the events' tree.
        if report.headSeq > 0 {
            do {
                if let seq = try await catalog.firstTreeMismatch(through: report.headSeq) {
                    report.problems.append(.init(seq: seq, what: "the stored Merkle tree is not the tree of the events from here: proofs made from it would fail"))
                }
            } catch {
                report.notes.append("\(error)")
            }
        }
        return report
    }
}

extension EvidenceStore {
    /// Adds a note to the custody record (a hand-over outside Exhibit, a remark by an auditor).
    public func note(_ text: String, case caseName: String?, exhibit: String?, by actor: Actor) async throws -> CustodyEvent {
        try Validate.text(text, "a note", max: 2000)
        var caseReference: String?
        var exhibitID: ExhibitID?
        if let exhibit {
            let record = try await findExhibit(exhibit, case: caseName, for: actor)
            exhibitID = record.id
            caseReference = record.caseReference
        } else if let caseName {
            caseReference = try await findCase(caseName, for: actor).reference
        }
        return try await catalog.append(actor.event(.custodyNote, exhibit: exhibitID, caseReference: caseReference, details: ["note": .string(text)]))
    }
}

extension EvidenceStore {
    /// A case's custody timeline for a page: its newest `limit` events, newest first, for a role with
    /// `custody.read` that sees the case. Reading it is recorded (`custody.exported`, format `page`), as an export is.
    /// With `exhibit`, only the events of that exhibit and its working copies.
    public func custodyTimeline(
        case caseName: String, exhibit: ExhibitRecord? = nil, limit: Int = 500, by actor: Actor
    ) async throws -> (events: [CustodyEvent], total: Int) {
        let record = try await findCase(caseName, for: actor, needing: .custodyRead)
        try await authorize(actor, .custodyRead, case: record)
        var family: [String]?
        var details: [String: JSONValue] = ["format": "page", "case": .string(record.reference)]
        if let exhibit {
            guard exhibit.caseID == record.id else { throw ExhibitError(.notFound, "no such exhibit in case \(record.reference)") }
            family = ([exhibit.id] + (try await catalog.workingCopies(of: exhibit.id)).map(\.id)).map(\.rawValue)
            details["reference"] = .string(exhibit.reference)
        }
        let head = try await catalog.append(actor.event(
            .custodyExported, exhibit: exhibit?.id, caseReference: record.reference, details: .object(details)))
        // The newest `limit`: the oldest are dropped a batch at a time (not one removeFirst per event).
        var newest: [CustodyEvent] = []
        var total = 0
        for try await row in catalog.events(EventFilter(caseReference: record.reference, exhibitIDs: family, throughSeq: head.seq)) {
            total += 1
            newest.append(row.event)
            if newest.count >= 2 * limit { newest.removeFirst(newest.count - limit) }
        }
        return (newest.suffix(limit).reversed(), total)
    }
}
