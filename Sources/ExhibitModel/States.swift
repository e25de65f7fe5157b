/// The states records go through, each stored as its raw text. A catalog written by a later version (or
/// tampered with) may hold a word this version does not know: it is read as `whenUnknown`, the value that can
/// lose nothing, and never stops the process.
public protocol StoredState: RawRepresentable, CaseIterable, Sendable, Codable, Hashable, CustomStringConvertible where RawValue == String {
    /// What an unknown stored word is read as.
    static var whenUnknown: Self { get }
}

extension StoredState {
    /// The state a stored word names, or `whenUnknown`.
    public static func stored(_ text: String) -> Self { Self(rawValue: text) ?? whenUnknown }

    /// Its word, as stored and shown (`pending-deletion`, not the case's name).
    public var description: String { rawValue }
}

/// Where an exhibit is in its retention (README, "Retention").
public enum ExhibitState: String, StoredState {
    case live
    /// Its retention ended; it is purged after the grace period unless restored.
    case pendingDeletion = "pending-deletion"
    /// Its bytes are gone; its record and custody events remain.
    case purged

    /// Kept: nothing is scheduled or purged because of a word this version does not know.
    public static let whenUnknown = ExhibitState.live
}

/// A resumable upload's state (tus).
public enum UploadState: String, StoredState {
    case open, completed, failed, terminated, expired

    /// Not resumable: an upload in an unknown state takes no more bytes.
    public static let whenUnknown = UploadState.failed
}

/// Where a master's working copy is.
public enum WorkingCopyStatus: String, StoredState {
    case pending, done, failed, interrupted
    case notNeeded = "not-needed"

    /// Made again on request, never served as done.
    public static let whenUnknown = WorkingCopyStatus.failed
}

extension CaseStatus: StoredState {
    /// The least advanced status: retention keeps an open case's exhibits.
    public static let whenUnknown = CaseStatus.open
}
