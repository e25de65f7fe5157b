public import Custody
public import ExhibitCrypto

/// The catalog and the custody ledger: the one seam between the application and its database.
///
/// Each method that changes state is one transaction that also appends its custody event(s), so a record
/// never exists without its event and the reverse; appends are serialised by the database (not by one
/// process), so several writers never fork the chain. SQLite is the embedded implementation; PostgreSQL
/// plugs in behind the same protocol.
public protocol Catalog: Sendable {
    // Users
    /// Disables or enables a user, or replaces their token (with its custody event, in one transaction).
    func updateUser(_ name: String, _ update: UserUpdate, event: CustodyEvent.Draft) async throws -> User
    func insertUser(_ user: User, tokenSHA256: String, event: CustodyEvent.Draft) async throws -> CustodyEvent
    func user(named name: String) async throws -> User?
    func user(tokenSHA256: String) async throws -> User?
    func users() async throws -> [User]

    // Cases
    func insertCase(_ record: CaseRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent
    func caseRecord(_ idOrReference: String) async throws -> CaseRecord?
    func cases() async throws -> [CaseRecord]
    func members(of caseID: String) async throws -> [String]
    func isMember(_ user: String, of caseID: String) async throws -> Bool
    func insertMember(caseID: String, user: String, addedBy: String, event: CustodyEvent.Draft) async throws -> CustodyEvent

    // Exhibits
    /// Records an exhibit (allocating its reference, `<initials>/<n>`, in the same transaction) with its blob
    /// and the event `makeEvent(reference)`.
    func insertExhibit(
        _ exhibit: NewExhibit, makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent)
    /// Records a working copy of `masterID` (reference `<master>-W<n>`, allocated here) with its lineage, marks
    /// the master's copy as done and adds the decode check to the master's integrity, with the event, in one
    /// transaction.
    func insertWorkingCopy(
        _ copy: NewExhibit, masterID: String, lineage: String, masterIntegrity: MasterIntegrity?,
        makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent)
    /// Sets a master's working-copy status (and error), with an event when given, in one transaction; the
    /// master's integrity report is replaced when `masterIntegrity` is given.
    func setWorkingCopyStatus(
        masterID: String, status: String, error: String?, masterIntegrity: MasterIntegrity?, event: CustodyEvent.Draft?
    ) async throws
    func workingCopies(of masterID: String) async throws -> [ExhibitRecord]
    /// Masters whose working-copy status is one of `statuses` (nil included when `includeUnplanned`).
    func masters(withWorkingCopyStatus statuses: [String], includeUnplanned: Bool) async throws -> [ExhibitRecord]

    func exhibit(id: String) async throws -> ExhibitRecord?
    func exhibits(reference: String, caseID: String?) async throws -> [ExhibitRecord]
    func exhibits(blob: SHA256Digest) async throws -> [ExhibitRecord]
    func exhibits(caseID: String) async throws -> [ExhibitRecord]
    func allExhibits() async throws -> [ExhibitRecord]

    // Shares
    func insertShare(_ share: ShareRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent
    func share(id: String) async throws -> ShareRecord?
    func shares(exhibitID: String) async throws -> [ShareRecord]
    /// Marks a share revoked (an error when it already is), with its event.
    func revokeShare(id: String, event: CustodyEvent.Draft) async throws -> ShareRecord
    /// Records a view of a share: the event is appended only for a view id not seen before (one playback, many
    /// range requests, one event). Returns whether it was new.
    func recordShareView(shareID: String, viewID: String, kind: String, event: CustodyEvent.Draft) async throws -> Bool
    /// Ends a download response: adds its bytes and closes its view; when `complete` (the file's last byte was
    /// sent) counts one download if the share has one left. One transaction with the event `event` makes (given
    /// whether the download was counted). Returns whether it was counted.
    func endShareDownload(
        shareID: String, viewID: String, bytes: Int, complete: Bool,
        event: @escaping @Sendable (_ counted: Bool, ShareViewSummary) -> CustodyEvent.Draft
    ) async throws -> Bool
    /// Adds bytes sent to a view's total.
    /// Closes the views of links with no request since `idleSince` (a custody time), appending for each the event
    /// `event` makes from its summary, in one transaction. Returns what was closed.
    func closeShareViews(idleSince: String, event: @escaping @Sendable (ShareViewSummary) -> CustodyEvent.Draft) async throws -> [ShareViewSummary]
    /// Adds requests and bytes counted in memory to open views (one transaction for all).
    func addShareViewTallies(_ tallies: [ShareViewTally]) async throws

    // Retention (README, "Retention")
    /// Records a case's new status (and its own retention class when `retentionClass` says so) with its history
    /// row and event; bumps the case's `status_version`.
    func setCaseStatus(caseID: String, change: CaseStatusChange, retentionClass: ClassChange, event: CustodyEvent.Draft) async throws -> CaseRecord
    func statusHistory(caseID: String) async throws -> [CaseStatusChange]
    /// Sets a hold on a case or an exhibit (conflict when one already stands there).
    func insertHold(_ hold: HoldRecord, event: CustodyEvent.Draft) async throws
    func releaseHold(caseID: String?, exhibitID: String?, by user: String, reason: String?,
                     event: @escaping @Sendable (HoldRecord) -> CustodyEvent.Draft) async throws -> HoldRecord
    func standingHolds() async throws -> [HoldRecord]
    /// Every hold, standing or released, on a case or on any of the exhibits.
    func holds(caseID: String?, exhibitIDs: [String]) async throws -> [HoldRecord]
    /// Moves live exhibits (a master and its working copies) to pending deletion, with their events; refused
    /// (conflict) when the guard no longer holds.
    func scheduleDeletion(_ ids: [String], guard: RetentionGuard, deletion: ExhibitDeletion, events: [CustodyEvent.Draft]) async throws
    func restoreExhibits(_ ids: [String], events: [CustodyEvent.Draft]) async throws
    /// Makes exhibits pending deletion past their grace period tombstones, revokes their shares and marks blobs no
    /// other exhibit uses as purged, with an event per exhibit, in one transaction. Returns the blobs freed.
    func purgeExhibits(
        _ ids: [String], guard: RetentionGuard, by user: String, reason: String,
        makeEvent: @escaping @Sendable (ExhibitRecord, PurgeEffect) -> CustodyEvent.Draft
    ) async throws -> [SHA256Digest]
    /// Blobs some exhibit that is not purged still needs (garbage collection keeps their manifests and chunks).
    func liveBlobs() async throws -> Set<SHA256Digest>

    // Resumable uploads (README, "Uploading")
    /// Adds an upload unless its owner, or everyone, already has as many open as `limits` allow (`tooMany`).
    func insertUpload(_ upload: UploadRecord, limits: OpenUploadLimits) async throws
    func upload(id: String) async throws -> UploadRecord?
    /// Records what an open upload has made durable (offset, chunks, tail start, counters).
    func saveUploadProgress(_ upload: UploadRecord) async throws
    /// Ends an open upload (`failed`, `terminated`, `expired`).
    func endUpload(id: String, state: String, error: String?) async throws
    func expiredUploads(before time: String) async throws -> [UploadRecord]
    /// Chunks that open uploads have stored: garbage collection keeps them.
    func openUploadChunks() async throws -> Set<SHA256Digest>

    // Ledger
    func append(_ draft: CustodyEvent.Draft) async throws -> CustodyEvent
    /// Calls `body` with every event matching `filter`, in `seq` order, with its seal.
    func forEachEvent(_ filter: EventFilter, _ body: @escaping @Sendable (CustodyEvent, String?) throws -> Void) async throws
    func head() async throws -> (seq: Int64, hash: String)?
    /// Appends `draft`, then signs the new head with `sign` and stores that checkpoint, in one transaction.
    func appendAndCheckpoint(
        _ draft: CustodyEvent.Draft, sign: @escaping @Sendable (Int64, String, String) throws -> Checkpoint
    ) async throws -> (CustodyEvent, Checkpoint)
    func latestCheckpoint() async throws -> Checkpoint?
    func checkpointSeqs() async throws -> Set<Int64>
}

/// An exhibit about to be recorded.
public struct NewExhibit: Sendable {
    public let id: String
    public let caseID: String
    public let initials: String
    public let filename: String
    public let blob: SHA256Digest
    public let size: Int64
    public let chunks: Int
    public let uploadedBy: String
    public let media: MediaJSON
    public let coverage: String?
    /// The resumable upload this exhibit completes (marked completed in the same transaction).
    public var uploadID: String? = nil
}

/// The probe results of a blob, as stored JSON text.
public struct MediaJSON: Sendable {
    public let media: String?
    public let integrity: String?
    public let verdict: String?
}

/// Which custody events to read.
public struct EventFilter: Sendable {
    public var caseReference: String?
    public var exhibitIDs: [String]?
    public var since: String?
    public var until: String?
    public var throughSeq: Int64?

    public init(caseReference: String? = nil, exhibitIDs: [String]? = nil, since: String? = nil, until: String? = nil, throughSeq: Int64? = nil) {
        self.caseReference = caseReference
        self.exhibitIDs = exhibitIDs
        self.since = since
        self.until = until
        self.throughSeq = throughSeq
    }

    public var isEverything: Bool { caseReference == nil && exhibitIDs == nil && since == nil && until == nil }
}

/// How many resumable uploads may be open at once (`uploads:` in Policies/storage.yaml).
public struct OpenUploadLimits: Sendable, Equatable {
    public var perUser: Int
    public var total: Int

    public init(perUser: Int, total: Int) {
        self.perUser = perUser
        self.total = total
    }

    func check(all: Int64, owner: Int64, name: String) throws {
        if owner >= perUser {
            throw ExhibitError(.tooMany, "\(name) has \(owner) resumable uploads open, the most one user may (uploads.max_open_per_user); finish or cancel one first")
        }
        if all >= total {
            throw ExhibitError(.tooMany, "the server has \(all) resumable uploads open, the most it takes (uploads.max_open); try again later")
        }
    }
}

/// A master's integrity report after decoding found what demuxing did not: the stored JSON and its verdict, which
/// change together.
public struct MasterIntegrity: Sendable {
    public let json: String
    public let verdict: String
}
