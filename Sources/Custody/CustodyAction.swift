/// What a custody event records: every action Exhibit writes to the ledger, one case each. The raw value is
/// the `action` field, exactly as hashed and exported; the README's *Auditing* section lists them all (a test
/// holds the two together). Events read back keep their action as text: a ledger written by a later version
/// may name actions this one does not know, and it must still verify.
public enum CustodyAction: String, Sendable, CaseIterable, Codable {
    // Users and cases.
    case userAdded = "user.added"
    case userDisabled = "user.disabled"
    case userEnabled = "user.enabled"
    case userTokenReissued = "user.token-reissued"
    case userTokenRevoked = "user.token-revoked"
    case userSignedIn = "user.signed-in"
    case userSignedOut = "user.signed-out"
    case caseCreated = "case.created"
    case caseMemberAdded = "case.member-added"
    case caseStatusChanged = "case.status-changed"
    // Exhibits.
    case exhibitIngested = "exhibit.ingested"
    case exhibitViewed = "exhibit.viewed"
    case exhibitDownloaded = "exhibit.downloaded"
    case exhibitDeletionScheduled = "exhibit.deletion-scheduled"
    case exhibitRestored = "exhibit.restored"
    case exhibitPurged = "exhibit.purged"
    case workingCopyStarted = "working-copy.started"
    case workingCopyCreated = "working-copy.created"
    case workingCopyFailed = "working-copy.failed"
    // Share links.
    case shareCreated = "share.created"
    case shareRevoked = "share.revoked"
    case shareAccessed = "share.accessed"
    case shareServed = "share.served"
    case shareDownloaded = "share.downloaded"
    case shareRefused = "share.refused"
    // Footage requests.
    case requestCreated = "request.created"
    case requestOpened = "request.opened"
    case requestClockChecked = "request.clock-checked"
    case requestUploadStarted = "request.upload.started"
    case requestSubmitted = "request.submitted"
    case requestRevoked = "request.revoked"
    case requestExpired = "request.expired"
    case requestRefused = "request.refused"
    // Retention and holds.
    case holdSet = "hold.set"
    case holdReleased = "hold.released"
    case retentionPlanned = "retention.planned"
    case retentionApplied = "retention.applied"
    // The store and the ledger itself.
    case storeVerified = "store.verified"
    case storeGC = "store.gc"
    case storeBackedUp = "store.backed-up"
    case storeRestored = "store.restored"
    case custodyNote = "custody.note"
    case custodyCheckpointed = "custody.checkpointed"
    case custodyExported = "custody.exported"
    case bundleCreated = "bundle.created"
}

extension CustodyEvent {
    /// The action as a known kind, or nil for one this version does not know.
    public var kind: CustodyAction? { CustodyAction(rawValue: action) }
}

extension CustodyEvent.Draft {
    /// A draft of a known kind.
    public init(
        actor: String, role: String?, action: CustodyAction, exhibit: String? = nil, caseReference: String? = nil,
        details: JSONValue = [:], client: String?
    ) {
        self.init(actor: actor, role: role, action: action.rawValue, exhibit: exhibit, caseReference: caseReference,
                  details: details, client: client)
    }
}
