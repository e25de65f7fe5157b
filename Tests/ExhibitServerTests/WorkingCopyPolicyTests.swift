import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import ExhibitTesting
import Foundation
import Testing

/// Which masters a starting server queues for working copies.
@Suite struct WorkingCopyPolicyTests {
    /// Regression (found by the crash rounds): a server started with `automatic: false` still made copies of every
    /// master never planned (stored by the CLI or just before a crash) at each start.
    @Test func unplannedMastersAreQueuedAtStartOnlyWhenCopiesAreAutomatic() async throws {
        let files = try await TestStore("unplanned-copies")
        let stored = try await files.ingest([TestPaths.fixtures + "/ts_h264_aac.ts", TestPaths.fixtures + "/mp4_h264_aac.mp4"])
        #expect(stored.count == 2)
        for automatic in [true, false] {
            let folder = try TemporaryDirectory("policies")
            let policies = try TestPolicies.copy(into: folder, replacing: ["storage.yaml": [("automatic: true", "automatic: \(automatic)")]])
            let store = try EvidenceStore(root: files.storage, policies: try Policies.load(from: policies))
            #expect(store.policies.storage.workingCopies.automatic == automatic)
            // The MPEG-TS master needs a copy (remux); the MP4 plays as it is.
            let waiting = try await store.mastersAwaitingWorkingCopies().map(\.reference)
            #expect(waiting == (automatic ? [stored[0]["reference"] as! String] : []), "automatic: \(automatic)")
        }
    }
}
