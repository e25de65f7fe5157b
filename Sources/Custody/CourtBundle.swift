public import ExhibitCrypto
public import Foundation

/// A court bundle: one exhibit's (or one case's) footage and custody events, each event with a C2SP inclusion
/// proof against one signed checkpoint of the custody log, checkable offline by three independent verifiers
/// (README, "Auditing"). The layout, every path relative to the bundle's root:
///
///     manifest.json            what is where (not trusted by the verifiers: every claim is checked)
///     checkpoint               the signed note all proofs lead to (log signature, witness cosignatures)
///     log.vkey                 the log's verifier key (compare it with the one the force publishes)
///     custody.pub.pem          the same key as PEM, for OpenSSL
///     events/<seq>.json        each event's canonical bytes, exactly the Merkle leaf
///     events/<seq>.tlog-proof  its inclusion proof (c2sp.org/tlog-proof@v1)
///     consistency/<size>.txt   proofs that each earlier signed checkpoint is a prefix of this one
///     footage/…, derived/…     the masters, and the working copies made from them
///     report.html, VERIFY.txt, verify_bundle.py, verify_bundle.go, SHA256SUMS
///
/// The binding: the last event is `bundle.created`, written and signed with the checkpoint when the bundle was
/// made. Its details name every exhibit in the bundle with its SHA-256 and size, and the count, last seq and
/// SHA-256 of the concatenated leaf hashes (in seq order) of every other event the bundle must carry. So a
/// changed byte of footage, an edited, dropped or added event, or a proof for another tree fails with a reason.
public enum CourtBundle {
    public static let format = "exhibit-court-bundle"

    /// The manifest: the map of the bundle.
    public struct Manifest: Codable, Sendable {
        public var format = CourtBundle.format
        public var version = 1
        public var createdAt: String
        public var createdBy: String
        public var origin: String
        public var logVkey: String
        public var treeSize: Int64
        public var bundleEvent: Int64
        public var quorum: Int
        public var witnesses: [String]
        public var exhibits: [Exhibit]
        public var events: [Int64]
        public var consistency: [Int64]

        public struct Exhibit: Codable, Sendable {
            public var id: String
            public var reference: String
            public var path: String
            public var sha256: String
            public var size: Int64
            public var derived: Bool

            public init(id: String, reference: String, path: String, sha256: String, size: Int64, derived: Bool) {
                self.id = id
                self.reference = reference
                self.path = path
                self.sha256 = sha256
                self.size = size
                self.derived = derived
            }
        }

        enum CodingKeys: String, CodingKey {
            case format, version, origin, quorum, witnesses, exhibits, events, consistency
            case createdAt = "created_at"
            case createdBy = "created_by"
            case logVkey = "log_vkey"
            case treeSize = "tree_size"
            case bundleEvent = "bundle_event"
        }

        public init(
            createdAt: String, createdBy: String, origin: String, logVkey: String, treeSize: Int64, bundleEvent: Int64, quorum: Int,
            witnesses: [String], exhibits: [Exhibit], events: [Int64], consistency: [Int64]
        ) {
            self.createdAt = createdAt
            self.createdBy = createdBy
            self.origin = origin
            self.logVkey = logVkey
            self.treeSize = treeSize
            self.bundleEvent = bundleEvent
            self.quorum = quorum
            self.witnesses = witnesses
            self.exhibits = exhibits
            self.events = events
            self.consistency = consistency
        }
    }

    public static func eventPath(_ seq: Int64) -> String { "events/" + String(format: "%08lld", seq) + ".json" }
    public static func proofPath(_ seq: Int64) -> String { "events/" + String(format: "%08lld", seq) + ".tlog-proof" }
    public static func consistencyPath(_ size: Int64) -> String { "consistency/\(size).txt" }

    /// SHA-256 of the concatenated leaf hashes, in seq order: what `bundle.created` commits the other events to.
    public static func leavesDigest(_ leaves: [Merkle.Hash]) -> SHA256Digest {
        var hasher = SHA256()
        for leaf in leaves { hasher.update(leaf.bytes) }
        return hasher.finalize()
    }

    /// What checking a bundle found.
    public struct Verification: Sendable {
        public var proved: [String] = []
        public var problems: [String] = []
        public var notes: [String] = []
        public var isIntact: Bool { problems.isEmpty }
    }

    /// Checks a bundle whose files `read` returns (nil for a missing file) and whose footage `hash` streams.
    /// `trusted` is the log's published vkey (else the bundle's own, which proves nothing on its own);
    /// `previous` an earlier signed checkpoint the checker holds (it must be a prefix of the bundle's).
    public static func verify(
        read: (String) throws -> [UInt8]?, hash: (String) throws -> (SHA256Digest, Int64)?, trusted: NoteVerifierKey?,
        previous: SignedNote?, witnesses extraWitnesses: [NoteVerifierKey] = []
    ) -> Verification {
        var result = Verification()
        func text(_ path: String) throws -> String {
            guard let bytes = try read(path) else { throw NoteError("\(path) is missing") }
            return String(decoding: bytes, as: UTF8.self)
        }
        do {
            let manifest = try JSONDecoder().decode(Manifest.self, from: Data(try read("manifest.json") ?? []))
            guard manifest.format == format, manifest.version == 1 else { throw NoteError("manifest.json is not an \(format) of version 1") }
            // 1. The checkpoint, signed by the log's key.
            let bundled = try NoteVerifierKey(parsing: try text("log.vkey"))
            let key = trusted ?? bundled
            if trusted == nil {
                result.notes.append("checked against the bundle's own key \(bundled.vkey): compare it with the key the force publishes")
            } else if trusted != bundled {
                result.notes.append("the bundle's log.vkey is not the trusted key; the trusted key is used")
            }
            let checkpoint = try SignedNote(parsing: try text("checkpoint"))
            let head = try TreeHead(parsing: checkpoint.text)
            guard head.origin == key.name else {
                throw NoteError("the checkpoint is of log \(head.origin), not of \(key.name)")
            }
            guard try checkpoint.check(key) != nil else {
                throw NoteError("the checkpoint is not signed by \(key.name) (key \(key.keyIDHex)): it was signed by another key")
            }
            result.proved.append("the checkpoint (\(head.size) events, root \(head.root.hex.prefix(16))…) is signed by the log key \(key.name)+\(key.keyIDHex)")
            // 2. Witness cosignatures and the quorum.
            // The manifest's witnesses count towards its quorum; every witness the checker names must have cosigned.
            var witnessKeys: [NoteVerifierKey] = []
            for vkey in manifest.witnesses { if let k = try? NoteVerifierKey(parsing: vkey), !witnessKeys.contains(k) { witnessKeys.append(k) } }
            var cosigned: [String] = []
            for witness in witnessKeys where witness.type == NoteVerifierKey.cosignatureV1 {
                if let line = try checkpoint.check(witness) {
                    cosigned.append("\(witness.name) at \(line.cosignatureTime.map { CustodyTime.string(Date(timeIntervalSince1970: Double($0))) } ?? "?")")
                }
            }
            for witness in extraWitnesses where try checkpoint.check(witness) == nil {
                result.problems.append("the witness \(witness.name) did not cosign the checkpoint")
            }
            if cosigned.count < manifest.quorum {
                result.problems.append("the checkpoint carries \(cosigned.count) witness cosignature(s); the policy asks for \(manifest.quorum)")
            } else if !cosigned.isEmpty {
                result.proved.append("witnesses cosigned the checkpoint (each vouches it was shown no other history of the log): " + cosigned.joined(separator: ", "))
            }
            // 3. Every event: its bytes are a leaf of the signed tree.
            var leaves: [Int64: Merkle.Hash] = [:]
            var events: [Int64: JSONValue] = [:]
            for seq in manifest.events {
                guard let bytes = try read(eventPath(seq)) else {
                    result.problems.append("\(eventPath(seq)) is missing")
                    continue
                }
                guard let value = JSONValue.parse(String(decoding: bytes, as: UTF8.self)), case .object(let fields) = value,
                      case .int(let stated)? = fields["seq"]
                else {
                    result.problems.append("\(eventPath(seq)) is not an event")
                    continue
                }
                guard stated == seq else {
                    result.problems.append("\(eventPath(seq)) holds event \(stated): events were reordered or renamed")
                    continue
                }
                let leaf = Merkle.leafHash(bytes)
                do {
                    let proof = try TlogProof(parsing: try text(proofPath(seq)))
                    guard proof.index == seq - 1 else { throw NoteError("it is the proof of leaf \(proof.index), not of event \(seq)") }
                    guard proof.checkpoint.text == checkpoint.text else {
                        throw NoteError("it leads to another checkpoint (\((try? TreeHead(parsing: proof.checkpoint.text).size).map(String.init) ?? "?") events), not the bundle's")
                    }
                    try Merkle.verifyInclusion(index: seq - 1, size: head.size, leafHash: leaf, proof: proof.path, root: head.root)
                } catch {
                    result.problems.append("event \(seq) (\(eventPath(seq))): not proven in the signed log: \(error)")
                    continue
                }
                leaves[seq] = leaf
                events[seq] = value
            }
            // 4. The bundle's creation event binds the events and the footage.
            guard case .object(let created)? = events[manifest.bundleEvent], created["action"] == .string("bundle.created"),
                  case .object(let details)? = created["details"], case .object(let counted)? = details["events"],
                  case .int(let count)? = counted["count"], case .string(let digest)? = counted["leaves_sha256"],
                  case .array(let exhibits)? = details["exhibits"]
            else { throw NoteError("the bundle's bundle.created event (seq \(manifest.bundleEvent)) is missing or not proven") }
            let others = leaves.filter { $0.key != manifest.bundleEvent }.sorted { $0.key < $1.key }
            if Int64(others.count) != count || leavesDigest(others.map(\.value)).hex != digest {
                result.problems.append("the bundle holds \(others.count) proven events of its exhibits; its bundle.created event (seq \(manifest.bundleEvent), in the signed log) says \(count) with leaf digest \(digest.prefix(16))…: an event was dropped, added or changed")
            } else {
                result.proved.append("the \(count) custody event(s) of the bundle's exhibits up to its creation are all present and unchanged, each in the signed log")
            }
            // 5. The footage: each file's SHA-256 is the one the signed log records.
            for case .object(let exhibit) in exhibits {
                guard case .string(let id)? = exhibit["id"], case .string(let sha)? = exhibit["sha256"], case .int(let size)? = exhibit["size"] else { continue }
                let reference = exhibit["reference"].flatMap { if case .string(let r) = $0 { r } else { nil } } ?? id
                guard let entry = manifest.exhibits.first(where: { $0.id == id }) else {
                    result.problems.append("exhibit \(reference) (\(id)) is named by the log but not by the manifest")
                    continue
                }
                guard let (actual, actualSize) = try hash(entry.path) else {
                    result.problems.append("\(entry.path) (exhibit \(reference)) is missing")
                    continue
                }
                if actual.hex != sha || actualSize != size {
                    result.problems.append("\(entry.path) (exhibit \(reference)): SHA-256 \(actual.hex) (\(actualSize) bytes) is not the \(sha) (\(size) bytes) the signed log records: the footage was changed")
                } else {
                    result.proved.append("\(entry.path) is exhibit \(reference) byte for byte (SHA-256 \(sha))\(entry.derived ? ", a working copy derived from its master" : "")")
                }
            }
            // 6. An earlier checkpoint the checker holds is a prefix of this one: the history was not rewritten.
            if let previous {
                let old = try TreeHead(parsing: previous.text)
                guard old.origin == head.origin else { throw NoteError("the earlier checkpoint is of log \(old.origin), not \(head.origin)") }
                guard try previous.check(key) != nil else { throw NoteError("the earlier checkpoint is not signed by \(key.name)") }
                if old.size > head.size {
                    result.problems.append("the earlier checkpoint (\(old.size) events) is larger than the bundle's (\(head.size)): the bundle is older than it")
                } else {
                    do {
                        var proof: [Merkle.Hash] = []
                        if old.size > 0 && old.size < head.size {
                            let lines = try text(consistencyPath(old.size)).split(separator: "\n").dropFirst()
                            proof = try lines.map { line in
                                guard let raw = Data(base64Encoded: String(line)), let h = SHA256Digest(bytes: [UInt8](raw)) else { throw NoteError("a hash of the consistency proof is not base64 of 32 bytes") }
                                return h
                            }
                        }
                        try Merkle.verifyConsistency(from: old.size, to: head.size, fromRoot: old.root, toRoot: head.root, proof: proof)
                        result.proved.append("the log at the earlier checkpoint (\(old.size) events) is a prefix of the bundle's: nothing before it was rewritten")
                    } catch {
                        result.problems.append("the bundle's log is not an extension of the earlier checkpoint (\(old.size) events): \(error)")
                    }
                }
            }
        } catch {
            result.problems.append("\(error)")
        }
        return result
    }

    /// What the proofs cannot show, for every report.
    public static let limits = [
        "that no custody event of these exhibits was written after the bundle was made (fetch a newer checkpoint and a consistency proof)",
        "that the events' times are true: they are the store's clock; a witness cosignature bounds only when the checkpoint existed",
        "who held the footage before it was uploaded, or whether the recorder's clock was right (see the exhibit's coverage and clock offset)",
    ]
}
