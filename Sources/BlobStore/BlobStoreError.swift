#if canImport(Glibc)
internal import Glibc
#endif

/// Everything the blob store can refuse or fail at, with a stable code per kind.
public struct BlobStoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let invalidChunkingParameters = Code("invalid-chunking-parameters")
        public static let blobNotFound = Code("blob-not-found")
        public static let fileNotFound = Code("file-not-found")
        public static let permissionDenied = Code("permission-denied")
        public static let noSpace = Code("no-space")
        public static let tooLarge = Code("too-large")
        public static let digestMismatch = Code("digest-mismatch")
        public static let corruptChunk = Code("corrupt-chunk")
        public static let missingChunk = Code("missing-chunk")
        public static let corruptManifest = Code("corrupt-manifest")
        public static let invalidRange = Code("invalid-range")
        public static let io = Code("io")
        public static let unavailable = Code("unavailable")
        /// Garbage collection stopped because it could not tell what is needed.
        public static let collectionRefused = Code("collection-refused")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Maps an `errno` from a system call on `path` to a clear error.
    static func posix(_ errno: Int32, _ operation: String, _ path: String) -> BlobStoreError {
        let reason = String(cString: strerror(errno))
        switch errno {
        case ENOENT: return BlobStoreError(.fileNotFound, "\(operation) \(path): \(reason)")
        case EACCES, EPERM, EROFS: return BlobStoreError(.permissionDenied, "\(operation) \(path): \(reason)")
        case ENOSPC, EDQUOT: return BlobStoreError(.noSpace, "\(operation) \(path): \(reason)")
        default: return BlobStoreError(.io, "\(operation) \(path): \(reason)")
        }
    }
}
