import ExhibitCrypto
public import Foundation

/// A link key's id: 8 random bytes, written as 16 hex digits.
public struct LinkKeyID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 8)
        self.bytes = bytes
    }
    public init?(hex: String) {
        guard hex.count == 16, let value = UInt64(hex, radix: 16) else { return nil }
        self.bytes = withUnsafeBytes(of: value.bigEndian, Array.init)
    }
    public var description: String { Hex.encode(bytes) }
}

/// A 32-byte HMAC key for share links.
public struct LinkKey: Sendable {
    public let id: LinkKeyID
    let secret: [UInt8]
    /// When the key was made (rotation keeps older keys for links that have not expired yet).
    public let createdAt: Date

    public init(id: LinkKeyID, secret: [UInt8], createdAt: Date) {
        precondition(secret.count == 32)
        self.id = id
        self.secret = secret
        self.createdAt = createdAt
    }

    public static func generate(now: Date) -> LinkKey {
        LinkKey(id: LinkKeyID(bytes: SecureRandom.bytes(count: 8)), secret: SecureRandom.bytes(count: 32), createdAt: now)
    }

    /// HMAC-SHA256 over `domain` followed by the payload's text: the domain keeps a token of one kind (a share
    /// link) from ever verifying as another (a footage request).
    func mac(domain: String, _ payloadText: String) -> [UInt8] {
        HMACSHA256.mac(key: secret, message: Array((domain + payloadText).utf8))
    }

    public var secretBytes: [UInt8] { secret }
}

/// The link keys: the newest signs new links; all verify.
public struct LinkKeyRing: Sendable {
    public let keys: [LinkKey]
    /// Used for the MAC computed on malformed tokens, so refusals all take the same time.
    let decoy = LinkKey(id: LinkKeyID(bytes: [UInt8](repeating: 0, count: 8)), secret: [UInt8](repeating: 0x5a, count: 32), createdAt: Date(timeIntervalSince1970: 0))

    public init(keys: [LinkKey]) {
        precondition(!keys.isEmpty, "a key ring needs at least one key")
        self.keys = keys.sorted { $0.createdAt < $1.createdAt }
    }

    /// The key that signs new links.
    public var current: LinkKey { keys.last! }

    public func key(for id: LinkKeyID) -> LinkKey? { keys.first { $0.id == id } }
}
