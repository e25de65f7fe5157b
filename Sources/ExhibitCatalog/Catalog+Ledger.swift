public import Custody
public import ExhibitModel

/// The custody ledger's storage: appends in the transaction of the change they record, the head, exports and
/// checkpoints. (The chain, its hashing, seals, signatures and verification are `Custody`'s.)
extension Catalog {
    /// Appends one event inside the current write transaction.
    ///
    /// The ledger table has no secondary index: every index is one more page written (and synced) per append, and
    /// appends are what the ledger does most. Filtered exports scan it in `seq` order instead.
    func append(_ draft: CustodyEvent.Draft, in db: any CatalogSession) throws -> CustodyEvent {
        let head = try db.fetchOne("SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1").map {
            (seq: $0[0] as Int64, hash: $0[1] as String)
        }
        let (event, leafHash) = CustodyEvent.chainedWithLeaf(draft, after: head, at: timestamp)
        try db.execute(
            """
            INSERT INTO custody_events (seq, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash, seal)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [event.seq, event.at, event.actor, event.role, event.action, event.exhibit, event.caseReference, event.detailsJSON,
             event.client, event.prevHash, event.hash, Seal.make(hash: event.hash, key: sealKey)])
        try appendLeaf(event.seq - 1, hash: leafHash, in: db)
        return event
    }

    public func append(_ draft: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in try self.append(draft, in: db) }
    }

    /// Appends many events in one transaction (bulk loads: benchmarks, migrations).
    public func appendBatch(_ drafts: [CustodyEvent.Draft]) async throws {
        try await write { db in
            for draft in drafts { _ = try self.append(draft, in: db) }
        }
    }

    /// The events matching `filter`, in `seq` order, each with its seal: read a page at a time, so memory stays
    /// bounded whatever the size of the ledger, and as of the head when the reading starts (events appended while
    /// it runs are not in it, unless `filter.throughSeq` says otherwise).
    public func events(_ filter: EventFilter, pageSize: Int = 2048) -> CustodyEventPages {
        CustodyEventPages(catalog: self, filter: filter, pageSize: max(1, pageSize))
    }

    /// Feeds every event of the ledger, in `seq` order with its seal, to `verifier`, inside one read of the
    /// database (the whole-ledger check reads each row in place and hands it straight on: half again as fast as
    /// going through pages of events); returns the verifier, fed.
    public func feed(_ verifier: LedgerVerifier) async throws -> LedgerVerifier {
        try await read { db in
            var verifier = verifier
            try db.forEach(Self.ledgerSelect + " ORDER BY seq", []) { row in
                verifier.feed(CatalogRows.event(row), seal: row[11] as String?)
            }
            return verifier
        }
    }

    /// The ledger's columns in the order `CatalogRows.event` reads them, the seal last (column 11).
    static let ledgerSelect =
        "SELECT seq, at, actor, role, action, exhibit, \"case\", details, client, prev_hash, hash, seal FROM custody_events"

    /// Up to `limit` events matching `filter` after `seq`, in order.
    func eventPage(_ filter: EventFilter, after seq: Int64, limit: Int) async throws -> [LedgerRow] {
        var clauses = ["seq > ?"]
        var arguments: [any SQLValueConvertible] = [seq]
        if let caseReference = filter.caseReference {
            clauses.append("\"case\" = ?")
            arguments.append(caseReference)
        }
        if let exhibits = filter.exhibitIDs {
            clauses.append(exhibits.isEmpty ? "1 = 0" : "exhibit IN (\(Self.marks(exhibits.count)))")
            arguments += Self.values(exhibits)
        }
        if let since = filter.since {
            clauses.append("at >= ?")
            arguments.append(since)
        }
        if let until = filter.until {
            clauses.append("at < ?")
            arguments.append(until)
        }
        if let through = filter.throughSeq {
            clauses.append("seq <= ?")
            arguments.append(through)
        }
        arguments.append(Int64(limit))
        let sql = Self.ledgerSelect + " WHERE "
            + clauses.joined(separator: " AND ") + " ORDER BY seq LIMIT ?"
        let bound = arguments
        // Streamed from the statement (rows read in place, not copied first): the ledger's verification reads
        // every event, and copying each row once more made it a third slower.
        return try await read { db in
            var page: [LedgerRow] = []
            page.reserveCapacity(limit)
            try db.forEach(sql, bound) { row in page.append(LedgerRow(event: CatalogRows.event(row), seal: row[11] as String?)) }
            return page
        }
    }

    /// The events with seqs in `seqs`, in order (a bounded range: a tile, a proof's event).
    public func events(seqs: ClosedRange<Int64>) async throws -> [CustodyEvent] {
        try await read { db in
            var events: [CustodyEvent] = []
            try db.forEach(Self.ledgerSelect + " WHERE seq >= ? AND seq <= ? ORDER BY seq", [seqs.lowerBound, seqs.upperBound]) { row in
                events.append(CatalogRows.event(row))
            }
            return events
        }
    }

    public func event(seq: Int64) async throws -> CustodyEvent? {
        try await events(seqs: seq...seq).first
    }

    public func head() async throws -> (seq: Int64, hash: String)? {
        try await read { db in
            try db.fetchOne("SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1").map { (seq: $0[0] as Int64, hash: $0[1] as String) }
        }
    }

    /// What signs a checkpoint: the head's seq, hash and time, and the Merkle root of events 1…seq.
    public typealias CheckpointSigner = @Sendable (_ seq: Int64, _ hash: String, _ at: String, _ root: Merkle.Hash) throws -> Checkpoint

    /// Appends `draft`, then signs the new head with `sign` and stores that checkpoint, in one transaction.
    public func appendAndCheckpoint(_ draft: CustodyEvent.Draft, sign: @escaping CheckpointSigner) async throws -> (CustodyEvent, Checkpoint) {
        try await write { db in
            let event = try self.append(draft, in: db)
            return (event, try self.checkpoint(at: event, sign: sign, in: db))
        }
    }

    /// Signs the head `event` (its chain hash and the Merkle root of events 1…seq) and stores the checkpoint, in
    /// the current write transaction.
    func checkpoint(at event: CustodyEvent, sign: CheckpointSigner, in db: any CatalogSession) throws -> Checkpoint {
        let root = try withNodes(in: db) { node in try Merkle.root(size: event.seq, node) }
        let checkpoint = try sign(event.seq, event.hash, event.at, root)
        try db.execute(
            "INSERT INTO checkpoints (seq, hash, at, key_id, signature, note) VALUES (?, ?, ?, ?, ?, ?)",
            [checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.keyID, checkpoint.signature, checkpoint.note])
        return checkpoint
    }

    static let checkpointSelect = "SELECT id, seq, hash, at, key_id, signature, note FROM checkpoints"

    static func checkpoint(_ row: any CatalogRow, cosignatures: [String] = []) -> Checkpoint {
        var note: String? = row["note"]
        // Witness cosignatures are stored beside the checkpoint (it is append-only) and join its note when read.
        if let text = note, !cosignatures.isEmpty { note = text + cosignatures.joined() }
        return Checkpoint(seq: row["seq"], hash: row["hash"], at: row["at"], keyID: row["key_id"], signature: row["signature"], note: note)
    }

    func cosignatureLines(_ id: Int64, in db: any CatalogSession) throws -> [String] {
        var lines: [String] = []
        try db.forEach("SELECT signature FROM checkpoint_cosignatures WHERE checkpoint_id = ? ORDER BY witness", [id]) { lines.append($0[0]) }
        return lines
    }

    public func latestCheckpoint() async throws -> Checkpoint? {
        try await read { db in
            guard let row = try db.fetchOne(Self.checkpointSelect + " ORDER BY id DESC LIMIT 1") else { return nil }
            return Self.checkpoint(row, cosignatures: try self.cosignatureLines(row["id"], in: db))
        }
    }

    /// The latest checkpoint that carries a signed note (the one tiles and proofs are served against).
    public func latestTreeCheckpoint() async throws -> (id: Int64, checkpoint: Checkpoint)? {
        try await read { db in
            guard let row = try db.fetchOne(Self.checkpointSelect + " WHERE note IS NOT NULL ORDER BY id DESC LIMIT 1") else { return nil }
            return (row["id"], Self.checkpoint(row, cosignatures: try self.cosignatureLines(row["id"], in: db)))
        }
    }

    /// The checkpoint with a signed note at tree size `size` (the latest such).
    public func treeCheckpoint(size: Int64) async throws -> (id: Int64, checkpoint: Checkpoint)? {
        try await read { db in
            guard let row = try db.fetchOne(Self.checkpointSelect + " WHERE note IS NOT NULL AND seq = ? ORDER BY id DESC LIMIT 1", [size]) else { return nil }
            return (row["id"], Self.checkpoint(row, cosignatures: try self.cosignatureLines(row["id"], in: db)))
        }
    }

    /// The tree size of the latest checkpoint `witness` cosigned, by our records.
    public func lastCosignedSize(witness: String) async throws -> Int64? {
        try await read { db in
            try db.scalar(Int64.self, """
                SELECT max(c.seq) FROM checkpoints c JOIN checkpoint_cosignatures w ON w.checkpoint_id = c.id WHERE w.witness = ?
                """, [witness])
        }
    }

    /// Stores a witness's cosignature line of checkpoint `id` (once per witness).
    public func addCosignature(checkpoint id: Int64, witness: String, line: String) async throws {
        let at = timestamp
        try await write { db in
            _ = try db.execute(
                "INSERT INTO checkpoint_cosignatures (checkpoint_id, witness, signature, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [id, witness, line, at])
        }
    }

    public func checkpointSeqs() async throws -> Set<Int64> {
        try await read { db in
            var seqs = Set<Int64>()
            try db.forEach("SELECT seq FROM checkpoints", []) { seqs.insert($0[0] as Int64) }
            return seqs
        }
    }
}

/// The ledger's events as an asynchronous sequence (see `Catalog.events`).
public struct CustodyEventPages: AsyncSequence, Sendable {
    public typealias Element = LedgerRow

    let catalog: Catalog
    let filter: EventFilter
    let pageSize: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        let catalog: Catalog
        var filter: EventFilter
        let pageSize: Int
        var started = false
        var after: Int64 = 0
        /// The page being read, last event first: each is moved out (`popLast`), never copied.
        var page: [Element] = []
        var exhausted = false

        public mutating func next() async throws -> Element? {
            if !started {
                started = true
                // As of now: the head bounds the reading, so a busy ledger cannot keep it going forever.
                if filter.throughSeq == nil { filter.throughSeq = try await catalog.head()?.seq ?? 0 }
            }
            if page.isEmpty {
                guard !exhausted else { return nil }
                page = try await catalog.eventPage(filter, after: after, limit: pageSize)
                exhausted = page.count < pageSize
                guard let last = page.last else { return nil }
                after = last.event.seq
                page.reverse()
            }
            return page.popLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(catalog: catalog, filter: filter, pageSize: pageSize)
    }
}

/// One event of the ledger as stored: the event and its seal. (A struct, not a tuple: arrays of tuples have their
/// type metadata looked up at run time, which cost verification a tenth of its speed.)
public struct LedgerRow: Sendable {
    public let event: CustodyEvent
    public let seal: String?
}
