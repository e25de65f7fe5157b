public import ExhibitCrypto
import Foundation

/// A signed statement of the ledger's head: "the event numbered `seq` has hash `hash`", at a time.
///
/// The signed message is ASCII text, four lines each ending in `\n`:
///
///     exhibit-checkpoint-v1
///     <seq, decimal>
///     <hash, 64 lowercase hex digits>
///     <at, RFC 3339 UTC with milliseconds>
///
/// The signature is Ed25519 over those bytes, stored in base64; `key_id` is the first 16 hex digits of
/// SHA-256 of the raw public key. Check one with stock OpenSSL:
/// `openssl pkeyutl -verify -pubin -inkey custody.pub.pem -rawin -in message -sigfile signature`.
public struct Checkpoint: Sendable, Equatable, Codable {
    public let seq: Int64
    public let hash: String
    public let at: String
    public let keyID: String
    public let signature: String

    enum CodingKeys: String, CodingKey {
        case seq, hash, at
        case keyID = "key_id"
        case signature
    }

    public init(seq: Int64, hash: String, at: String, keyID: String, signature: String) {
        self.seq = seq
        self.hash = hash
        self.at = at
        self.keyID = keyID
        self.signature = signature
    }

    public static func message(seq: Int64, hash: String, at: String) -> String {
        "exhibit-checkpoint-v1\n\(seq)\n\(hash)\n\(at)\n"
    }

    public var message: String { Self.message(seq: seq, hash: hash, at: at) }

    /// Signs the head `(seq, hash)` at time `at`.
    public static func sign(seq: Int64, hash: String, at: String, with key: Ed25519PrivateKey) throws -> Checkpoint {
        let signature = try key.sign(Array(message(seq: seq, hash: hash, at: at).utf8))
        return Checkpoint(
            seq: seq, hash: hash, at: at, keyID: key.publicKey.keyID,
            signature: Data(signature).base64EncodedString())
    }

    public func isValid(for key: Ed25519PublicKey) -> Bool {
        guard let raw = Data(base64Encoded: signature), raw.count == 64, keyID == key.keyID else { return false }
        return key.isValidSignature(raw, for: Array(message.utf8))
    }
}

/// The per-event seal: HMAC-SHA256 of the event's hash under the ledger's seal key (`Storage/keys`), as hex.
/// It lets a verifier with the key tell events Exhibit wrote from rows forged into the database after the
/// last signed checkpoint; it is not part of the hash chain.
public enum Seal {
    public static func make(hash: String, key: [UInt8]) -> String {
        Hex.encode(HMACSHA256.mac(key: key, message: Array(hash.utf8)))
    }

    public static func isValid(_ seal: String, hash: String, key: [UInt8]) -> Bool {
        ConstantTime.equals(Array(make(hash: hash, key: key).utf8), Array(seal.utf8))
    }
}
