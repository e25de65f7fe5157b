import Foundation

/// Issue 18: a case page listing 1,000 exhibits, rendered for a signed-in browser, beside the JSON list of the
/// same exhibits from the API, in the same run (`wrk`, requests per second and latency).
struct WebBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let seconds: Int
    let exhibits = 1000

    func run() throws -> Table {
        let root = benchDir + "/web"
        Measure.shell("rm -rf '\(root)' && mkdir -p '\(root)/files'")
        let server = try BenchExhibit(exhibit: exhibit, storage: root + "/exhibit", policies: policies, benchDir: benchDir)
        defer { server.stop() }
        // 1,000 small files, each an exhibit of its own, ingested by one CLI run beside the server.
        Measure.shell("cd '\(root)/files' && for i in $(seq 1 \(exhibits)); do head -c 2048 /dev/urandom > clip-$i.bin; done")
        Measure.shell("'\(exhibit)' ingest --case BENCH/1 --as bench --storage '\(root)/exhibit' --policies '\(policies)' '\(root)'/files/*.bin > /dev/null")
        let detail = shellOutput(benchDir, "curl -s '\(server.base)/v1/cases/BENCH%2F1' -H 'Authorization: Bearer \(server.token)'")
        guard let match = detail.firstMatch(of: /"id" *: *"([^"]+)"/) else { throw BenchError("no case id in \(detail.prefix(300))") }
        let caseID = String(match.1)
        // A browser's session: the sign-in form's CSRF token with its cookie, then the form.
        let jar = root + "/cookies"
        let form = shellOutput(benchDir, "curl -s -c '\(jar)' '\(server.base)/app/signin'")
        guard let csrf = form.firstMatch(of: /name="csrf" value="([^"]+)"/).map({ String($0.1) }) else {
            throw BenchError("no CSRF token on the sign-in page")
        }
        _ = shellOutput(benchDir, "curl -s -b '\(jar)' -c '\(jar)' -d 'csrf=\(csrf)&name=bench&token=\(server.token)' '\(server.base)/app/signin'")
        let cookies = (try? String(contentsOfFile: jar, encoding: .utf8)) ?? ""
        guard let session = cookies.split(separator: "\n").first(where: { $0.contains("\texhibit_session\t") })?.split(separator: "\t").last else {
            throw BenchError("signing in gave no session")
        }
        let page = shellOutput(benchDir, "curl -s -H 'Cookie: exhibit_session=\(session)' '\(server.base)/app/cases/\(caseID)'")
        let rows = page.components(separatedBy: "<a href=\"/app/exhibits/").count - 1
        guard rows == exhibits else { throw BenchError("the case page lists \(rows) exhibits, not \(exhibits)") }

        // One connection gives the time one request takes (the server-side render, on loopback); eight, the
        // throughput of both cores.
        let wrk = Wrk(benchDir: benchDir, seconds: seconds)
        let jsonURL = server.base + "/v1/cases/\(caseID)/exhibits", pageURL = server.base + "/app/cases/\(caseID)"
        let bearer = ["Authorization: Bearer \(server.token)"], cookie = ["Cookie: exhibit_session=\(session)"]
        let htmlOne = wrk.run(pageURL, headers: cookie, connections: 1)
        let jsonOne = wrk.run(jsonURL, headers: bearer, connections: 1)
        let html = wrk.run(pageURL, headers: cookie, connections: 8)
        let json = wrk.run(jsonURL, headers: bearer, connections: 8)
        var table = Table(
            title: "A case of \(exhibits) exhibits: its page (HTML, signed in) vs its JSON list, wrk -d\(seconds)s on loopback",
            header: ["what", "requests/s", "p50 ms", "p99 ms", "page ÷ it"])
        func row(_ name: String, _ result: Wrk.Result?, _ ours: Wrk.Result?) {
            guard let result else { return table.rows.append([name, "failed", "", "", ""]) }
            table.rows.append([
                name, fmt(result.requestsPerSecond, 1), fmt(result.p50, 1), fmt(result.p99, 1),
                ours.map { fmt($0.requestsPerSecond / result.requestsPerSecond) + "×" } ?? "",
            ])
        }
        row("GET /app/cases/{id}: the case page, \(exhibits) rows, 1 connection", htmlOne, nil)
        row("GET /v1/cases/{id}/exhibits: the same exhibits as JSON, 1 connection", jsonOne, htmlOne)
        row("GET /app/cases/{id}: the case page, 8 connections", html, nil)
        row("GET /v1/cases/{id}/exhibits: the same as JSON, 8 connections", json, html)
        table.notes = ["Goal (issue 18): the page rendered in under 100 ms (p50 at 1 connection), within 2× the JSON list's time."]
        return table
    }
}
