import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The request log (one line a request), written in batches (issue 20).
///
/// Through swift-log's stream handler each line took a lock, a time formatted through the C library's local-time
/// functions, and a write and flush of its own: with the log on, half the request floor. Here a request appends
/// its line to a buffer under a lock; a thread of its own writes the buffer to standard error every 100 ms, as
/// nginx's `access_log … buffer= flush=` does, and it is written once more when the server stops. Memory is bounded: if
/// standard error stops taking lines (a full pipe), lines past 8 MiB are dropped and counted, and the count is
/// written when it takes them again.
final class AccessLog: Sendable {
    struct Pending: Sendable {
        var bytes: [UInt8] = []
        var dropped = 0
        /// The second whose time prefix is cached, and its text (`2026-12-04T16:02:12Z`).
        var second: Int = -1
        var stamp: [UInt8] = []
    }

    static let limit = 8 << 20
    private let pending = Mutex(Pending())
    let fd: Int32

    init(fd: Int32 = STDERR_FILENO) { self.fd = fd }

    /// Appends one line: `<time> info access: <method> <path> <status> <bytes>B[ (cut short)] <ms>ms <client>`.
    func record(method: HTTPRequest.Method, path: String, status: Int, bytes: Int, finished: Bool, nanoseconds: UInt64, client: String) {
        var line: [UInt8] = []
        line.reserveCapacity(96 + path.utf8.count)
        line += " info access: ".utf8
        line += method.rawValue.utf8
        line.append(0x20)
        line += path.utf8
        line.append(0x20)
        line += String(status).utf8
        line.append(0x20)
        line += String(bytes).utf8
        line.append(UInt8(ascii: "B"))
        if !finished { line += " (cut short)".utf8 }
        line.append(0x20)
        // Milliseconds with one decimal, by integer arithmetic.
        let tenths = nanoseconds / 100_000
        line += String(tenths / 10).utf8
        line.append(UInt8(ascii: "."))
        line += String(tenths % 10).utf8
        line += "ms ".utf8
        line += client.utf8
        line.append(0x0A)
        let now = time(nil)
        pending.withLock { state in
            guard state.bytes.count + line.count <= Self.limit else {
                state.dropped += 1
                return
            }
            if state.second != now {
                state.second = now
                state.stamp = Self.stamp(now)
            }
            state.bytes += state.stamp
            state.bytes += line
        }
    }

    /// `2026-12-04T16:02:12Z`.
    static func stamp(_ seconds: Int) -> [UInt8] {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
        return Array(text.utf8)
    }

    /// Writes what is buffered (a failed write drops it: a log never stops a request). Called on the log's own
    /// thread, never on Swift's cooperative pool: a write to a full pipe blocks.
    func flush() {
        let (bytes, dropped) = pending.withLock { state -> ([UInt8], Int) in
            let taken = (state.bytes, state.dropped)
            state.bytes = []
            state.dropped = 0
            return taken
        }
        var out = bytes
        if dropped > 0 {
            out += Self.stamp(time(nil))
            out += " warning access: \(dropped) request log line(s) dropped: standard error was not taking them\n".utf8
        }
        guard !out.isEmpty else { return }
        out.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = write(fd, base + offset, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    private let stopped = Atomic<Bool>(false)

    /// Writes the buffer every 100 ms on a thread of its own until `stop`.
    func start() {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                usleep(100_000)
                flush()
            }
        }
        thread.name = "exhibit-access-log"
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
    }
}

/// Runs the request log's writer while the server runs, and writes what is left when it stops.
struct AccessLogService: Service {
    let log: AccessLog

    func run() async throws {
        log.start()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(3600)) } catch { break }
            }
        }
        log.stop()
        log.flush()
    }
}
