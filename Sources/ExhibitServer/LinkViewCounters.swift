import Custody
import Exhibit
import Foundation
import Synchronization

/// The playback views through share links that this server has on record, and what they have served since it
/// last wrote their counts. The first request of a view is a durable custody event; the range requests after it
/// are only counted here (a player makes many, and a write per request would cap a link at the disk's fsync
/// rate). `LinkViewService` writes the counts every few seconds and when it closes idle views.
final class LinkViewCounters: Sendable {
    struct Key: Hashable {
        let share: String
        let view: String
        let kind: String
    }

    private struct State {
        var open: Set<Key> = []
        var pending: [Key: ShareViewTally] = [:]
    }
    private let state = Mutex(State())

    /// Whether the view is on record (its event written) in this process.
    func isOpen(_ key: Key) -> Bool { state.withLock { $0.open.contains(key) } }

    func opened(_ key: Key) {
        state.withLock { _ = $0.open.insert(key) }
    }

    /// Counts requests and bytes of an open view.
    func count(_ key: Key, requests: Int = 0, bytes: Int = 0, at time: Date) {
        let at = CustodyTime.string(time)
        state.withLock { state in
            if var tally = state.pending[key] {
                tally.requests += requests
                tally.bytes += Int64(bytes)
                tally.lastAt = max(tally.lastAt, at)
                state.pending[key] = tally
            } else {
                state.pending[key] = ShareViewTally(
                    shareID: key.share, viewID: key.view, kind: key.kind, requests: requests, bytes: Int64(bytes), lastAt: at)
            }
        }
    }

    /// Takes the counts to write.
    func drain() -> [ShareViewTally] {
        state.withLock { state in
            defer { state.pending.removeAll(keepingCapacity: true) }
            return Array(state.pending.values)
        }
    }

    /// Forgets views that were closed (a later request opens them again, with a new event).
    func closed(_ views: [ShareViewSummary]) {
        state.withLock { state in
            for view in views { state.open.remove(Key(share: view.shareID, view: view.viewID, kind: view.kind)) }
        }
    }
}
