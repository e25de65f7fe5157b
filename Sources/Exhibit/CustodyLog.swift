public import Custody
import ExhibitCatalog
public import ExhibitModel
import Foundation

/// The custody ledger as a transparency log: its signed checkpoints, inclusion and consistency proofs, and
/// C2SP tiles for auditors who mirror it (README, "Auditing").
extension EvidenceStore {
    /// The latest checkpoint with a signed note, with the cosignatures witnesses returned for it.
    public func latestLogCheckpoint(by actor: Actor) async throws -> Checkpoint {
        try await authorize(actor, .custodyRead, orAnyOf: [.custodyCheckpoint])
        guard let latest = try await catalog.latestTreeCheckpoint() else {
            throw ExhibitError(.notFound, "no checkpoint of the custody log has been signed yet: `exhibit custody checkpoint` signs one")
        }
        return latest.checkpoint
    }

    /// An event's inclusion proof, and the checkpoint it leads to.
    public struct InclusionProof: Sendable {
        public let event: CustodyEvent
        public let treeSize: Int64
        public let path: [Merkle.Hash]
        /// The signed checkpoint at `treeSize`.
        public let checkpoint: Checkpoint

        /// As a C2SP tlog-proof (`c2sp.org/tlog-proof@v1`), when the checkpoint's note parses.
        public var tlogProof: TlogProof? {
            checkpoint.signedNote.map { TlogProof(index: event.seq - 1, path: path, checkpoint: $0) }
        }
    }

    /// The proof that the event with seq `seq` is in the signed checkpoint of `size` events (the latest signed
    /// checkpoint when nil).
    public func proveInclusion(seq: Int64, size: Int64? = nil, by actor: Actor) async throws -> InclusionProof {
        try await authorize(actor, .custodyRead)
        let (_, checkpoint) = try await signedCheckpoint(size: size)
        guard seq >= 1, seq <= checkpoint.seq else {
            throw ExhibitError(.badRequest, "must be an event's seq between 1 and \(checkpoint.seq) (the checkpoint's tree size)", field: "event")
        }
        guard let event = try await catalog.event(seq: seq) else { throw ExhibitError(.notFound, "no event \(seq)") }
        let path = try await catalog.inclusionProof(seq: seq, size: checkpoint.seq)
        return InclusionProof(event: event, treeSize: checkpoint.seq, path: path, checkpoint: checkpoint)
    }

    /// The proof that the signed checkpoint of `from` events is a prefix of the one of `to` events.
    public func proveConsistency(from: Int64, to: Int64, by actor: Actor) async throws -> (proof: [Merkle.Hash], from: Checkpoint, to: Checkpoint) {
        try await authorize(actor, .custodyRead)
        guard from >= 1 else { throw ExhibitError(.badRequest, "must be a checkpoint's tree size, at least 1", field: "from") }
        guard from <= to else { throw ExhibitError(.badRequest, "must not be above to (\(to))", field: "from") }
        let (_, older) = try await signedCheckpoint(size: from, field: "from")
        let (_, newer) = try await signedCheckpoint(size: to, field: "to")
        return (try await catalog.consistencyProof(from: from, to: to), older, newer)
    }

    /// The signed checkpoint at `size` (the latest when nil); 404 naming `field` when none was signed at it.
    func signedCheckpoint(size: Int64?, field: String = "size") async throws -> (Int64, Checkpoint) {
        if let size {
            guard size >= 1 else { throw ExhibitError(.badRequest, "must be a tree size of at least 1", field: field) }
            guard let found = try await catalog.treeCheckpoint(size: size) else {
                throw ExhibitError(.notFound, "no checkpoint was signed at tree size \(size)", field: field)
            }
            return found
        }
        guard let latest = try await catalog.latestTreeCheckpoint() else {
            throw ExhibitError(.notFound, "no checkpoint of the custody log has been signed yet: `exhibit custody checkpoint` signs one")
        }
        return latest
    }

    /// A C2SP tile of the log as of its latest signed checkpoint: hashes (32 bytes each), or an entry bundle
    /// (each event's canonical bytes after its length as a big-endian u16). Tiles reach every case, so only roles
    /// that read the custody record of every case may fetch them; an entry bundle is recorded as an export.
    public func tile(_ path: TilePath, by actor: Actor) async throws -> [UInt8] {
        try await authorize(actor, .custodyRead)
        guard actor.role.scope == .all || actor.isSystem else {
            throw ExhibitError(.forbidden, "the tiles hold every case's custody events: only a role that reads every case's custody record may fetch them")
        }
        let (_, checkpoint) = try await signedCheckpoint(size: nil)
        let size = checkpoint.seq
        let span: Int64 = 1 << (8 * Int64(path.level ?? 0))
        let available = path.level.map { _ in size / span } ?? size
        let first = path.index * Int64(TilePath.width)
        let full = Int64(TilePath.width)
        // A partial tile of width W is served while its first W hashes exist (they never change); a full one once complete.
        guard path.index <= (Int64.max / full) - 1, first + Int64(path.count) <= available else {
            throw ExhibitError(.notFound, "no tile \(path) in the log of \(size) events (its latest signed checkpoint)")
        }
        if let level = path.level {
            let hashes = try await catalog.treeNodes(level: 8 * level, from: first, count: path.count)
            return hashes.flatMap(\.bytes)
        }
        var bytes: [UInt8] = []
        for event in try await catalog.events(seqs: (first + 1)...(first + Int64(path.count))) {
            let canonical = Array(event.canonical.utf8)
            guard canonical.count <= Int(UInt16.max) else {
                throw ExhibitError(.storage, "event \(event.seq) is over 65535 bytes: it does not fit an entry bundle")
            }
            bytes += [UInt8(canonical.count >> 8), UInt8(canonical.count & 0xFF)] + canonical
        }
        _ = try await catalog.append(actor.event(
            .custodyExported, details: ["format": "tile", "tile": .string(path.description), "tree_size": .int(size)]))
        return bytes
    }
}
