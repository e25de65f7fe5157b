import BlobStore
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import ExhibitCrypto
import ExhibitServer
import ExhibitTesting
import Foundation
import Hummingbird
import Logging
import Testing

/// A case's life under the retention policy, with a clock the test moves: charged → convicted with a release
/// date → time passes → plan → hold → apply → restore → grace → purge; with real SQLite, a real blob store, a real
/// working copy, and a share link fetched through a real server.
@Suite struct RetentionLifecycleTests {
    static let day: TimeInterval = 86400

    func events(_ files: TestStore) async throws -> [[String: Any]] {
        try await ExhibitCLI.jsonLines(try files.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
    }

    static func details(_ event: [String: Any]) -> [String: Any] { event["details"] as? [String: Any] ?? [:] }

    @Test func aCaseGoesThroughItsLifeAndItsFootageIsDeletedOnlyWhenDue() async throws {
        let files = try await TestStore("retention")
        // Two files that share their first 6 MiB (so chunks): X in the convicted case, Y in another case.
        var random = DeterministicRandom(seed: 81)
        let shared = random.bytes(6 << 20)
        let x = files.folder.appending("x.bin"), y = files.folder.appending("y.bin")
        try Data(shared + random.bytes(2 << 20)).write(to: URL(fileURLWithPath: x))
        try Data(shared + random.bytes(2 << 20)).write(to: URL(fileURLWithPath: y))
        #expect(try await files.ingest([x, TestPaths.fixtures + "/avi_mpeg4.avi"]).count == 2)
        #expect(try await files.run(["derive", "JS/2", "--as", "jsmith"]).status == 0)
        #expect(try await files.run(["case", "create", "OTHER/1", "--as", "akhan"]).status == 0)
        #expect(try await files.run(["ingest", "--case", "OTHER/1", "--as", "akhan", y]).status == 0)

        // The shipped policy, with a grace period shorter than a link's longest life.
        let folder = try TemporaryDirectory("policies")
        let policies = try TestPolicies.copy(into: folder, replacing: ["retention.yaml": [("grace_period: 30d", "grace_period: 14d")]])
        let clock = ShareExpiryTests.TestClock()
        let store = try EvidenceStore(root: files.storage, policies: try Policies.load(from: policies), now: { clock.read() })
        let jsmith = try await store.actor(named: "jsmith", client: "test")
        let sup = try await store.actor(named: "sup", client: "test")
        let root = try await store.actor(named: "root", client: "test")
        let caseRef = TestStore.caseReference
        let master = try await store.findExhibit("JS/1", case: caseRef, for: jsmith)

        // Charged: proceedings under way, nothing is due.
        _ = try await store.setCaseStatus(caseRef, status: "charged", by: jsmith)
        #expect(try await store.describe(master).retention?.deadline == nil)

        // Convicted ten days later, release in a year: kept until six calendar months after the release.
        clock.advance(10 * Self.day)
        let convicted = clock.read()
        let release = convicted.addingTimeInterval(365 * Self.day)
        // Bad input changes nothing: a release before the conviction, an unknown status, an unknown class.
        await #expect(throws: ExhibitError.self) {
            try await store.setCaseStatus(caseRef, status: "convicted", releaseDate: convicted.addingTimeInterval(-Self.day), by: jsmith)
        }
        await #expect(throws: ExhibitError.self) { try await store.setCaseStatus(caseRef, status: "sentenced", by: jsmith) }
        await #expect(throws: ExhibitError.self) {
            try await store.setCaseStatus(caseRef, status: "closed", retentionClass: .set("no-such-class"), by: jsmith)
        }
        await #expect(throws: ExhibitError.self) {
            try await store.setCaseStatus(caseRef, status: "open", at: convicted.addingTimeInterval(Self.day), by: jsmith)
        }
        let record = try await store.setCaseStatus(caseRef, status: "convicted", releaseDate: release, by: jsmith)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let deadline = try #require(calendar.date(byAdding: .month, value: 6, to: release))
        #expect(record.retention?.date == CustodyTime.string(deadline))
        #expect(try await store.describe(master).retention?.deadline == CustodyTime.string(deadline))
        let history = try await store.statusHistory(of: record, for: jsmith)
        #expect(history.map(\.status) == [.charged, .convicted], "refused changes left no trace")

        // Before the deadline nothing is due; the plan for a date past it lists the master and its working copy.
        #expect(try await store.retentionPlan(for: sup).entries.isEmpty)
        let preview = try await store.retentionPlan(asOf: deadline.addingTimeInterval(1), for: sup)
        #expect(Set(preview.entries.map(\.reference)) == ["JS/1", "JS/2", "JS/2-W1"])
        #expect(preview.entries.allSatisfy { $0.action == .delete && $0.deadline == CustodyTime.string(deadline) })
        await #expect(throws: ExhibitError.self) { try await store.retentionPlan(for: jsmith) }

        // Time passes; a hold on JS/2 keeps it (and its copy), whatever the deadline.
        clock.advance(deadline.timeIntervalSince(clock.read()) + Self.day)
        let hold = try await store.setHold(case: caseRef, exhibit: "JS/2", reason: "IOPC review 2031/77", by: jsmith)
        await #expect(throws: ExhibitError.self) {
            try await store.setHold(case: caseRef, exhibit: "JS/2", reason: "again", by: jsmith)
        }
        let plan = try await store.retentionPlan(for: sup)
        #expect(plan.entries.filter { $0.action == .held }.map(\.reference).sorted() == ["JS/2", "JS/2-W1"])
        #expect(plan.entries.first { $0.reference == "JS/2" }?.hold?.id == hold.id)

        // Apply needs a reason and the right to apply; a refused apply changes nothing.
        await #expect(throws: ExhibitError.self) { try await store.applyRetention(reason: "  ", by: sup) }
        await #expect(throws: ExhibitError.self) { try await store.applyRetention(reason: "tidy", by: jsmith) }
        #expect(try await store.findExhibit("JS/1", case: caseRef, for: jsmith).state == .live)

        let first = try await store.applyRetention(reason: "monthly review", by: sup)
        #expect(first.scheduled == [caseRef + " JS/1"])
        #expect(first.purged.isEmpty)
        let pending = try await store.findExhibit("JS/1", case: caseRef, for: jsmith)
        #expect(pending.state == .pendingDeletion)
        #expect(pending.deletion?.reason == "monthly review")
        let purgeAfter = try #require(calendar.date(byAdding: .day, value: 14, to: clock.read()))
        #expect(pending.deletion?.purgeAfter == CustodyTime.string(purgeAfter))
        #expect(try await store.findExhibit("JS/2", case: caseRef, for: jsmith).state == .live)

        // Restored within the grace period (admin reaches it though not a member), then scheduled again.
        let (restored, stillDue) = try await store.restore("JS/1", case: caseRef, reason: "checked with CPS", by: root)
        #expect(restored.map(\.state) == [.live])
        #expect(stillDue)
        await #expect(throws: ExhibitError.self, "a purged or pending exhibit cannot be shared") {
            try await store.createShare(pending, expiresIn: nil, maxDownloads: nil, recipient: nil, note: nil, by: jsmith)
        }
        let link = try await store.createShare(master, expiresIn: .seconds(20 * 86400), maxDownloads: nil, recipient: "CPS", note: nil, by: jsmith)
        #expect(try await store.applyRetention(reason: "monthly review", by: sup).scheduled == [caseRef + " JS/1"])

        // In the grace period nothing is purged; the link still works.
        let inProcess = try await InProcessServer(store)
        defer { inProcess.stop() }
        let port = inProcess.port
        let url = "http://127.0.0.1:\(port)" + link.path
        clock.advance(13 * Self.day)
        #expect(try await store.applyRetention(reason: "monthly review", by: sup).purged.isEmpty)
        #expect(try await store.retentionPlan(for: sup).entries.first { $0.reference == "JS/1" }?.action == .wait)
        #expect(try await HTTP.get(url).status == 200)

        // Past it: purged. A tombstone stays; the link says 410; the bytes are gone; the footage shared with the
        // other case survives, chunk for chunk.
        clock.advance(2 * Self.day)
        let xChunks = Set(try await store.blobs.manifest(of: master.sha256).entries.map(\.chunk))
        let last = try await store.applyRetention(reason: "monthly review", by: sup)
        #expect(last.purged == [caseRef + " JS/1"])
        let collection = try #require(last.collection)
        #expect(collection.manifestsRemoved == 1)
        #expect(collection.chunksRemoved >= 1)
        let tombstone = try await store.findExhibit("JS/1", case: caseRef, for: jsmith)
        #expect(tombstone.state == .purged)
        #expect(tombstone.sha256 == master.sha256)
        #expect(tombstone.reference == "JS/1")
        #expect(tombstone.deletion?.purgedBy == "sup")
        #expect(tombstone.deletion?.purgeReason == "monthly review")
        let gone = try await HTTP.get(url)
        #expect(gone.status == 410)
        #expect(gone.text.contains("retention policy"))
        #expect(try await HTTP.get(url + "?download=master").status == 410)
        await #expect(throws: ExhibitError.self) { try await store.download(tombstone, by: jsmith) }
        await #expect(throws: ExhibitError.self) {
            try await store.createShare(tombstone, expiresIn: nil, maxDownloads: nil, recipient: nil, note: nil, by: jsmith)
        }
        let other = try await store.findExhibit("AK/1", case: "OTHER/1", for: sup)
        let yChunks = Set(try await store.blobs.manifest(of: other.sha256).entries.map(\.chunk))
        #expect(!xChunks.intersection(yChunks).isEmpty, "X and Y share chunks")
        for chunk in yChunks { #expect(try await store.chunks.size(of: .chunk(chunk)) != nil, "a chunk Y still needs was removed") }
        for chunk in xChunks.subtracting(yChunks) { #expect(try await store.chunks.size(of: .chunk(chunk)) == nil, "an orphan chunk of X is left") }
        #expect(try await store.chunks.size(of: .manifest(master.sha256)) == nil)
        var bytes = Data()
        for try await piece in try await store.download(other, by: sup) { bytes.append(contentsOf: piece.readableBytesView) }
        #expect(SHA256.hash(bytes) == other.sha256)
        #expect(try await files.run(["verify"]).status == 0)

        // The held exhibit is untouched; released, it is due and goes the same way.
        #expect(try await store.findExhibit("JS/2", case: caseRef, for: jsmith).state == .live)
        await #expect(throws: ExhibitError.self) { try await store.releaseHold(case: caseRef, exhibit: "JS/2", reason: nil, by: jsmith) }
        _ = try await store.releaseHold(case: caseRef, exhibit: "JS/2", reason: "review closed", by: sup)
        #expect(try await store.applyRetention(reason: "after review", by: root).scheduled.sorted() == [caseRef + " JS/2", caseRef + " JS/2-W1"])

        // Every step is on the record, and the record still verifies.
        let all = try await events(files)
        let actions = all.map { $0["action"] as? String ?? "" }
        for action in ["case.status-changed", "hold.set", "hold.released", "exhibit.deletion-scheduled", "exhibit.restored",
                       "exhibit.purged", "store.gc", "retention.applied"] {
            #expect(actions.contains(action), "no \(action) event")
        }
        let purged = try #require(all.first { $0["action"] as? String == "exhibit.purged" })
        #expect(Self.details(purged)["sha256"] as? String == master.sha256.hex)
        #expect(Self.details(purged)["shares_revoked"] as? Int == 1)
        #expect(all.filter { $0["action"] as? String == "case.status-changed" }.count == 2)
        #expect(try await files.run(["custody", "verify"]).status == 0)
    }
}
