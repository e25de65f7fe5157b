import Custody
import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// The custody ledger as a transparency log through a real server and the CLI (README, "Auditing"): signed
/// checkpoints as C2SP notes, inclusion and consistency proofs that verify against them, C2SP tiles for auditors,
/// and the refusals.
@Suite struct CustodyLogServerTests {
    let store: TestStore
    let server: LiveServer
    var audit: String { store.tokens["audit"]! }

    init() async throws {
        store = try await TestStore("custody-log")
        server = try await LiveServer(storage: store.storage)
    }

    /// Signs a checkpoint through the CLI and returns its signed note, parsed.
    func checkpoint() async throws -> (note: SignedNote, head: TreeHead) {
        let signed = try await store.run(["custody", "checkpoint", "--as", "audit"])
        #expect(signed.status == 0, "custody checkpoint: \(signed.err)")
        let fetched = try await HTTP.get(server.url + "/v1/custody/checkpoint", token: audit)
        #expect(fetched.status == 200, "GET /v1/custody/checkpoint: \(fetched.text)")
        #expect(signed.out.hasSuffix(fetched.text), "the CLI printed another note than the server serves:\n\(signed.out)\n---\n\(fetched.text)")
        let note = try SignedNote(parsing: fetched.text)
        return (note, try TreeHead(parsing: note.text))
    }

    func note(_ text: String) async throws {
        let noted = try await store.run(["custody", "note", text, "--as", "audit"])
        #expect(noted.status == 0, "custody note: \(noted.err)")
    }

    static func hashes(_ values: Any?) throws -> [Merkle.Hash] {
        let texts = try #require(values as? [String], "no list of hashes: \(String(describing: values))")
        return try texts.map { try #require(Data(base64Encoded: $0).flatMap { SHA256Digest(bytes: [UInt8]($0)) }, "not a base64 hash: \($0)") }
    }

    @Test func checkpointsProofsAndTilesVerifyAgainstTheSignedNotes() async throws {
        let vkeyRun = try await store.run(["custody", "vkey"])
        let vkey = try NoteVerifierKey(parsing: vkeyRun.out)
        let first = try await checkpoint()
        #expect(try first.note.check(vkey) != nil, "the checkpoint is not signed by the log's vkey \(vkey)")
        #expect(first.head.origin == vkey.name, "the origin \(first.head.origin) is not the key name \(vkey.name)")
        for i in 0..<5 { try await note("note \(i)") }
        let second = try await checkpoint()
        #expect(second.head.size > first.head.size + 5, "the second checkpoint covers \(second.head.size) events")

        // Inclusion: every event of the first checkpoint in the second, from the JSON answer and as a tlog-proof.
        for seq in [Int64(1), 2, first.head.size, second.head.size] {
            let answer = try await HTTP.get(server.url + "/v1/custody/proof?event=\(seq)", token: audit)
            #expect(answer.status == 200, "proof of \(seq): \(answer.text)")
            let json = try answer.json()
            let eventData = try JSONSerialization.data(withJSONObject: try #require(json["event"]))
            let event = try JSONDecoder().decode(CustodyEvent.self, from: eventData)
            #expect(event.seq == seq && event.expectedHash == event.hash, "the proof's event \(event.seq) is not event \(seq) as stored")
            #expect(json["tree_size"] as? Int64 == second.head.size, "the proof is for the latest checkpoint")
            try Merkle.verifyInclusion(index: seq - 1, size: second.head.size, leafHash: event.leafHash,
                                       proof: try Self.hashes(json["proof"]), root: second.head.root)
            let tlog = try TlogProof(parsing: try #require(json["tlog_proof"] as? String))
            #expect(tlog.index == seq - 1 && tlog.checkpoint.text == second.note.text, "the tlog-proof of \(seq)")
        }
        let cli = try await store.run(["custody", "prove", "--event", "2", "--size", String(first.head.size), "--as", "audit"])
        #expect(cli.status == 0, "custody prove: \(cli.err)")
        let proof = try TlogProof(parsing: cli.out)
        let old = try TreeHead(parsing: proof.checkpoint.text)
        #expect(old == first.head, "--size picks the first checkpoint")
        let event2 = try #require(try await HTTP.get(server.url + "/v1/custody/proof?event=2", token: audit).json()["event"])
        let leaf = try JSONDecoder().decode(CustodyEvent.self, from: try JSONSerialization.data(withJSONObject: event2)).leafHash
        try Merkle.verifyInclusion(index: 1, size: old.size, leafHash: leaf, proof: proof.path, root: old.root)

        // Consistency: the first checkpoint is a prefix of the second.
        let consistency = try await HTTP.get(server.url + "/v1/custody/proof?from=\(first.head.size)&to=\(second.head.size)", token: audit)
        #expect(consistency.status == 200, "consistency: \(consistency.text)")
        try Merkle.verifyConsistency(from: first.head.size, to: second.head.size, fromRoot: first.head.root, toRoot: second.head.root,
                                     proof: try Self.hashes(try consistency.json()["proof"]))

        // Tiles: the level-0 partial tile holds the leaf hashes, the entry bundle the canonical events.
        let width = Int(second.head.size)
        let tile = try await HTTP.get(server.url + "/v1/custody/tile/0/000.p/\(width)", token: audit)
        #expect(tile.status == 200 && tile.body.count == 32 * width, "tile 0/000.p/\(width): \(tile.status), \(tile.body.count) bytes")
        let entries = try await HTTP.get(server.url + "/v1/custody/tile/entries/000.p/\(width)", token: audit)
        #expect(entries.status == 200, "entries: \(entries.text)")
        var bytes = [UInt8](entries.body)[...]
        var leaves: [Merkle.Hash] = []
        while bytes.count >= 2 {
            let length = Int(bytes[bytes.startIndex]) << 8 | Int(bytes[bytes.startIndex + 1])
            let entry = bytes.dropFirst(2).prefix(length)
            leaves.append(Merkle.leafHash(Array(entry)))
            bytes = bytes.dropFirst(2 + length)
        }
        #expect(leaves.count == width, "the entry bundle holds \(leaves.count) entries, not \(width)")
        #expect(leaves.map(\.bytes).joined().elementsEqual([UInt8](tile.body)), "the tile's hashes are not the entries' leaf hashes")
        var range = CompactRange()
        for leaf in leaves { range.append(leaf) }
        #expect(range.root == second.head.root, "the entries' tree is not the signed root")
        // The entry bundle is an export of every case's events: it is recorded.
        let exported = try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"])
        #expect(exported.out.contains("\"tile\":\"entries/000.p/\(width)\""), "fetching the entries was not recorded")
    }

    @Test func refusalsNameWhatIsWrong() async throws {
        let none = try await HTTP.get(server.url + "/v1/custody/checkpoint", token: audit)
        #expect(none.status == 404, "no checkpoint yet: \(none.status) \(none.text)")
        _ = try await checkpoint()
        let investigator = store.tokens["jsmith"]!
        for (path, token, status, field) in [
            ("/v1/custody/proof?event=0", audit, 400, "event"), ("/v1/custody/proof?event=abc", audit, 400, "event"),
            ("/v1/custody/proof?event=99999999999999999999", audit, 400, "event"), ("/v1/custody/proof?event=9999", audit, 400, "event"),
            ("/v1/custody/proof?event=1&size=9999", audit, 404, ""), ("/v1/custody/proof?from=1", audit, 400, "event"),
            ("/v1/custody/proof?from=5&to=2", audit, 400, "from"), ("/v1/custody/proof", audit, 400, "event"),
            ("/v1/custody/proof?event=1&format=pdf", audit, 400, "format"),
            ("/v1/custody/proof?event=1", investigator, 403, ""), ("/v1/custody/tile/0/000.p/1", investigator, 403, ""),
            ("/v1/custody/tile/0/000", audit, 404, ""), ("/v1/custody/tile/0/0000", audit, 404, ""),
            ("/v1/custody/tile/0/001.p/1", audit, 404, ""), ("/v1/custody/tile/64/000", audit, 404, ""),
            ("/v1/custody/tile/entries/x999/x999/x999/x999/x999/x999/999", audit, 404, ""),
            ("/v1/custody/checkpoint", "exh_wrong", 401, ""),
        ] {
            let answer = try await HTTP.get(server.url + path, token: token)
            #expect(answer.status == status, "\(path): \(answer.status), not \(status): \(answer.text)")
            if !field.isEmpty {
                let params = (try? answer.json())?["invalid-params"] as? [[String: Any]]
                #expect(params?.first?["name"] as? String == field, "\(path) does not name \(field): \(answer.text)")
            }
        }
        #expect(server.isRunning, "the server stopped")
    }
}
