/// A refusal or failure of an Exhibit use-case, with a stable code that the HTTP layer and the CLI map in one place.
public struct ExhibitError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let badRequest = Code("bad-request")
        public static let notFound = Code("not-found")
        public static let fileNotFound = Code("file-not-found")
        public static let permissionDenied = Code("permission-denied")
        public static let noSpace = Code("no-space")
        public static let tooLarge = Code("too-large")
        public static let digestMismatch = Code("digest-mismatch")
        public static let invalidRange = Code("invalid-range")
        public static let invalidPolicy = Code("invalid-policy")
        public static let damaged = Code("damaged")
        public static let storage = Code("storage")
        public static let conflict = Code("conflict")
        public static let gone = Code("gone")
        public static let forbidden = Code("forbidden")
        public static let unauthorized = Code("unauthorized")
        /// A resumable upload's request whose bytes do not match its `Upload-Checksum`.
        public static let checksumMismatch = Code("checksum-mismatch")
        /// Another request is writing to the same upload.
        public static let locked = Code("locked")
        /// Too many of something at once (open uploads): try again later.
        public static let tooMany = Code("too-many")
        /// A backing service (the catalog database, the object store) cannot be reached: try again later.
        public static let unavailable = Code("unavailable")
    }

    public let code: Code
    public let message: String
    /// The request value the error is about (a JSON field or query parameter), when there is one.
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = field.map { "\($0): \(message)" } ?? message
        self.field = field
    }

    public var description: String { message }
}
