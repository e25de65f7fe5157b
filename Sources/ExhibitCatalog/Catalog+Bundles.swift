public import Custody
import ExhibitCrypto
public import ExhibitModel

/// The ledger side of a court bundle: the events it must carry and its `bundle.created` event, decided and
/// signed in one transaction, so no event of the bundle's exhibits can fall between the two.
extension Catalog {
    /// What `appendBundleCreated` decided.
    public struct BundleEvents: Sendable {
        /// The seqs of the events the bundle carries besides its own `bundle.created`, in order.
        public let seqs: [Int64]
        public let created: CustodyEvent
        public let checkpoint: Checkpoint
        /// The tree sizes of the signed checkpoints before this one (those a reader may hold).
        public let earlierCheckpoints: [Int64]
    }

    /// Selects the events of `exhibitIDs` (or, with `caseReference`, of the whole case), appends the
    /// `bundle.created` event `draft` makes from their count, leaf digest and last seq, and signs a checkpoint.
    public func appendBundleCreated(
        exhibitIDs: [ExhibitID], caseReference: String?,
        draft: @escaping @Sendable (_ count: Int, _ leavesSHA256: String, _ throughSeq: Int64) -> CustodyEvent.Draft,
        sign: @escaping CheckpointSigner
    ) async throws -> BundleEvents {
        try await write { db in
            var seqs: [Int64] = []
            var leaves: [Merkle.Hash] = []
            let (clause, arguments): (String, [any SQLValueConvertible]) = if let caseReference {
                ("\"case\" = ?", [caseReference])
            } else {
                (exhibitIDs.isEmpty ? "1 = 0" : "exhibit IN (\(Self.marks(exhibitIDs.count)))", Self.values(exhibitIDs))
            }
            try db.forEach(Self.ledgerSelect + " WHERE " + clause + " ORDER BY seq", arguments) { row in
                let event = CatalogRows.event(row)
                seqs.append(event.seq)
                leaves.append(event.leafHash)
            }
            let created = try self.append(
                draft(seqs.count, CourtBundle.leavesDigest(leaves).hex, seqs.last ?? 0), in: db)
            let checkpoint = try self.checkpoint(at: created, sign: sign, in: db)
            var earlier: [Int64] = []
            try db.forEach("SELECT DISTINCT seq FROM checkpoints WHERE note IS NOT NULL AND seq < ? ORDER BY seq", [created.seq]) {
                earlier.append($0[0])
            }
            return BundleEvents(seqs: seqs, created: created, checkpoint: checkpoint, earlierCheckpoints: earlier)
        }
    }
}
