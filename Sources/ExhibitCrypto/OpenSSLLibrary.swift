internal import COpenSSL

/// OpenSSL, initialised once by the first call into this module, without its exit-time cleanup: OpenSSL 3 frees its
/// global state in an `atexit` handler, and a thread still hashing when the process exits (a dispatch worker, a
/// catalog thread) then reads freed memory (seen as a SIGSEGV in libcrypto as `exhibit case create` ended, on
/// S3 + PostgreSQL). The operating system reclaims that memory at exit anyway.
enum OpenSSLLibrary {
    private static let initialized: Bool = OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1

    /// Call before any other OpenSSL function.
    @inline(__always) static func ready() { _ = initialized }
}
