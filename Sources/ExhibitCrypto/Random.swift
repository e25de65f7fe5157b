internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    public static func bytes(count: Int) -> [UInt8] {
        OpenSSLLibrary.ready()
        precondition(count >= 0)
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        let ok = out.withUnsafeMutableBytes {
            RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count))
        }
        precondition(ok == 1, "OpenSSL: RAND_bytes failed; refusing to continue without a secure random source")
        return out
    }
}
