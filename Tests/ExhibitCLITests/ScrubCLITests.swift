import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// `exhibit verify` as a scrub: each kind of damage detected and named with its exhibit, recorded in the ledger,
/// and repaired from a copy of the storage root.
@Suite struct ScrubCLITests {
    let store: TestStore
    static let otherCase = "2018/MPS/0099"

    init() async throws {
        store = try await TestStore("scrub")
        let created = try await store.run(["case", "create", Self.otherCase, "--as", "jsmith"])
        guard created.status == 0 else { throw TestSupportError(created.err) }
    }

    struct Stored {
        let id: String
        let reference: String
        let caseReference: String
        let sha256: String
        let file: String
    }

    /// Ingests a random file of `size` into `caseReference`.
    func ingest(_ name: String, size: Int, seed: UInt64, into caseReference: String) async throws -> Stored {
        let path = store.folder.appending(name)
        var random = DeterministicRandom(seed: seed)
        try random.writeFile(at: path, size: size)
        let result = try await store.run(["ingest", "--case", caseReference, "--as", "jsmith", path])
        #expect(result.status == 0, "\(result.err)")
        let line = try #require(try ExhibitCLI.jsonLines(result).first)
        return Stored(id: line["exhibit"] as! String, reference: line["reference"] as! String, caseReference: caseReference, sha256: line["sha256"] as! String, file: path)
    }

    /// The chunks a blob's manifest lists, in order, with their lengths.
    func chunks(of sha256: String) async throws -> [(String, Int)] {
        let text = String(decoding: try await store.objects.read(.manifests, sha256), as: UTF8.self)
        return text.split(separator: "\n").dropFirst(4).map { line in
            let parts = line.split(separator: " ")
            return (String(parts[0]), Int(parts[1])!)
        }
    }

    /// Copies every chunk and manifest into `folder` laid out as a storage root (a backup of it).
    func backUp(to folder: String) async throws {
        for (kind, name) in [(StoredObjects.Kind.chunks, "chunks"), (.manifests, "manifests")] {
            for hex in try await store.objects.list(kind) {
                let path = "\(folder)/\(name)/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try await store.objects.read(kind, hex).write(to: URL(fileURLWithPath: path))
            }
        }
    }

    func verifiedEvents() async throws -> [[String: Any]] {
        try await ExhibitCLI.jsonLines(store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
            .filter { $0["action"] as? String == "store.verified" }
    }

    func downloads(_ stored: Stored) async throws -> Bool {
        let result = try await store.run(["cat", "--as", "jsmith", "sha256:" + stored.sha256])
        return result.status == 0 && SHA256.hash(result.stdout).hex == stored.sha256
    }

    @Test func eachKindOfDamageIsNamedWithItsExhibitAndRepairedFromABackup() async throws {
        let flipped = try await ingest("flip.bin", size: 3 << 20, seed: 11, into: TestStore.caseReference)
        let truncated = try await ingest("trunc.bin", size: 3 << 20, seed: 12, into: TestStore.caseReference)
        let deleted = try await ingest("del.bin", size: 3 << 20, seed: 13, into: Self.otherCase)
        let noManifest = try await ingest("noman.bin", size: 3 << 20, seed: 14, into: Self.otherCase)
        let swapped = try await ingest("swap.bin", size: 5 << 20, seed: 15, into: Self.otherCase)
        let intact = try await ingest("intact.bin", size: 2 << 20, seed: 16, into: TestStore.caseReference)
        let all = [flipped, truncated, deleted, noManifest, swapped, intact]

        let clean = try await store.run(["verify"])
        #expect(clean.status == 0, "\(clean.out)\(clean.err)")
        #expect(clean.out.hasPrefix("ok: 6 exhibits, 6 blobs"), "\(clean.out)")
        let backup = store.folder.appending("backup")
        try await backUp(to: backup)

        // One bit flipped; a chunk cut short; a chunk deleted; a manifest deleted; a manifest listing the right
        // chunks in the wrong order (every chunk sound, the footage wrong).
        let flipChunk = try await chunks(of: flipped.sha256)[1].0
        var bytes = try await store.objects.read(.chunks, flipChunk)
        bytes[bytes.count / 2] ^= 0x08
        try await store.objects.overwrite(.chunks, flipChunk, with: bytes)
        let truncChunk = try await chunks(of: truncated.sha256)[0].0
        try await store.objects.overwrite(.chunks, truncChunk, with: try store.objects.read(.chunks, truncChunk).prefix(1000))
        let deletedChunk = try await chunks(of: deleted.sha256).last!.0
        try await store.objects.remove(.chunks, deletedChunk)
        try await store.objects.remove(.manifests, noManifest.sha256)
        var lines = String(decoding: try await store.objects.read(.manifests, swapped.sha256), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.count >= 7, "the 5 MiB file has at least 2 chunks")
        lines.swapAt(4, 5)
        try await store.objects.overwrite(.manifests, swapped.sha256, with: Data(lines.joined(separator: "\n").utf8))

        let broken = try await store.run(["verify"])
        #expect(broken.status == 1)
        let out = broken.out
        func named(_ stored: Stored, _ problem: String) -> Bool {
            guard let start = out.range(of: "BROKEN exhibit \(stored.reference) (\(stored.id))") else { return false }
            let block = out[start.lowerBound...].prefix(while: { _ in true })
            let header = block.prefix(while: { $0 != "\n" })
            return header.contains("in case \(stored.caseReference)") && block.split(separator: "\n").dropFirst().prefix(3).contains { $0.contains(problem) }
        }
        #expect(named(flipped, "corrupt-chunk: chunk \(flipChunk)"), "\(out)")
        #expect(named(truncated, "corrupt-chunk: chunk \(truncChunk)"), "\(out)")
        #expect(named(deleted, "missing-chunk: chunk \(deletedChunk)"), "\(out)")
        #expect(named(noManifest, "missing-manifest: manifest of \(noManifest.sha256)"), "\(out)")
        #expect(named(swapped, "manifest-mismatch: manifest of \(swapped.sha256)"), "\(out)")
        #expect(!out.contains(intact.id), "\(out)")
        #expect(out.contains("damaged: 5 exhibit(s) broken"), "\(out)")

        // Narrowed to a case, then to one exhibit: only their damage.
        let inCase = try await store.run(["verify", "--case", Self.otherCase])
        #expect(inCase.status == 1)
        #expect(inCase.out.contains("exhibits, "))
        #expect(inCase.out.hasSuffix("\n"))
        #expect(inCase.out.contains(deleted.id))
        #expect(inCase.out.contains(noManifest.id))
        #expect(inCase.out.contains(swapped.id))
        #expect(!inCase.out.contains(flipped.id))
        #expect(!inCase.out.contains(truncated.id))
        let one = try await store.run(["verify", "--exhibit", intact.reference, "--case", TestStore.caseReference])
        #expect(one.status == 0, "\(one.out)\(one.err)")
        #expect(one.out.hasPrefix("ok: 1 exhibits, 1 blobs"), "\(one.out)\(one.err)")

        // Every scrub is in the ledger, with what it found.
        let events = try await verifiedEvents()
        #expect(events.count == 4)
        let storeWide = try #require(events.dropFirst().first?["details"] as? [String: Any])
        #expect(storeWide["clean"] as? Bool == false)
        #expect(storeWide["scope"] as? String == "store")
        let damaged = try #require(storeWide["damaged"] as? [[String: Any]])
        #expect(Set(damaged.compactMap { $0["exhibit"] as? String }) == Set(all.dropLast().map(\.id)))
        #expect(events.last?["exhibit"] as? String != nil)
        #expect((events.last?["details"] as? [String: Any])?["clean"] as? Bool == true)

        // The backup holds good copies: everything is restored and checked again; the footage downloads whole.
        let repaired = try await store.run(["verify", "--repair-from", backup])
        #expect(repaired.status == 0, "\(repaired.out)\(repaired.err)")
        #expect(repaired.out.contains("REPAIRED exhibit \(flipped.reference) (\(flipped.id))"))
        #expect(repaired.out.contains("restored chunks/\(deletedChunk.prefix(2))/"))
        #expect(repaired.out.contains("repaired: 5 exhibit(s) whole again"), "\(repaired.out)")
        #expect(try await store.run(["verify"]).status == 0)
        for stored in all { #expect(try await downloads(stored), "\(stored.reference) downloads intact") }
        let last = try #require(try await verifiedEvents().dropLast().last?["details"] as? [String: Any])
        #expect(last["clean"] as? Bool == true)
        #expect((last["restored"] as? [Any])?.count == 5)
        #expect(try await store.run(["custody", "verify"]).status == 0)
    }

    @Test func aBadCopyIsNotRestoredAndTheDamageStaysNamed() async throws {
        let stored = try await ingest("a.bin", size: 3 << 20, seed: 21, into: TestStore.caseReference)
        let backup = store.folder.appending("backup")
        try await backUp(to: backup)
        let chunk = try await chunks(of: stored.sha256)[0].0
        var bytes = try await store.objects.read(.chunks, chunk)
        bytes[0] ^= 1
        try await store.objects.overwrite(.chunks, chunk, with: bytes)
        // The backup's copy is damaged differently: it does not hash to its name either.
        let copy = "\(backup)/chunks/\(chunk.prefix(2))/\(chunk.dropFirst(2).prefix(2))/\(chunk)"
        var other = try Data(contentsOf: URL(fileURLWithPath: copy))
        other[1] ^= 1
        try other.write(to: URL(fileURLWithPath: copy))

        let result = try await store.run(["verify", "--repair-from", backup])
        #expect(result.status == 1)
        #expect(result.out.contains("not restored chunks/"), "\(result.out)")
        #expect(result.out.contains("does not hash to its name either"), "\(result.out)")
        #expect(result.out.contains("BROKEN exhibit \(stored.reference) (\(stored.id))"))
        // The store's bytes are as they were: nothing was replaced by the bad copy.
        #expect(try await store.objects.read(.chunks, chunk) == bytes)
        let notAStore = try await store.run(["verify", "--repair-from", store.folder.appending("nowhere")])
        #expect(notAStore.status != 0)
        #expect(notAStore.err.contains("no folder"))
        #expect(try await ExhibitCLI.jsonLines(store.run(["verify", "--json"])).first?["clean"] as? Bool == false)
    }
}
