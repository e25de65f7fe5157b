public import Foundation

/// A real `exhibit serve` process on 127.0.0.1 and a free port, stopped when released.
public final class LiveServer: @unchecked Sendable {
    // `process` and the pipes are only touched from init and stop/deinit (one test at a time).
    public let url: String
    /// The admin token printed on a first start (nil when the store already had users).
    public let adminToken: String?
    public let process: Process
    private let output: Pipe
    /// The server's standard error (its log at `LOG_LEVEL`, warning by default), removed with the server.
    public let errorLog: String
    /// What the server has logged so far.
    public var log: String { (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "" }

    /// Starts a server on `port` (0: a free one) and waits, off the cooperative pool, for its "listening" line.
    public init(storage: String, policies: String = TestPaths.policies, environment: [String: String] = [:], port: Int = 0) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.exhibitExecutable)
        process.arguments = ["serve", "--storage", storage, "--policies", policies, "--port", String(port)]
        process.environment = ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": "warning"].merging(environment) { $1 }) { $1 }
        let output = Pipe()
        process.standardOutput = output
        // Errors go to a file, so a server that does not start says why.
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("exhibit-serve-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errors)
        errorLog = errors.path
        try process.run()
        self.process = process
        self.output = output
        // Read until the "listening" line; the first-start token line is written in the same write. The reads
        // block, so they run on a thread of their own.
        let started = UnsafeProcess(process)
        let text: String = await offPool {
            var text = ""
            let deadline = Date().addingTimeInterval(60)
            while !text.contains("listening on"), Date() < deadline, started.value.isRunning {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { Thread.sleep(forTimeInterval: 0.01); continue }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        guard let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
            process.terminate()
            await process.exited()
            let reason = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw TestSupportError("the server did not start: \(text)\(reason)")
        }
        url = String(text[range])
        // Not a terminal: the first admin's token is in a file of mode 0600 the server names.
        let tokenFile = storage + "/first-admin-token"
        if text.contains("first-admin-token"), let saved = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            adminToken = saved.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            adminToken = text.range(of: #"exh_[A-Za-z0-9_-]+"#, options: .regularExpression).map { String(text[$0]) }
        }
    }

    /// The server's resident memory now (VmRSS), in bytes.
    public var residentBytes: Int64 {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int64(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }

    /// Whether the server process is still running.
    public var isRunning: Bool { process.isRunning }

    /// Stops the server (SIGTERM: graceful) and waits for it, off the cooperative pool; returns its exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return await process.exited()
    }

    /// Kills the server (SIGKILL) without waiting: for `defer`, which cannot await. Foundation reaps the child.
    public func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit {
        terminate()
        try? FileManager.default.removeItem(atPath: errorLog)
    }

    /// A TCP port nothing listens on now (the kernel's choice), for a server that must come back on the same one.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestSupportError("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// HTTP through the `curl` command line: a real, independent client.
public enum HTTP {
    public struct Result: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
        public func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw TestSupportError("not a JSON object: \(text.prefix(200))")
            }
            return object
        }
        public func jsonArray() throws -> [[String: Any]] {
            guard let array = try JSONSerialization.jsonObject(with: body) as? [[String: Any]] else {
                throw TestSupportError("not a JSON array: \(text.prefix(200))")
            }
            return array
        }
        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    /// Runs one request on the calling thread. `upload` sends a file as the body (streamed by curl); `data` sends
    /// bytes.
    static func blockingRequest(
        _ method: String, _ url: String, token: String? = nil, headers: [String: String] = [:],
        data: Data? = nil, upload: String? = nil, extra: [String] = []
    ) throws -> Result {
        let folder = try TemporaryDirectory("curl")
        var arguments = ["-s", "-g", "-X", method, "-D", folder.appending("headers"), "-o", folder.appending("body"),
                         "-w", "%{http_code}", "--max-time", "300"]
        if method == "HEAD" { arguments = ["-s", "-g", "-I", "-D", folder.appending("headers"), "-o", folder.appending("body"), "-w", "%{http_code}"] }
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let data {
            try data.write(to: URL(fileURLWithPath: folder.appending("request")))
            arguments += ["--data-binary", "@" + folder.appending("request")]
        }
        if let upload { arguments += ["--data-binary", "@" + upload, "-H", "Content-Type: application/octet-stream"] }
        arguments += extra + [url]
        let result = try Subprocess.runBlocking("/usr/bin/curl", arguments)
        let status = Int(result.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        var parsed: [String: String] = [:]
        let raw = (try? String(contentsOfFile: folder.appending("headers"), encoding: .utf8)) ?? ""
        for line in raw.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            parsed[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = (try? Data(contentsOf: URL(fileURLWithPath: folder.appending("body")))) ?? Data()
        return Result(status: status, headers: parsed, body: body)
    }

    /// GET with curl. curl runs on a thread of its own: blocking one of the few cooperative threads starves a
    /// server running in the same process, which needs them to answer (a deadlock on 2 cores).
    public static func get(_ url: String, token: String? = nil, headers: [String: String] = [:]) async throws -> Result {
        try await offPool { try blockingRequest("GET", url, token: token, headers: headers) }
    }

    /// One request with curl, on a thread of its own (see `get`).
    public static func request(
        _ method: String, _ url: String, token: String? = nil, headers: [String: String] = [:],
        data: Data? = nil, upload: String? = nil, extra: [String] = []
    ) async throws -> Result {
        try await offPool { try blockingRequest(method, url, token: token, headers: headers, data: data, upload: upload, extra: extra) }
    }

    /// POST of a JSON object, on a thread of its own.
    public static func postJSON(_ url: String, token: String?, _ object: [String: Any]) async throws -> Result {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try await offPool { try blockingRequest("POST", url, token: token, headers: ["Content-Type": "application/json"], data: data) }
    }
}
