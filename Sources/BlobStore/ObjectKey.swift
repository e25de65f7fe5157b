public import ExhibitCrypto

/// The name of a stored object: a chunk or a manifest, each named by a SHA-256.
///
/// Its path (the same on disk and in object storage) fans out on the first two bytes:
/// `chunks/ab/cd/abcd…` and `manifests/ab/cd/abcd…`.
public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case chunk = "chunks"
        case manifest = "manifests"
    }

    public let kind: Kind
    public let digest: SHA256Digest

    public init(kind: Kind, digest: SHA256Digest) {
        self.kind = kind
        self.digest = digest
    }

    public static func chunk(_ digest: SHA256Digest) -> ObjectKey { ObjectKey(kind: .chunk, digest: digest) }
    public static func manifest(_ digest: SHA256Digest) -> ObjectKey { ObjectKey(kind: .manifest, digest: digest) }

    /// `chunks/ab/cd/<hex>`: only hex digits and slashes, so it is always safe as a path or an object name.
    public var path: String {
        let hex = digest.hex
        let a = hex.prefix(2)
        let b = hex.dropFirst(2).prefix(2)
        return "\(kind.rawValue)/\(a)/\(b)/\(hex)"
    }

    public var description: String { path }
}
