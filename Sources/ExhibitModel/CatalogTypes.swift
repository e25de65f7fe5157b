public import BlobStore
public import ExhibitCrypto

// The values the use-cases hand the catalog and get back from it (README, "Design").

/// An exhibit about to be recorded.
public struct NewExhibit: Sendable {
    public let id: ExhibitID
    public let caseID: CaseID
    public let initials: String
    public let filename: String
    public let blob: SHA256Digest
    public let size: Int64
    public let chunks: Int
    public let uploadedBy: String
    public let media: MediaJSON
    public let coverage: String?
    /// The resumable upload this exhibit completes (marked completed in the same transaction).
    public var uploadID: UploadID? = nil
    /// The footage request it came through.
    public var requestID: RequestID? = nil

    package init(id: ExhibitID, caseID: CaseID, initials: String, filename: String, blob: SHA256Digest, size: Int64, chunks: Int, uploadedBy: String, media: MediaJSON, coverage: String?, uploadID: UploadID? = nil) {
        self.id = id
        self.caseID = caseID
        self.initials = initials
        self.filename = filename
        self.blob = blob
        self.size = size
        self.chunks = chunks
        self.uploadedBy = uploadedBy
        self.media = media
        self.coverage = coverage
        self.uploadID = uploadID
    }
}

/// The probe results of a blob, as stored JSON text.
public struct MediaJSON: Sendable {
    public let media: String?
    public let integrity: String?
    public let verdict: String?

    package init(media: String?, integrity: String?, verdict: String?) {
        self.media = media
        self.integrity = integrity
        self.verdict = verdict
    }
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

    package func check(all: Int64, owner: Int64, name: String) throws {
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

    package init(json: String, verdict: String) {
        self.json = json
        self.verdict = verdict
    }
}

/// What a retention step expects still to be true when it runs: the case's status unchanged since the plan
/// (`status_version`) and no hold standing.
public struct RetentionGuard: Sendable {
    public let caseID: CaseID
    public let statusVersion: Int

    public init(caseID: CaseID, statusVersion: Int) {
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

    package init(sharesRevoked: Int, footageFreed: Bool) {
        self.sharesRevoked = sharesRevoked
        self.footageFreed = footageFreed
    }
}

/// A resumable (tus) upload: what has arrived, durably, and what it will become.
public struct UploadRecord: Sendable {
    public let id: UploadID
    public let owner: String
    public let caseID: CaseID
    public let filename: String
    /// The whole file's length (`Upload-Length`).
    public let length: Int64
    /// Bytes received and made durable.
    public var offset: Int64
    /// `Upload-Metadata` as sent.
    public let metadata: String
    /// The whole file's SHA-256 the client announced (hex), checked when the last byte arrives.
    public let expectedSHA256: String?
    /// Time-coverage inputs (JSON of `TimeCoverage.Inputs`).
    public let timeInputs: String?
    /// Chunks cut so far (in the store); the bytes after `tailStart` are in the tail file.
    public var entries: [Manifest.Entry]
    public var tailStart: Int64
    public let createdAt: String
    public var updatedAt: String
    public var expiresAt: String
    public var state: UploadState
    public var exhibitID: ExhibitID?
    public var error: String?
    public var patches: Int
    /// PATCH requests that went on after an interruption (a request cut short, a server restart).
    public var resumptions: Int
    /// The last PATCH was cut short (or the server restarted since).
    public var interrupted: Bool
    public var client: String?
    /// The footage request it comes through (nil: a user's own upload).
    public var requestID: RequestID?

    package static func parseEntries(_ text: String) -> [Manifest.Entry] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let digest = SHA256Digest(hex: parts[0]), let length = Int(parts[1]) else { return nil }
            return Manifest.Entry(chunk: digest, length: length)
        }
    }

    package static func encodeEntries(_ entries: [Manifest.Entry]) -> String {
        entries.map { "\($0.chunk.hex) \($0.length)\n" }.joined()
    }

    public init(id: UploadID, owner: String, caseID: CaseID, filename: String, length: Int64, offset: Int64, metadata: String, expectedSHA256: String? = nil, timeInputs: String? = nil, entries: [Manifest.Entry], tailStart: Int64, createdAt: String, updatedAt: String, expiresAt: String, state: UploadState, exhibitID: ExhibitID? = nil, error: String? = nil, patches: Int, resumptions: Int, interrupted: Bool, client: String? = nil) {
        self.id = id
        self.owner = owner
        self.caseID = caseID
        self.filename = filename
        self.length = length
        self.offset = offset
        self.metadata = metadata
        self.expectedSHA256 = expectedSHA256
        self.timeInputs = timeInputs
        self.entries = entries
        self.tailStart = tailStart
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.state = state
        self.exhibitID = exhibitID
        self.error = error
        self.patches = patches
        self.resumptions = resumptions
        self.interrupted = interrupted
        self.client = client
    }
}

/// The outcomes a case goes through (`exhibit case status`), each a custody event.
public enum CaseStatus: String, Sendable, CaseIterable, Codable {
    case open
    case noFurtherAction = "no-further-action"
    case charged
    case convicted
    case acquitted
    case appealPending = "appeal-pending"
    case closed

    /// Statuses that end proceedings: when a case is then closed, what they required still holds.
    public var isOutcome: Bool { self == .noFurtherAction || self == .convicted || self == .acquitted }

    package static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// One status a case took.
public struct CaseStatusChange: Sendable, Codable, Equatable {
    public let status: CaseStatus
    /// When the outcome happened (custody time).
    public let at: String
    public let releaseDate: String?
    public let setBy: String
    public let setAt: String

    enum CodingKeys: String, CodingKey {
        case status, at
        case releaseDate = "release_date"
        case setBy = "set_by"
        case setAt = "set_at"
    }

    public init(status: CaseStatus, at: String, releaseDate: String?, setBy: String, setAt: String) {
        self.status = status
        self.at = at
        self.releaseDate = releaseDate
        self.setBy = setBy
        self.setAt = setAt
    }
}

/// A signed-in browser session of the web app. Its token is the cookie's value; only the token's SHA-256 is kept.
public struct WebSession: Sendable, Equatable {
    public let tokenHash: String
    public let user: String
    public let createdAt: String
    public var lastSeenAt: String
    public let expiresAt: String
    public var endedAt: String?
    public let client: String?

    public init(tokenHash: String, user: String, createdAt: String, lastSeenAt: String, expiresAt: String, endedAt: String? = nil, client: String?) {
        self.tokenHash = tokenHash
        self.user = user
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.endedAt = endedAt
        self.client = client
    }
}
