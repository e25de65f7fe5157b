public import Foundation

/// base64url without padding (RFC 4648 §5), for tokens that travel in URLs.
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The 6-bit value of each byte, or 0xFF for bytes outside the URL alphabet.
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { input in
            var out = [UInt8]()
            out.reserveCapacity((input.count * 4 + 2) / 3)
            var index = 0
            while index + 3 <= input.count {
                let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                out.append(alphabet[Int(value >> 18 & 63)])
                out.append(alphabet[Int(value >> 12 & 63)])
                out.append(alphabet[Int(value >> 6 & 63)])
                out.append(alphabet[Int(value & 63)])
                index += 3
            }
            let rest = input.count - index
            if rest > 0 {
                let value = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
                out.append(alphabet[Int(value >> 18 & 63)])
                out.append(alphabet[Int(value >> 12 & 63)])
                if rest == 2 { out.append(alphabet[Int(value >> 6 & 63)]) }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Decodes strictly: only the URL alphabet, no padding, and the canonical encoding of the bytes
    /// (unused trailing bits must be zero), so that one byte string has exactly one text form.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { input -> [UInt8]? in
            guard input.count % 4 != 1 else { return nil }
            var out = [UInt8]()
            out.reserveCapacity(input.count * 3 / 4)
            var bits: UInt32 = 0
            var count = 0
            for char in input {
                let value = values[Int(char)]
                guard value != 0xFF else { return nil }
                bits = bits << 6 | UInt32(value)
                count += 6
                if count >= 8 {
                    count -= 8
                    out.append(UInt8(truncatingIfNeeded: bits >> UInt32(count)))
                    bits &= (1 << UInt32(count)) - 1
                }
            }
            // Leftover bits (2 or 4) must be zero in the canonical form.
            guard bits == 0 else { return nil }
            return out
        }
    }
}
