import Foundation
import Synchronization

/// Slows repeated failed sign-ins: after 3 failures for one key (a user name, a client address) within 15 minutes,
/// each further attempt for it waits 1 s, doubling per failure up to 16 s, before it is answered (a guess per 16 s
/// instead of thousands). A success clears the name's count. The waits hold no thread; the table is bounded (the
/// oldest entries go first).
final class SignInThrottle: Sendable {
    private struct Entry {
        var failures: Int
        var last: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let clock = ContinuousClock()
    static let window: Duration = .seconds(900)
    static let capacity = 10_000

    /// How long an attempt for `keys` waits now.
    func delay(keys: [String]) -> Duration {
        let now = clock.now
        let failures = entries.withLock { table in
            keys.map { key -> Int in
                guard let entry = table[key], now - entry.last < Self.window else { return 0 }
                return entry.failures
            }.max() ?? 0
        }
        guard failures >= 3 else { return .zero }
        return .seconds(1 << min(failures - 3, 4))
    }

    func wait(keys: [String]) async {
        let delay = delay(keys: keys)
        if delay > .zero { try? await Task.sleep(for: delay) }
    }

    func failed(keys: [String]) {
        let now = clock.now
        entries.withLock { table in
            for key in keys where !key.isEmpty {
                var entry = table[key] ?? Entry(failures: 0, last: now)
                if now - entry.last >= Self.window { entry.failures = 0 }
                entry.failures += 1
                entry.last = now
                table[key] = entry
            }
            if table.count > Self.capacity {
                let oldest = table.sorted { $0.value.last < $1.value.last }.prefix(table.count - Self.capacity / 2)
                for (key, _) in oldest { table[key] = nil }
            }
        }
    }

    func succeeded(keys: [String]) {
        entries.withLock { table in
            for key in keys { table[key] = nil }
        }
    }
}
