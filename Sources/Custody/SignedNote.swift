public import ExhibitCrypto
import Foundation

/// C2SP signed notes (`c2sp.org/signed-note`): a UTF-8 text ending in a newline, a blank line, then one line per
/// signature, `— <key name> <base64(key ID ‖ signature)>`. Ed25519 log signatures (type 0x01) and C2SP
/// tlog-cosignature/v1 witness cosignatures (type 0x04: key ID ‖ big-endian u64 time ‖ Ed25519 signature over
/// `cosignature/v1\ntime <t>\n<text>`) are made and checked here; other signatures are kept and ignored.
public struct SignedNote: Sendable, Equatable {
    /// One signature line: the key's name, its 4-byte ID (big-endian) and the bytes after the ID.
    public struct Signature: Sendable, Equatable {
        public let name: String
        public let keyID: UInt32
        public let bytes: [UInt8]

        public init(name: String, keyID: UInt32, bytes: [UInt8]) {
            self.name = name
            self.keyID = keyID
            self.bytes = bytes
        }

        public var line: String {
            var payload = withUnsafeBytes(of: keyID.bigEndian) { Array($0) }
            payload += bytes
            return "— \(name) \(Data(payload).base64EncodedString())\n"
        }

        /// The time a cosignature (type 0x04) carries, when the bytes have its shape.
        public var cosignatureTime: UInt64? {
            guard bytes.count == 72 else { return nil }
            return bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    /// The signed text, ending in `\n`.
    public let text: String
    public var signatures: [Signature]

    public init(text: String, signatures: [Signature] = []) {
        self.text = text
        self.signatures = signatures
    }

    /// The note as sent: text, blank line, signature lines.
    public var rendered: String { text + "\n" + signatures.map(\.line).joined() }

    /// Parses a note; the text and the signatures are split at the last blank line.
    public init(parsing note: String) throws {
        guard note.utf8.count <= 1 << 20 else { throw NoteError("the note is over 1 MiB") }
        for scalar in note.unicodeScalars where scalar.value < 0x20 && scalar != "\n" {
            throw NoteError("the note holds a control character (U+\(String(scalar.value, radix: 16, uppercase: true)))")
        }
        guard note.hasSuffix("\n") else { throw NoteError("a note ends with a newline") }
        guard let split = note.range(of: "\n\n", options: .backwards) else { throw NoteError("no blank line before the signatures") }
        let text = String(note[..<split.lowerBound]) + "\n"
        var signatures: [Signature] = []
        for line in note[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            guard line.hasPrefix("— ") else { throw NoteError("a signature line starts with \"— \" (U+2014 and a space)") }
            let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[0].contains("+") else { throw NoteError("a signature line is \"— <name> <base64>\"") }
            guard let payload = Data(base64Encoded: String(parts[1])), payload.count > 4 else {
                throw NoteError("a signature of \(parts[0]) is not base64 of a key ID and a signature")
            }
            let bytes = [UInt8](payload)
            let id = bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            signatures.append(Signature(name: String(parts[0]), keyID: id, bytes: Array(bytes.dropFirst(4))))
        }
        guard !signatures.isEmpty else { throw NoteError("the note has no signature") }
        guard signatures.count <= 100 else { throw NoteError("the note has over 100 signatures") }
        self.init(text: text, signatures: signatures)
    }

    /// Adds the signature of `signer` (replacing an earlier one by the same key).
    public mutating func sign(with signer: NoteSigner, time: UInt64? = nil) throws {
        let signature = try signer.signature(for: text, time: time)
        signatures.removeAll { $0.name == signature.name && $0.keyID == signature.keyID }
        signatures.append(signature)
    }

    /// Checks the signature by `key`: `.valid`, `.absent` (no line with its name and ID), or throws when a line
    /// with its name and ID does not verify (a known key's bad signature rejects the note).
    public func check(_ key: NoteVerifierKey) throws -> SignedNote.Signature? {
        let lines = signatures.filter { $0.name == key.name && $0.keyID == key.keyID }
        guard !lines.isEmpty else { return nil }
        for line in lines where !key.verifies(line, text: text) {
            throw NoteError("the signature of \(key.name) (key \(key.keyIDHex)) does not verify: the note was changed or signed by another key")
        }
        return lines[0]
    }
}

/// A note verifier key, `<name>+<hex key ID>+<base64(type ‖ public key)>` (C2SP signed-note "vkey").
public struct NoteVerifierKey: Sendable, Equatable, CustomStringConvertible {
    public static let ed25519: UInt8 = 0x01
    public static let cosignatureV1: UInt8 = 0x04

    public let name: String
    public let type: UInt8
    public let publicKey: [UInt8]
    public let keyID: UInt32

    public init(name: String, type: UInt8, publicKey: [UInt8]) throws {
        try NoteVerifierKey.checkName(name)
        guard type == Self.ed25519 || type == Self.cosignatureV1 else { throw NoteError("key type \(type) is not Ed25519 (1) or an Ed25519 cosignature (4)") }
        guard publicKey.count == 32 else { throw NoteError("an Ed25519 public key has 32 bytes") }
        self.name = name
        self.type = type
        self.publicKey = publicKey
        self.keyID = Self.keyID(name: name, type: type, publicKey: publicKey)
    }

    /// Parses a vkey: split at the first two `+` only (the base64 may hold more).
    public init(parsing vkey: String) throws {
        let text = vkey.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count == 8, let id = UInt32(parts[1], radix: 16),
              let data = Data(base64Encoded: String(parts[2])), data.count == 33
        else { throw NoteError("a verifier key is <name>+<8 hex digits>+<base64 of the type and a 32-byte key>") }
        let bytes = [UInt8](data)
        try self.init(name: String(parts[0]), type: bytes[0], publicKey: Array(bytes.dropFirst()))
        guard keyID == id else { throw NoteError("the verifier key's ID \(parts[1]) does not match its name and key") }
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains("+"),
              !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 })
        else { throw NoteError("a key name is 1–255 bytes with no spaces and no \"+\"") }
    }

    /// SHA-256(name ‖ "\n" ‖ type ‖ public key), its first 4 bytes big-endian.
    public static func keyID(name: String, type: UInt8, publicKey: [UInt8]) -> UInt32 {
        let digest = SHA256.hash(Array(name.utf8) + [0x0A, type] + publicKey).bytes
        return digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    public var keyIDHex: String { String(format: "%08x", keyID) }
    public var vkey: String { "\(name)+\(keyIDHex)+\(Data([type] + publicKey).base64EncodedString())" }
    public var description: String { vkey }

    /// Whether `signature` is this key's valid signature of `text`.
    public func verifies(_ signature: SignedNote.Signature, text: String) -> Bool {
        guard signature.name == name, signature.keyID == keyID, let key = try? Ed25519PublicKey(raw: publicKey) else { return false }
        switch type {
        case Self.ed25519:
            return signature.bytes.count == 64 && key.isValidSignature(signature.bytes, for: Array(text.utf8))
        default:
            guard let time = signature.cosignatureTime, time <= UInt64(Int64.max) else { return false }
            return key.isValidSignature(Array(signature.bytes.dropFirst(8)), for: Array(Self.cosignedMessage(text: text, time: time).utf8))
        }
    }

    /// What a tlog-cosignature/v1 signs.
    public static func cosignedMessage(text: String, time: UInt64) -> String { "cosignature/v1\ntime \(time)\n" + text }
}

/// A key that signs notes: a log key (type 0x01) or a witness's cosigning key (type 0x04).
public struct NoteSigner: Sendable {
    public let name: String
    public let key: Ed25519PrivateKey
    public let type: UInt8

    public init(name: String, key: Ed25519PrivateKey, type: UInt8 = NoteVerifierKey.ed25519) throws {
        try NoteVerifierKey.checkName(name)
        self.name = name
        self.key = key
        self.type = type
    }

    public var verifierKey: NoteVerifierKey {
        get throws { try NoteVerifierKey(name: name, type: type, publicKey: key.publicKey.raw) }
    }

    /// The signature line's content for `text` (`time` for a cosignature: seconds since 1970).
    public func signature(for text: String, time: UInt64? = nil) throws -> SignedNote.Signature {
        let id = NoteVerifierKey.keyID(name: name, type: type, publicKey: key.publicKey.raw)
        if type == NoteVerifierKey.cosignatureV1 {
            let time = time ?? UInt64(max(0, Date().timeIntervalSince1970))
            let signed = try key.sign(Array(NoteVerifierKey.cosignedMessage(text: text, time: time).utf8))
            return .init(name: name, keyID: id, bytes: withUnsafeBytes(of: time.bigEndian) { Array($0) } + signed)
        }
        return .init(name: name, keyID: id, bytes: try key.sign(Array(text.utf8)))
    }
}

/// A C2SP tlog-checkpoint: the note text `<origin>\n<tree size>\n<base64 root>\n`, no extension lines.
public struct TreeHead: Sendable, Equatable, Hashable {
    public let origin: String
    public let size: Int64
    public let root: Merkle.Hash

    public init(origin: String, size: Int64, root: Merkle.Hash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    public var text: String { "\(origin)\n\(size)\n\(Data(root.bytes).base64EncodedString())\n" }

    /// Parses a checkpoint's text (extension lines are refused: Exhibit writes none and trusts none).
    public init(parsing text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard text.hasSuffix("\n"), lines.count >= 4 else { throw NoteError("a checkpoint is three lines: origin, tree size, root hash") }
        guard lines.count == 4 else { throw NoteError("the checkpoint has extension lines, which Exhibit neither writes nor trusts") }
        let sizeText = lines[1]
        guard !lines[0].isEmpty, let size = Int64(sizeText), size >= 0, String(size) == sizeText else {
            throw NoteError("the checkpoint's tree size \"\(sizeText.prefix(30))\" is not a decimal number without leading zeros")
        }
        guard let raw = Data(base64Encoded: String(lines[2])), let root = SHA256Digest(bytes: [UInt8](raw)) else {
            throw NoteError("the checkpoint's root hash is not base64 of 32 bytes")
        }
        self.init(origin: String(lines[0]), size: size, root: root)
    }
}

/// A C2SP tlog-proof (`c2sp.org/tlog-proof@v1`): a leaf index, its inclusion path and the checkpoint note it leads to.
public struct TlogProof: Sendable, Equatable {
    public static let header = "c2sp.org/tlog-proof@v1"

    public let index: Int64
    public let path: [Merkle.Hash]
    public let checkpoint: SignedNote

    public init(index: Int64, path: [Merkle.Hash], checkpoint: SignedNote) {
        self.index = index
        self.path = path
        self.checkpoint = checkpoint
    }

    public var rendered: String {
        Self.header + "\nindex \(index)\n" + path.map { Data($0.bytes).base64EncodedString() + "\n" }.joined() + "\n" + checkpoint.rendered
    }

    /// Parses a proof; its header and the checkpoint are split at the first blank line.
    public init(parsing text: String) throws {
        guard let split = text.range(of: "\n\n") else { throw NoteError("a tlog proof has a blank line before its checkpoint") }
        let lines = text[..<split.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(Self.header) else { throw NoteError("a tlog proof starts with \(Self.header)") }
        var rest = lines.dropFirst()
        if rest.first?.hasPrefix("extra ") == true { rest = rest.dropFirst() }
        guard let indexLine = rest.first, indexLine.hasPrefix("index "), let index = Int64(indexLine.dropFirst(6)), index >= 0,
              String(index) == indexLine.dropFirst(6)
        else { throw NoteError("a tlog proof's second line is \"index <leaf index>\"") }
        var path: [Merkle.Hash] = []
        for line in rest.dropFirst() {
            guard let raw = Data(base64Encoded: String(line)), let hash = SHA256Digest(bytes: [UInt8](raw)) else {
                throw NoteError("a hash of the inclusion path is not base64 of 32 bytes")
            }
            path.append(hash)
        }
        guard path.count <= 63 else { throw NoteError("an inclusion path has at most 63 hashes") }
        self.init(index: index, path: path, checkpoint: try SignedNote(parsing: String(text[split.upperBound...])))
    }
}

/// Why a note, key or proof was refused, in words.
public struct NoteError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
