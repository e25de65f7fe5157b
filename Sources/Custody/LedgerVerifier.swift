public import ExhibitCrypto

/// Re-checks a ledger event by event (fed in `seq` order, so any length fits in memory).
///
/// Checks, and what each catches: consecutive `seq` from 1 (a row deleted from the middle); `prev_hash`
/// equal to the previous event's hash (rows swapped or removed); each hash recomputed from the event
/// (a field edited); the latest checkpoint's Ed25519 signature (a forged or altered checkpoint) and that it
/// matches the event at its `seq` (the last rows deleted, or the chain rewritten); and the seal of every
/// event after that checkpoint (a row forged in without the keys).
public struct LedgerVerifier: Sendable {
    public struct Problem: Sendable, Equatable, Codable, CustomStringConvertible {
        public let seq: Int64
        public let what: String
        public var description: String { "seq \(seq): \(what)" }

        public init(seq: Int64, what: String) {
            self.seq = seq
            self.what = what
        }
    }

    public struct Report: Sendable, Codable {
        public var eventsChecked: Int64 = 0
        public var headSeq: Int64 = 0
        public var headHash: String = CustodyEvent.genesisHash
        public var checkpoint: Checkpoint?
        /// The Merkle root of every event read (RFC 9162), in hex.
        public var treeRoot: String = Merkle.emptyRoot.hex
        public var problems: [Problem] = []
        public var notes: [String] = []

        public var isIntact: Bool { problems.isEmpty }
        /// The first broken `seq`, as `verify` names it.
        public var firstBroken: Problem? { problems.min { $0.seq < $1.seq } }

        enum CodingKeys: String, CodingKey {
            case eventsChecked = "events_checked"
            case headSeq = "head_seq"
            case headHash = "head_hash"
            case checkpoint, problems, notes
            case treeRoot = "tree_root"
        }
    }

    private(set) var report = Report()
    private var expectedSeq: Int64 = 1
    private var previousHash = CustodyEvent.genesisHash
    /// Hashes at the seqs of checkpoints, to compare once the checkpoints are known.
    private var hashes: [Int64: String] = [:]
    /// The Merkle tree of the events so far (O(log n) hashes) and its roots at the checkpoints' seqs.
    private var tree = CompactRange()
    private var roots: [Int64: Merkle.Hash] = [:]
    private var sealsToCheck: [(seq: Int64, hash: String, seal: String?)] = []
    private let wantedSeqs: Set<Int64>
    private let sealsFrom: Int64

    /// `checkpointSeqs` are the seqs whose hashes must be remembered (the checkpoints');
    /// seals are checked for events with `seq > sealsAfter` (those no signed checkpoint covers).
    public init(checkpointSeqs: Set<Int64>, sealsAfter: Int64) {
        self.wantedSeqs = checkpointSeqs
        self.sealsFrom = sealsAfter == .max ? .max : sealsAfter + 1
    }

    public mutating func feed(_ event: CustodyEvent, seal: String?) {
        report.eventsChecked += 1
        if event.seq != expectedSeq {
            if event.seq > expectedSeq {
                let range = event.seq - 1 == expectedSeq ? "\(expectedSeq)" : "\(expectedSeq)–\(event.seq - 1)"
                report.problems.append(.init(seq: expectedSeq, what: "missing: the ledger jumps from seq \(expectedSeq - 1) to \(event.seq) (seq \(range) deleted)"))
            } else {
                report.problems.append(.init(seq: event.seq, what: "out of order or repeated after seq \(expectedSeq - 1)"))
            }
        }
        if event.prevHash != previousHash {
            report.problems.append(.init(seq: event.seq, what: "prev_hash \(event.prevHash.prefix(12))… does not match the hash of the event before it (\(previousHash.prefix(12))…): events were removed, reordered or replaced"))
        }
        // The canonical bytes once, hashed twice: into the chain and as the Merkle leaf.
        let canonical = event.canonical
        let recomputed = CustodyEvent.hash(prev: event.prevHash, canonical: canonical)
        if recomputed != event.hash {
            report.problems.append(.init(seq: event.seq, what: "the event does not match its hash: a field was changed after it was written"))
        }
        tree.append(Merkle.leafHash(canonical))
        if wantedSeqs.contains(event.seq) {
            hashes[event.seq] = event.hash
            roots[event.seq] = tree.root
        }
        if event.seq >= sealsFrom { sealsToCheck.append((event.seq, event.hash, seal)) }
        previousHash = event.hash
        expectedSeq = event.seq + 1
        report.headSeq = event.seq
        report.headHash = event.hash
    }

    /// Checks the checkpoint chain and the seals, and returns the report.
    public mutating func finish(latest checkpoint: Checkpoint?, publicKey: Ed25519PublicKey?, sealKey: [UInt8]?) -> Report {
        report.checkpoint = checkpoint
        if let checkpoint {
            if let publicKey {
                if checkpoint.keyID != publicKey.keyID {
                    report.problems.append(.init(seq: checkpoint.seq, what: "the latest checkpoint is signed by key \(checkpoint.keyID), not by this store's custody key \(publicKey.keyID)"))
                } else if !checkpoint.isValid(for: publicKey) {
                    report.problems.append(.init(seq: checkpoint.seq, what: "the signature of the latest checkpoint (\(checkpoint.at)) does not verify"))
                }
            } else {
                report.notes.append("no public key given: the checkpoint signature was not checked")
            }
            if checkpoint.seq > report.headSeq {
                report.problems.append(.init(seq: report.headSeq + 1, what: "missing: the checkpoint of \(checkpoint.at) covers seq \(checkpoint.seq), but the ledger ends at seq \(report.headSeq) (the last events were deleted)"))
            } else if let hash = hashes[checkpoint.seq], hash != checkpoint.hash {
                report.problems.append(.init(seq: checkpoint.seq, what: "the hash differs from the one signed in the checkpoint of \(checkpoint.at)"))
            }
            if let text = checkpoint.note {
                checkNote(text, of: checkpoint, publicKey: publicKey)
            }
        } else if report.headSeq > 0 {
            report.notes.append("no signed checkpoint yet: run `exhibit custody checkpoint`")
        }
        report.treeRoot = tree.root.hex
        if let sealKey {
            for (seq, hash, seal) in sealsToCheck {
                guard let seal, Seal.isValid(seal, hash: hash, key: sealKey) else {
                    report.problems.append(.init(seq: seq, what: "no valid seal, and no signed checkpoint covers it: this event was not written by Exhibit"))
                    continue
                }
            }
        }
        return report
    }

    /// The checkpoint's signed note: it parses, states the tree of events 1…seq with the root they have, and its
    /// log signature (under its origin) verifies with the custody key.
    private mutating func checkNote(_ text: String, of checkpoint: Checkpoint, publicKey: Ed25519PublicKey?) {
        do {
            let note = try SignedNote(parsing: text)
            let head = try TreeHead(parsing: note.text)
            if head.size != checkpoint.seq {
                report.problems.append(.init(seq: checkpoint.seq, what: "the checkpoint's signed note states a tree of \(head.size) events, not \(checkpoint.seq)"))
            } else if let root = roots[checkpoint.seq], root != head.root {
                report.problems.append(.init(seq: checkpoint.seq, what: "the Merkle root signed in the checkpoint of \(checkpoint.at) is not the root of the events: the ledger was rewritten"))
            }
            if let publicKey {
                let key = try Checkpoint.logKey(origin: head.origin, publicKey: publicKey)
                if try note.check(key) == nil {
                    report.problems.append(.init(seq: checkpoint.seq, what: "the checkpoint's signed note carries no signature by the custody key under \(head.origin)"))
                }
            }
        } catch {
            report.problems.append(.init(seq: checkpoint.seq, what: "the checkpoint's signed note: \(error)"))
        }
    }
}
