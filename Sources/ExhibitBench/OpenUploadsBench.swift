import Foundation

/// Issue 16: the server's resident memory with 500 resumable uploads open, each with 1.5 MiB sent (a tail that
/// has not made a whole chunk yet), beside the same server idle. An open upload must hold nothing in memory
/// between its requests.
struct OpenUploadsBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let uploads = 500

    func run() throws -> Table {
        let root = benchDir + "/open-uploads"
        Measure.shell("rm -rf '\(root)' && mkdir -p '\(root)/Policies' && cp '\(policies)'/*.yaml '\(root)/Policies/'")
        Measure.shell("sed -i 's/max_open_per_user: [0-9]*/max_open_per_user: 1000/' '\(root)/Policies/storage.yaml'")
        let part = root + "/part.bin"
        Measure.shell("head -c \(3 << 19) /dev/urandom > '\(part)'")
        let server = try BenchExhibit(exhibit: exhibit, storage: root + "/Storage", policies: root + "/Policies", benchDir: benchDir)
        defer { server.stop() }
        func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        // One upload made and finished first, so code and buffers are in before the idle figure.
        _ = shellOutput(benchDir, "curl -s -o /dev/null -T '\(part)' -H 'Authorization: Bearer \(server.token)' '\(server.base)/v1/cases/BENCH%2F1/exhibits?filename=warm.bin'")
        let idle = resident(server.process.processIdentifier)
        let started = Date()
        var failed = 0
        for n in 0..<uploads {
            let headers = shellOutput(benchDir, """
                curl -s -D - -o /dev/null -X POST '\(server.base)/v1/uploads' -H 'Authorization: Bearer \(server.token)' \
                  -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: \(8 << 20)' \
                  -H 'Upload-Metadata: case \(b64("BENCH/1")),filename \(b64("open\(n).bin"))' \
                  -H 'Content-Type: application/offset+octet-stream' --data-binary @'\(part)'
                """)
            if !headers.contains(" 201") { failed += 1 }
        }
        let seconds = Date().timeIntervalSince(started)
        let open = resident(server.process.processIdentifier)
        var table = Table(title: "Server memory with \(uploads) resumable uploads open (1.5 MiB of 8 MiB sent each)",
                          header: ["what", "server RSS", "per open upload"])
        table.rows.append(["the server, idle after one upload", "\(idle >> 20) MiB", ""])
        table.rows.append(["with \(uploads - failed) uploads open (made in \(fmt(seconds, 1)) s)", "\(open >> 20) MiB",
                           "\((max(0, open - idle) / Int64(max(1, uploads - failed))) >> 10) KiB"])
        table.notes = [
            "Goal (issue 16): an open upload holds no pending bytes in memory (its tail waits on disk); before, each held its tail (here 1.5 MiB).",
            failed == 0 ? "Every upload was created." : "\(failed) uploads were refused.",
        ]
        return table
    }

    func resident(_ pid: Int32) -> Int64 {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int64(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0) * 1024
    }
}
