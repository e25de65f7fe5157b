import Foundation

/// A SHA-256 digest: 32 bytes, held as four big-endian words so that equality and hashing are cheap.
///
/// Identifies chunks and blobs. Its text form is 64 lowercase hex digits; `Codable` uses that form.
public struct SHA256Digest: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public static let byteCount = 32

    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64
    @usableFromInline let w3: UInt64

    /// Makes a digest from exactly 32 bytes.
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "a SHA-256 digest has 32 bytes")
        func word(_ i: Int) -> UInt64 {
            UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        }
        self.w0 = word(0)
        self.w1 = word(1)
        self.w2 = word(2)
        self.w3 = word(3)
    }

    /// Makes a digest from exactly 32 bytes; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { SHA256Digest(bytes: $0) }
    }

    /// Parses 64 hex digits (either case); `nil` for anything else.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, char) in utf8.enumerated() {
            guard let nibble = Self.nibble(char) else { return nil }
            words[index / 16] = (words[index / 16] << 4) | UInt64(nibble)
        }
        self.w0 = words[0]
        self.w1 = words[1]
        self.w2 = words[2]
        self.w3 = words[3]
    }

    /// Parses `sha256:<hex>` or bare hex.
    public init?(prefixedHex text: some StringProtocol) {
        if text.hasPrefix("sha256:") {
            self.init(hex: text.dropFirst(7))
        } else {
            self.init(hex: text)
        }
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Writes the 32 bytes, most significant first, at `pointer` (no array made).
    @inlinable
    public func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: w0.bigEndian, toByteOffset: 0, as: UInt64.self)
        pointer.storeBytes(of: w1.bigEndian, toByteOffset: 8, as: UInt64.self)
        pointer.storeBytes(of: w2.bigEndian, toByteOffset: 16, as: UInt64.self)
        pointer.storeBytes(of: w3.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// The 32 bytes, most significant first.
    public var bytes: [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                result.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return result
    }

    /// 64 lowercase hex digits.
    public var hex: String {
        String(unsafeUninitializedCapacity: 64) { out in
            var i = 0
            for word in [w0, w1, w2, w3] {
                for shift in stride(from: 60, through: 0, by: -4) {
                    out[i] = Hex.digits[Int((word >> UInt64(shift)) & 0xf)]
                    i += 1
                }
            }
            return 64
        }
    }

    /// Standard base64 with padding (as RFC 9530 `Content-Digest` uses).
    public var base64: String { Data(bytes).base64EncodedString() }

    /// `sha256:<hex>`, the form used in the catalog and the API.
    public var prefixed: String { "sha256:" + hex }

    public var description: String { hex }

    public static func < (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = SHA256Digest(prefixedHex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not a SHA-256 digest in hex: \(text.prefix(80))")
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

/// Lowercase hexadecimal text.
public enum Hex {
    @usableFromInline static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var i = 0
            for byte in bytes {
                out[i] = digits[Int(byte >> 4)]
                out[i + 1] = digits[Int(byte & 0x0f)]
                i += 2
            }
            return i
        }
    }
}
