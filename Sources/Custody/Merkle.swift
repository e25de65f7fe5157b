public import ExhibitCrypto
public import Foundation

/// The custody ledger as an RFC 9162 (RFC 6962) Merkle tree: leaf `i` is the event with seq `i + 1`, its leaf hash
/// SHA-256(0x00 ‖ the event's canonical bytes), an inner node SHA-256(0x01 ‖ left ‖ right), the root of `n` leaves
/// split at the largest power of two below `n` (never at n/2, never padded).
///
/// The tree is stored as the hash of every *complete* subtree: node (level ℓ, index i) covers leaves
/// [i·2^ℓ, (i+1)·2^ℓ). Appending a leaf adds it and the parents it completes (two rows per event on average), and
/// any root, inclusion proof or consistency proof of any size reads O(log n) of those nodes: the functions here ask
/// for them through `node`, and `Merkle.nodesNeeded` lists them first so a database can fetch them in one query.
public enum Merkle {
    public typealias Hash = SHA256Digest

    /// A complete subtree: `level` 0 is a leaf.
    public struct NodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
        public let level: Int
        public let index: Int64

        public init(level: Int, index: Int64) {
            self.level = level
            self.index = index
        }

        /// Its position in the order nodes are stored as leaves are appended (Go's `tlog.StoredHashIndex`): the
        /// leaf that completes it, then the parents that leaf completes, bottom up. A single integer key.
        public var storedIndex: Int64 {
            let lastLeaf = ((index + 1) << level) - 1
            return Merkle.storedCount(leaves: lastLeaf) + Int64(level)
        }

        public static func < (lhs: NodeID, rhs: NodeID) -> Bool { (lhs.level, lhs.index) < (rhs.level, rhs.index) }
        public var description: String { "\(level)/\(index)" }
    }

    /// How many nodes the stored tree of `leaves` leaves holds: 2n − popcount(n) (each leaf, and each complete
    /// subtree above the leaves).
    public static func storedCount(leaves: Int64) -> Int64 { 2 * leaves - Int64(leaves.nonzeroBitCount) }

    /// The number of leaves whose stored tree holds `count` nodes; nil when no tree holds exactly that many.
    public static func leaves(storedCount count: Int64) -> Int64? {
        guard count > 0 else { return count == 0 ? 0 : nil }
        var n = count / 2
        while storedCount(leaves: n) < count { n += 1 }
        return storedCount(leaves: n) == count ? n : nil
    }

    /// SHA-256 of nothing: the root of the empty tree.
    public static let emptyRoot = SHA256.hash([UInt8]())

    public static func leafHash(_ bytes: some ContiguousBytes) -> Hash {
        var hasher = SHA256()
        hasher.update([0x00] as [UInt8])
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func leafHash(_ text: String) -> Hash {
        var hasher = SHA256()
        hasher.update([0x00] as [UInt8])
        hasher.update(text)
        return hasher.finalize()
    }

    /// SHA-256(0x01 ‖ left ‖ right), the 65 bytes on the stack.
    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            guard let base = buffer.baseAddress else { return emptyRoot }
            base.storeBytes(of: 0x01, as: UInt8.self)
            left.store(to: base + 1)
            right.store(to: base + 33)
            return SHA256.hash(UnsafeRawBufferPointer(buffer))
        }
    }

    /// The nodes that become complete when leaf `index` is appended, bottom up, each with its two children (nil for
    /// the leaf itself): the leaf, then its parent if `index` is odd, and so on while the subtree closes.
    public static func nodesCompleted(byLeaf index: Int64) -> [(node: NodeID, children: (NodeID, NodeID)?)] {
        var result: [(NodeID, (NodeID, NodeID)?)] = [(NodeID(level: 0, index: index), nil)]
        var level = 0
        var i = index
        while i & 1 == 1 {
            let parent = NodeID(level: level + 1, index: i >> 1)
            result.append((parent, (NodeID(level: level, index: i - 1), NodeID(level: level, index: i))))
            level += 1
            i >>= 1
        }
        return result
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func split(_ n: Int64) -> Int64 {
        var k: Int64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[start:end]) from stored nodes: one read when the range is a complete subtree, else split as the RFC does.
    static func subtree(_ start: Int64, _ end: Int64, _ node: (NodeID) throws -> Hash) rethrows -> Hash {
        let size = end - start
        if size & (size - 1) == 0 {
            let level = size.trailingZeroBitCount
            return try node(NodeID(level: level, index: start >> level))
        }
        let k = split(size)
        return nodeHash(try subtree(start, start + k, node), try subtree(start + k, end, node))
    }

    /// The root of the first `size` leaves.
    public static func root(size: Int64, _ node: (NodeID) throws -> Hash) rethrows -> Hash {
        size == 0 ? emptyRoot : try subtree(0, size, node)
    }

    /// PATH(m, D[n]) of RFC 6962 §2.1.1: the inclusion proof of leaf `index` in the tree of `size` leaves, from the
    /// leaf's sibling up to the root's child.
    public static func inclusionProof(index: Int64, size: Int64, _ node: (NodeID) throws -> Hash) throws -> [Hash] {
        guard index >= 0, index < size else { throw MerkleError("leaf \(index) is not in a tree of \(size) leaves") }
        var proof: [Hash] = []
        func path(_ m: Int64, _ start: Int64, _ end: Int64) throws {
            let n = end - start
            guard n > 1 else { return }
            let k = split(n)
            if m < k {
                try path(m, start, start + k)
                proof.append(try subtree(start + k, end, node))
            } else {
                try path(m - k, start + k, end)
                proof.append(try subtree(start, start + k, node))
            }
        }
        try path(index, 0, size)
        return proof
    }

    /// PROOF(m, D[n]) of RFC 6962 §2.1.2: that the tree of `from` leaves is a prefix of the tree of `to` leaves.
    /// Empty when `from` is 0 or equals `to` (the C2SP tlog-witness conventions).
    public static func consistencyProof(from m: Int64, to n: Int64, _ node: (NodeID) throws -> Hash) throws -> [Hash] {
        guard m >= 0, m <= n else { throw MerkleError("a tree of \(m) leaves cannot be a prefix of one of \(n)") }
        guard m > 0, m < n else { return [] }
        var proof: [Hash] = []
        func sub(_ m: Int64, _ start: Int64, _ end: Int64, _ whole: Bool) throws {
            let n = end - start
            if m == n {
                if !whole { proof.append(try subtree(start, end, node)) }
                return
            }
            let k = split(n)
            if m <= k {
                try sub(m, start, start + k, whole)
                proof.append(try subtree(start + k, end, node))
            } else {
                try sub(m - k, start + k, end, false)
                proof.append(try subtree(start, start + k, node))
            }
        }
        try sub(m, 0, n, true)
        return proof
    }

    /// The stored nodes `body` reads, in order, without their hashes. (The computations never branch on a hash's
    /// value, so a run with placeholder hashes reads the same nodes as the real one.)
    public static func nodesNeeded(_ body: ((NodeID) throws -> Hash) throws -> Void) rethrows -> [NodeID] {
        var needed: [NodeID] = []
        var seen = Set<NodeID>()
        try body { id in
            if seen.insert(id).inserted { needed.append(id) }
            return emptyRoot
        }
        return needed
    }

    /// Runs `body` (a root or a proof) over stored nodes that `fetch` reads all at once: `body` runs first with
    /// placeholder hashes to learn which nodes it needs (one query instead of one per node), then for real.
    public static func withStoredNodes<T>(
        fetch: ([NodeID]) throws -> [NodeID: Hash], _ body: ((NodeID) throws -> Hash) throws -> T
    ) throws -> T {
        var needed = Set<NodeID>()
        _ = try body { id in
            needed.insert(id)
            return emptyRoot
        }
        let stored = try fetch(Array(needed))
        return try body { id in
            guard let hash = stored[id] else { throw MerkleError("the stored tree lacks node \(id)", missing: id) }
            return hash
        }
    }

    // MARK: Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)

    /// Checks that `leafHash` is leaf `index` of the tree of `size` leaves whose root is `root`.
    public static func verifyInclusion(index: Int64, size: Int64, leafHash: Hash, proof: [Hash], root: Hash) throws {
        guard index >= 0, index < size else { throw MerkleError("leaf index \(index) is not below the tree size \(size)") }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw MerkleError("the inclusion proof is longer than the tree is deep") }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw MerkleError("the inclusion proof is shorter than the tree is deep") }
        guard r == root else { throw MerkleError("the inclusion proof does not lead to the root: the entry or the proof was changed, or it is for another tree") }
    }

    /// Checks that the tree of `from` leaves with root `fromRoot` is a prefix of the tree of `to` leaves with root
    /// `toRoot`. A size of 0 is a prefix of anything (empty proof, root SHA-256 of nothing); equal sizes need equal
    /// roots and an empty proof.
    public static func verifyConsistency(from m: Int64, to n: Int64, fromRoot: Hash, toRoot: Hash, proof: [Hash]) throws {
        guard m >= 0, m <= n else { throw MerkleError("the older tree (\(m)) is larger than the newer (\(n))") }
        if m == 0 {
            guard proof.isEmpty, fromRoot == emptyRoot else { throw MerkleError("an empty tree's proof is empty and its root is SHA-256 of nothing") }
            return
        }
        if m == n {
            guard proof.isEmpty else { throw MerkleError("equal tree sizes need an empty consistency proof") }
            guard fromRoot == toRoot else { throw MerkleError("two different roots for the same tree size \(n): the log forked") }
            return
        }
        guard !proof.isEmpty else { throw MerkleError("the consistency proof is empty") }
        var path = proof
        if m & (m - 1) == 0 { path.insert(fromRoot, at: 0) }
        var fn = m - 1
        var sn = n - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw MerkleError("the consistency proof is longer than the trees are deep") }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw MerkleError("the consistency proof is shorter than the trees are deep") }
        guard fr == fromRoot else { throw MerkleError("the consistency proof does not lead to the older root") }
        guard sr == toRoot else { throw MerkleError("the newer tree does not extend the older one: history was rewritten between the two checkpoints") }
    }
}

/// The root of a growing tree kept in O(log n) memory: the hashes of its largest complete subtrees, left to
/// right (RFC 9162's "compact range"). For re-computing a ledger's root while reading it once, in order.
public struct CompactRange: Sendable {
    struct Subtree: Sendable {
        let size: Int64
        let hash: Merkle.Hash
    }

    private var subtrees: [Subtree] = []
    public private(set) var size: Int64 = 0

    public init() {}

    /// Adds a leaf.
    public mutating func append(_ leafHash: Merkle.Hash) {
        append(leafHash) { _ in }
    }

    /// Adds a leaf; returns the nodes it completes, the leaf first, in the order the catalog stores them.
    public mutating func appendReturningNodes(_ leafHash: Merkle.Hash) -> [Merkle.Hash] {
        var completed: [Merkle.Hash] = []
        append(leafHash) { completed.append($0) }
        return completed
    }

    /// Adds a leaf, handing each node it completes (the leaf first) to `completed`.
    public mutating func append(_ leafHash: Merkle.Hash, _ completed: (Merkle.Hash) -> Void) {
        var hash = leafHash
        completed(hash)
        var nodeSize: Int64 = 1
        while let last = subtrees.last, last.size == nodeSize {
            subtrees.removeLast()
            hash = Merkle.nodeHash(last.hash, hash)
            completed(hash)
            nodeSize <<= 1
        }
        subtrees.append(Subtree(size: nodeSize, hash: hash))
        size += 1
    }

    public var root: Merkle.Hash {
        guard var root = subtrees.last?.hash else { return Merkle.emptyRoot }
        for subtree in subtrees.dropLast().reversed() { root = Merkle.nodeHash(subtree.hash, root) }
        return root
    }
}

/// Why a Merkle computation or proof check failed, in words.
public struct MerkleError: Error, CustomStringConvertible, Equatable {
    public let description: String
    /// The stored node that was not there, when that is the reason.
    public let missing: Merkle.NodeID?

    public init(_ description: String, missing: Merkle.NodeID? = nil) {
        self.description = description
        self.missing = missing
    }
}
