import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Issue 5: upload and download of 1 GiB over HTTP on loopback, Exhibit beside nginx (and restic for uploads),
/// with the Exhibit server's peak RSS.
struct HTTPBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let nginxTemplate: String
    let runs: Int

    func run() throws -> [Table] {
        let file = benchDir + "/random-1g.bin"
        IngestBench(benchDir: benchDir, exhibit: exhibit, policies: policies, runs: runs).prepareInput(file)
        let mib = Double(1 << 30) / 1_048_576
        let root = benchDir + "/http"
        Measure.shell("rm -rf '\(root)' && mkdir -p '\(root)/files' '\(root)/body'")

        let nginx = try BenchNginx(root: root, template: nginxTemplate)
        defer { nginx.stop() }
        let ports = nginx.ports
        let server = try BenchExhibit(exhibit: exhibit, storage: root + "/exhibit", policies: policies, benchDir: benchDir)
        defer { server.stop() }
        let base = server.base
        let token = server.token

        // Uploads: curl -T (PUT) of the same file.
        var upload = Table(title: "Upload of 1 GiB with curl -T on loopback (best of \(runs); to disk)",
                           header: ["what", "seconds", "MiB/s", "Exhibit ÷ it"])
        var number = 0
        let exhibitUpload = Measure.best(times: runs) {
            number += 1
            return Measure.spawn(["curl", "-sf", "-o", "/dev/null", "-T", file, "-H", "Authorization: Bearer \(token)",
                                  "\(base)/v1/cases/BENCH%2F1/exhibits?filename=run\(number).bin"])
        }
        let nginxUpload = Measure.best(times: runs, prepare: { Measure.shell("rm -f '\(root)/files/up.bin'") }) {
            Measure.spawn(["curl", "-sf", "-o", "/dev/null", "-T", file, "http://127.0.0.1:\(ports[0])/up.bin"])
        }
        // Resumable (tus): the whole file in the creation request, and with `exhibit upload` (requests of 16 MiB for
        // this size, each checksummed and made durable before the next).
        let digest = String(shellOutput(benchDir, "sha256sum '\(file)'").prefix(64))
        func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        let tusUpload = Measure.best(times: runs) {
            number += 1
            return Measure.spawn([
                "curl", "-sf", "-o", "/dev/null", "-X", "POST", "-T", file, "-H", "Authorization: Bearer \(token)",
                "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: \(1 << 30)", "-H", "Content-Type: application/offset+octet-stream",
                "-H", "Upload-Metadata: case \(b64("BENCH/1")),filename \(b64("tus\(number).bin")),sha256 \(b64(digest))",
                "\(base)/v1/uploads",
            ])
        }
        // The same tus upload through a footage request's link (issue 19): no token, the request's limits and rate
        // limits checked, the request's time inputs attached.
        let requestJSON = shellOutput(benchDir, "curl -s -X POST \(base)/v1/cases/BENCH%2F1/requests -H 'Authorization: Bearer \(token)' -d '{\"from\":\"2026-11-30T14:00:00Z\",\"to\":\"2026-11-30T14:30:00Z\",\"location\":\"bench\",\"owner\":\"bench\",\"max_files\":100,\"max_file_size\":\"2GiB\",\"max_total_size\":\"1TiB\"}'")
        let requestLink = (try? JSONSerialization.jsonObject(with: Data(requestJSON.utf8)) as? [String: Any])?["link"] as? String
        let requestUpload: Run? = requestLink.flatMap { link in
            Measure.best(times: runs) {
                number += 1
                return Measure.spawn([
                    "curl", "-sf", "-o", "/dev/null", "-X", "POST", "-T", file,
                    "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: \(1 << 30)", "-H", "Content-Type: application/offset+octet-stream",
                    "-H", "Upload-Metadata: filename \(b64("request\(number).bin")),sha256 \(b64(digest))",
                    link + "/uploads",
                ])
            }
        }
        let clientUpload = Measure.best(times: runs, prepare: { Measure.shell("rm -rf '\(root)/client-config'") }) {
            Measure.spawn([exhibit, "upload", "--server", base, "--case", "BENCH/1", file],
                          environment: ["EXHIBIT_TOKEN": token, "XDG_CONFIG_HOME": root + "/client-config"])
        }
        // The disk's own durable write rate: what any upload acknowledged only once durable is bound by (issue 20).
        let durable = Measure.best(times: runs, prepare: { Measure.shell("rm -f '\(root)/files/dd.bin'") }) {
            Measure.spawn(["dd", "if=\(file)", "of=\(root)/files/dd.bin", "bs=1M", "conv=fsync", "status=none"])
        }
        Measure.shell("rm -f '\(root)/files/dd.bin'")
        var restic: Run?
        if Measure.which("restic") != nil {
            let repo = root + "/restic"
            let env = ["RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": root + "/restic-cache"]
            restic = Measure.best(times: runs, prepare: {
                Measure.shell("rm -rf '\(repo)' '\(root)/restic-cache'")
                _ = Measure.spawn(["restic", "init", "--repository-version", "2", "--repo", repo], environment: env)
            }) { Measure.spawn(["restic", "backup", "--compression", "off", "--repo", repo, file], environment: env) }
        }
        func row(_ table: inout Table, _ name: String, _ run: Run?, _ ours: Run?) {
            guard let run else { return table.rows.append([name, "failed", "", ""]) }
            table.rows.append([name, fmt(run.seconds, 3), fmt(mib / run.seconds, 0), ours.map { fmt(run.seconds / $0.seconds) + "×" } ?? ""])
        }
        row(&upload, "Exhibit PUT /v1/cases/{case}/exhibits", exhibitUpload, nil)
        row(&upload, "Exhibit tus POST /v1/uploads, the whole file in one request", tusUpload, exhibitUpload)
        row(&upload, "Exhibit tus POST /r/{token}/uploads (a footage request's link), the whole file in one request", requestUpload, exhibitUpload)
        row(&upload, "exhibit upload (tus, 16 MiB requests each checksummed and durable; hashes the file first)", clientUpload, exhibitUpload)
        row(&upload, "nginx WebDAV PUT (writes the body, hashes nothing, no fsync)", nginxUpload, exhibitUpload)
        row(&upload, "dd conv=fsync of the file (the disk's durable write rate, no HTTP)", durable, exhibitUpload)
        row(&upload, "restic backup --compression off (local, no HTTP)", restic, exhibitUpload)
        upload.notes = ["Goals (issue 5): ≥ 1.2× nginx and ≥ 3× restic. Exhibit's upload includes chunking, two SHA-256 passes, fsync of every chunk, the integrity scan and the catalog transaction."]
        if let ours = exhibitUpload, let disk = durable, let nginx = nginxUpload {
            upload.notes.append("Upload at \(fmt(disk.seconds / ours.seconds))× the disk's durable write rate (dd conv=fsync, which varies a lot on this shared disk) and \(fmt(nginx.seconds / ours.seconds))× nginx, which acknowledges before its bytes are durable (goal ≥ 0.8× nginx, issue 20: \(nginx.seconds / ours.seconds >= 0.8 ? "met" : "NOT met")).")
        }
        if let single = exhibitUpload, let tus = tusUpload {
            upload.notes.append("Resumable upload in one go: \(fmt(single.seconds / tus.seconds))× the speed of the single-request upload (goal ≥ 0.9×, issue 9).")
            if let request = requestUpload {
                let ratio = tus.seconds / request.seconds
                upload.notes.append("Through a footage request's link: \(fmt(ratio))× the authenticated tus upload of the same file (goal ≥ 0.9×, issue 19: \(ratio >= 0.9 ? "met" : "NOT met")).")
            }
        }

        // Downloads: the exhibit vs the same file from nginx.
        Measure.shell("cp '\(file)' '\(root)/files/static.bin'")
        var download = Table(title: "Download of 1 GiB with curl -o /dev/null on loopback (best of \(runs))",
                             header: ["what", "seconds", "MiB/s", "Exhibit ÷ it"])
        let exhibitDownload = Measure.best(times: runs) {
            Measure.spawn(["curl", "-sf", "-o", "/dev/null", "-H", "Authorization: Bearer \(token)", "\(base)/v1/exhibits/BN%2F1/content?case=BENCH%2F1"])
        }
        let sendfileOn = Measure.best(times: runs) { Measure.spawn(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:\(ports[1])/static.bin"]) }
        let sendfileOff = Measure.best(times: runs) { Measure.spawn(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:\(ports[2])/static.bin"]) }
        row(&download, "Exhibit GET /v1/exhibits/{id}/content", exhibitDownload, nil)
        row(&download, "nginx, sendfile on", sendfileOn, exhibitDownload)
        row(&download, "nginx, sendfile off", sendfileOff, exhibitDownload)
        let peak = peakRSS(server.process.processIdentifier)
        let fastest = [sendfileOn, sendfileOff].compactMap { $0?.seconds }.min()
        let downloadRatio = exhibitDownload.flatMap { ours in fastest.map { $0 / ours.seconds } }
        download.notes = [
            "Goal (issues 5 and 20): ≥ 0.7× the faster nginx: \(verdict(downloadRatio, atLeast: 0.7)). "
                + "Exhibit re-hashes every chunk it sends whole (verify on read).",
            "Exhibit server peak RSS over the uploads and downloads above: \(peak / 1024) MiB (goal < 150 MiB: \(peak < 150 * 1024 ? "met" : "NOT met")).",
        ]
        return [upload, download]
    }

    /// VmHWM of a running process, in KiB.
    func peakRSS(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}

/// nginx started from Sources/ExhibitBench/nginx.conf.template on free ports: `ports[0]` takes WebDAV PUT,
/// `ports[1]` serves `root/files` with sendfile, `ports[2]` without.
struct BenchNginx {
    let process: Process
    let ports: [Int]

    init(root: String, template: String) throws {
        Measure.shell("mkdir -p '\(root)/files' '\(root)/body'")
        let ports = (0..<3).map { _ in freePort() }
        var config = try String(contentsOfFile: template, encoding: .utf8)
        config = config.replacingOccurrences(of: "@ROOT@", with: root)
            .replacingOccurrences(of: "@PORT_DAV@", with: String(ports[0]))
            .replacingOccurrences(of: "@PORT_SENDFILE@", with: String(ports[1]))
            .replacingOccurrences(of: "@PORT_PLAIN@", with: String(ports[2]))
            .replacingOccurrences(of: "@USER@", with: ProcessInfo.processInfo.environment["USER"] ?? "root")
        try config.write(toFile: root + "/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = Process()
        nginx.executableURL = URL(fileURLWithPath: Measure.which("nginx") ?? "/usr/sbin/nginx")
        nginx.arguments = ["-c", root + "/nginx.conf", "-e", root + "/error.log"]
        nginx.standardError = FileHandle.nullDevice
        try nginx.run()
        self.process = nginx
        self.ports = ports
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// `exhibit serve` on a fresh store and a free port, with an investigator `bench` (token) and case `BENCH/1`.
struct BenchExhibit {
    let process: Process
    let base: String
    let token: String

    init(exhibit: String, storage: String, policies: String, benchDir: String, logLevel: String = "warning") throws {
        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: exhibit)
        server.arguments = ["serve", "--storage", storage, "--policies", policies, "--port", String(port)]
        server.environment = ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": logLevel]) { $1 }
        let serverOut = Pipe()
        server.standardOutput = serverOut
        try server.run()
        var banner = ""
        while !banner.contains("first-admin-token") { banner += String(decoding: serverOut.fileHandleForReading.availableData, as: UTF8.self) }
        let admin = ((try? String(contentsOfFile: storage + "/first-admin-token", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let base = "http://127.0.0.1:\(port)"
        let created = shellOutput(benchDir, "curl -s -X POST \(base)/v1/users -H 'Authorization: Bearer \(admin)' -d '{\"name\":\"bench\",\"role\":\"investigator\",\"initials\":\"BN\"}'")
        let token = String(created[created.range(of: #"exh_[A-Za-z0-9_-]+"#, options: .regularExpression)!])
        _ = shellOutput(benchDir, "curl -s -X POST \(base)/v1/cases -H 'Authorization: Bearer \(token)' -d '{\"reference\":\"BENCH/1\"}'")
        self.process = server
        self.base = base
        self.token = token
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// Runs a shell command and returns its standard output.
func shellOutput(_ benchDir: String, _ command: String) -> String {
    let out = benchDir + "/shell.out"
    _ = Measure.spawn(["/bin/sh", "-c", command], stdout: out)
    return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
}

/// A free TCP port on 127.0.0.1 (bound and released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
