import Exhibit
import ExhibitModel
import ExhibitPolicies
import Logging
import ServiceLifecycle

/// Closes playback views through share links once they fall idle (no request for `view_idle` in
/// Policies/sharing.yaml), recording what each served as a `share.served` event; at a graceful shutdown it
/// closes every open view. Views left open by a crash are closed by the first sweep after the next start.
/// It also writes the requests and bytes `LinkViewCounters` counted since its last pass, every few seconds.
struct LinkViewService: Service {
    let store: EvidenceStore
    let counters: LinkViewCounters
    let logger: Logger

    func run() async throws {
        let idle = store.policies.sharing.viewIdle
        let interval = min(Duration.seconds(5), idle / 2)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweep(all: false)
                try? await Task.sleep(for: interval)
            }
        }
        await sweep(all: true)
    }

    func sweep(all: Bool) async {
        do {
            do {
                try await store.addLinkViewTallies(counters.drain())
                counters.written()
            } catch {
                counters.restore()
                throw error
            }
            let closed = try await store.closeIdleLinkViews(all: all)
            counters.closed(closed)
            if !closed.isEmpty { logger.info("closed \(closed.count) link view(s)") }
        } catch {
            logger.error("cannot close idle link views: \(error)")
        }
    }
}
