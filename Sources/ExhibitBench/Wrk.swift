import Foundation

/// `wrk` against one URL for `seconds`: requests per second, median and 99th-percentile latency, and any errors
/// it reported. Two threads, or one for a single connection.
struct Wrk {
    let benchDir: String
    let seconds: Int

    struct Result {
        let requestsPerSecond: Double
        let p50: Double
        let p99: Double
        let errors: String
    }

    func run(_ url: String, headers: [String], connections: Int) -> Result? {
        let out = benchDir + "/wrk.out"
        var arguments = ["wrk", "-t\(min(2, connections))", "-c\(connections)", "-d\(seconds)s", "--latency"]
        for header in headers { arguments += ["-H", header] }
        _ = Measure.spawn(arguments + [url], stdout: out)
        guard let text = try? String(contentsOfFile: out, encoding: .utf8) else { return nil }
        func value(after label: String) -> String? {
            guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
            return line.trimmingCharacters(in: .whitespaces).dropFirst(label.count).split(separator: " ").first.map(String.init)
        }
        func milliseconds(_ text: String?) -> Double {
            guard let text else { return .nan }
            if text.hasSuffix("us") { return (Double(text.dropLast(2)) ?? .nan) / 1000 }
            if text.hasSuffix("ms") { return Double(text.dropLast(2)) ?? .nan }
            if text.hasSuffix("s") { return (Double(text.dropLast(1)) ?? .nan) * 1000 }
            return .nan
        }
        guard let rps = value(after: "Requests/sec:").flatMap(Double.init) else { return nil }
        var errors = ""
        if let line = text.split(separator: "\n").first(where: { $0.contains("Non-2xx") || $0.contains("Socket errors") }) {
            errors = line.trimmingCharacters(in: .whitespaces)
        }
        return Result(requestsPerSecond: rps, p50: milliseconds(value(after: "50%")), p99: milliseconds(value(after: "99%")), errors: errors)
    }
}
