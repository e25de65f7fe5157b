internal import COpenSSL
public import Foundation

/// HMAC-SHA256 (RFC 2104) over OpenSSL.
public enum HMACSHA256 {
    /// The 32-byte MAC of `message` under `key`.
    public static func mac(key: some ContiguousBytes, message: some ContiguousBytes) -> [UInt8] {
        key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                mac(key: keyBytes, message: messageBytes)
            }
        }
    }

    public static func mac(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        // HMAC() wants non-null pointers even for empty inputs.
        var empty: UInt8 = 0
        let result = withUnsafeMutablePointer(to: &empty) { emptyPointer in
            out.withUnsafeMutableBytes { outBytes in
                HMAC(
                    FetchedDigests.sha256,
                    key.baseAddress ?? UnsafeRawPointer(emptyPointer), Int32(key.count),
                    message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyPointer), message.count,
                    outBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
            }
        }
        precondition(result != nil && length == 32, "OpenSSL: HMAC failed")
        return out
    }

    /// Checks a MAC in constant time.
    public static func isValid(
        mac candidate: some ContiguousBytes, key: some ContiguousBytes, message: some ContiguousBytes
    ) -> Bool {
        let expected = mac(key: key, message: message)
        return ConstantTime.equals(expected, candidate)
    }
}
