public import Foundation

/// What one footage request may receive (README, "Footage requests").
public struct RequestLimits: Sendable, Equatable, Codable {
    /// Files in all, over every submission.
    public var files: Int
    /// Bytes in one file.
    public var fileSize: Int64
    /// Bytes in all.
    public var totalSize: Int64
    /// Submissions (each ends with a signed receipt).
    public var submissions: Int

    public init(files: Int, fileSize: Int64, totalSize: Int64, submissions: Int) {
        self.files = files
        self.fileSize = fileSize
        self.totalSize = totalSize
        self.submissions = submissions
    }

    enum CodingKeys: String, CodingKey {
        case files = "max_files"
        case fileSize = "max_file_size"
        case totalSize = "max_total_size"
        case submissions = "max_submissions"
    }
}

/// A footage request: a link through which the owner of a recorder uploads footage into a case, without an account.
public struct FootageRequest: Sendable, Equatable, Encodable {
    /// `rq_` + 16 base32 characters: the id the link's token carries.
    public let id: RequestID
    /// `R-` + 8 characters: what people quote (the owner's receipt, the case page).
    public let reference: String
    public let caseID: CaseID
    public let caseReference: String
    public let createdBy: String
    public let createdAt: String
    public let expiresAt: String
    /// The link key that signs its token.
    public let keyID: String
    /// The window asked for, in true time (custody time text).
    public let windowFrom: String
    public let windowTo: String
    /// Where, and which camera(s).
    public let location: String
    public let camera: String?
    /// Who holds the footage, as the investigator names them, and how to reach them.
    public let ownerName: String
    public let ownerContact: String?
    /// A note to the owner, shown on their page.
    public let note: String?
    /// The initials the exhibits it brings are numbered under (`JS` → `JS/4`).
    public let prefix: String
    public let limits: RequestLimits
    public var submissions: Int
    public var opens: Int
    public var firstOpenedAt: String?
    public var lastOpenedAt: String?
    /// Recorder time minus true time, in seconds, as the owner declared it on their page (nil: not checked).
    public var clockOffset: Int64?
    public var clockCheckedAt: String?
    public var revokedAt: String?
    public var revokedBy: String?
    public var revokedReason: String?
    /// Whether `request.expired` has been recorded.
    public var expiryRecorded: Bool
    /// Files received (exhibits) and their bytes, and uploads still open.
    public var filesReceived: Int = 0
    public var bytesReceived: Int64 = 0
    public var uploadsOpen: Int = 0

    public init(
        id: RequestID, reference: String, caseID: CaseID, caseReference: String, createdBy: String, createdAt: String, expiresAt: String,
        keyID: String, windowFrom: String, windowTo: String, location: String, camera: String?, ownerName: String,
        ownerContact: String?, note: String?, prefix: String, limits: RequestLimits, submissions: Int = 0, opens: Int = 0,
        firstOpenedAt: String? = nil, lastOpenedAt: String? = nil, clockOffset: Int64? = nil, clockCheckedAt: String? = nil,
        revokedAt: String? = nil, revokedBy: String? = nil, revokedReason: String? = nil, expiryRecorded: Bool = false
    ) {
        self.id = id
        self.reference = reference
        self.caseID = caseID
        self.caseReference = caseReference
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.keyID = keyID
        self.windowFrom = windowFrom
        self.windowTo = windowTo
        self.location = location
        self.camera = camera
        self.ownerName = ownerName
        self.ownerContact = ownerContact
        self.note = note
        self.prefix = prefix
        self.limits = limits
        self.submissions = submissions
        self.opens = opens
        self.firstOpenedAt = firstOpenedAt
        self.lastOpenedAt = lastOpenedAt
        self.clockOffset = clockOffset
        self.clockCheckedAt = clockCheckedAt
        self.revokedAt = revokedAt
        self.revokedBy = revokedBy
        self.revokedReason = revokedReason
        self.expiryRecorded = expiryRecorded
    }

    enum CodingKeys: String, CodingKey {
        case id, reference, `case`, caseID = "case_id", createdBy = "created_by", createdAt = "created_at"
        case expiresAt = "expires_at", window, location, camera, owner, contact, note, prefix, limits, submissions, opens
        case firstOpenedAt = "first_opened_at", lastOpenedAt = "last_opened_at", clockOffset = "clock_offset_seconds"
        case clockCheckedAt = "clock_checked_at", filesReceived = "files_received", bytesReceived = "bytes_received"
        case uploadsOpen = "uploads_open", revokedAt = "revoked_at", revokedBy = "revoked_by", revokedReason = "revoked_reason"
    }

    /// The request as the API and `exhibit request list --json` give it (the same fields in both).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(reference, forKey: .reference)
        try c.encode(caseReference, forKey: .case)
        try c.encode(caseID, forKey: .caseID)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(["from": windowFrom, "to": windowTo], forKey: .window)
        try c.encode(location, forKey: .location)
        try c.encodeIfPresent(camera, forKey: .camera)
        try c.encode(ownerName, forKey: .owner)
        try c.encodeIfPresent(ownerContact, forKey: .contact)
        try c.encodeIfPresent(note, forKey: .note)
        try c.encode(prefix, forKey: .prefix)
        try c.encode(limits, forKey: .limits)
        try c.encode(submissions, forKey: .submissions)
        try c.encode(opens, forKey: .opens)
        try c.encodeIfPresent(firstOpenedAt, forKey: .firstOpenedAt)
        try c.encodeIfPresent(lastOpenedAt, forKey: .lastOpenedAt)
        try c.encodeIfPresent(clockOffset, forKey: .clockOffset)
        try c.encodeIfPresent(clockCheckedAt, forKey: .clockCheckedAt)
        try c.encode(filesReceived, forKey: .filesReceived)
        try c.encode(bytesReceived, forKey: .bytesReceived)
        try c.encode(uploadsOpen, forKey: .uploadsOpen)
        try c.encodeIfPresent(revokedAt, forKey: .revokedAt)
        try c.encodeIfPresent(revokedBy, forKey: .revokedBy)
        try c.encodeIfPresent(revokedReason, forKey: .revokedReason)
    }

    /// Where the request stands, in one word.
    public func state(at now: String) -> RequestState {
        if revokedAt != nil { return .revoked }
        if submissions >= limits.submissions { return .submitted }
        if expiresAt <= now { return .expired }
        if filesReceived > 0 || uploadsOpen > 0 { return .receiving }
        return firstOpenedAt == nil ? .notOpened : .opened
    }
}

/// A footage request's state.
public enum RequestState: String, Sendable, Codable, CaseIterable {
    case notOpened = "not-opened"
    case opened
    /// Files have arrived (or are arriving), not yet submitted.
    case receiving
    /// Its submissions are used up: the link no longer takes uploads.
    case submitted
    case expired
    case revoked
}

/// One submission's signed receipt, as stored (its JSON text, exactly as signed and handed to the owner).
public struct RequestReceipt: Sendable, Equatable {
    public let requestID: RequestID
    public let number: Int
    public let submittedAt: String
    /// The receipt document (JSON), as given to the owner.
    public let json: String

    public init(requestID: RequestID, number: Int, submittedAt: String, json: String) {
        self.requestID = requestID
        self.number = number
        self.submittedAt = submittedAt
        self.json = json
    }
}

/// Through which request an exhibit came, and from whom (shown with the exhibit).
public struct SubmittedThrough: Sendable, Codable, Equatable {
    public let requestID: RequestID
    public let requestReference: String
    public let owner: String

    public init(requestID: RequestID, requestReference: String, owner: String) {
        self.requestID = requestID
        self.requestReference = requestReference
        self.owner = owner
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case requestReference = "request_reference"
        case owner
    }
}
