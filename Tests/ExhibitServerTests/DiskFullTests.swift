import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// The storage root on a small tmpfs that fills up during an upload (README, "Reliability").
@Suite(.serialized, .enabled(
    if: !TestEngines.usesS3 && !TestEngines.usesPostgres && geteuid() == 0,
    "SKIPPED LOUDLY: the disk-full test mounts a tmpfs (needs root) under local chunks + SQLite"))
struct DiskFullTests {
    static let caseInURL = "2017%2FMPS%2F0421"

    /// Bytes free on the filesystem holding `path`.
    static func free(_ path: String) -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    @Test func aFullDiskAnswers507KeepsNothingPartialAndRecovers() async throws {
        let store = try await TestStore("disk-full")
        let storage = store.storage
        // Move the prepared store onto a 48 MiB tmpfs mounted at its place.
        let before = store.folder.appending("Storage.before")
        try FileManager.default.moveItem(atPath: storage, toPath: before)
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: false)
        let mounted = try await Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=48m,mode=0750", "tmpfs", storage])
        try #require(mounted.status == 0, "cannot mount a tmpfs (the disk-full test needs root allowed to mount, e.g. not in an unprivileged container): \(mounted.err)")
        // A lazy unmount (umount -l) by the system call: a defer cannot await a subprocess.
        defer { _ = umount2(storage, Int32(MNT_DETACH)) }
        #expect(try await Subprocess.run("/bin/cp", ["-a", before + "/.", storage + "/"]).status == 0)

        let server = try await LiveServer(storage: storage)
        defer { server.terminate() }
        let token = store.tokens["jsmith"]!
        let work = try TemporaryDirectory("disk-full-work")
        var random = DeterministicRandom(seed: 507)
        let small = work.appending("small.bin")
        try random.writeFile(at: small, size: 1 << 20)
        let big = work.appending("big.bin")
        try random.writeFile(at: big, size: 24 << 20)
        func upload(_ path: String, as name: String) async throws -> HTTP.Result {
            try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=\(name)", token: token, upload: path)
        }
        let first = try await upload(small, as: "small.bin")
        #expect(first.status == 201, "\(first.text)")
        let firstID = try first.json()["id"] as? String ?? ""
        let manifestsBefore = try await store.objects.list(.manifests)
        let chunksBefore = Set(try await store.objects.list(.chunks))

        // Leave 6 MiB free: the 24 MiB upload starts well and fills the disk part of the way through.
        let filler = storage + "/filler"
        let leave = 6 << 20
        #expect(try await Subprocess.run("/usr/bin/fallocate", ["-l", String(Self.free(storage) - leave), filler]).status == 0)
        let full = try await upload(big, as: "big.bin")
        #expect(full.status == 507, "\(full.status) \(full.text)")
        #expect(full.header("content-type")?.hasPrefix("application/problem+json") == true)
        let problem = try full.json()
        #expect(problem["status"] as? Int == 507, "\(problem)")
        #expect((problem["detail"] as? String)?.contains("full") == true, "\(problem)")

        // Nothing of it is visible or left behind: no exhibit, no event, no manifest, no chunk, nothing in tmp/.
        #expect(try await store.sql("SELECT count(*) FROM exhibits").out == "1\n")
        #expect(try await store.sql("SELECT count(*) FROM custody_events WHERE action = 'exhibit.ingested'").out == "1\n")
        #expect(try await store.objects.list(.manifests) == manifestsBefore)
        #expect(Set(try await store.objects.list(.chunks)) == chunksBefore)
        #expect((try FileManager.default.contentsOfDirectory(atPath: storage + "/tmp")).isEmpty)

        // The server goes on serving what it holds.
        let download = try await HTTP.get(server.url + "/v1/exhibits/\(firstID)/content", token: token)
        let smallBytes = try Data(contentsOf: URL(fileURLWithPath: small))
        #expect(download.status == 200)
        #expect(SHA256.hash(download.body) == SHA256.hash(smallBytes))
        #expect(try await HTTP.get(server.url + "/healthz").status == 200)

        // Completely full: what must write to the catalog is refused the same way, and changes nothing.
        let rest = storage + "/filler2"
        _ = try await Subprocess.run("/usr/bin/fallocate", ["-l", String(max(4096, Self.free(storage))), rest])
        _ = try await Subprocess.run("/bin/sh", ["-c", "head -c 1048576 /dev/zero >> \(rest) 2>/dev/null"])
        let tiny = work.appending("tiny.bin")
        try Data("x".utf8).write(to: URL(fileURLWithPath: tiny))
        let refused = try await upload(tiny, as: "tiny.bin")
        #expect(refused.status == 507, "\(refused.status) \(refused.text)")
        #expect(try await store.sql("SELECT count(*) FROM exhibits").out == "1\n")
        // A download must be recorded before it is served: with no room even for its custody event it is refused
        // with the same clear problem (an unrecorded access is worse than none), and nothing is recorded half.
        let unrecordable = try await HTTP.get(server.url + "/v1/exhibits/\(firstID)/content", token: token)
        #expect(unrecordable.status == 507, "\(unrecordable.status) \(unrecordable.text)")
        #expect(unrecordable.text.contains("full"), "\(unrecordable.status) \(unrecordable.text)")
        #expect(try await HTTP.get(server.url + "/v1/exhibits/\(firstID)", token: "wrong").status == 401)

        // Space returns: the same upload succeeds, and everything verifies.
        try FileManager.default.removeItem(atPath: filler)
        try FileManager.default.removeItem(atPath: rest)
        #expect(try await HTTP.get(server.url + "/v1/exhibits/\(firstID)/content", token: token).status == 200)
        let again = try await upload(big, as: "big.bin")
        #expect(again.status == 201, "\(again.text)")
        #expect(try again.json()["sha256"] as? String == SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: big))).hex)
        let verify = try await store.run(["verify"])
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        #expect(try await store.run(["custody", "verify"]).status == 0)
    }
}
