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
///
/// Since schema v11 a checkpoint also carries `note`: the same head as a C2SP tlog-checkpoint signed note (origin,
/// tree size = seq, the RFC 9162 Merkle root of events 1…seq in base64), signed by the same key under the log's
/// origin as key name, with any witness cosignatures after it. That note is what inclusion and consistency proofs
/// lead to; the chain signature above stays for the fast local check.
public struct Checkpoint: Sendable, Equatable, Codable {
    public let seq: Int64
    public let hash: String
    public let at: String
    public let keyID: String
    public let signature: String
    /// The C2SP signed note of the same head (nil for checkpoints made before schema v11).
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case seq, hash, at
        case keyID = "key_id"
        case signature, note
    }

    public init(seq: Int64, hash: String, at: String, keyID: String, signature: String, note: String? = nil) {
        self.seq = seq
        self.hash = hash
        self.at = at
        self.keyID = keyID
        self.signature = signature
        self.note = note
    }

    /// The note, parsed (nil when there is none or it does not parse).
    public var signedNote: SignedNote? { note.flatMap { try? SignedNote(parsing: $0) } }

    /// The tree head the note states.
    public var treeHead: TreeHead? { signedNote.flatMap { try? TreeHead(parsing: $0.text) } }

    /// Signs the head `(seq, hash)` at `at`, and the tree of `seq` leaves with root `root` as a signed note.
    public static func sign(
        seq: Int64, hash: String, at: String, root: Merkle.Hash, origin: String, with key: Ed25519PrivateKey
    ) throws -> Checkpoint {
        var checkpoint = try sign(seq: seq, hash: hash, at: at, with: key)
        var note = SignedNote(text: TreeHead(origin: origin, size: seq, root: root).text)
        try note.sign(with: try NoteSigner(name: origin, key: key))
        checkpoint.note = note.rendered
        return checkpoint
    }

    /// The log's verifier key for `origin` (key name = origin) and this public key.
    public static func logKey(origin: String, publicKey: Ed25519PublicKey) throws -> NoteVerifierKey {
        try NoteVerifierKey(name: origin, type: NoteVerifierKey.ed25519, publicKey: publicKey.raw)
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
