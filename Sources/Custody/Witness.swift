public import ExhibitCrypto
import Foundation

/// A C2SP tlog-witness (`c2sp.org/tlog-witness`, `add-checkpoint`) for one log: it cosigns a checkpoint only when it
/// extends the last one it cosigned (checked with the consistency proof sent with it), so once it has cosigned a
/// history, no other history of the same size or beyond can get its cosignature. The decisions are here, pure;
/// `exhibit witness serve` keeps the state on disk and speaks HTTP.
public struct WitnessCore: Sendable {
    public let signer: NoteSigner
    public let logKey: NoteVerifierKey

    public init(signer: NoteSigner, logKey: NoteVerifierKey) throws {
        guard signer.type == NoteVerifierKey.cosignatureV1 else { throw NoteError("a witness signs with a cosignature key (type 4)") }
        guard logKey.type == NoteVerifierKey.ed25519 else { throw NoteError("the log's key is an Ed25519 note key (type 1)") }
        self.signer = signer
        self.logKey = logKey
    }

    /// What the witness answers.
    public enum Decision: Sendable, Equatable {
        /// 200: the cosignature line(s) to return, and the checkpoint (with its cosignature) to keep as the latest.
        case cosigned(lines: String, keep: SignedNote)
        /// Any refusal: the HTTP status, the reason, and the body and content type the spec asks for (409).
        case refused(status: Int, reason: String, body: String, contentType: String)

        static func refuse(_ status: Int, _ reason: String) -> Decision {
            .refused(status: status, reason: reason, body: reason + "\n", contentType: "text/plain; charset=utf-8")
        }
    }

    /// Decides on an `add-checkpoint` body (`old <size>`, the consistency proof's hashes, a blank line, the signed
    /// checkpoint), given the latest checkpoint this witness cosigned for the log (nil before the first).
    public func addCheckpoint(_ body: String, latest: SignedNote?, time: UInt64) -> Decision {
        guard body.utf8.count <= 1 << 16, let split = body.range(of: "\n\n") else {
            return .refuse(400, "the body is 'old <size>', the proof's hashes, a blank line and the checkpoint")
        }
        var lines = body[..<split.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard let first = lines.popFirst(), first.hasPrefix("old "), let old = Int64(first.dropFirst(4)), old >= 0,
              String(old) == first.dropFirst(4)
        else { return .refuse(400, "the first line is 'old <size>'") }
        var proof: [Merkle.Hash] = []
        for line in lines {
            guard let raw = Data(base64Encoded: String(line)), let hash = SHA256Digest(bytes: [UInt8](raw)) else {
                return .refuse(400, "a consistency proof hash is not base64 of 32 bytes")
            }
            proof.append(hash)
        }
        guard proof.count <= 63 else { return .refuse(400, "a consistency proof has at most 63 hashes") }
        let note: SignedNote
        let head: TreeHead
        do {
            note = try SignedNote(parsing: String(body[split.upperBound...]))
            head = try TreeHead(parsing: note.text)
        } catch {
            return .refuse(400, "the checkpoint: \(error)")
        }
        guard head.origin == logKey.name else { return .refuse(404, "this witness does not know the log \(head.origin)") }
        do {
            guard try note.check(logKey) != nil else { return .refuse(403, "the checkpoint carries no signature by the log's key") }
        } catch {
            return .refuse(403, "\(error)")
        }
        guard old <= head.size else { return .refuse(400, "old size \(old) is above the checkpoint's \(head.size)") }
        var known = TreeHead(origin: head.origin, size: 0, root: Merkle.emptyRoot)
        if let latest, let parsed = try? TreeHead(parsing: latest.text) { known = parsed }
        guard old == known.size else {
            return .refused(status: 409, reason: "this witness last cosigned \(known.size), not \(old)", body: "\(known.size)\n", contentType: "text/x.tlog.size")
        }
        do {
            try Merkle.verifyConsistency(from: old, to: head.size, fromRoot: known.root, toRoot: head.root, proof: proof)
        } catch {
            return .refuse(422, "the checkpoint does not extend the one this witness cosigned (\(known.size) events): \(error)")
        }
        do {
            let line = try signer.signature(for: note.text, time: time)
            var keep = SignedNote(text: note.text, signatures: note.signatures.filter { $0.name == logKey.name && $0.keyID == logKey.keyID })
            keep.signatures.append(line)
            return .cosigned(lines: line.line, keep: keep)
        } catch {
            return .refuse(500, "cannot sign: \(error)")
        }
    }

    /// The body of an `add-checkpoint` request.
    public static func request(old: Int64, proof: [Merkle.Hash], checkpoint: String) -> String {
        "old \(old)\n" + proof.map { Data($0.bytes).base64EncodedString() + "\n" }.joined() + "\n" + checkpoint
    }
}
