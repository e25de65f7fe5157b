import ExhibitCrypto
public import Foundation

/// A share link's token: `<payload>.<mac>`, both base64url without padding.
///
/// The payload is 27 bytes: version (1 byte, = 1), key id (8 bytes), share id (10 bytes), expiry (8 bytes,
/// big-endian seconds since 1970, UTC). The MAC is HMAC-SHA256 over the ASCII bytes
/// `exhibit-link-v1.` followed by the payload's base64url text, under the link key named by the key id.
/// A link carries no role, no user and no path: only which share it is, until when, and proof that Exhibit
/// made it.
public struct ShareToken: Sendable, Equatable {
    public static let version: UInt8 = 1
    public static let payloadLength = 27
    public static let domain = "exhibit-link-v1."

    public let keyID: LinkKeyID
    public let shareID: ShareID
    /// Seconds since 1970 (UTC).
    public let expiresAt: Int64

    public init(keyID: LinkKeyID, shareID: ShareID, expiresAt: Int64) {
        self.keyID = keyID
        self.shareID = shareID
        self.expiresAt = expiresAt
    }

    var payload: [UInt8] {
        var bytes: [UInt8] = [Self.version]
        bytes += keyID.bytes
        bytes += shareID.bytes
        bytes += withUnsafeBytes(of: expiresAt.bigEndian, Array.init)
        return bytes
    }

    /// The token text, signed with `key`.
    public func signed(with key: LinkKey) -> String {
        precondition(key.id == keyID)
        let payloadText = Base64URL.encode(payload)
        return payloadText + "." + Base64URL.encode(key.mac(payloadText))
    }

    /// Why a token was refused.
    public enum Refusal: Error, Sendable, Equatable {
        /// Not a token Exhibit could have made, or its MAC does not verify: answer as if nothing were there.
        case invalid
        /// Genuine, but past its expiry.
        case expired(ShareToken)
    }

    /// Checks a token: well-formed, then the MAC in constant time, then the expiry against `now`.
    /// Malformed and forged tokens get the same refusal, after the same HMAC work.
    public static func verify(_ text: some StringProtocol, keys: LinkKeyRing, now: Date) -> Result<ShareToken, Refusal> {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let payloadText = parts.first.map { String($0) } ?? ""
        let macText = parts.count == 2 ? String(parts[1]) : ""
        let payload = text.utf8.count <= 128 && parts.count == 2 ? Base64URL.decode(payloadText) : nil
        let mac = payload != nil ? Base64URL.decode(macText) : nil
        let wellFormed = payload?.count == payloadLength && payload?.first == version && mac?.count == 32
        let keyID = wellFormed ? LinkKeyID(bytes: [UInt8](payload![1..<9])) : nil
        // Always compute one MAC, so that every refusal costs the same.
        let key = keyID.flatMap(keys.key(for:)) ?? keys.decoy
        let expected = key.mac(payloadText)
        let macMatches = ConstantTime.equals(expected, mac ?? [UInt8](repeating: 0, count: 32))
        guard wellFormed, let payload, keyID.flatMap(keys.key(for:)) != nil, macMatches else { return .failure(.invalid) }
        let share = ShareID(bytes: [UInt8](payload[9..<19]))
        let expiry = payload[19..<27].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let token = ShareToken(keyID: keyID!, shareID: share, expiresAt: expiry)
        guard Double(expiry) > now.timeIntervalSince1970 else { return .failure(.expired(token)) }
        return .success(token)
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

    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")

    public var description: String {
        var bits: UInt64 = 0
        var count = 0
        var out = "sh_"
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

    public init?(_ text: String) {
        guard text.hasPrefix("sh_"), text.count == 19 else { return nil }
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
