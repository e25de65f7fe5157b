import Foundation

/// Issue 7: requests per second for a 64 KiB range through a share link (MAC check, share lookup, view
/// accounting, chunk read and verify) with `wrk`, beside nginx serving a 64 KiB static file, in the same run.
struct LinkBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let nginxTemplate: String
    let seconds: Int
    let connections = 32

    func run() throws -> Table {
        let root = benchDir + "/links"
        Measure.shell("rm -rf '\(root)' && mkdir -p '\(root)/files'")
        // 16 MiB of random bytes: the footage (16 chunks at the default sizes), and a 64 KiB file for nginx.
        Measure.shell("head -c 16777216 /dev/urandom > '\(root)/footage.bin' && head -c 65536 /dev/urandom > '\(root)/files/64k.bin'")
        let nginx = try BenchNginx(root: root, template: nginxTemplate)
        defer { nginx.stop() }
        let bare = try BareServer()
        defer { bare.stop() }
        // The policies with the largest playback budget (1000× the footage): 10 s of ranges at full speed stay within
        // it, so every request measured is a served range, not a refusal.
        let benchPolicies = root + "/policies"
        Measure.shell("rm -rf '\(benchPolicies)' && cp -r '\(policies)' '\(benchPolicies)' && sed -i 's/^playback_budget: .*/playback_budget: 1000/' '\(benchPolicies)/sharing.yaml'")
        let server = try BenchExhibit(exhibit: exhibit, storage: root + "/exhibit", policies: benchPolicies, benchDir: benchDir)
        defer { server.stop() }
        _ = shellOutput(benchDir, "curl -s -T '\(root)/footage.bin' -H 'Authorization: Bearer \(server.token)' '\(server.base)/v1/cases/BENCH%2F1/exhibits?filename=footage.bin'")
        let shared = shellOutput(benchDir, "curl -s -X POST '\(server.base)/v1/exhibits/BN%2F1/shares?case=BENCH%2F1' -H 'Authorization: Bearer \(server.token)' -d '{\"max_downloads\": 1}'")
        guard let range = shared.range(of: #"/s/[A-Za-z0-9_.-]+"#, options: .regularExpression) else {
            throw BenchError("cannot create a share: \(shared)")
        }
        let link = server.base + shared[range]

        // A player's range request in the middle of the file, all in one view (as a browser seeking), and nginx.
        let exhibitRun = wrk(link + "?play=master&view=benchview", range: "bytes=8388608-8454143")
        let health = wrk(server.base + "/healthz", range: nil)
        let bareOK = wrk(bare.base + "/ok", range: nil)
        let bare64k = wrk(bare.base + "/64k", range: nil)
        let nginxRun = wrk("http://127.0.0.1:\(nginx.ports[1])/64k.bin", range: nil)
        let nginxPlain = wrk("http://127.0.0.1:\(nginx.ports[2])/64k.bin", range: nil)

        var table = Table(
            title: "64 KiB through a share link vs nginx, wrk -t2 -c\(connections) -d\(seconds)s on loopback",
            header: ["what", "requests/s", "p50 ms", "p99 ms", "Exhibit ÷ it", "errors"])
        func row(_ name: String, _ result: Wrk.Result?, _ ours: Wrk.Result?) {
            guard let result else { return table.rows.append([name, "failed", "", "", "", ""]) }
            table.rows.append([
                name, fmt(result.requestsPerSecond, 0), fmt(result.p50, 2), fmt(result.p99, 2),
                ours.map { fmt($0.requestsPerSecond / result.requestsPerSecond) + "×" } ?? "", result.errors,
            ])
        }
        row("Exhibit GET /s/{token}?play=… Range: 64 KiB", exhibitRun, nil)
        row("bare Hummingbird 2, 64 KiB from memory (same build settings)", bare64k, exhibitRun)
        row("nginx 64 KiB static file, sendfile on", nginxRun, exhibitRun)
        row("nginx 64 KiB static file, sendfile off", nginxPlain, exhibitRun)
        row("Exhibit GET /healthz (liveness: the whole middleware chain, no catalog read)", health, nil)
        row("bare Hummingbird 2, GET /ok", bareOK, health)
        func ratio(_ ours: Wrk.Result?, _ theirs: Wrk.Result?) -> Double? {
            guard let ours, let theirs, theirs.requestsPerSecond > 0 else { return nil }
            return ours.requestsPerSecond / theirs.requestsPerSecond
        }
        func met(_ ok: Bool) -> String { ok ? "met" : "NOT met" }
        table.notes = ["wrk, the servers and nginx share the machine's 2 cores."]
        if let floor = ratio(health, bareOK) {
            table.notes.append("Request floor: /healthz at \(fmt(floor))× bare Hummingbird (goal ≥ 0.8×, issue 20: \(met(floor >= 0.8))).")
        }
        if let link = ratio(exhibitRun, bare64k), let p99 = exhibitRun?.p99 {
            table.notes.append("Link streaming: \(fmt(link))× bare Hummingbird's 64 KiB, p99 \(fmt(p99, 2)) ms (goal ≥ 0.5× and p99 < 10 ms, issue 20: \(met(link >= 0.5 && p99 < 10))).")
        }
        return table
    }

    func wrk(_ url: String, range: String?) -> Wrk.Result? {
        Wrk(benchDir: benchDir, seconds: seconds).run(url, headers: range.map { ["Range: \($0)"] } ?? [], connections: connections)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
