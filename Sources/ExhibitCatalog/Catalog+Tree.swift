public import Custody
public import ExhibitCrypto
import ExhibitModel
import NIOCore

/// The ledger's Merkle tree in the catalog (`custody_tree`): every complete subtree's hash, keyed by its place in
/// the order appends create them (`Merkle.NodeID.storedIndex`), written in the transaction of the event that
/// completes it. A root, an inclusion proof or a consistency proof of any size reads O(log n) nodes, in one query.
extension Catalog {
    /// Adds leaf `index` (the event with seq `index + 1`) and the parents it completes. One query reads the left
    /// siblings and the previous leaf: a tree behind the ledger (a catalog upgraded to v11) is brought up first.
    func appendLeaf(_ index: Int64, hash: Merkle.Hash, in db: any CatalogSession) throws {
        let completed = Merkle.nodesCompleted(byLeaf: index)
        var wanted = completed.dropFirst().compactMap { $0.children?.0 }
        let previous = Merkle.NodeID(level: 0, index: index - 1)
        if index > 0 && !wanted.contains(previous) { wanted.append(previous) }
        var stored = try nodes(wanted, in: db)
        if index > 0 && stored[previous] == nil {
            try growTree(in: db, to: index)
            stored = try nodes(wanted, in: db)
        }
        var values: [any SQLValueConvertible] = [completed[0].node.storedIndex, Self.bytes(hash)]
        var current = hash
        for (node, children) in completed.dropFirst() {
            guard let left = children?.0, let leftHash = stored[left] else {
                throw ExhibitError(.storage, "the custody tree lacks the node left of \(node): run `exhibit custody verify`")
            }
            current = Merkle.nodeHash(leftHash, current)
            values += [node.storedIndex, Self.bytes(current)]
        }
        let rows = Array(repeating: "(?, ?)", count: values.count / 2).joined(separator: ", ")
        _ = try db.execute("INSERT INTO custody_tree (n, hash) VALUES " + rows, values)
    }

    static func bytes(_ hash: Merkle.Hash) -> ByteBuffer { ByteBuffer(bytes: hash.bytes) }

    /// The stored hashes of `ids` (those stored; a missing one is absent from the answer).
    func nodes(_ ids: [Merkle.NodeID], in db: any CatalogSession) throws -> [Merkle.NodeID: Merkle.Hash] {
        guard !ids.isEmpty else { return [:] }
        var byIndex: [Int64: Merkle.NodeID] = [:]
        for id in ids { byIndex[id.storedIndex] = id }
        var found: [Merkle.NodeID: Merkle.Hash] = [:]
        try db.forEach("SELECT n, hash FROM custody_tree WHERE n IN (\(Self.marks(byIndex.count)))", Array(byIndex.keys)) { row in
            let buffer = row.value(at: 1)
            guard let id = byIndex[Int64.read(row.value(at: 0))], case .blob(let bytes) = buffer,
                  let hash = SHA256Digest(bytes: bytes.readableBytesView)
            else { return }
            found[id] = hash
        }
        return found
    }

    /// Runs `body` (a root or proof computation) over stored nodes, reading all it needs in one query.
    func withNodes<T>(in db: any CatalogSession, _ body: ((Merkle.NodeID) throws -> Merkle.Hash) throws -> T) throws -> T {
        do {
            return try Merkle.withStoredNodes(fetch: { try self.nodes($0, in: db) }, body)
        } catch let error as MerkleError where error.missing != nil {
            throw ExhibitError(.storage, "\(error): run `exhibit custody verify`")
        }
    }

    /// How many leaves the stored tree has.
    func treeSize(in db: any CatalogSession) throws -> Int64 {
        let count = (try db.scalar(Int64.self, "SELECT max(n) FROM custody_tree")).map { $0 + 1 } ?? 0
        guard let leaves = Merkle.leaves(storedCount: count) else {
            throw ExhibitError(.storage, "the custody tree ends part-way through a leaf's nodes (\(count) nodes)")
        }
        return leaves
    }

    /// Brings the tree up to `head` leaves: once, after the upgrade to schema v11 (the ledger's earlier events get
    /// their leaves), and never again while every append adds its own. Inside the append's transaction.
    func growTree(in db: any CatalogSession, to head: Int64) throws {
        var size = try treeSize(in: db)
        guard size < head else { return }
        while size < head {
            var page: [(Int64, Merkle.Hash)] = []
            try db.forEach(Self.ledgerSelect + " WHERE seq > ? AND seq <= ? ORDER BY seq", [size, min(head, size + 4096)]) { row in
                let event = CatalogRows.event(row)
                page.append((event.seq - 1, Merkle.leafHash(event.canonical)))
            }
            guard let last = page.last, page.first?.0 == size else {
                throw ExhibitError(.storage, "the ledger has no event with seq \(size + 1): run `exhibit custody verify`")
            }
            for (index, hash) in page { try appendLeaf(index, hash: hash, in: db) }
            size = last.0 + 1
        }
    }

    /// Re-derives every stored node of the tree of events 1…`head` from the events, a page at a time (memory
    /// bounded whatever the ledger's length); returns the seq of the first event whose nodes differ from the
    /// stored ones, nil when all agree. Throws when the stored tree does not reach `head` yet.
    public func firstTreeMismatch(through head: Int64) async throws -> Int64? {
        var range = CompactRange()
        var seq: Int64 = 0
        while seq < head {
            let from = seq
            let upper = min(head, seq + 4096)
            let low = Merkle.storedCount(leaves: from)
            let high = Merkle.storedCount(leaves: upper)
            let (leaves, stored) = try await read { db -> ([Merkle.Hash], [SHA256Digest?]) in
                var leaves: [Merkle.Hash] = []
                try db.forEach(Self.ledgerSelect + " WHERE seq > ? AND seq <= ? ORDER BY seq", [from, upper]) { row in
                    leaves.append(CatalogRows.event(row).leafHash)
                }
                var stored: [SHA256Digest?] = []
                try db.forEach("SELECT n, hash FROM custody_tree WHERE n >= ? AND n < ? ORDER BY n", [low, high]) { row in
                    guard Int64.read(row.value(at: 0)) == low + Int64(stored.count) else { return }
                    if case .blob(let bytes) = row.value(at: 1) { stored.append(SHA256Digest(bytes: bytes.readableBytesView)) } else { stored.append(nil) }
                }
                return (leaves, stored)
            }
            guard stored.count == Int(high - low) else {
                throw ExhibitError(.notFound, "the stored Merkle tree does not reach seq \(upper) yet (the next append completes it)")
            }
            var n = 0
            for (i, leaf) in leaves.enumerated() {
                for expected in range.appendReturningNodes(leaf) {
                    if stored[n] != expected { return from + Int64(i) + 1 }
                    n += 1
                }
            }
            seq = upper
        }
        return nil
    }

    /// The root of the first `size` events.
    public func treeRoot(size: Int64) async throws -> Merkle.Hash {
        try await read { db in try self.withNodes(in: db) { node in try Merkle.root(size: size, node) } }
    }

    /// The inclusion proof of the event with seq `seq` in the tree of the first `size` events.
    public func inclusionProof(seq: Int64, size: Int64) async throws -> [Merkle.Hash] {
        try await read { db in
            try self.checkSize(size, in: db)
            return try self.withNodes(in: db) { node in try Merkle.inclusionProof(index: seq - 1, size: size, node) }
        }
    }

    /// The proof that the tree of `from` events is a prefix of the tree of `to` events.
    public func consistencyProof(from: Int64, to: Int64) async throws -> [Merkle.Hash] {
        try await read { db in
            try self.checkSize(to, in: db)
            return try self.withNodes(in: db) { node in try Merkle.consistencyProof(from: from, to: to, node) }
        }
    }

    /// The stored hashes at Merkle `level` from `index`, `count` of them (a C2SP tile's contents), in order.
    public func treeNodes(level: Int, from index: Int64, count: Int) async throws -> [Merkle.Hash] {
        try await read { db in
            let ids = (0..<Int64(count)).map { Merkle.NodeID(level: level, index: index + $0) }
            let stored = try self.nodes(ids, in: db)
            return try ids.map { id in
                guard let hash = stored[id] else { throw ExhibitError(.notFound, "no node \(id) in the custody tree") }
                return hash
            }
        }
    }

    func checkSize(_ size: Int64, in db: any CatalogSession) throws {
        let stored = try treeSize(in: db)
        guard size <= stored else { throw ExhibitError(.notFound, "the custody log has \(stored) events, not \(size)", field: "size") }
    }
}
