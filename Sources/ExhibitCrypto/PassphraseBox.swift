internal import COpenSSL
public import Foundation

/// Secret bytes sealed under a passphrase: PBKDF2-HMAC-SHA256 (600,000 rounds, OWASP's 2023 figure) derives an
/// AES-256-GCM key from the passphrase and a random salt. The sealed form is
/// `"exhibit-sealed 1\n"` ‖ salt (16) ‖ rounds (u32, big-endian) ‖ nonce (12) ‖ ciphertext ‖ tag (16); a wrong
/// passphrase or any changed byte fails the tag.
public enum PassphraseBox {
    static let magic = Array("exhibit-sealed 1\n".utf8)
    public static let rounds: UInt32 = 600_000

    static func key(_ passphrase: String, salt: [UInt8], rounds: UInt32) throws -> [UInt8] {
        OpenSSLLibrary.ready()
        var key = [UInt8](repeating: 0, count: 32)
        let ok = PKCS5_PBKDF2_HMAC(passphrase, Int32(passphrase.utf8.count), salt, Int32(salt.count), Int32(rounds), EVP_sha256(), 32, &key)
        guard ok == 1 else { throw CryptoError("PBKDF2 failed") }
        return key
    }

    public static func seal(_ plaintext: [UInt8], passphrase: String, rounds: UInt32 = rounds) throws -> [UInt8] {
        guard passphrase.utf8.count >= 12 else { throw CryptoError("a passphrase has at least 12 characters") }
        let salt = SecureRandom.bytes(count: 16)
        let nonce = SecureRandom.bytes(count: 12)
        let key = try key(passphrase, salt: salt, rounds: rounds)
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError("out of memory") }
        defer { EVP_CIPHER_CTX_free(context) }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length: Int32 = 0
        var total = 0
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1,
              EVP_EncryptUpdate(context, &out, &length, plaintext, Int32(plaintext.count)) == 1
        else { throw CryptoError("AES-256-GCM failed") }
        total = Int(length)
        let finished = out.withUnsafeMutableBufferPointer { buffer in
            EVP_EncryptFinal_ex(context, buffer.baseAddress?.advanced(by: total), &length)
        }
        guard finished == 1 else { throw CryptoError("AES-256-GCM failed") }
        total += Int(length)
        var tag = [UInt8](repeating: 0, count: 16)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1 else { throw CryptoError("AES-256-GCM failed") }
        let roundBytes = withUnsafeBytes(of: rounds.bigEndian) { Array($0) }
        return magic + salt + roundBytes + nonce + Array(out.prefix(total)) + tag
    }

    public static func open(_ sealed: [UInt8], passphrase: String) throws -> [UInt8] {
        let header = magic.count + 16 + 4 + 12
        guard sealed.count >= header + 16, Array(sealed.prefix(magic.count)) == magic else { throw CryptoError("not sealed keys") }
        let salt = Array(sealed[magic.count..<(magic.count + 16)])
        let rounds = sealed[(magic.count + 16)..<(magic.count + 20)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard (1...10_000_000).contains(rounds) else { throw CryptoError("not sealed keys") }
        let nonce = Array(sealed[(magic.count + 20)..<header])
        let ciphertext = Array(sealed[header..<(sealed.count - 16)])
        var tag = Array(sealed.suffix(16))
        let key = try key(passphrase, salt: salt, rounds: rounds)
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError("out of memory") }
        defer { EVP_CIPHER_CTX_free(context) }
        var out = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1,
              EVP_DecryptUpdate(context, &out, &length, ciphertext, Int32(ciphertext.count)) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, 16, &tag) == 1
        else { throw CryptoError("AES-256-GCM failed") }
        let total = Int(length)
        var finalLength: Int32 = 0
        let finished = out.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress?.advanced(by: total), &finalLength)
        }
        guard finished == 1 else { throw CryptoError("the passphrase is wrong, or the sealed keys were changed") }
        return Array(out.prefix(total + Int(finalLength)))
    }
}
