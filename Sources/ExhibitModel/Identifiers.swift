public import Custody

/// An id of one kind of record: text in the catalog, in JSON and in the ledger, a type of its own in Swift, so an
/// exhibit's id is never passed where a case's is wanted. New ids are random (`new()`: the kind's prefix and 80
/// random bits, `ex_…`, `case_…`, `up_…`, `hold_…`; a request's comes from its link id, `rq_…`); one read from
/// outside is only looked up, never trusted to be well formed.
public struct RecordID<Kind: RecordKind>: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ text: String) { self.init(rawValue: text) }
    /// A literal in code (tests, fixed ids); text from outside goes through `init(_:)` and a lookup.
    public init(stringLiteral text: String) { self.init(rawValue: text) }

    /// A new random id of this kind.
    public static func new() -> Self { Self(rawValue: Identifier.make(Kind.prefix)) }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// What a kind of id is: only what a new one starts with.
public protocol RecordKind: Sendable {
    static var prefix: String { get }
}

public enum ExhibitKind: RecordKind { public static let prefix = "ex_" }
public enum CaseKind: RecordKind { public static let prefix = "case_" }
public enum UploadKind: RecordKind { public static let prefix = "up_" }
/// A request's id comes from its link id (`rq_…`), never from `new()`.
public enum RequestKind: RecordKind { public static let prefix = "rq_" }
public enum HoldKind: RecordKind { public static let prefix = "hold_" }

/// An exhibit's id (a master or a working copy).
public typealias ExhibitID = RecordID<ExhibitKind>
/// A case's id (not its reference, which people type).
public typealias CaseID = RecordID<CaseKind>
/// A resumable upload's id (the last part of its tus URL).
public typealias UploadID = RecordID<UploadKind>
/// A footage request's id.
public typealias RequestID = RecordID<RequestKind>
/// A legal hold's id.
public typealias HoldID = RecordID<HoldKind>

extension JSONValue {
    /// An id in an event's details or a document: its text.
    public static func string<Kind>(_ id: RecordID<Kind>) -> JSONValue { .string(id.rawValue) }
}
