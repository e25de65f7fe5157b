import ExhibitCrypto
public import Foundation

/// The two kinds of signed link: each has its own version byte and MAC domain, so a token made for one never
/// verifies as the other (a share link is not a footage request's upload link, nor the reverse).
public enum LinkKind: Sendable, Equatable {
    /// `/s/<token>`: fetches one exhibit.
    case share
    /// `/r/<token>`: uploads footage into a case through a footage request.
    case request

    var version: UInt8 { self == .share ? 1 : 2 }
    var domain: String { self == .share ? "exhibit-link-v1." : "exhibit-request-v1." }
    var idPrefix: String { self == .share ? "sh_" : "rq_" }
}

/// A signed link's token: `<payload>.<mac>`, both base64url without padding.
///
/// The payload is 27 bytes: version (1 byte: 1 for a share, 2 for a footage request), key id (8 bytes), the share's
/// or request's id (10 bytes), expiry (8 bytes, big-endian seconds since 1970, UTC). The MAC is HMAC-SHA256 over
/// the ASCII bytes `exhibit-link-v1.` (a share) or `exhibit-request-v1.` (a request) followed by the payload's
/// base64url text, under the link key named by the key id. A link carries no role, no user, no case and no path:
/// only which share or request it is, until when, and proof that Exhibit made it.
public struct SignedLink: Sendable, Equatable {
    public static let payloadLength = 27

    public let kind: LinkKind
    public let keyID: LinkKeyID
    public let id: LinkID
    /// Seconds since 1970 (UTC).
    public let expiresAt: Int64

    public init(kind: LinkKind, keyID: LinkKeyID, id: LinkID, expiresAt: Int64) {
        self.kind = kind
        self.keyID = keyID
        self.id = id
        self.expiresAt = expiresAt
    }

    var payload: [UInt8] {
        var bytes: [UInt8] = [kind.version]
        bytes += keyID.bytes
        bytes += id.bytes
        bytes += withUnsafeBytes(of: expiresAt.bigEndian, Array.init)
        return bytes
    }

    /// The token text, signed with `key`.
    public func signed(with key: LinkKey) -> String {
        precondition(key.id == keyID)
        let payloadText = Base64URL.encode(payload)
        return payloadText + "." + Base64URL.encode(key.mac(domain: kind.domain, payloadText))
    }

    /// Why a token was refused.
    public enum Refusal: Error, Sendable, Equatable {
        /// Not a token Exhibit could have made (for this kind), or its MAC does not verify: answer as if nothing
        /// were there.
        case invalid
        /// Genuine, but past its expiry.
        case expired(SignedLink)
    }

    /// Checks a token of `kind`: well-formed, then the MAC in constant time, then the expiry against `now`.
    /// Malformed and forged tokens get the same refusal, after the same HMAC work.
    public static func verify(_ text: some StringProtocol, kind: LinkKind, keys: LinkKeyRing, now: Date) -> Result<SignedLink, Refusal> {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let payloadText = parts.first.map { String($0) } ?? ""
        let macText = parts.count == 2 ? String(parts[1]) : ""
        let payload = text.utf8.count <= 128 && parts.count == 2 ? Base64URL.decode(payloadText) : nil
        let mac = payload != nil ? Base64URL.decode(macText) : nil
        let wellFormed = payload?.count == payloadLength && payload?.first == kind.version && mac?.count == 32
        let keyID = wellFormed ? payload.map { LinkKeyID(bytes: [UInt8]($0[1..<9])) } : nil
        // Always compute one MAC, so that every refusal costs the same.
        let key = keyID.flatMap(keys.key(for:))
        let expected = (key ?? keys.decoy).mac(domain: kind.domain, payloadText)
        let macMatches = ConstantTime.equals(expected, mac ?? [UInt8](repeating: 0, count: 32))
        guard wellFormed, let payload, let keyID, key != nil, macMatches else { return .failure(.invalid) }
        let id = LinkID(bytes: [UInt8](payload[9..<19]))
        let expiry = payload[19..<27].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let token = SignedLink(kind: kind, keyID: keyID, id: id, expiresAt: expiry)
        guard Double(expiry) > now.timeIntervalSince1970 else { return .failure(.expired(token)) }
        return .success(token)
    }
}

/// A share link's token (`SignedLink` of kind `.share`).
public struct ShareToken: Sendable, Equatable {
    public static let version: UInt8 = 1
    public static let payloadLength = SignedLink.payloadLength
    public static let domain = LinkKind.share.domain

    public let keyID: LinkKeyID
    public let shareID: ShareID
    /// Seconds since 1970 (UTC).
    public let expiresAt: Int64

    public init(keyID: LinkKeyID, shareID: ShareID, expiresAt: Int64) {
        self.keyID = keyID
        self.shareID = shareID
        self.expiresAt = expiresAt
    }

    init(_ link: SignedLink) {
        self.init(keyID: link.keyID, shareID: ShareID(bytes: link.id.bytes), expiresAt: link.expiresAt)
    }

    /// The token text, signed with `key`.
    public func signed(with key: LinkKey) -> String {
        SignedLink(kind: .share, keyID: keyID, id: LinkID(bytes: shareID.bytes), expiresAt: expiresAt).signed(with: key)
    }

    /// Why a token was refused.
    public enum Refusal: Error, Sendable, Equatable {
        case invalid
        case expired(ShareToken)
    }

    /// Checks a share link's token (see `SignedLink.verify`).
    public static func verify(_ text: some StringProtocol, keys: LinkKeyRing, now: Date) -> Result<ShareToken, Refusal> {
        switch SignedLink.verify(text, kind: .share, keys: keys, now: now) {
        case .success(let link): .success(ShareToken(link))
        case .failure(.invalid): .failure(.invalid)
        case .failure(.expired(let link)): .failure(.expired(ShareToken(link)))
        }
    }
}

/// The 10 random bytes that name a share or a footage request, written with a prefix (`sh_`, `rq_`) and 16
/// lowercase base32 characters.
public struct LinkID: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 10)
        self.bytes = bytes
    }

    public static func random() -> LinkID { LinkID(bytes: SecureRandom.bytes(count: 10)) }

    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")

    public func text(_ kind: LinkKind) -> String {
        var bits: UInt64 = 0
        var count = 0
        var out = kind.idPrefix
        for byte in bytes {
            bits = bits << 8 | UInt64(byte)
            count += 8
            while count >= 5 {
                count -= 5
                out.append(Self.alphabet[Int((bits >> UInt64(count)) & 31)])
            }
        }
        return out
    }

    public init?(_ text: String, kind: LinkKind) {
        guard text.hasPrefix(kind.idPrefix), text.count == 19 else { return nil }
        var bits: UInt64 = 0
        var count = 0
        var out: [UInt8] = []
        for char in text.dropFirst(3) {
            guard let value = Self.alphabet.firstIndex(of: char) else { return nil }
            bits = bits << 5 | UInt64(value)
            count += 5
            if count >= 8 {
                count -= 8
                out.append(UInt8(truncatingIfNeeded: bits >> UInt64(count)))
            }
        }
        guard out.count == 10 else { return nil }
        self.bytes = out
    }
}

/// A share's id: 10 random bytes, written `sh_` + 16 lowercase base32 characters.
public struct ShareID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 10)
        self.bytes = bytes
    }

    public static func random() -> ShareID { ShareID(bytes: SecureRandom.bytes(count: 10)) }

    public var description: String { LinkID(bytes: bytes).text(.share) }

    public init?(_ text: String) {
        guard let id = LinkID(text, kind: .share) else { return nil }
        self.bytes = id.bytes
    }
}
