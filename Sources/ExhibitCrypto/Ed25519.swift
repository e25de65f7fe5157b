internal import COpenSSL
public import Foundation

/// Ed25519 signing keys over OpenSSL's EVP interface, stored as PEM (PKCS#8 private, SubjectPublicKeyInfo
/// public) so stock `openssl pkeyutl -verify -pubin -rawin` can check signatures.
public final class Ed25519PrivateKey: @unchecked Sendable {
    // The EVP_PKEY is immutable after creation; OpenSSL allows concurrent signing with one key
    // (each call uses its own EVP_MD_CTX).
    fileprivate let key: OpaquePointer

    private init(key: OpaquePointer) { self.key = key }

    deinit { EVP_PKEY_free(key) }

    /// A new random key.
    public static func generate() throws -> Ed25519PrivateKey {
        OpenSSLLibrary.ready()
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw CryptoError("cannot create a key context") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &key) == 1, let key else {
            throw CryptoError("Ed25519 key generation failed")
        }
        return Ed25519PrivateKey(key: key)
    }

    /// Reads a PEM private key.
    public init(pem: String) throws {
        OpenSSLLibrary.ready()
        guard let key = try withBIO(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }),
              EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519
        else { throw CryptoError("not an Ed25519 private key in PEM") }
        self.key = key
    }

    /// The key whose 32-byte seed is `seed` (RFC 8032's private key).
    public init(seed: [UInt8]) throws {
        OpenSSLLibrary.ready()
        guard seed.count == 32, let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw CryptoError("an Ed25519 seed has 32 bytes")
        }
        self.key = key
    }

    public var pem: String {
        writeBIO { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    public var publicKey: Ed25519PublicKey {
        var length = 32
        var raw = [UInt8](repeating: 0, count: 32)
        EVP_PKEY_get_raw_public_key(key, &raw, &length)
        // 32 bytes from an Ed25519 key are always a valid public key: the initializer cannot fail here.
        return Ed25519PublicKey(checkedRaw: raw, key: EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, 32))
    }

    /// The 64-byte signature of `message`.
    public func sign(_ message: some ContiguousBytes) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError("out of memory") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1 else { throw CryptoError("cannot start signing") }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = message.withUnsafeBytes { bytes in
            EVP_DigestSign(context, &signature, &length, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        guard ok == 1, length == 64 else { throw CryptoError("Ed25519 signing failed") }
        return signature
    }
}

public final class Ed25519PublicKey: @unchecked Sendable, Equatable {
    // Immutable after creation (see Ed25519PrivateKey).
    fileprivate let key: OpaquePointer?
    /// The 32 raw key bytes.
    public let raw: [UInt8]

    public init(raw: [UInt8]) throws {
        OpenSSLLibrary.ready()
        guard raw.count == 32, let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, 32) else {
            throw CryptoError("an Ed25519 public key has 32 bytes")
        }
        self.key = key
        self.raw = raw
    }

    /// From a private key's own public half (`key` nil only when out of memory: then every verification fails).
    fileprivate init(checkedRaw raw: [UInt8], key: OpaquePointer?) {
        self.key = key
        self.raw = raw
    }

    /// Reads a PEM public key (SubjectPublicKeyInfo).
    public convenience init(pem: String) throws {
        guard let key = try withBIO(pem, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }) else {
            throw CryptoError("not a public key in PEM")
        }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else { throw CryptoError("not an Ed25519 public key") }
        var length = 32
        var raw = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
            throw CryptoError("cannot read the public key")
        }
        try self.init(raw: raw)
    }

    deinit { if let key { EVP_PKEY_free(key) } }

    public var pem: String { key.map { key in writeBIO { PEM_write_bio_PUBKEY($0, key) } } ?? "" }

    /// A short stable name for the key: the first 16 hex digits of SHA-256 of its raw bytes.
    public var keyID: String { String(SHA256.hash(raw).hex.prefix(16)) }

    public func isValidSignature(_ signature: some ContiguousBytes, for message: some ContiguousBytes) -> Bool {
        guard let key, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        return signature.withUnsafeBytes { sig in
            message.withUnsafeBytes { bytes in
                guard sig.count == 64, let signature = sig.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
                return EVP_DigestVerify(
                    context, signature, sig.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) == 1
            }
        }
    }

    public static func == (lhs: Ed25519PublicKey, rhs: Ed25519PublicKey) -> Bool { lhs.raw == rhs.raw }
}

public struct CryptoError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` over a read-only memory BIO of `text`. The BIO points into the bytes without copying them, so it
/// lives and is freed inside the closure that keeps those bytes alive (a pointer escaping `withUnsafeBytes` reads
/// freed memory: the PEM then "cannot be read" at random).
private func withBIO<T>(_ text: String, _ body: (OpaquePointer) -> T?) throws -> T? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty, bytes.count < Int(Int32.max) else { return nil }
    return try bytes.withUnsafeBytes { buffer -> T? in
        guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { throw CryptoError("out of memory") }
        defer { BIO_free(bio) }
        return body(bio)
    }
}

private func writeBIO(_ body: (OpaquePointer) -> Int32) -> String {
    guard let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    guard body(bio) == 1 else { return "" }
    var pointer: UnsafeMutablePointer<CChar>?
    let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
    guard let pointer, length > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: Int(length)), as: UTF8.self)
}
