import CheckedInput
import AsyncHTTPClient
import ArgumentParser
import BlobStore
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import MediaProbe
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

extension ExhibitCommand {
    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload footage to a server, resuming after any interruption (tus).",
            discussion: """
                Each PATH is a file or a folder (a DVR export: every file in it, in name order). Each file is \
                hashed first; its SHA-256 goes with the upload and the server checks it when the last byte \
                arrives. A dropped connection or a restarted server is retried where it stopped; a killed \
                upload resumes when the same command is run again (state in ~/.config/exhibit/uploads.json, \
                by file hash). A file the case already holds (the same SHA-256) is not sent again: it is reported \
                as already stored, with its reference, unless --again is given. The token comes from --token or \
                EXHIBIT_TOKEN (so it stays out of shell history). The server and the token are checked before \
                anything is hashed or sent: an unreachable server or a refused token is named at once.

                Example:
                  EXHIBIT_TOKEN=exh_… exhibit upload --server https://exhibit.example --case 2017/MPS/0421 ./DVR-export
                """)

        @Option(name: .customLong("server"), help: ArgumentHelp("The server (default: $EXHIBIT_SERVER, else http://127.0.0.1:8080).", valueName: "url"))
        var serverOption: String?
        var server: String { serverOption ?? ProcessInfo.processInfo.environment["EXHIBIT_SERVER"] ?? "http://127.0.0.1:8080" }
        @Option(help: ArgumentHelp("Your bearer token (default: $EXHIBIT_TOKEN).", valueName: "token"))
        var token: String?
        @Option(name: .customLong("case"), help: ArgumentHelp("The case to upload into.", valueName: "case"))
        var caseName: String
        @Option(name: .customLong("recorded-start"), help: ArgumentHelp("The recorder's clock at the footage's start.", valueName: "time"))
        var recordedStart: String?
        @Option(name: .customLong("clock-offset"), help: ArgumentHelp("Recorder time minus true time, ±HH:MM:SS.", valueName: "offset"))
        var clockOffset: String?
        @Option(name: .customLong("requested-from"), help: ArgumentHelp("Start of the window asked of the owner (true time).", valueName: "time"))
        var requestedFrom: String?
        @Option(name: .customLong("requested-to"), help: ArgumentHelp("End of that window (true time).", valueName: "time"))
        var requestedTo: String?
        @Option(
            name: .customLong("request-size"),
            help: ArgumentHelp("Bytes per request, each checksummed and acknowledged durably (default: a 64th of the file, 1–16 MiB).", valueName: "size"))
        var requestSize: String?
        @Option(help: ArgumentHelp("Retries of one request before giving up on a file.", valueName: "n"))
        var retries: Int = 30
        @Flag(help: "Print one JSON line per file instead of the table.") var json = false
        @Flag(help: "Upload files the case already holds again (as new exhibits sharing the stored bytes).") var again = false
        @Argument(help: ArgumentHelp("Files or folders to upload.", valueName: "path")) var paths: [String]

        func run() async throws {
            guard let token = token ?? ProcessInfo.processInfo.environment["EXHIBIT_TOKEN"], !token.isEmpty else {
                throw CLIError("give a token with --token or EXHIBIT_TOKEN")
            }
            var size: Int64?
            if let requestSize {
                guard let parsed = ByteSize.parse(requestSize), parsed >= 64 << 10, parsed <= 1 << 30 else {
                    throw ValidationError("--request-size must be between 64KiB and 1GiB")
                }
                size = parsed
            }
            for (text, option) in [(recordedStart, "--recorded-start"), (requestedFrom, "--requested-from"), (requestedTo, "--requested-to")] {
                if let text { _ = try parseTime(text, option) }
            }
            if let clockOffset { _ = try ClockOffset.parse(clockOffset, field: "--clock-offset") }
            let files = try Self.expand(paths)
            guard !files.isEmpty else { throw CLIError("no files to upload in \(paths.joined(separator: " "))") }
            let base = server.hasSuffix("/") ? String(server.dropLast()) : server
            let client = TusClient(server: base, token: token, requestSize: size.map { Int($0) }, retries: retries)
            // Before hashing gigabytes: can the server be reached, and does it take this token?
            try await client.checkAccess(case: caseName)
            let progress = Progress(files: files, json: json)
            var results: [FileResult] = []
            for (index, file) in files.enumerated() {
                progress.start(index: index)
                do {
                    let result = try await client.upload(file, case: caseName, metadata: metadata(), again: again, progress: progress)
                    results.append(result)
                    progress.done(result)
                    // Each file's line as soon as it is stored: the line is its acknowledgment.
                    if json { try printJSONLine(result) }
                } catch {
                    let failed = FileResult(path: file.path, size: file.size, sha256: file.sha256 ?? "", reference: nil, exhibitID: nil,
                                            verdict: nil, coverage: nil, error: "\(error)", resumed: false, alreadyStored: false)
                    results.append(failed)
                    progress.done(failed)
                    if json { try printJSONLine(failed) }
                }
            }
            progress.finish()
            if !json {
                printTable(["FILE", "EXHIBIT", "SHA-256", "VERDICT", "COVERAGE"], results.map {
                    [$0.path, $0.reference ?? "FAILED", $0.sha256.isEmpty ? "" : String($0.sha256.prefix(16)) + "…",
                     $0.alreadyStored ? "already stored (\($0.verdict ?? "?"))" : ($0.verdict ?? ($0.error ?? "")), $0.coverage ?? ""]
                })
            }
            if results.contains(where: { $0.error != nil }) { throw ExitCode(1) }
        }

        func metadata() -> [String: String] {
            var out: [String: String] = [:]
            if let recordedStart { out["recorded_start"] = recordedStart }
            if let clockOffset { out["clock_offset"] = clockOffset }
            if let requestedFrom { out["requested_from"] = requestedFrom }
            if let requestedTo { out["requested_to"] = requestedTo }
            return out
        }

        /// Files named, and every regular file under folders named (hidden ones skipped), folders in name order.
        static func expand(_ paths: [String]) throws -> [LocalFile] {
            var files: [LocalFile] = []
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw CLIError("no such file or folder: \(path)")
                }
                if isDirectory.boolValue {
                    let names = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
                    for name in names where !name.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                        let full = (path as NSString).appendingPathComponent(name)
                        var folder: ObjCBool = false
                        if FileManager.default.fileExists(atPath: full, isDirectory: &folder), !folder.boolValue {
                            files.append(try LocalFile(path: full))
                        }
                    }
                } else {
                    files.append(try LocalFile(path: path))
                }
            }
            return files
        }
    }
}

struct LocalFile {
    let path: String
    let size: Int64
    var sha256: String?

    /// A file to upload; a symbolic link is followed (its target's size, not the link's).
    init(path: String) throws {
        self.path = path
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: target)
        } catch {
            throw CLIError("cannot read \(path): \(error.localizedDescription)")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else { throw CLIError("\(path) is not a regular file") }
        size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
    }
}

struct FileResult: Encodable {
    let path: String
    let size: Int64
    let sha256: String
    let reference: String?
    let exhibitID: String?
    let verdict: String?
    let coverage: String?
    let error: String?
    /// Whether it went on from an earlier run of the command.
    let resumed: Bool
    /// The case already held the file (same SHA-256): nothing was sent, and `reference` is the stored exhibit.
    let alreadyStored: Bool

    enum CodingKeys: String, CodingKey {
        case path, size, sha256, reference
        case exhibitID = "exhibit_id"
        case verdict, coverage, error, resumed
        case alreadyStored = "already_stored"
    }
}

/// Where each file's upload is, between runs: `~/.config/exhibit/uploads.json` (or under `$XDG_CONFIG_HOME`),
/// mode 0600, keyed by server, case, SHA-256 and size.
struct ResumeState {
    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        let config = environment["XDG_CONFIG_HOME"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return config + "/exhibit/uploads.json"
    }

    /// The value kept for a finished file: this prefix and its exhibit id.
    static let done = "done "

    static func key(server: String, caseName: String, sha256: String, size: Int64) -> String {
        "\(server) \(caseName) \(sha256) \(size)"
    }

    static func load() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else { return [:] }
        return object
    }

    static func update(_ change: (inout [String: String]) -> Void) throws {
        var state = load()
        change(&state)
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys, .prettyPrinted])
        try DurableFile.replace(path, with: data, mode: 0o600)
    }
}

/// A tus 1.0 client over AsyncHTTPClient: creation, HEAD to find the offset, PATCH in requests of `requestSize`
/// bytes each with `Upload-Checksum`, retried with backoff after network errors, 5xx and 423.
///
/// (Not URLSession: on Linux it spins a core while a server that reads slowly holds a request body back, which on
/// a loaded machine starved the very server it waited for.)
struct TusClient {
    let server: String
    let token: String
    /// Bytes per PATCH; nil: a 64th of the file between 1 and 16 MiB, so an interruption (which loses at most the
    /// request in flight) costs under 2% of the file, and large files go in few requests.
    let requestSize: Int?
    let retries: Int

    /// One client for the process (never shut down: it lives as long as the command).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        // Idle timeouts (reset whenever bytes go the way they wait for): a connection that died silently is given
        // up after them; a slow but moving upload is not.
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(30), write: .seconds(30))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
    /// For the first request only: a server that is not there is named within seconds (the pool retries a refused
    /// connection until its connect timeout).
    static let checkingClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(30), write: .seconds(30))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
    static let userAgent = "exhibit-upload/1 (\(ProcessInfo.processInfo.hostName))"

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    enum Outcome {
        case response(HTTPURLResponse, Data)
        case network(any Error)
    }

    func send(_ method: String, _ url: String, headers: [String: String], body: Data? = nil, client: HTTPClient = Self.client) async -> Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.replaceOrAdd(name: "User-Agent", value: Self.userAgent)
        request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token)")
        request.headers.replaceOrAdd(name: "Tus-Resumable", value: "1.0.0")
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        do {
            // The idle timeouts above bound a stalled request; this only bounds a pathological one.
            let response = try await client.execute(request, timeout: .hours(6))
            let bytes = method == "HEAD" ? ByteBuffer() : try await response.body.collect(upTo: 4 << 20)
            var fields: [String: String] = [:]
            for header in response.headers where fields[header.name] == nil { fields[header.name] = header.value }
            guard let address = URL(string: url),
                  let http = HTTPURLResponse(url: address, statusCode: Int(response.status.code), httpVersion: "HTTP/1.1", headerFields: fields)
            else { return .network(Failure(description: "not an HTTP response")) }
            return .response(http, Data(buffer: bytes))
        } catch {
            return .network(error)
        }
    }

    static func detail(_ data: Data) -> String {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["detail"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self)
    }

    static func hash(_ file: LocalFile, progress: Progress) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { throw CLIError("cannot read \(file.path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        var done: Int64 = 0
        while true {
            let data = handle.readData(ofLength: 4 << 20)
            if data.isEmpty { break }
            hasher.update(data)
            done += Int64(data.count)
            progress.hashing(done)
        }
        return hasher.finalize().hex
    }

    /// Checks once, before any file is hashed, that the server answers, takes the token, and lets it upload to
    /// the case: each failure is named (connection refused, a name that does not resolve, TLS, 401, 403, 404).
    /// A server that cannot be reached is named at once and tried again for about 15 seconds (it may be
    /// restarting), then given up; a refused token or case is final at once.
    func checkAccess(case caseName: String) async throws {
        let encoded = caseName.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? caseName
        var attempt = 0
        while true {
            switch await send("GET", server + "/v1/cases/" + encoded, headers: [:], client: Self.checkingClient) {
            case .network(let error):
                attempt += 1
                guard attempt < 5 else { throw Failure(description: "cannot reach \(server): \(Self.cause(error)); nothing was sent") }
                FileHandle.standardError.write(Data("cannot reach \(server): \(Self.cause(error)); trying again\n".utf8))
                try await Task.sleep(for: .milliseconds(500 << attempt))
                continue
            case .response(let response, let body):
                try Self.judgeAccess(response, body, caseName: caseName, server: server)
                return
            }
        }
    }

    static func judgeAccess(_ response: HTTPURLResponse, _ body: Data, caseName: String, server: String) throws {
        switch response.statusCode {
            case 200: return
            case 401: throw Failure(description: "\(server) refused the token (401): check --token or EXHIBIT_TOKEN; nothing was sent")
            case 403: throw Failure(description: "\(server): \(Self.detail(body)) (403); nothing was sent")
            case 404: throw Failure(description: "\(server) has no case \(caseName) that you may see (404); nothing was sent")
            default: throw Failure(description: "\(server) answered \(response.statusCode): \(Self.detail(body)); nothing was sent")
        }
    }

    /// A network failure in words a person can act on.
    static func cause(_ error: any Error) -> String {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("connection refused") || lower.contains("connectionrefused") || lower.contains("econnrefused") {
            return "connection refused (nothing listens at that address and port)"
        }
        if lower.contains("dns") || lower.contains("resolve") || lower.contains("nodename nor servname") || lower.contains("name or service not known") {
            return "the host name does not resolve (DNS)"
        }
        if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") || lower.contains("handshake") {
            return "the TLS connection failed (\(text.prefix(160)))"
        }
        if lower.contains("timeout") || lower.contains("timed out") { return "no answer in time (a firewall, or the wrong address?)" }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    /// The exhibits of the case that hold exactly these bytes.
    func stored(_ sha256: String, case caseName: String) async -> [[String: Any]] {
        let encoded = caseName.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? caseName
        guard case .response(let response, let body) = await send("GET", server + "/v1/cases/\(encoded)/exhibits?sha256=\(sha256)", headers: [:]),
              response.statusCode == 200, let list = try? JSONSerialization.jsonObject(with: body) as? [[String: Any]]
        else { return [] }
        return list.filter { ($0["sha256"] as? String) == sha256 && ($0["master_id"] == nil) }
    }

    func upload(_ file: LocalFile, case caseName: String, metadata extra: [String: String], again: Bool, progress: Progress) async throws -> FileResult {
        var file = file
        let sha256 = try Self.hash(file, progress: progress)
        file.sha256 = sha256
        let key = ResumeState.key(server: server, caseName: caseName, sha256: sha256, size: file.size)
        // A resumed batch skips what the case already holds (asked of the server: the local state may be stale).
        // (An upload in flight for this file goes on instead: its bytes are half on the server already.)
        if !again, ResumeState.load()[key].map({ $0.hasPrefix(ResumeState.done) }) ?? true,
           let existing = await stored(sha256, case: caseName).first {
            let reference = existing["reference"] as? String
            progress.note("already stored as \(reference ?? "?") (same SHA-256); not sent again (--again to send it anyway)")
            try? ResumeState.update { $0[key] = ResumeState.done + ((existing["id"] as? String) ?? "") }
            return FileResult(
                path: file.path, size: file.size, sha256: sha256, reference: reference, exhibitID: existing["id"] as? String,
                verdict: existing["verdict"] as? String, coverage: (existing["coverage"] as? [String: Any])?["summary"] as? String,
                error: nil, resumed: false, alreadyStored: true)
        }
        if ResumeState.load()[key]?.hasPrefix(ResumeState.done) == true { try? ResumeState.update { $0[key] = nil } }
        var location = ResumeState.load()[key]
        var offset: Int64 = 0
        let resumed = location != nil
        if let known = location {
            if let value = try await currentOffset(known) { offset = value } else { location = nil }
        }
        if location == nil {
            location = try await create(file, caseName: caseName, sha256: sha256, extra: extra)
            try ResumeState.update { $0[key] = location }
        }
        let url = server + location!
        let requestSize = self.requestSize ?? Int(min(16 << 20, max(1 << 20, ((file.size / 64) >> 20) << 20)))
        guard let handle = FileHandle(forReadingAtPath: file.path) else { throw CLIError("cannot read \(file.path)") }
        defer { try? handle.close() }
        var failures = 0
        var exhibitID: String?
        progress.sent(offset, of: file.size)
        while exhibitID == nil {
            if offset == file.size && file.size > 0 {
                // Everything was sent before; the server may have finished the file already.
                if let done = try await finished(url) { exhibitID = done; break }
            }
            try handle.seek(toOffset: UInt64(offset))
            let data = handle.readData(ofLength: requestSize)
            let checksum = "sha256 " + Data(SHA256.hash(data).bytes).base64EncodedString()
            let outcome = await send("PATCH", url, headers: [
                "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream", "Upload-Checksum": checksum,
            ], body: data)
            switch outcome {
            case .response(let response, let body) where response.statusCode == 204:
                offset = Int64(response.value(forHTTPHeaderField: "Upload-Offset") ?? "") ?? offset + Int64(data.count)
                progress.sent(offset, of: file.size)
                failures = 0
                if let id = response.value(forHTTPHeaderField: "Exhibit-Id") { exhibitID = id }
                _ = body
            case .response(let response, let body) where [400, 401, 403, 413, 415].contains(response.statusCode):
                try? ResumeState.update { $0[key] = nil }
                throw Failure(description: "the server refused the upload (\(response.statusCode)): \(Self.detail(body))")
            case .response(let response, _) where [404, 410].contains(response.statusCode):
                // Expired or gone: start again from the beginning.
                try? ResumeState.update { $0[key] = nil }
                throw Failure(description: "the upload expired on the server (\(response.statusCode)); run the command again to start it anew")
            case .response(let response, let body):
                if response.statusCode == 400 || response.statusCode == 460 && failures > 3 {
                    throw Failure(description: "\(response.statusCode): \(Self.detail(body))")
                }
                failures += 1
                guard failures <= retries else { throw Failure(description: "gave up after \(retries) retries: \(response.statusCode) \(Self.detail(body))") }
                if let current = try await retryingOffset(url) { offset = current }
            case .network(let error):
                failures += 1
                guard failures <= retries else { throw Failure(description: "gave up after \(retries) retries: \(error.localizedDescription)") }
                progress.note("connection lost (\(error.localizedDescription)); resuming")
                try await Task.sleep(for: .milliseconds(min(10_000, 250 << min(failures, 6))))
                if let current = try await retryingOffset(url) { offset = current }
            }
        }
        let finished = try await result(file, sha256: sha256, url: url, exhibitID: exhibitID ?? "", resumed: resumed)
        // Kept as finished: a run of the same command again reports it stored instead of sending it.
        try? ResumeState.update { $0[key] = ResumeState.done + (finished.exhibitID ?? "") }
        progress.acknowledged(file.size - progress.startOffset)
        return finished
    }

    /// The offset the server has (nil when the upload is gone), retrying network failures.
    func retryingOffset(_ url: String) async throws -> Int64? {
        for attempt in 0..<retries {
            if case .response(let response, _) = await send("HEAD", url, headers: [:]) {
                if response.statusCode == 200 { return Int64(response.value(forHTTPHeaderField: "Upload-Offset") ?? "") }
                if [404, 410].contains(response.statusCode) { throw Failure(description: "the upload expired on the server; run the command again") }
            }
            try await Task.sleep(for: .milliseconds(min(10_000, 250 << min(attempt, 6))))
        }
        throw Failure(description: "the server did not answer after \(retries) tries")
    }

    /// The offset of a known upload; nil when the server no longer has it (expired, ended).
    func currentOffset(_ location: String) async throws -> Int64? {
        switch await send("HEAD", server + location, headers: [:]) {
        case .response(let response, _) where response.statusCode == 200:
            return Int64(response.value(forHTTPHeaderField: "Upload-Offset") ?? "")
        case .response:
            return nil
        case .network(let error):
            throw Failure(description: "cannot reach \(server): \(error.localizedDescription)")
        }
    }

    func finished(_ url: String) async throws -> String? {
        guard case .response(let response, _) = await send("HEAD", url, headers: [:]), response.statusCode == 200 else { return nil }
        return response.value(forHTTPHeaderField: "Exhibit-Id")
    }

    func create(_ file: LocalFile, caseName: String, sha256: String, extra: [String: String]) async throws -> String {
        var fields = ["case": caseName, "filename": (file.path as NSString).lastPathComponent, "sha256": sha256]
        fields.merge(extra) { _, new in new }
        let metadata = fields.sorted { $0.key < $1.key }.map { "\($0.key) \(Data($0.value.utf8).base64EncodedString())" }.joined(separator: ",")
        for attempt in 0...retries {
            switch await send("POST", server + "/v1/uploads", headers: ["Upload-Length": String(file.size), "Upload-Metadata": metadata]) {
            case .response(let response, _) where response.statusCode == 201:
                guard let location = response.value(forHTTPHeaderField: "Location") else { throw Failure(description: "the server gave no Location") }
                return location.hasPrefix("http") ? String(location[location.range(of: "/v1/")!.lowerBound...]) : location
            case .response(let response, let body) where response.statusCode < 500:
                throw Failure(description: "the server refused the upload (\(response.statusCode)): \(Self.detail(body))")
            default:
                try await Task.sleep(for: .milliseconds(min(10_000, 250 << min(attempt, 6))))
            }
        }
        throw Failure(description: "could not create the upload on \(server)")
    }

    func result(_ file: LocalFile, sha256: String, url: String, exhibitID: String, resumed: Bool) async throws -> FileResult {
        var reference: String?, verdict: String?, coverage: String?
        if case .response(let response, let body) = await send("GET", url, headers: [:]), response.statusCode == 200,
           let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
           let exhibit = object["exhibit"] as? [String: Any] {
            reference = exhibit["reference"] as? String
            verdict = exhibit["verdict"] as? String
            coverage = (exhibit["coverage"] as? [String: Any])?["summary"] as? String
            if let stored = exhibit["sha256"] as? String, stored != sha256 {
                throw Failure(description: "the server stored \(stored), not \(sha256)")
            }
        }
        return FileResult(path: file.path, size: file.size, sha256: sha256, reference: reference ?? exhibitID, exhibitID: exhibitID,
                          verdict: verdict, coverage: coverage, error: nil, resumed: resumed, alreadyStored: false)
    }
}

/// Progress on standard error: a bar per file and overall on a terminal, plain lines otherwise.
final class Progress: @unchecked Sendable {
    // Used from the one task that uploads, one file after another.
    let files: [LocalFile]
    let total: Int64
    let isTerminal = isatty(STDERR_FILENO) == 1
    var index = 0
    var doneBefore: Int64 = 0
    var current: Int64 = 0
    var started = Date()
    var fileStarted = Date()
    var startOffset: Int64 = 0
    var lastLine = Date.distantPast
    var lastPercent = -1
    var first = true

    init(files: [LocalFile], json: Bool) {
        self.files = files
        self.total = files.reduce(0) { $0 + $1.size }
        _ = json  // the table or JSON lines go to standard output; progress always to standard error
    }

    func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    func start(index: Int) {
        self.index = index
        current = 0
        fileStarted = Date()
        lastPercent = -1
        first = true
    }

    func hashing(_ bytes: Int64) {
        guard isTerminal, Date().timeIntervalSince(lastLine) > 0.2 else { return }
        lastLine = Date()
        let file = files[index]
        write("\r\u{1B}[K[\(index + 1)/\(files.count)] \((file.path as NSString).lastPathComponent): hashing \(percent(bytes, file.size))%")
    }

    func sent(_ offset: Int64, of size: Int64) {
        if first {
            first = false
            startOffset = offset
            fileStarted = Date()
            if offset > 0 { note("resuming at \(Self.bytes(offset)) of \(Self.bytes(size)), sent before") }
        }
        current = offset
        let file = files[index]
        let elapsed = max(Date().timeIntervalSince(fileStarted), 0.001)
        let rate = Double(offset - startOffset) / elapsed
        let eta = rate > 0 ? Double(size - offset) / rate : 0
        let overall = doneBefore + offset
        let name = (file.path as NSString).lastPathComponent
        if isTerminal {
            guard Date().timeIntervalSince(lastLine) > 0.2 || offset == size else { return }
            lastLine = Date()
            let width = 24
            let filled = size > 0 ? Int(Double(width) * Double(offset) / Double(size)) : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            write("\r\u{1B}[K[\(index + 1)/\(files.count)] \(name) [\(bar)] \(percent(offset, size))% \(Self.bytes(offset))/\(Self.bytes(size)) \(Self.bytes(Int64(rate)))/s ETA \(Self.duration(eta))  all \(percent(overall, total))%")
        } else {
            let step = percent(offset, size) / 10 * 10
            guard step != lastPercent else { return }
            lastPercent = step
            write("[\(index + 1)/\(files.count)] \(name): \(step)% (\(Self.bytes(offset)) of \(Self.bytes(size)), \(Self.bytes(Int64(rate)))/s, ETA \(Self.duration(eta))); all files \(percent(overall, total))%\n")
        }
    }

    func note(_ text: String) {
        let name = (files[index].path as NSString).lastPathComponent
        write((isTerminal ? "\r\u{1B}[K" : "") + "[\(index + 1)/\(files.count)] \(name): \(text)\n")
    }

    func done(_ result: FileResult) {
        doneBefore += files[index].size
        startOffset = 0
        if isTerminal { write("\r\u{1B}[K") }
        let name = (result.path as NSString).lastPathComponent
        if let error = result.error {
            failed += 1
            write("[\(index + 1)/\(files.count)] \(name): FAILED: \(error)\n")
        } else if result.alreadyStored {
            skipped += 1
        } else {
            stored += 1
            write("[\(index + 1)/\(files.count)] \(name): stored as \(result.reference ?? "?") (\(result.verdict ?? "?"))\n")
        }
    }

    /// Bytes the server acknowledged in this run (what was sent and kept, not what was read or hashed).
    var sentBytes: Int64 = 0
    var stored = 0, skipped = 0, failed = 0

    func acknowledged(_ bytes: Int64) { sentBytes += max(0, bytes) }

    func finish() {
        let elapsed = Date().timeIntervalSince(started)
        var parts = ["\(stored) stored"]
        if skipped > 0 { parts.append("\(skipped) already stored") }
        if failed > 0 { parts.append("\(failed) failed") }
        write("\(files.count) file(s): \(parts.joined(separator: ", ")); \(Self.bytes(sentBytes)) sent in \(Self.duration(elapsed))\n")
    }

    func percent(_ part: Int64, _ whole: Int64) -> Int { whole > 0 ? Int(100 * part / whole) : 100 }

    static func bytes(_ count: Int64) -> String { ByteSize.human(count) }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
