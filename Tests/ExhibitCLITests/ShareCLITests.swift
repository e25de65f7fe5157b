import ExhibitTesting
import Foundation
import Testing

/// `exhibit share` and `exhibit keys` against a real store, with a real server for the links.
@Suite struct ShareCLITests {
    /// The README's "Sharing" block, run as printed.
    @Test func theReadmeShareSessionWorksAsPrinted() async throws {
        let store = try await TestStore("share-readme")
        let work = try TemporaryDirectory("share-readme-work")
        try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/mp4_h264_aac.mp4", toPath: work.appending("cam1.mp4"))
        #expect(try await store.ingest([work.appending("cam1.mp4")]).first?["reference"] as? String == "JS/1")
        let server = try await LiveServer(storage: store.storage)
        let result = try await Readme.runBashBlock(after: "A link from the command line, opened with curl", storage: store.storage, server: server.url, in: work.path)
        #expect(result.status == 0, "stdout: \(result.out)\nstderr: \(result.err)")
        let lines = result.out.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.first?.hasPrefix(server.url + "/s/") == true)
        #expect(lines.contains { $0.hasPrefix("<h1>") && $0.contains("JS/1") })
        #expect(lines.contains { $0.lowercased().hasPrefix("repr-digest: sha-256=:") })
        let sums = lines.filter { $0.hasSuffix("  JS-1.mp4") || $0.hasSuffix("  cam1.mp4") }.map { $0.prefix(64) }
        try #require(sums.count == 2)
        #expect(sums[0] == sums[1])
        #expect(lines.contains { $0.contains("1/2") && $0.contains("CPS, A. Lawyer") }, "the list shows one of two downloads used")
        #expect(lines.last == "410")
    }

    @Test func sharingFollowsRolesAndLimits() async throws {
        let store = try await TestStore("share-cli")
        _ = try await store.ingest([TestPaths.fixtures + "/mp4_h264.mp4"])
        // No server has run on this storage and the policy names no public_url: no address for a link, no share.
        let nowhere = try await store.run(["share", "create", "JS/1", "--as", "jsmith"])
        #expect(nowhere.status != 0, "\(nowhere.out) \(nowhere.err)")
        #expect(nowhere.err.contains("no address is known"), "\(nowhere.out) \(nowhere.err)")
        // The address a server on this storage recorded (Storage/public-url) is the one links start with.
        try "http://evidence.example:9000\n".write(toFile: store.storage + "/public-url", atomically: true, encoding: .utf8)
        let made = try await store.run(["share", "create", "JS/1", "--as", "jsmith"])
        #expect(made.status == 0, "\(made.err)")
        #expect(made.out.hasPrefix("http://evidence.example:9000/s/"), "the recorded public address: \(made.out)")
        #expect(made.err.contains("3 download(s)"), "the policy's default: \(made.err)")

        let refusals: [([String], String)] = [
            (["share", "create", "JS/1", "--as", "audit"], "the auditor role may not share.create"),
            (["share", "create", "JS/1", "--as", "akhan"], "no exhibit"),
            (["share", "create", "JS/1", "--expires-in", "31d", "--as", "jsmith"], "at most 30d"),
            (["share", "create", "JS/1", "--expires-in", "forever", "--as", "jsmith"], "not a duration"),
            (["share", "create", "JS/1", "--max-downloads", "0", "--as", "jsmith"], "at least 1"),
            (["share", "create", "JS/1", "--max-downloads=-3", "--as", "jsmith"], "at least 1"),
            (["share", "revoke", "sh_aaaaaaaaaaaaaaaa", "--as", "jsmith"], "no share"),
            (["share", "revoke", "'; DROP TABLE shares; --", "--as", "jsmith"], "no share"),
        ]
        for (arguments, message) in refusals {
            let result = try await store.run(arguments)
            #expect(result.status != 0, "\(arguments) succeeded")
            #expect(result.err.contains(message), "\(arguments): \(result.err)")
        }
        let listed = try await store.run(["share", "list", "JS/1", "--as", "audit", "--json"])
        #expect(listed.status == 0, "auditors see shares: \(listed.err)")
        let shares = try #require(try JSONSerialization.jsonObject(with: listed.stdout) as? [[String: Any]])
        #expect(shares.count == 1)
        let id = try #require(shares.first?["id"] as? String)
        #expect(try await store.run(["share", "revoke", id, "--as", "audit"]).status != 0)
        let revoked = try await store.run(["share", "revoke", id, "--as", "sup"])
        #expect(revoked.status == 0, "a supervisor may revoke: \(revoked.err)")
        #expect(revoked.out.contains("revoked"), "a supervisor may revoke: \(revoked.err)")
        let again = try await store.run(["share", "revoke", id, "--as", "jsmith"])
        #expect(again.status != 0)
        #expect(again.err.contains("already revoked"))
        // The link key is a 0600 file; rotation adds one and keeps the old (its links have not expired).
        let keys = try FileManager.default.contentsOfDirectory(atPath: store.storage + "/keys").filter { $0.hasPrefix("link-") }
        #expect(keys.count == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: store.storage + "/keys/" + keys[0])[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let rotated = try await store.run(["keys", "rotate-link-key"])
        #expect(rotated.status == 0, "\(rotated.out)\(rotated.err)")
        #expect(rotated.out.hasPrefix("new link key "), "\(rotated.out)\(rotated.err)")
        #expect(!rotated.out.contains("removed"), "\(rotated.out)\(rotated.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.storage + "/keys").filter { $0.hasPrefix("link-") }.count == 2)
        let table = try await store.run(["share", "list", "JS/1", "--as", "jsmith"])
        #expect(table.out.contains(made.out.trimmingCharacters(in: .whitespacesAndNewlines)), "the old link is unchanged")
        let events = try await ExhibitCLI.jsonLines(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
        #expect(events.filter { ($0["action"] as? String)?.hasPrefix("share.") == true }.map { $0["action"] as! String } == ["share.created", "share.revoked"])
    }
}
