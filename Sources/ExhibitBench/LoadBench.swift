import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `make load` (issue 20): one server on loopback under 32 concurrent uploaders and 64 concurrent share-link
/// streamers for a bounded time, from one Swift process (AsyncHTTPClient on its own event loops: no process per
/// request competing with the server for the two cores); then every acknowledged upload must be stored as
/// acknowledged, and `exhibit verify` and `exhibit custody verify` must pass.
///
/// usage: exhibit-bench --load EXHIBIT_BINARY POLICIES_DIR [--seconds 60] [--uploaders 32] [--streamers 64]
///        [--max-rss-mib 1024]. Exits 1 on any failed request or check.
struct LoadBench {
    var exhibit: String
    var policies: String
    var seconds = 60.0
    var uploaders = 32
    var streamers = 64
    var uploadSize = 4 << 20
    var maxRSSMiB = 1024

    static func main(_ arguments: [String]) async -> Int32 {
        var rest = arguments[...]
        guard let exhibit = rest.popFirst(), let policies = rest.popFirst() else {
            FileHandle.standardError.write(Data("usage: exhibit-bench --load EXHIBIT POLICIES [--seconds N] [--uploaders N] [--streamers N] [--max-rss-mib N]\n".utf8))
            return 2
        }
        var load = LoadBench(exhibit: exhibit, policies: policies)
        while let option = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch option {
            case "--seconds": load.seconds = Double(value) ?? load.seconds
            case "--uploaders": load.uploaders = Int(value) ?? load.uploaders
            case "--streamers": load.streamers = Int(value) ?? load.streamers
            case "--max-rss-mib": load.maxRSSMiB = Int(value) ?? load.maxRSSMiB
            default:
                FileHandle.standardError.write(Data("load: unknown option \(option)\n".utf8))
                return 2
            }
        }
        do {
            return try await load.run() ? 0 : 1
        } catch {
            print("load: FAILED: \(error)")
            return 1
        }
    }

    /// What the clients saw: (seconds, bytes) per request, and the failures.
    final class Tally: Sendable {
        struct State {
            var uploads: [(Double, Int)] = []
            var streams: [(Double, Int)] = []
            var uploaded: [(id: String, sha256: String)] = []
            var failures: [String] = []
            var peakRSS = 0
        }
        let state = Mutex(State())
    }

    func run() async throws -> Bool {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("exhibit-load-\(getpid())").path
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let storage = work + "/Storage"
        print("load: \(uploaders) uploaders and \(streamers) link streamers for \(Int(seconds)) s, in \(work) (one Swift client process)")
        // The policies with a playback budget a load test does not exhaust.
        let loadPolicies = work + "/Policies"
        Measure.shell("cp -r '\(policies)' '\(loadPolicies)' && sed -i 's/^playback_budget: .*/playback_budget: 1000/' '\(loadPolicies)/sharing.yaml'")
        // The server, with the user `bench` (an investigator) and the case BENCH/1.
        let bench = try BenchExhibit(exhibit: exhibit, storage: storage, policies: loadPolicies, benchDir: work, logLevel: "error")
        defer { bench.stop() }
        let server = bench.process
        let base = bench.base
        let token = bench.token

        // The process-wide client (its own event loops; nothing to shut down).
        let client = HTTPClient.shared
        func call(_ method: HTTPMethod, _ path: String, token: String?, headers: [(String, String)] = [], body: ByteBuffer? = nil) async throws -> (Int, ByteBuffer) {
            var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : base + path)
            request.method = method
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(body) }
            let response = try await client.execute(request, timeout: .seconds(120))
            return (Int(response.status.code), try await response.body.collect(upTo: 64 << 20))
        }
        func json(_ buffer: ByteBuffer) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]) ?? [:]
        }
        func setup(_ method: HTTPMethod, _ path: String, _ token: String, _ object: [String: Any]) async throws -> [String: Any] {
            let (status, body) = try await call(method, path, token: token, headers: [("Content-Type", "application/json")],
                                                body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
            guard status < 300 else { throw BenchError("setup \(path) answered \(status): \(String(buffer: body).prefix(300))") }
            return json(body)
        }
        // Footage the links serve: four 2 MiB exhibits, each shared once.
        var generator = SystemRandomNumberGenerator()
        func randomBytes(_ count: Int) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(count)
            for _ in 0..<(count / 8) { buffer.writeInteger(generator.next() as UInt64) }
            return buffer
        }
        var links: [String] = []
        for index in 0..<4 {
            let (status, body) = try await call(.POST, "/v1/cases/BENCH%2F1/exhibits?filename=shared\(index).bin", token: token, body: randomBytes(2 << 20))
            guard status == 201, let id = json(body)["id"] as? String else { throw BenchError("setup upload answered \(status)") }
            guard let url = try await setup(.POST, "/v1/exhibits/\(id)/shares", token, ["expires_in": "24h", "recipient": "CPS"])["url"] as? String else {
                throw BenchError("no link")
            }
            links.append(url)
        }
        let shared = randomBytes(uploadSize)
        let streamed = links
        let tally = Tally()
        let clock = ContinuousClock()
        let stop = clock.now + .milliseconds(Int(seconds * 1000))
        let began = clock.now
        let pid = server.processIdentifier
        await withTaskGroup(of: Void.self) { group in
            for number in 0..<uploaders {
                group.addTask {
                    var local = SystemRandomNumberGenerator()
                    var count = 0
                    while clock.now < stop {
                        // New footage each time: a unique 64 KiB head on shared bytes (its first chunk is new).
                        var body = ByteBuffer()
                        body.reserveCapacity(shared.readableBytes + 65536)
                        for _ in 0..<8192 { body.writeInteger(local.next() as UInt64) }
                        body.writeImmutableBuffer(shared)
                        let size = body.readableBytes
                        let started = clock.now
                        do {
                            let (status, reply) = try await call(.POST, "/v1/cases/BENCH%2F1/exhibits?filename=u\(number)-\(count).bin", token: token, body: body)
                            let elapsed = (clock.now - started).seconds
                            let object = json(reply)
                            tally.state.withLock { state in
                                if status == 201, let id = object["id"] as? String, let sha = object["sha256"] as? String {
                                    state.uploads.append((elapsed, size))
                                    state.uploaded.append((id, sha))
                                } else {
                                    state.failures.append("upload answered \(status): \(String(buffer: reply).prefix(200))")
                                }
                            }
                        } catch {
                            tally.state.withLock { $0.failures.append("upload failed: \(error)") }
                        }
                        count += 1
                    }
                }
            }
            for number in 0..<streamers {
                group.addTask {
                    var local = SystemRandomNumberGenerator()
                    while clock.now < stop {
                        // What a browser's player does: the whole stream as a range from the start, or 64 KiB ranges,
                        // under a view id.
                        let link = streamed[Int(local.next() % UInt64(streamed.count))]
                        let stream = "\(link)?play=master&view=load\(number)x\(local.next() % 8)"
                        let whole = local.next() % 2 == 0
                        let start = whole ? 0 : Int(local.next() % UInt64((2 << 20) - 65536))
                        let range = whole ? "bytes=0-" : "bytes=\(start)-\(start + 65535)"
                        let expected = whole ? 2 << 20 : 65536
                        let started = clock.now
                        do {
                            let (status, body) = try await call(.GET, stream, token: nil, headers: [("Range", range)])
                            let elapsed = (clock.now - started).seconds
                            tally.state.withLock { state in
                                if status == 206 && body.readableBytes == expected {
                                    state.streams.append((elapsed, body.readableBytes))
                                } else {
                                    state.failures.append("link answered \(status) (\(body.readableBytes) bytes)")
                                }
                            }
                        } catch {
                            tally.state.withLock { $0.failures.append("link failed: \(error)") }
                        }
                    }
                }
            }
            group.addTask {
                while clock.now < stop + .seconds(2) {
                    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                    if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                       let kib = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") {
                        tally.state.withLock { $0.peakRSS = max($0.peakRSS, kib << 10) }
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
        }
        let elapsed = (clock.now - began).seconds
        var state = tally.state.withLock { $0 }
        func percentile(_ values: [Double], _ q: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
        func line(_ name: String, _ items: [(Double, Int)]) -> (rate: Double, mib: Double, p99: Double) {
            let times = items.map(\.0)
            let mib = Double(items.reduce(0) { $0 + $1.1 }) / elapsed / 1_048_576
            print("load: \(name) \(items.count) in \(Int(elapsed)) s = \(fmt(Double(items.count) / elapsed, 1))/s, \(fmt(mib, 1)) MiB/s, "
                + "p50 \(Int(percentile(times, 0.5) * 1000)) ms, p99 \(Int(percentile(times, 0.99) * 1000)) ms")
            return (Double(items.count) / elapsed, mib, percentile(times, 0.99))
        }
        let up = line("uploads  ", state.uploads)
        _ = line("streams  ", state.streams)
        print("load: server peak RSS \(state.peakRSS >> 20) MiB (bound \(maxRSSMiB) MiB); errors \(state.failures.count)")
        let met = up.mib >= 100 && up.p99 < 2
        print("load: uploads under load \(fmt(up.mib, 1)) MiB/s, p99 \(fmt(up.p99, 2)) s (goal ≥ 100 MiB/s in all, p99 < 2 s, issue 20: \(met ? "met" : "NOT met"))")
        for failure in state.failures.prefix(10) { print("load: FAILED " + failure) }
        if !server.isRunning { state.failures.append("the server died") }

        // Afterwards: every acknowledged upload is stored as acknowledged; the store and the ledger verify.
        let common = ["--storage", storage, "--policies", loadPolicies]
        let verify = shellOutput(work, ([exhibit, "verify"] + common).map { "'\($0)'" }.joined(separator: " ") + "; echo \"exit $?\"")
        print("load: exhibit verify: " + (verify.split(separator: "\n").dropLast().last.map(String.init) ?? "?"))
        let custody = shellOutput(work, ([exhibit, "custody", "verify"] + common).map { "'\($0)'" }.joined(separator: " ") + " 2>&1; echo \"exit $?\"")
        print("load: exhibit custody verify: " + (custody.split(separator: "\n").dropLast().last.map(String.init) ?? "?"))
        let stored = shellOutput(work, "sqlite3 '\(storage)/exhibit.sqlite' 'SELECT id, blob FROM exhibits'")
        var rows: [String: String] = [:]
        for row in stored.split(separator: "\n") {
            let parts = row.split(separator: "|")
            if parts.count == 2 { rows[String(parts[0])] = String(parts[1]) }
        }
        let missing = state.uploaded.filter { rows[$0.id] != $0.sha256 }
        if !verify.hasSuffix("exit 0\n") { state.failures.append("exhibit verify failed: \(verify.suffix(500))") }
        if !custody.hasSuffix("exit 0\n") { state.failures.append("custody verify failed: \(custody.suffix(500))") }
        if !missing.isEmpty { state.failures.append("\(missing.count) acknowledged uploads are not stored as acknowledged") }
        if state.uploads.isEmpty || state.streams.isEmpty { state.failures.append("no upload or no stream completed") }
        if state.peakRSS > maxRSSMiB << 20 { state.failures.append("server RSS \(state.peakRSS >> 20) MiB is past the bound") }
        if !state.failures.isEmpty {
            print("load: FAILED (\(state.failures.count) problems; the store is kept in \(work))")
            return false
        }
        try? FileManager.default.removeItem(atPath: work)
        print("load: ok: zero errors, every uploaded exhibit verifies, the ledger verifies")
        return true
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
