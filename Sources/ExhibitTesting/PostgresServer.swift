import Foundation

/// A PostgreSQL server from Debian's packages in a temporary folder, on a loopback port
/// (`Tests/Tools/postgres.sh`): a real database, no mock. Stopped by PID when released.
public final class PostgresServer: @unchecked Sendable {
    // Set once in init, read-only after.
    public let folder: TemporaryDirectory
    public let port: Int
    public static let user = "exhibit"
    public static let password = "exhibit"
    static var script: String { TestPaths.packageRoot + "/Tests/Tools/postgres.sh" }

    public static var installed: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).contains {
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb")
        }
    }

    /// Starts a server (initdb and pg_ctl, waited for off the cooperative pool).
    public init() async throws {
        guard Self.installed else { throw TestSupportError("PostgreSQL is not installed (postgresql from Debian): run `make deps`") }
        let folder = try TemporaryDirectory("postgres")
        self.folder = folder
        // The server runs as the "postgres" user when the tests run as root: it must reach its folder.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let out = folder.appending("start.out")
        // Through /bin/sh and waitpid: the server outlives the script (see CephGateway.shell).
        let status = await CephGateway.shell("'\(Self.script)' start '\(folder.appending("pg"))' > '\(out)' 2>&1 < /dev/null")
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("port=") }), let port = Int(line.dropFirst(5)) else {
            throw TestSupportError("PostgreSQL did not start: \(text.suffix(2000))")
        }
        self.port = port
        // Every test server has this password; `exhibit` processes the tests start read it from here.
        setenv("PGPASSWORD", Self.password, 1)
    }

    /// Creates a database of a new name and returns its address (no password: it comes from PGPASSWORD).
    public func createDatabase() async throws -> String {
        let name = "exhibit_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let result = try await Subprocess.run("/bin/bash", [Self.script, "createdb", folder.appending("pg"), name])
        guard result.status == 0 else { throw TestSupportError("createdb failed: \(result.err)") }
        return "postgres://\(Self.user)@127.0.0.1:\(port)/\(name)"
    }

    /// Runs SQL in a database with psql (unaligned, tuples only: `a|b` lines, as sqlite3 prints them).
    public func psql(database: String, _ sql: String) async throws -> Subprocess.Result {
        try await Subprocess.run("/bin/bash", [Self.script, "psql", folder.appending("pg"), database, sql])
    }

    /// Stops the server (a fault), keeping its data; `resume` starts it again on the same port.
    public func pause() async {
        _ = await CephGateway.shell("'\(Self.script)' pause '\(folder.appending("pg"))' > /dev/null 2>&1 < /dev/null")
    }

    /// Through /bin/sh and waitpid, as `init`: Foundation's Process would wait for the server it starts.
    public func resume() async throws {
        let status = await CephGateway.shell("'\(Self.script)' resume '\(folder.appending("pg"))' > /dev/null 2>&1 < /dev/null")
        guard status == 0 else { throw TestSupportError("PostgreSQL did not restart") }
    }

    /// Stops the server (on the calling thread: it runs from deinit and atexit).
    public func stop() {
        _ = CephGateway.blockingShell("'\(Self.script)' stop '\(folder.appending("pg"))' > /dev/null 2>&1 < /dev/null")
    }

    deinit { stop() }
}
