import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// `exhibit derive`: lineage, custody, and what failures leave behind.
@Suite struct WorkingCopyCLITests {
    let store: TestStore

    init() async throws { store = try await TestStore("derive") }

    @Test func aCopyNamesItsMasterAndTheToolsThatMadeIt() async throws {
        let master = try await store.ingest([TestPaths.fixtures + "/avi_mpeg4.avi"])[0]
        let masterSHA = master["sha256"] as! String
        let derived = try await store.run(["derive", "JS/1", "--as", "jsmith"])
        #expect(derived.status == 0, "\(derived.err)")
        #expect(derived.out.hasPrefix("working copy JS/1-W1 made (transcode)"))
        let show = try await store.run(["show", "JS/1-W1", "--as", "jsmith"])
        let copy = try #require(try JSONSerialization.jsonObject(with: show.stdout) as? [String: Any])
        let lineage = try #require(copy["lineage"] as? [String: Any])
        #expect(lineage["master_sha256"] as? String == masterSHA)
        #expect(lineage["master_reference"] as? String == "JS/1")
        #expect(lineage["operation"] as? String == "transcode")
        #expect(lineage["requested_by"] as? String == "jsmith")
        let transcode = try #require(lineage["transcode"] as? [String: Any])
        let libraries = try #require(transcode["libraries"] as? [String: String])
        #expect(libraries["libavcodec"]?.hasPrefix("59.") == true)
        #expect(libraries["libswscale"] != nil)
        let streams = try #require(transcode["streams"] as? [[String: Any]])
        #expect(streams.contains { $0["from"] as? String == "mpeg4" && $0["to"] as? String == "h264" && $0["action"] as? String == "encode" })
        #expect(streams.contains { $0["codec_type"] as? String == "audio" && $0["action"] as? String == "copy" })
        let encoder = try #require(lineage["encoder"] as? [String: Any])
        #expect(encoder["preset"] as? String == "veryfast")
        #expect(encoder["crf"] as? Int == 20)
        #expect(lineage["started_at"] != nil)
        #expect(lineage["finished_at"] != nil)
        #expect(copy["master_id"] as? String == master["exhibit"] as? String)
        // The master is untouched: same bytes, same hash, verifiable.
        let bytes = try await store.run(["cat", "JS/1", "--as", "jsmith"]).stdout
        #expect(SHA256.hash(bytes).hex == masterSHA)
        #expect(try await store.run(["verify"]).status == 0)
        // Every step is in the ledger, and the ledger verifies.
        let csv = try await store.run(["custody", "export", "--as", "audit", "--format", "csv"]).out
        #expect(csv.contains("working-copy.started"))
        #expect(csv.contains("working-copy.created"))
        #expect(try await store.run(["custody", "verify"]).status == 0)
        // Asking again gives the same copy.
        #expect(try await store.run(["derive", "JS/1", "--as", "jsmith"]).out.contains("already has working copy JS/1-W1"))
        #expect(try await store.run(["derive", "JS/1-W1", "--as", "jsmith"]).err.contains("is itself a working copy"))
    }

    @Test func mastersThatPlayOrHaveNoVideoNeedNoCopy() async throws {
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264_aac.mp4", TestPaths.fixtures + "/audio_only.m4a", TestPaths.fixtures + "/random.bin"])
        #expect(try await store.run(["derive", "JS/1", "--as", "jsmith"]).out.contains("no working copy needed: H264 + AAC in MP4 plays in browsers"))
        #expect(try await store.run(["derive", "JS/2", "--as", "jsmith"]).out.contains("no video stream"))
        #expect(try await store.run(["derive", "JS/3", "--as", "jsmith"]).out.contains("not media"))
        // The auditor reads metadata only, and may not have copies made.
        #expect(try await store.run(["derive", "JS/1", "--as", "audit"]).err.contains("may not exhibit.download"))
    }

    @Test func aMasterThatCannotBeDecodedLeavesOnlyAnEvent() async throws {
        // MJPEG frames zeroed, the AVI index intact: it demuxes, but nothing decodes.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures + "/avi_mjpeg.avi")))
        func find(_ tag: String) -> Int {
            let needle = Array(tag.utf8)
            return (0..<(bytes.count - 4)).first { Array(bytes[$0..<$0 + 4]) == needle }!
        }
        let end = find("idx1")
        var at = find("movi") + 4
        while at + 8 < end {
            let size = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            for i in (at + 8)..<min(at + 8 + size, end) { bytes[i] = 0 }
            at += 8 + size + (size & 1)
        }
        let path = store.folder.appending("undecodable.avi")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        _ = try await store.ingest([path])
        let chunksBefore = try await chunkFiles()
        let derived = try await store.run(["derive", "JS/1", "--as", "jsmith"])
        #expect(derived.status != 0)
        #expect(derived.err.contains("no working copy of JS/1: no frame of the master's video could be decoded"))
        #expect(try await store.sql("SELECT count(*) FROM exhibits").out == "1\n")
        #expect(try await chunkFiles() == chunksBefore, "a failed copy wrote chunks")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.storage + "/tmp").isEmpty)
        let failed = try await store.sql("SELECT details FROM custody_events WHERE action = 'working-copy.failed'").out
        #expect(failed.contains("no frame of the master"))
        #expect(failed.contains("decode_errors"))
        // The decode errors are added to the master's integrity report.
        let shown = try await JSONSerialization.jsonObject(with: store.run(["show", "JS/1", "--as", "jsmith"]).stdout) as! [String: Any]
        let decode = try #require((shown["integrity"] as? [String: Any])?["decode"] as? [String: Any])
        #expect((decode["errors"] as? Int ?? 0) > 0)
        #expect(try await store.run(["custody", "verify"]).status == 0)
    }

    func chunkFiles() async throws -> Set<String> { Set(try await store.objects.list(.chunks)) }
}
