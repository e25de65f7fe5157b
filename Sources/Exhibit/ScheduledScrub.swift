import BlobStore
import CoreMetrics
import Custody
import ExhibitModel
import ExhibitPolicies
import Foundation
import Logging
import Synchronization

/// The server's scheduled scrub (README, "Backups"): every chunk of the store re-read and re-hashed once per
/// `scrub.every` of `Policies/storage.yaml`, at most `scrub.max_rate` bytes per second, paused while uploads run;
/// each pass recorded as a `store.verified` event (`scheduled: true`), damage repaired from `scrub.repair_from`
/// (a backup folder or bucket) when set; progress and the last result in `/metrics`. Among servers sharing a catalog,
/// one runs each pass (`exclusiveJob`). When the last pass ended is kept in `<root>/scrub-state` so a restart
/// does not start over.
public final class ScheduledScrub: Sendable {
    let store: EvidenceStore
    let logger = Logger(label: "exhibit.scrub")
    let progressBytes = Gauge(label: "exhibit_scrub_progress_bytes")
    let lastPassCompleted = Gauge(label: "exhibit_scrub_last_pass_completed_seconds")
    let lastPassProblems = Gauge(label: "exhibit_scrub_last_pass_problems")
    let lastPassRepaired = Gauge(label: "exhibit_scrub_last_pass_repaired")
    let lastPassBytes = Gauge(label: "exhibit_scrub_last_pass_bytes")

    public init(store: EvidenceStore) {
        self.store = store
    }

    var statePath: String { store.root + "/scrub-state" }

    /// When the last pass ended (seconds since 1970), if one did.
    func lastPass() -> Double? {
        guard let text = try? String(contentsOfFile: statePath, encoding: .utf8) else { return nil }
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs passes until the task is cancelled.
    public func run() async {
        let policy = store.policies.storage.scrub
        let every = Double(policy.every.components.seconds)
        // A store that never had a pass starts counting now: its first pass comes one period after its first start
        // (a new server, or a test's, does not begin by reading everything).
        if lastPass() == nil {
            try? DurableFile.replace(statePath, with: Data(String(store.now().timeIntervalSince1970).utf8), mode: 0o644)
        }
        while !Task.isCancelled {
            let now = store.now().timeIntervalSince1970
            let due = (lastPass() ?? now) + every
            if now < due {
                try? await Task.sleep(for: .seconds(min(due - now, 60)))
                continue
            }
            do {
                _ = try await store.exclusiveJob("scrub") { try await self.pass() }
            } catch is CancellationError {
                return
            } catch {
                logger.error("scheduled scrub failed: \(error)")
                try? await Task.sleep(for: .seconds(min(every, 60)))
            }
        }
    }

    /// One pass over the whole store, paced.
    @discardableResult
    public func pass() async throws -> ScrubReport {
        let policy = store.policies.storage.scrub
        let pacer = Pacer(rate: Double(policy.maxRate), store: store, progress: progressBytes)
        let source = try policy.repairFrom.map { try BackupTargets.repairSource($0, endpoint: store.defaultBackupEndpoint) }
        let report = try await store.scrub(repairFrom: source, by: .system(client: "scheduled scrub"), scheduled: true) { bytes in
            try await pacer.pace(bytes)
        }
        let ended = store.now().timeIntervalSince1970
        try DurableFile.replace(statePath, with: Data(String(ended).utf8), mode: 0o644)
        lastPassCompleted.record(ended)
        lastPassProblems.record(Double(report.damaged.count))
        lastPassRepaired.record(Double(report.repair?.restored.count ?? 0))
        lastPassBytes.record(Double(report.bytesChecked))
        progressBytes.record(0)
        logger.info("scheduled scrub: \(report.bytesChecked) bytes, \(report.damaged.count) broken, \(report.repair?.restored.count ?? 0) restored")
        return report
    }

    /// Holds a pass to `rate` bytes per second, and pauses it while uploads run (their bytes are more urgent).
    final class Pacer: Sendable {
        let rate: Double
        let store: EvidenceStore
        let progress: Gauge
        let state = Mutex<(start: ContinuousClock.Instant, bytes: Double, total: Double)>((ContinuousClock.now, 0, 0))

        init(rate: Double, store: EvidenceStore, progress: Gauge) {
            self.rate = rate
            self.store = store
            self.progress = progress
        }

        func pace(_ bytes: Int) async throws {
            try Task.checkCancellation()
            var paused = false
            while store.uploadsInFlight > 0 {
                paused = true
                try await Task.sleep(for: .milliseconds(200))
            }
            let (wait, total): (Duration, Double) = state.withLock { state in
                if paused { state = (ContinuousClock.now, 0, state.total) }
                state.bytes += Double(bytes)
                state.total += Double(bytes)
                let due = state.start + .seconds(state.bytes / rate)
                return (max(.zero, due - ContinuousClock.now), state.total)
            }
            progress.record(total)
            if wait > .milliseconds(1) { try await Task.sleep(for: wait) }
        }
    }
}
