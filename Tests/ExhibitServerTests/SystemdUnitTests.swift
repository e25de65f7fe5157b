import ExhibitTesting
import Foundation
import Testing

/// The systemd unit the README ships (README, "Security"): it passes `systemd-analyze verify`, restarts a failed
/// server, confines it (`ProtectSystem=strict` with only the storage root writable), and its `ExecStart` really
/// starts Exhibit; a server killed with -9 and started again the way systemd restarts it serves everything it
/// had acknowledged (the crash rounds prove the same at random moments during uploads).
@Suite struct SystemdUnitTests {
    static func unit() throws -> String {
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        guard let marker = readme.range(of: "/etc/systemd/system/exhibit.service"),
              let open = readme[marker.upperBound...].range(of: "```ini\n"),
              let close = readme[open.upperBound...].range(of: "```")
        else { throw TestSupportError("no ```ini block after /etc/systemd/system/exhibit.service in the README") }
        return String(readme[open.upperBound..<close.lowerBound])
    }

    static func value(_ key: String, in unit: String) -> String? {
        unit.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    @Test func theReadmeUnitVerifiesAndConfinesTheServer() async throws {
        let analyze = try #require(Subprocess.which("systemd-analyze"), "systemd-analyze is not installed (Debian's systemd package)")
        let unit = try Self.unit()
        #expect(Self.value("Restart", in: unit) == "on-failure")
        #expect(Self.value("ProtectSystem", in: unit) == "strict")
        #expect(Self.value("NoNewPrivileges", in: unit) == "true")
        let user = try #require(Self.value("User", in: unit))
        #expect(user != "root", "the unit runs as root")
        let exec = try #require(Self.value("ExecStart", in: unit)).split(separator: " ").map(String.init)
        let storage = try #require(exec.firstIndex(of: "--storage").map { exec[$0 + 1] })
        let writable = try #require(Self.value("ReadWritePaths", in: unit)).split(separator: " ")
        #expect(writable.contains { storage.hasPrefix($0) }, "the storage root \(storage) is not writable under ProtectSystem=strict")

        // systemd's own checks, with the binary where this build put it.
        let folder = try TemporaryDirectory("systemd")
        let local = unit.replacingOccurrences(of: exec[0], with: TestPaths.exhibitExecutable)
        try local.write(toFile: folder.appending("exhibit.service"), atomically: true, encoding: .utf8)
        let verified = try await Subprocess.run(analyze, ["verify", folder.appending("exhibit.service")])
        #expect(verified.status == 0, "systemd-analyze verify: \(verified.err)")
        #expect(verified.err.isEmpty, "systemd-analyze verify: \(verified.err)")

        // ExecStart's options start a real server (on a temporary storage root and a free port), as systemd would;
        // killed with -9 it is started again and serves what it had acknowledged.
        var arguments = Array(exec.dropFirst())
        arguments[arguments.firstIndex(of: "--storage")! + 1] = folder.appending("Storage")
        if let policies = arguments.firstIndex(of: "--policies") { arguments[policies + 1] = TestPaths.policies }
        if let port = arguments.firstIndex(of: "--port") { arguments[port + 1] = String(try LiveServer.freePort()) }
        #expect(arguments.first == "serve", "ExecStart does not run exhibit serve: \(exec)")
        let port = try #require(arguments.firstIndex(of: "--port").map { Int(arguments[$0 + 1]) ?? 0 })
        let first = try await LiveServer(storage: folder.appending("Storage"), port: port)
        let admin = try #require(first.adminToken)
        let made = try await HTTP.postJSON(first.url + "/v1/users", token: admin, ["name": "jsmith", "role": "investigator"])
        let token = try #require(try made.json()["token"] as? String)
        _ = try await HTTP.postJSON(first.url + "/v1/cases", token: token, ["reference": "2024/1"])
        let fixture = TestPaths.fixtures + "/mp4_h264.mp4"
        let stored = try await HTTP.request("POST", first.url + "/v1/cases/2024%2F1/exhibits?filename=a.mp4", token: token, upload: fixture)
        #expect(stored.status == 201)
        await first.stop(signal: SIGKILL)
        try await Task.sleep(for: .seconds(2))  // RestartSec
        let again = try await LiveServer(storage: folder.appending("Storage"), port: port)
        let id = try #require(try stored.json()["id"] as? String)
        let back = try await HTTP.get(again.url + "/v1/exhibits/\(id)/content", token: token)
        let original = try Data(contentsOf: URL(fileURLWithPath: fixture))
        #expect(back.status == 200, "after the restart: \(back.status)")
        #expect(back.body == original, "after the restart: \(back.status)")
        await again.stop()
    }
}
