public import Foundation

/// base64url without padding (RFC 4648 §5), for tokens that travel in URLs.
public enum Base64URL {
    public static func encode(_ bytes: some ContiguousBytes) -> String {
        let data = bytes.withUnsafeBytes { Data($0) }
        var text = data.base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Decodes strictly: only the URL alphabet, no padding, and the canonical encoding of the bytes
    /// (unused trailing bits must be zero), so that one byte string has exactly one text form.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 != 1 else { return nil }
        for char in utf8 {
            switch char {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            default:
                return nil
            }
        }
        var standard = String(decoding: utf8, as: UTF8.self)
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.utf8.count % 4 != 0 { standard.append("=") }
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = [UInt8](data)
        guard encode(bytes) == String(decoding: utf8, as: UTF8.self) else { return nil }
        return bytes
    }
}
