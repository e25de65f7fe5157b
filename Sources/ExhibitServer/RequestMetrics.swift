import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Request counts and durations for `/metrics`, by route template, method and status (issue 20).
///
/// Hummingbird's `MetricsMiddleware` (through swift-metrics into Prometheus) took two locked lookups, a gauge up
/// and down, a counter and a histogram (each locked) and a wrapped body per request: measured, a quarter of the
/// request floor. Here a request costs one clock read and one locked update of plain integers; the Prometheus
/// text is written when `/metrics` is read. The series are bounded: route templates (never raw paths), methods
/// and statuses.
final class RequestMetrics: Sendable {
    struct Key: Hashable, Sendable {
        let route: String
        let method: String
        let status: Int
    }

    struct Stats: Sendable {
        var count = 0
        var errors = 0
        var nanoseconds: UInt64 = 0
        /// Requests at or under each bound of `bounds` (cumulative when written).
        var buckets = [Int](repeating: 0, count: RequestMetrics.bounds.count)

        mutating func add(_ elapsed: UInt64, bucket: Int?, error: Bool) {
            count += 1
            nanoseconds &+= elapsed
            if error { errors += 1 }
            if let bucket { buckets[bucket] += 1 }
        }
    }

    /// Histogram bounds, in nanoseconds: 1 ms to 10 s.
    static let bounds: [UInt64] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000].map { $0 * 1_000_000 }

    private let table = Mutex<[Key: Stats]>([:])

    /// Monotonic nanoseconds.
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func record(route: String, method: HTTPRequest.Method, status: Int, since start: UInt64, error: Bool) {
        let elapsed = Self.now() &- start
        let bucket = Self.bounds.firstIndex { elapsed <= $0 }
        let key = Key(route: route, method: method.rawValue, status: status)
        table.withLock { $0[key, default: Stats()].add(elapsed, bucket: bucket, error: error) }
    }

    /// The Prometheus text exposition of what was recorded.
    func exposition() -> String {
        let snapshot = table.withLock { $0 }.sorted { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }
        func labels(_ key: Key) -> String {
            let route = key.route.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "http_route=\"\(route)\",http_request_method=\"\(key.method)\",http_response_status_code=\"\(key.status)\""
        }
        var out = "# TYPE hb_requests_total counter\n"
        for (key, stats) in snapshot { out += "hb_requests_total{\(labels(key))} \(stats.count)\n" }
        out += "# TYPE hb_request_errors_total counter\n"
        for (key, stats) in snapshot where stats.errors > 0 { out += "hb_request_errors_total{\(labels(key))} \(stats.errors)\n" }
        out += "# TYPE http_server_request_duration_seconds histogram\n"
        for (key, stats) in snapshot {
            var cumulative = 0
            for (index, bound) in Self.bounds.enumerated() {
                cumulative += stats.buckets[index]
                out += "http_server_request_duration_seconds_bucket{\(labels(key)),le=\"\(Double(bound) / 1e9)\"} \(cumulative)\n"
            }
            out += "http_server_request_duration_seconds_bucket{\(labels(key)),le=\"+Inf\"} \(stats.count)\n"
            out += "http_server_request_duration_seconds_sum{\(labels(key))} \(Double(stats.nanoseconds) / 1e9)\n"
            out += "http_server_request_duration_seconds_count{\(labels(key))} \(stats.count)\n"
        }
        return out
    }
}

/// Records every request in `RequestMetrics`: its route template, method, status and the time to its response.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = ExhibitRequestContext
    let metrics: RequestMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = RequestMetrics.now()
        do {
            let response = try await next(request, context)
            metrics.record(route: context.endpointPath ?? "Unknown", method: request.method, status: response.status.code, since: start, error: false)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.record(route: context.endpointPath ?? "NotFound", method: request.method, status: status, since: start, error: true)
            throw error
        }
    }
}
