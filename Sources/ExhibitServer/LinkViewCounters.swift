import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
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

    /// What a view served since the last write; its time is formatted only when written.
    private struct Tally {
        var requests: Int
        var bytes: Int64
        var lastAt: Date

        func shareViewTally(_ key: Key) -> ShareViewTally {
            ShareViewTally(shareID: key.share, viewID: key.view, kind: key.kind, requests: requests, bytes: bytes, lastAt: CustodyTime.string(lastAt))
        }
    }

    private struct State {
        var open: Set<Key> = []
        var pending: [Key: Tally] = [:]
        /// Counts taken by `drain` whose catalog write has not finished yet.
        var writing: [Key: Tally] = [:]
        /// Playback bytes of responses still being sent, per share.
        var playing: [String: Int64] = [:]
    }
    private let state = Mutex(State())

    /// Whether the view is on record (its event written) in this process.
    func isOpen(_ key: Key) -> Bool { state.withLock { $0.open.contains(key) } }

    func opened(_ key: Key) {
        state.withLock { _ = $0.open.insert(key) }
    }

    /// Counts requests and bytes of an open view.
    func count(_ key: Key, requests: Int = 0, bytes: Int = 0, at time: Date) {
        state.withLock { state in
            if var tally = state.pending[key] {
                tally.requests += requests
                tally.bytes += Int64(bytes)
                tally.lastAt = max(tally.lastAt, time)
                state.pending[key] = tally
            } else {
                state.pending[key] = Tally(requests: requests, bytes: Int64(bytes), lastAt: time)
            }
        }
    }

    /// Takes the counts to write; they still count against playback budgets until `written` (or, when the write
    /// failed, `restore`).
    func drain() -> [ShareViewTally] {
        state.withLock { state in
            state.writing = state.pending
            state.pending.removeAll(keepingCapacity: true)
            return state.writing.map { $0.value.shareViewTally($0.key) }
        }
    }

    /// The drained counts are in the catalog.
    func written() {
        state.withLock { $0.writing.removeAll(keepingCapacity: true) }
    }

    /// The drained counts could not be written: they wait for the next pass.
    func restore() {
        state.withLock { state in
            for (key, tally) in state.writing {
                if var pending = state.pending[key] {
                    pending.requests += tally.requests
                    pending.bytes += tally.bytes
                    pending.lastAt = max(pending.lastAt, tally.lastAt)
                    state.pending[key] = pending
                } else {
                    state.pending[key] = tally
                }
            }
            state.writing.removeAll(keepingCapacity: true)
        }
    }

    /// Grants up to `wanted` bytes of playback through `share`, given what the catalog says it has served
    /// (`written`) and its `budget`: what this process served since its last write and what it is sending now count
    /// too. The grant is held (it counts against the budget) until `endPlayback` says what was really sent.
    func reservePlayback(share: String, wanted: Int64, written: Int64, budget: Int64) -> Int64 {
        state.withLock { state in
            let unwritten = Self.unwritten(state, share)
            let grant = max(0, min(wanted, budget - written - unwritten))
            if grant > 0 { state.playing[share, default: 0] += grant }
            return grant
        }
    }

    /// Playback bytes this process has served or is serving through `share` that the catalog does not hold yet.
    func unwrittenPlayback(_ share: String) -> Int64 {
        state.withLock { Self.unwritten($0, share) }
    }

    private static func unwritten(_ state: State, _ share: String) -> Int64 {
        var unwritten: Int64 = state.playing[share] ?? 0
        for (key, tally) in state.pending where key.share == share && key.kind == "play" { unwritten += tally.bytes }
        for (key, tally) in state.writing where key.share == share && key.kind == "play" { unwritten += tally.bytes }
        return unwritten
    }

    /// Ends a playback response that was granted `granted` bytes and sent `sent` of them (counted in its view).
    func endPlayback(_ key: Key, granted: Int64, sent: Int, at time: Date) {
        count(key, bytes: sent, at: time)
        state.withLock { state in
            let left = (state.playing[key.share] ?? 0) - granted
            state.playing[key.share] = left > 0 ? left : nil
        }
    }

    /// Forgets views that were closed (a later request opens them again, with a new event).
    func closed(_ views: [ShareViewSummary]) {
        state.withLock { state in
            for view in views { state.open.remove(Key(share: view.shareID, view: view.viewID, kind: view.kind)) }
        }
    }
}
