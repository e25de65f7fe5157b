public import Custody

/// An id of one kind of record: text in the catalog, in JSON and in the ledger, a type of its own in Swift, so an
/// exhibit's id is never passed where a case's is wanted. New ids are random (`new()`: the kind's prefix and 80
/// random bits, `ex_…`, `case_…`, `up_…`, `hold_…`; a request's comes from its link id, `rq_…`); one read from
/// outside is only looked up, never trusted to be well formed.
public protocol RecordID: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral where RawValue == String {
    init(rawValue: String)
    /// What a new id of the kind starts with (`ex_`).
    static var prefix: String { get }
}

extension RecordID {
    public init(_ text: String) { self.init(rawValue: text) }
    /// A literal in code (tests, fixed ids); text from outside goes through `init(_:)` and a lookup.
    public init(stringLiteral text: String) { self.init(rawValue: text) }
    /// No prefix unless the kind has one.
    public static var prefix: String { "" }
    /// A new random id of this kind.
    public static func new() -> Self { Self(rawValue: Identifier.make(prefix)) }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// An exhibit's id (a master or a working copy).
public struct ExhibitID: RecordID {
    public static let prefix = "ex_"
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A case's id (not its reference, which people type).
public struct CaseID: RecordID {
    public static let prefix = "case_"
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A resumable upload's id (the last part of its tus URL).
public struct UploadID: RecordID {
    public static let prefix = "up_"
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A footage request's id (`rq_…`).
public struct RequestID: RecordID {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A legal hold's id.
public struct HoldID: RecordID {
    public static let prefix = "hold_"
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

extension JSONValue {
    /// An id in an event's details or a document: its text.
    public static func string(_ id: some RecordID) -> JSONValue { .string(id.rawValue) }
}
