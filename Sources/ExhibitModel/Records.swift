package import CheckedInput
package import Custody
public import ExhibitCrypto
public import MediaProbe
import Foundation

/// A person (or service) who can act on evidence.
public struct User: Sendable, Equatable, Codable {
    /// The login name: `[a-z][a-z0-9._-]{0,31}`.
    public let name: String
    public let fullName: String?
    /// Initials used in exhibit references (`JS` in `JS/1`).
    public let initials: String
    public let role: String
    public let createdAt: String
    /// When and why an admin disabled the user (nil: enabled). A disabled user's token is refused at once.
    public var disabledAt: String?
    public var disabledReason: String?
    /// When the current token was issued (nil: with the user, before reissuing was recorded) and when it stops
    /// working (nil: until revoked or reissued; `token_lifetime` in Policies/roles.yaml).
    public var tokenIssuedAt: String?
    public var tokenExpiresAt: String?

    enum CodingKeys: String, CodingKey {
        case name
        case fullName = "full_name"
        case initials, role
        case createdAt = "created_at"
        case disabledAt = "disabled_at"
        case disabledReason = "disabled_reason"
        case tokenIssuedAt = "token_issued_at"
        case tokenExpiresAt = "token_expires_at"
    }

    public init(
        name: String, fullName: String?, initials: String, role: String, createdAt: String, disabledAt: String? = nil,
        disabledReason: String? = nil, tokenIssuedAt: String? = nil, tokenExpiresAt: String? = nil
    ) {
        self.name = name
        self.fullName = fullName
        self.initials = initials
        self.role = role
        self.createdAt = createdAt
        self.disabledAt = disabledAt
        self.disabledReason = disabledReason
        self.tokenIssuedAt = tokenIssuedAt
        self.tokenExpiresAt = tokenExpiresAt
    }

    public var isDisabled: Bool { disabledAt != nil }
}

/// A change an admin makes to a user (each a custody event).
public enum UserUpdate: Sendable {
    case disable(at: String, reason: String)
    case enable
    /// A new token (its SHA-256) replaces the old one, which stops working at once.
    case token(sha256: String, issuedAt: String, expiresAt: String?)

    /// The statement and its arguments (the same text for both databases); the user's name is the last argument.
    package func statement(_ name: String) -> (sql: String, arguments: [String?]) {
        switch self {
        case .disable(let at, let reason):
            ("UPDATE users SET disabled_at = ?, disabled_reason = ? WHERE name = ?", [at, reason, name])
        case .enable:
            ("UPDATE users SET disabled_at = NULL, disabled_reason = NULL WHERE name = ?", [name])
        case .token(let sha256, let issuedAt, let expiresAt):
            ("UPDATE users SET token_sha256 = ?, token_issued_at = ?, token_expires_at = ? WHERE name = ?", [sha256, issuedAt, expiresAt, name])
        }
    }
}

/// An investigation: evidence belongs to a case.
public struct CaseRecord: Sendable, Equatable, Codable {
    /// A URL-safe id (`case_…`).
    public let id: CaseID
    /// The force's reference, e.g. `2017/MPS/0421`.
    public let reference: String
    public let title: String?
    public let createdBy: String
    public let createdAt: String
    /// Where the case is (README, "Retention").
    public let status: CaseStatus
    /// When the case took its status (the outcome's date, not when it was typed in).
    public var statusAt: String?
    /// With a conviction: when the convicted person is to be released.
    public var releaseDate: String?
    /// A retention class of its own (e.g. `major-crime`), on top of its status's.
    public var retentionClass: String?
    /// Bumped by every status change: retention checks that a case did not change under them.
    public var statusVersion: Int = 0
    /// Filled in where a case is shown: its retention deadline and its legal hold.
    public var retention: RetentionDeadline?
    public var hold: HoldRecord?

    enum CodingKeys: String, CodingKey {
        case id, reference, title
        case createdBy = "created_by"
        case createdAt = "created_at"
        case status
        case statusAt = "status_at"
        case releaseDate = "release_date"
        case retentionClass = "retention_class"
        case retention, hold
    }

    public init(id: CaseID, reference: String, title: String?, createdBy: String, createdAt: String, status: CaseStatus,
                statusAt: String? = nil, releaseDate: String? = nil, retentionClass: String? = nil, statusVersion: Int = 0) {
        self.id = id
        self.reference = reference
        self.title = title
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.status = status
        self.statusAt = statusAt
        self.releaseDate = releaseDate
        self.retentionClass = retentionClass
        self.statusVersion = statusVersion
    }
}

/// When a case's exhibits are due for deletion, and why (from Policies/retention.yaml).
public struct RetentionDeadline: Sendable, Equatable, Codable {
    /// A custody time, or nil: not due while the case stays as it is.
    public let date: String?
    /// The rules that decided it, e.g. `convicted: 6mo from release 2031-04-01T00:00:00.000Z`.
    public let because: String

    public init(date: String?, because: String) {
        self.date = date
        self.because = because
    }
}

/// A legal hold on a case or one exhibit: while it stands, nothing it covers is deleted, whatever its deadline.
public struct HoldRecord: Sendable, Equatable, Codable {
    public let id: HoldID
    public let caseID: CaseID?
    public let exhibitID: ExhibitID?
    public let reason: String
    public let setBy: String
    public let setAt: String
    public var releasedBy: String?
    public var releasedAt: String?
    public var releaseReason: String?
    /// The references people use (`2017/MPS/0421`, `JS/1`), beside the ids, where the store looked them up.
    public var caseReference: String?
    public var exhibitReference: String?

    enum CodingKeys: String, CodingKey {
        case id
        case caseID = "case_id"
        case exhibitID = "exhibit_id"
        case caseReference = "case_reference"
        case exhibitReference = "exhibit_reference"
        case reason
        case setBy = "set_by"
        case setAt = "set_at"
        case releasedBy = "released_by"
        case releasedAt = "released_at"
        case releaseReason = "release_reason"
    }

    public init(id: HoldID, caseID: CaseID?, exhibitID: ExhibitID?, reason: String, setBy: String, setAt: String,
                releasedBy: String? = nil, releasedAt: String? = nil, releaseReason: String? = nil) {
        self.id = id
        self.caseID = caseID
        self.exhibitID = exhibitID
        self.reason = reason
        self.setBy = setBy
        self.setAt = setAt
        self.releasedBy = releasedBy
        self.releasedAt = releasedAt
        self.releaseReason = releaseReason
    }
}

/// Where an exhibit is in its life: `live`, `pending-deletion` (restorable until `purge_after`), or `purged` (a
/// tombstone: its reference, hash, and who deleted it, when and why; its bytes gone).
public struct ExhibitDeletion: Sendable, Equatable, Codable {
    public let requestedAt: String
    public let requestedBy: String
    public let reason: String
    public let purgeAfter: String
    public var purgedAt: String?
    public var purgedBy: String?
    public var purgeReason: String?

    enum CodingKeys: String, CodingKey {
        case requestedAt = "requested_at"
        case requestedBy = "requested_by"
        case reason
        case purgeAfter = "purge_after"
        case purgedAt = "purged_at"
        case purgedBy = "purged_by"
        case purgeReason = "purge_reason"
    }

    public init(requestedAt: String, requestedBy: String, reason: String, purgeAfter: String,
                purgedAt: String? = nil, purgedBy: String? = nil, purgeReason: String? = nil) {
        self.requestedAt = requestedAt
        self.requestedBy = requestedBy
        self.reason = reason
        self.purgeAfter = purgeAfter
        self.purgedAt = purgedAt
        self.purgedBy = purgedBy
        self.purgeReason = purgeReason
    }
}

/// An exhibit's retention as shown with its metadata.
public struct ExhibitRetention: Sendable, Equatable, Codable {
    /// The deadline of its case (nil: not due while the case stays as it is) and the rules behind it.
    public let deadline: String?
    public let because: String
    /// The hold that keeps it (on it, its master, or its case), if any.
    public let hold: HoldRecord?

    package init(deadline: String?, because: String, hold: HoldRecord?) {
        self.deadline = deadline
        self.because = because
        self.hold = hold
    }
}

/// One uploaded file in one case.
public struct ExhibitRecord: Sendable, Codable {
    /// A URL-safe id (`ex_…`).
    public let id: ExhibitID
    public let caseID: CaseID
    public let caseReference: String
    /// `JS/1`: the uploader's initials and their running number in the case (`JS/1-W1` for a working copy).
    public let reference: String
    /// The original filename, as sent (never used as a path).
    public let filename: String
    public let sha256: SHA256Digest
    public let size: Int64
    public let uploadedBy: String
    public let uploadedAt: String
    public let integrity: IntegrityReport?
    public let media: MediaInfo?
    public let coverage: TimeCoverage?
    /// For a working copy: its master, and how it was made.
    public var masterID: ExhibitID?
    public var lineage: Lineage?
    /// For a master: `pending`, `done`, `failed`, `interrupted`, `not-needed`, or nil before it was planned.
    public var workingCopyStatus: WorkingCopyStatus?
    public var workingCopyError: String?
    /// `live`, `pending-deletion` or `purged` (README, "Retention").
    public var state: ExhibitState = .live
    public var deletion: ExhibitDeletion?
    /// Filled in where an exhibit is shown.
    public var retention: ExhibitRetention?
    /// For footage a recorder's owner sent through a footage request: which request, and who.
    public var submittedThrough: SubmittedThrough?

    public var isLive: Bool { state == .live }
    public var isPurged: Bool { state == .purged }

    public var verdict: String { integrity?.verdict.rawValue ?? "pending" }
    public var isWorkingCopy: Bool { masterID != nil }

    enum CodingKeys: String, CodingKey {
        case id
        case caseID = "case_id"
        case caseReference = "case"
        case reference, filename, sha256, size
        case uploadedBy = "uploaded_by"
        case uploadedAt = "uploaded_at"
        case integrity, media, coverage
        case masterID = "master_id"
        case lineage
        case workingCopyStatus = "working_copy_status"
        case workingCopyError = "working_copy_error"
        case state, deletion, retention
        case submittedThrough = "submitted_through"
    }

    public init(id: ExhibitID, caseID: CaseID, caseReference: String, reference: String, filename: String,
                sha256: SHA256Digest, size: Int64, uploadedBy: String, uploadedAt: String,
                integrity: IntegrityReport?, media: MediaInfo?, coverage: TimeCoverage?,
                masterID: ExhibitID? = nil, lineage: Lineage? = nil, workingCopyStatus: WorkingCopyStatus? = nil,
                workingCopyError: String? = nil) {
        self.masterID = masterID
        self.lineage = lineage
        self.workingCopyStatus = workingCopyStatus
        self.workingCopyError = workingCopyError
        self.id = id
        self.caseID = caseID
        self.caseReference = caseReference
        self.reference = reference
        self.filename = filename
        self.sha256 = sha256
        self.size = size
        self.uploadedBy = uploadedBy
        self.uploadedAt = uploadedAt
        self.integrity = integrity
        self.media = media
        self.coverage = coverage
    }
}

/// How a working copy was made from its master, recorded with the copy (and summarised in its custody event).
public struct Lineage: Codable, Sendable {
    public var masterID: ExhibitID
    public var masterReference: String
    public var masterSHA256: String
    /// `remux` (streams copied) or `transcode` (at least one stream encoded).
    public var operation: String
    public var reason: String
    public var requestedBy: String
    public var requestedFrom: String
    public var startedAt: String
    public var finishedAt: String
    /// Per stream: copied or encoded, from which codec to which, with the encoder's parameters; library
    /// versions; decode errors found in the master.
    public var transcode: TranscodeReport
    public var encoder: EncoderSettings
    /// The copy's probe compared with the master's.
    public var check: CopyCheck

    enum CodingKeys: String, CodingKey {
        case masterID = "master_id"
        case masterReference = "master_reference"
        case masterSHA256 = "master_sha256"
        case operation, reason
        case requestedBy = "requested_by"
        case requestedFrom = "requested_from"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case transcode, encoder, check
    }

    package init(masterID: ExhibitID, masterReference: String, masterSHA256: String, operation: String, reason: String, requestedBy: String, requestedFrom: String, startedAt: String, finishedAt: String, transcode: TranscodeReport, encoder: EncoderSettings, check: CopyCheck) {
        self.masterID = masterID
        self.masterReference = masterReference
        self.masterSHA256 = masterSHA256
        self.operation = operation
        self.reason = reason
        self.requestedBy = requestedBy
        self.requestedFrom = requestedFrom
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.transcode = transcode
        self.encoder = encoder
        self.check = check
    }
}

/// A copy against its master: duration within one frame per second of footage, frame count likewise, the
/// same video and audio streams.
public struct CopyCheck: Codable, Sendable {
    public var masterDuration: Double
    public var copyDuration: Double
    public var masterFrames: Int
    public var copyFrames: Int
    public var tolerance: Double
    public var masterStreams: String
    public var copyStreams: String

    enum CodingKeys: String, CodingKey {
        case masterDuration = "master_duration"
        case copyDuration = "copy_duration"
        case masterFrames = "master_frames"
        case copyFrames = "copy_frames"
        case tolerance
        case masterStreams = "master_streams"
        case copyStreams = "copy_streams"
    }

    package init(masterDuration: Double, copyDuration: Double, masterFrames: Int, copyFrames: Int, tolerance: Double, masterStreams: String, copyStreams: String) {
        self.masterDuration = masterDuration
        self.copyDuration = copyDuration
        self.masterFrames = masterFrames
        self.copyFrames = copyFrames
        self.tolerance = tolerance
        self.masterStreams = masterStreams
        self.copyStreams = copyStreams
    }
}

/// Who is acting, in which role, from where: recorded in every custody event.
public struct Actor: Sendable, Equatable {
    public let name: String
    public let role: Role
    /// `cli:<os user>@<host>` or `http:<address> <user agent>`.
    public let client: String

    public init(name: String, role: Role, client: String) {
        self.name = name
        self.role = role
        self.client = client
    }

    /// The name Exhibit itself acts under (no user can take it).
    public static let systemName = "system"

    /// Exhibit itself (bootstrap and background jobs).
    public static func system(client: String) -> Actor { Actor(name: systemName, role: Role.system, client: client) }

    /// Exhibit itself, acting for nobody (bootstrap, background jobs).
    public var isSystem: Bool { name == Actor.systemName }

    package func event(_ action: CustodyAction, exhibit: ExhibitID? = nil, caseReference: String? = nil, details: JSONValue = [:]) -> CustodyEvent.Draft {
        CustodyEvent.Draft(
            actor: name, role: role.name, action: action, exhibit: exhibit?.rawValue, caseReference: caseReference,
            details: details, client: client)
    }
}

/// Validation of names and references that users type, byte by byte to the true end of the text (a regular
/// expression's `$` lets a trailing newline through: `"2017/MPS/0421\n"` would be a second case that looks like
/// the first, and initials `"CC\n"` would reach HTTP headers).
package enum Validate {
    package static let userNames = ASCIIPattern(first: "a-z", rest: "a-z0-9._-", lengths: 1...32)
    package static let caseReferences = ASCIIPattern(first: "A-Za-z0-9", rest: "A-Za-z0-9/._-", lengths: 1...64)
    package static let initialsPattern = ASCIIPattern(first: "A-Z", rest: "A-Z", lengths: 1...4)

    package static func userName(_ name: String) throws(ExhibitError) {
        guard userNames.matches(name), name != Actor.systemName else {
            throw ExhibitError(.badRequest, "\(InputError.quoted(name)) is not a valid user name: lowercase letters, digits, '.', '_' or '-', starting with a letter, at most 32 (and not 'system')")
        }
    }

    package static func caseReference(_ reference: String) throws(ExhibitError) {
        let valid = caseReferences.matches(reference)
            && !reference.hasSuffix("/") && !reference.contains("//") && !reference.contains("..")
        guard valid else {
            throw ExhibitError(.badRequest, "\(InputError.quoted(reference, limit: 70)) is not a valid case reference: letters, digits, '/', '.', '_' and '-', at most 64, e.g. 2017/MPS/0421")
        }
    }

    package static func initials(_ initials: String) throws(ExhibitError) {
        guard initialsPattern.matches(initials) else {
            throw ExhibitError(.badRequest, "\(InputError.quoted(initials, limit: 10)) are not valid initials: 1 to 4 capital letters")
        }
    }

    /// Printable text without control characters, of bounded length (titles, recipients, notes).
    package static func text(_ text: String, _ what: String, max: Int = 500, field: String? = nil) throws(ExhibitError) {
        guard text.count <= max, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ExhibitError(.badRequest, "\(what) must be at most \(max) characters without control characters", field: field)
        }
    }
}

/// Random URL-safe identifiers: a prefix and 16 characters of lowercase base32 (80 bits).
public enum Identifier {
    /// 16 random lowercase base32 characters (a view id).
    public static func random() -> String { make("") }

    public static func make(_ prefix: String) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        let bytes = SecureRandom.bytes(count: 10)
        var bits: UInt64 = 0
        var count = 0
        var out = prefix
        for byte in bytes {
            bits = bits << 8 | UInt64(byte)
            count += 8
            while count >= 5 {
                count -= 5
                out.append(alphabet[Int((bits >> UInt64(count)) & 31)])
            }
        }
        return out
    }
}

/// A grant to fetch one exhibit through a signed link until it expires, is revoked, or its downloads run out.
/// What one view (or download) through a link amounted to, when it is closed.
public struct ShareViewSummary: Sendable, Equatable {
    public let shareID: String
    public let viewID: String
    public let kind: String
    public let firstAt: String
    public let lastAt: String
    public let requests: Int
    public let bytes: Int64
    public let exhibitID: ExhibitID?
    public let caseReference: String?
    public let client: String?

    package init(shareID: String, viewID: String, kind: String, firstAt: String, lastAt: String, requests: Int, bytes: Int64, exhibitID: ExhibitID? = nil, caseReference: String? = nil, client: String? = nil) {
        self.shareID = shareID
        self.viewID = viewID
        self.kind = kind
        self.firstAt = firstAt
        self.lastAt = lastAt
        self.requests = requests
        self.bytes = bytes
        self.exhibitID = exhibitID
        self.caseReference = caseReference
        self.client = client
    }
}

/// Requests and bytes of a view counted since the last time they were written.
public struct ShareViewTally: Sendable, Equatable {
    public let shareID: String
    public let viewID: String
    public let kind: String
    public var requests: Int
    public var bytes: Int64
    /// A custody time.
    public var lastAt: String

    public init(shareID: String, viewID: String, kind: String, requests: Int, bytes: Int64, lastAt: String) {
        self.shareID = shareID
        self.viewID = viewID
        self.kind = kind
        self.requests = requests
        self.bytes = bytes
        self.lastAt = lastAt
    }
}

public struct ShareRecord: Sendable, Codable, Equatable {
    public let id: String
    public let exhibitID: ExhibitID
    public let createdBy: String
    public let createdAt: String
    public let expiresAt: String
    /// Whole-file downloads allowed (nil: no limit) and completed so far.
    public let maxDownloads: Int?
    public let downloads: Int
    public let revokedAt: String?
    public let recipient: String?
    public let note: String?
    public let keyID: String
    /// Why it was revoked when not by hand (`purged`: its exhibit was deleted under the retention policy).
    public var revokedReason: String?
    /// Bytes its link has served through playback, as written so far (counts of a running server reach the
    /// catalog every few seconds).
    public var playedBytes: Int64 = 0

    public var downloadsLeft: Int? { maxDownloads.map { max(0, $0 - downloads) } }

    enum CodingKeys: String, CodingKey {
        case id
        case exhibitID = "exhibit_id"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case maxDownloads = "max_downloads"
        case downloads
        case revokedAt = "revoked_at"
        case recipient, note
        case keyID = "key_id"
        case revokedReason = "revoked_reason"
    }

    public init(id: String, exhibitID: ExhibitID, createdBy: String, createdAt: String, expiresAt: String, maxDownloads: Int?,
                downloads: Int, revokedAt: String?, recipient: String?, note: String?, keyID: String, revokedReason: String? = nil,
                playedBytes: Int64 = 0) {
        self.revokedReason = revokedReason
        self.playedBytes = playedBytes
        self.id = id
        self.exhibitID = exhibitID
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.maxDownloads = maxDownloads
        self.downloads = downloads
        self.revokedAt = revokedAt
        self.recipient = recipient
        self.note = note
        self.keyID = keyID
    }
}
