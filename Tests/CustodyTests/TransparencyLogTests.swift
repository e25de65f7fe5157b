import Custody
import ExhibitCrypto
import Foundation
import Testing

/// The ledger's Merkle tree, signed notes and proofs against published vectors: transparency-dev/merkle's
/// `testonly/constants.go` and `proof/verify_test.go` (RFC 6962 trees of the eight classic leaves), C2SP
/// signed-note's example, Go's `sumdb/note` PeterNeumann and EnochRoot notes, and transparency-dev/formats'
/// cosignature timestamp.
@Suite struct TransparencyLogTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    static func digest(_ text: String) -> Merkle.Hash { SHA256Digest(hex: text) ?? Merkle.emptyRoot }

    static let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex)
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ].map(digest)

    /// Every complete subtree of `leaves`, as the catalog stores them (built by `nodesCompleted`).
    static func store(_ leaves: [[UInt8]]) -> [Merkle.NodeID: Merkle.Hash] {
        var nodes: [Merkle.NodeID: Merkle.Hash] = [:]
        for (i, leaf) in leaves.enumerated() {
            for (node, children) in Merkle.nodesCompleted(byLeaf: Int64(i)) {
                if let (left, right) = children {
                    nodes[node] = Merkle.nodeHash(nodes[left] ?? Merkle.emptyRoot, nodes[right] ?? Merkle.emptyRoot)
                } else {
                    nodes[node] = Merkle.leafHash(leaf)
                }
            }
        }
        return nodes
    }

    static func reader(_ nodes: [Merkle.NodeID: Merkle.Hash]) -> (Merkle.NodeID) throws -> Merkle.Hash {
        { id in
            guard let hash = nodes[id] else { throw MerkleError("node \(id) is not stored") }
            return hash
        }
    }

    @Test func rootsOfEveryPrefixMatchTheVectors() throws {
        let nodes = Self.store(Self.leaves)
        for size in 0...8 {
            let root = try Merkle.root(size: Int64(size), Self.reader(nodes))
            #expect(root == Self.roots[size], "the root of the first \(size) leaves is \(root.hex), not \(Self.roots[size].hex)")
        }
        #expect(nodes[Merkle.NodeID(level: 1, index: 2)]?.hex == "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "the stored node 1/2")
        #expect(nodes.count == 15, "eight leaves store 15 complete subtrees, not \(nodes.count)")
        // A compact range over the same leaves gives the same roots.
        var range = CompactRange()
        for (i, leaf) in Self.leaves.enumerated() {
            range.append(Merkle.leafHash(leaf))
            #expect(range.root == Self.roots[i + 1], "the compact range's root of \(i + 1) leaves")
        }
    }

    /// Nodes get consecutive integer keys in the order appending creates them (the catalog's `custody_tree.n`).
    @Test func storedIndexesFollowTheOrderOfCreation() {
        var expected: Int64 = 0
        for leaf in Int64(0)..<1000 {
            for (node, _) in Merkle.nodesCompleted(byLeaf: leaf) {
                #expect(node.storedIndex == expected, "node \(node) is stored at \(node.storedIndex), not \(expected)")
                expected += 1
            }
            #expect(Merkle.storedCount(leaves: leaf + 1) == expected, "the count of nodes of \(leaf + 1) leaves")
            #expect(Merkle.leaves(storedCount: expected) == leaf + 1, "the leaves of \(expected) stored nodes")
        }
        #expect(Merkle.leaves(storedCount: 2) == nil, "no tree stores exactly 2 nodes")
    }

    @Test func inclusionProofsMatchTheVectorsAndResistEveryMutation() throws {
        let nodes = Self.store(Self.leaves)
        let vectors: [(leaf: Int64, size: Int64, proof: [String])] = [
            (0, 1, []),
            (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
            (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
            (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        ]
        for vector in vectors {
            let proof = try Merkle.inclusionProof(index: vector.leaf, size: vector.size, Self.reader(nodes))
            #expect(proof.map(\.hex) == vector.proof, "the proof of leaf \(vector.leaf) in \(vector.size)")
            let leaf = Merkle.leafHash(Self.leaves[Int(vector.leaf)])
            let root = Self.roots[Int(vector.size)]
            try Merkle.verifyInclusion(index: vector.leaf, size: vector.size, leafHash: leaf, proof: proof, root: root)
            // The mutations of transparency-dev/merkle's corruptInclusionProof: each must fail.
            var probes: [(String, Int64, Int64, Merkle.Hash, [Merkle.Hash], Merkle.Hash)] = [
                ("index - 1", vector.leaf - 1, vector.size, leaf, proof, root),
                ("index + 1", vector.leaf + 1, vector.size, leaf, proof, root),
                ("index ^ 2", vector.leaf ^ 2, vector.size, leaf, proof, root),
                ("size * 2", vector.leaf, vector.size * 2, leaf, proof, root),
                ("size / 2", vector.leaf, vector.size / 2, leaf, proof, root),
                ("wrong leaf", vector.leaf, vector.size, Merkle.leafHash("WrongLeaf"), proof, root),
                ("empty root", vector.leaf, vector.size, leaf, proof, Merkle.emptyRoot),
                ("trailing root", vector.leaf, vector.size, leaf, proof + [root], root),
                ("preceding root", vector.leaf, vector.size, leaf, [root] + proof, root),
            ]
            for i in proof.indices {
                var bytes = proof[i].bytes
                bytes[0] ^= 8
                var changed = proof
                changed[i] = SHA256Digest(bytes: bytes) ?? root
                probes.append(("proof[\(i)] bit 3", vector.leaf, vector.size, leaf, changed, root))
            }
            if !proof.isEmpty { probes.append(("removed component", vector.leaf, vector.size, leaf, Array(proof.dropLast()), root)) }
            for (name, index, size, leafHash, proof, root) in probes where !(index == vector.leaf && size == vector.size && proof.isEmpty && leafHash == root) {
                #expect(throws: MerkleError.self, "the mutation \(name) of leaf \(vector.leaf) in \(vector.size) verified") {
                    try Merkle.verifyInclusion(index: index, size: size, leafHash: leafHash, proof: proof, root: root)
                }
            }
        }
    }

    @Test func consistencyProofsMatchTheVectorsAndResistEveryMutation() throws {
        let nodes = Self.store(Self.leaves)
        let vectors: [(Int64, Int64, [String])] = [
            (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
            (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
            (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
            (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        ]
        for (m, n, expected) in vectors {
            let proof = try Merkle.consistencyProof(from: m, to: n, Self.reader(nodes))
            #expect(proof.map(\.hex) == expected, "the consistency proof \(m) → \(n)")
            let (r1, r2) = (Self.roots[Int(m)], Self.roots[Int(n)])
            try Merkle.verifyConsistency(from: m, to: n, fromRoot: r1, toRoot: r2, proof: proof)
            var probes: [(String, Int64, Int64, Merkle.Hash, Merkle.Hash, [Merkle.Hash])] = [
                ("size1 - 1", m - 1, n, r1, r2, proof), ("size1 + 1", m + 1, n, r1, r2, proof), ("size1 ^ 2", m ^ 2, n, r1, r2, proof),
                ("size2 * 2", m, n * 2, r1, r2, proof), ("size2 / 2", m, n / 2, r1, r2, proof),
                ("swapped roots", m, n, r2, r1, proof), ("empty proof", m, n, r1, r2, []),
                ("trailing root2", m, n, r1, r2, proof + [r2]), ("preceding root1", m, n, r1, r2, [r1] + proof),
                ("preceding proof[0]", m, n, r1, r2, [proof[0]] + proof), ("truncated", m, n, r1, r2, Array(proof.dropLast())),
            ]
            for i in proof.indices {
                var bytes = proof[i].bytes
                bytes[0] ^= 16
                var changed = proof
                changed[i] = SHA256Digest(bytes: bytes) ?? r1
                probes.append(("proof[\(i)] bit 4", m, n, r1, r2, changed))
            }
            for (name, a, b, x, y, p) in probes {
                #expect(throws: MerkleError.self, "the mutation \(name) of \(m) → \(n) verified") {
                    try Merkle.verifyConsistency(from: a, to: b, fromRoot: x, toRoot: y, proof: p)
                }
            }
        }
        // The edge cases, by the C2SP tlog-witness conventions.
        try Merkle.verifyConsistency(from: 0, to: 5, fromRoot: Merkle.emptyRoot, toRoot: Self.roots[5], proof: [])
        try Merkle.verifyConsistency(from: 5, to: 5, fromRoot: Self.roots[5], toRoot: Self.roots[5], proof: [])
        #expect(throws: MerkleError.self, "equal sizes, different roots") {
            try Merkle.verifyConsistency(from: 5, to: 5, fromRoot: Self.roots[5], toRoot: Self.roots[6], proof: [])
        }
        #expect(throws: MerkleError.self, "size 0 with a root that is not SHA-256 of nothing") {
            try Merkle.verifyConsistency(from: 0, to: 5, fromRoot: Self.roots[1], toRoot: Self.roots[5], proof: [])
        }
    }

    /// Every leaf of every tree up to 70 leaves, and every pair of sizes: the proofs made from stored nodes verify,
    /// and they need O(log n) stored nodes each.
    @Test func proofsOfEverySizeVerifyAndReadLogarithmicallyManyNodes() throws {
        let leaves = (0..<70).map { Array("event \($0)".utf8) }
        let nodes = Self.store(leaves)
        for size in Int64(1)...70 {
            let root = try Merkle.root(size: size, Self.reader(nodes))
            for index in 0..<size {
                let proof = try Merkle.inclusionProof(index: index, size: size, Self.reader(nodes))
                try Merkle.verifyInclusion(index: index, size: size, leafHash: Merkle.leafHash(leaves[Int(index)]), proof: proof, root: root)
                let reads = try Merkle.nodesNeeded { node in _ = try Merkle.inclusionProof(index: index, size: size, node) }
                #expect(reads.count <= 2 * 7, "the proof of \(index) in \(size) reads \(reads.count) nodes")
            }
            for older in Int64(0)...size {
                let proof = try Merkle.consistencyProof(from: older, to: size, Self.reader(nodes))
                try Merkle.verifyConsistency(from: older, to: size, fromRoot: try Merkle.root(size: older, Self.reader(nodes)), toRoot: root, proof: proof)
            }
        }
    }

    // MARK: Signed notes

    static let goVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let goText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let peterLine = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    static let enochLine = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

    @Test func goNotesVerifyAndSigningReproducesThemByteForByte() throws {
        let peter = try NoteVerifierKey(parsing: Self.goVkey)
        let enoch = try NoteVerifierKey(parsing: "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop")
        #expect(peter.vkey == Self.goVkey, "the vkey is written back as it was read")
        let note = try SignedNote(parsing: Self.goText + "\n" + Self.peterLine + Self.enochLine)
        #expect(note.text == Self.goText)
        #expect(try note.check(peter) != nil, "PeterNeumann's signature")
        #expect(try note.check(enoch) != nil, "EnochRoot's signature")
        // Go's signer key: PRIVATE+KEY+PeterNeumann+c74f20a3+base64(0x01 ‖ seed).
        let seed = [UInt8](Data(base64Encoded: "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz") ?? Data()).dropFirst()
        let signer = try NoteSigner(name: "PeterNeumann", key: try Ed25519PrivateKey(seed: Array(seed)))
        #expect(try signer.verifierKey == peter, "the seed gives the published verifier key")
        var ours = SignedNote(text: Self.goText)
        try ours.sign(with: signer)
        #expect(ours.rendered == Self.goText + "\n" + Self.peterLine, "signing reproduces Go's note byte for byte")
        // A changed text fails with the known key; an unknown key is ignored.
        let changed = try SignedNote(parsing: Self.goText.replacingOccurrences(of: "cryptography", with: "cryptographY") + "\n" + Self.peterLine)
        #expect(throws: NoteError.self, "a changed note verified") { try changed.check(peter) }
        let other = try NoteSigner(name: "PeterNeumann", key: try Ed25519PrivateKey.generate())
        #expect(try note.check(try other.verifierKey) == nil, "a key with the same name but another ID is not this note's")
    }

    @Test func theC2SPExampleAndTheCosignatureVectorParse() throws {
        let key = try NoteVerifierKey(parsing: "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
        let note = try SignedNote(parsing: "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
        #expect(try note.check(key) != nil, "the C2SP signed-note example")
        // sum.golang.org's key holds "+" in its base64; split at the first two only.
        let sumdb = try NoteVerifierKey(parsing: "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")
        #expect(sumdb.name == "sum.golang.org")
        let cosigner = try NoteVerifierKey(parsing: "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
        #expect(cosigner.type == NoteVerifierKey.cosignatureV1)
        let line = try SignedNote(parsing: "x\n\n— w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==\n")
        #expect(line.signatures[0].keyID == 0x6468_46b9, "the cosignature's key ID")
        #expect(line.signatures[0].cosignatureTime == 1_727_964_367, "the cosignature's big-endian time")
        for bad in ["", "name+1234567+AQ==", "na me+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                    "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2"] {
            #expect(throws: NoteError.self, "the vkey \(bad) was accepted") { try NoteVerifierKey(parsing: bad) }
        }
    }

    @Test func cosignaturesRoundTripAndAreNotLogSignatures() throws {
        let key = try Ed25519PrivateKey.generate()
        let witness = try NoteSigner(name: "witness.example/w1", key: key, type: NoteVerifierKey.cosignatureV1)
        let head = TreeHead(origin: "custody.example/v1", size: 8, root: Self.roots[8])
        var note = SignedNote(text: head.text)
        try note.sign(with: witness, time: 1_800_000_000)
        let parsed = try SignedNote(parsing: note.rendered)
        #expect(try parsed.check(try witness.verifierKey)?.cosignatureTime == 1_800_000_000)
        // The same key as a log key (type 1) has another ID: it does not verify the cosignature line.
        let asLog = try NoteVerifierKey(name: witness.name, type: NoteVerifierKey.ed25519, publicKey: key.publicKey.raw)
        #expect(try parsed.check(asLog) == nil, "a 0x01 key must not verify a 0x04 line")
        #expect(try TreeHead(parsing: parsed.text) == head)
        for bad in ["o\n08\nAA==\n", "o\n8\nAA==\n", "o\n8\n\(Data(Self.roots[8].bytes).base64EncodedString())\nextension\n", "\n8\nx\n"] {
            #expect(throws: NoteError.self, "the checkpoint \(bad.debugDescription) was accepted") { try TreeHead(parsing: bad) }
        }
    }

    @Test func tlogProofsRoundTripAndRefuseMalformedOnes() throws {
        let signer = try NoteSigner(name: "custody.example/v1", key: try Ed25519PrivateKey.generate())
        var note = SignedNote(text: TreeHead(origin: signer.name, size: 5, root: Self.roots[5]).text)
        try note.sign(with: signer)
        let nodes = Self.store(Self.leaves)
        let proof = TlogProof(index: 1, path: try Merkle.inclusionProof(index: 1, size: 5, Self.reader(nodes)), checkpoint: note)
        let parsed = try TlogProof(parsing: proof.rendered)
        #expect(parsed == proof)
        #expect(proof.rendered.hasPrefix("c2sp.org/tlog-proof@v1\nindex 1\n"))
        for bad in ["", "c2sp.org/tlog-proof@v1\nindex -1\n\n" + note.rendered, "c2sp.org/tlog-proof@v1\nindex 01\n\n" + note.rendered,
                    "c2sp.org/tlog-proof@v2\nindex 1\n\n" + note.rendered, "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + note.rendered] {
            #expect(throws: NoteError.self, "the proof \(bad.prefix(40).debugDescription) was accepted") { try TlogProof(parsing: bad) }
        }
    }
}

@Suite struct TilePathTests {
    @Test func pathsParseAndPrintAsTheSpecWritesThem() {
        let cases: [(String, TilePath)] = [
            ("0/000", TilePath(level: 0, index: 0)),
            ("1/x001/x234/067", TilePath(level: 1, index: 1_234_067)),
            ("0/001.p/44", TilePath(level: 0, index: 1, partialWidth: 44)),
            ("entries/x002/005.p/255", TilePath(level: nil, index: 2005, partialWidth: 255)),
            ("63/999", TilePath(level: 63, index: 999)),
        ]
        for (text, path) in cases {
            #expect(TilePath(text.split(separator: "/")) == path, "\(text) parses as \(path)")
            #expect(path.description == text, "\(path) prints as \(text)")
        }
        for bad in ["0", "0/00", "0/0000", "0/x000", "0/1234", "64/000", "00/000", "0/001.p/0", "0/001.p/256", "0/001.p/044",
                    "0/001.p", "0/x1/000", "0/001/002", "tiles/000", "entries/.p/4", "0/00a", "-1/000", "0/+01",
                    "0/x999/x999/x999/x999/x999/x999/x999/999"] {
            #expect(TilePath(bad.split(separator: "/")) == nil, "\(bad) was taken for a tile path")
        }
    }
}

@Suite struct WitnessCoreTests {
    @Test func theWitnessAnswersAsTlogWitnessSays() throws {
        let log = try NoteSigner(name: "custody.example/v1", key: try Ed25519PrivateKey.generate())
        let witness = try WitnessCore(
            signer: try NoteSigner(name: "w.example/1", key: try Ed25519PrivateKey.generate(), type: NoteVerifierKey.cosignatureV1),
            logKey: try log.verifierKey)
        let nodes = TransparencyLogTests.store(TransparencyLogTests.leaves)
        func checkpoint(_ size: Int64, signer: NoteSigner? = nil, origin: String? = nil) throws -> String {
            var note = SignedNote(text: TreeHead(origin: origin ?? log.name, size: size, root: TransparencyLogTests.roots[Int(size)]).text)
            try note.sign(with: signer ?? log)
            return note.rendered
        }
        func status(_ decision: WitnessCore.Decision) -> Int {
            if case .refused(let status, _, _, _) = decision { return status }
            return 200
        }
        // The first checkpoint, from size 0; then one that extends it with its proof.
        guard case .cosigned(let line, let kept) = witness.addCheckpoint(WitnessCore.request(old: 0, proof: [], checkpoint: try checkpoint(3)), latest: nil, time: 7)
        else { Issue.record("the first checkpoint was refused"); return }
        #expect(try SignedNote(parsing: kept.rendered).check(try witness.signer.verifierKey)?.cosignatureTime == 7, "the kept note's cosignature")
        #expect(line.hasPrefix("— w.example/1 "), "the answer is a signature line: \(line)")
        let proof = try Merkle.consistencyProof(from: 3, to: 6, TransparencyLogTests.reader(nodes))
        #expect(status(witness.addCheckpoint(WitnessCore.request(old: 3, proof: proof, checkpoint: try checkpoint(6)), latest: kept, time: 8)) == 200)
        let cases: [(String, String, Int)] = [
            ("wrong old size", WitnessCore.request(old: 2, proof: proof, checkpoint: try checkpoint(6)), 409),
            ("a bad proof", WitnessCore.request(old: 3, proof: Array(proof.reversed()), checkpoint: try checkpoint(6)), 422),
            ("same size, other root", WitnessCore.request(old: 3, proof: [], checkpoint: {
                var note = SignedNote(text: TreeHead(origin: log.name, size: 3, root: TransparencyLogTests.roots[4]).text)
                try? note.sign(with: log)
                return note.rendered
            }()), 422),
            ("another log", WitnessCore.request(old: 3, proof: proof, checkpoint: try checkpoint(6, origin: "other.example/log")), 404),
            ("another key", WitnessCore.request(old: 3, proof: proof, checkpoint: try checkpoint(6, signer: try NoteSigner(name: log.name, key: try Ed25519PrivateKey.generate()))), 403),
            ("old above the size", WitnessCore.request(old: 7, proof: [], checkpoint: try checkpoint(6)), 400),
            ("no blank line", "old 3\n", 400),
            ("old with a leading zero", WitnessCore.request(old: 3, proof: proof, checkpoint: try checkpoint(6)).replacingOccurrences(of: "old 3", with: "old 03"), 400),
        ]
        for (name, body, expected) in cases {
            let decision = witness.addCheckpoint(body, latest: kept, time: 9)
            #expect(status(decision) == expected, "\(name): \(decision)")
        }
        if case .refused(_, _, let body, let type) = witness.addCheckpoint(cases[0].1, latest: kept, time: 9) {
            #expect(body == "3\n" && type == "text/x.tlog.size", "409 answers the size it last cosigned as text/x.tlog.size")
        }
    }
}
