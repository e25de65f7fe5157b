import ExhibitTesting
import Foundation
import Testing

/// `exhibit request` and the README's *Footage requests* section, run as printed against a real server.
@Suite struct RequestCLITests {
    /// The README's block: create a request, answer it with curl, verify the receipt; and its Python check.
    @Test func theReadmeRequestSessionWorksAsPrinted() async throws {
        let store = try await TestStore("request-readme")
        let work = try TemporaryDirectory("request-readme-work")
        try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/mp4_h264_aac.mp4", toPath: work.appending("cam1.mp4"))
        // The request log on, to check that no token reaches it.
        let server = try await LiveServer(storage: store.storage, environment: ["LOG_LEVEL": "info"])
        defer { server.terminate() }
        let result = try await Readme.runBashBlock(after: "A request from the command line, answered with curl", storage: store.storage, server: server.url, in: work.path)
        #expect(result.status == 0, "the README block failed:\nstdout: \(result.out)\nstderr: \(result.err)")
        let lines = result.out.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.first?.hasPrefix(server.url + "/r/") == true, "the link: \(lines.first ?? "")")
        #expect(lines.contains { $0.hasPrefix("<h1>Footage request R-") }, "the owner's page heading: \(lines)")
        #expect(lines.contains("201"), "the upload through the link: \(lines)")
        #expect(lines.contains { $0.hasPrefix(server.url + "/r/") && $0.hasSuffix("/receipts/1") }, "the submit's redirect: \(lines)")
        #expect(lines.contains { $0.hasPrefix("ok: receipt 1 of request R-") && $0.contains("by the force's key") }, "verify-receipt: \(lines)")
        let sums = lines.filter { $0.hasSuffix("cam1.mp4") }.map { String($0.prefix(64)) }
        #expect(sums.count == 2 && sums[0] == sums[1], "the receipt's SHA-256 and sha256sum's: \(sums)")
        #expect(lines.contains { $0.contains("submitted") && $0.contains("Corner Shop Ltd") }, "the list shows the request answered: \(lines)")
        #expect(lines.last == "410", "the answered link: \(lines.last ?? "")")
        // The server's log names no token.
        let token = String(lines.first?.split(separator: "/").last ?? "")
        #expect(!token.isEmpty && !server.log.contains(token), "a request token reached the server's log")
        var logged = false
        for _ in 0..<40 where !logged {
            logged = server.log.contains("POST /r/[redacted]/uploads 201")
            if !logged { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(logged, "the upload through the link is not in the request log (redacted): \(server.log.suffix(800))")

        // The README's Python check, with stock OpenSSL, against the published key; and a changed receipt fails.
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        let checker = try #require(readmeBlock(readme, after: "python3 check_receipt.py"), "README has the receipt check")
        try checker.write(toFile: work.appending("check_receipt.py"), atomically: true, encoding: .utf8)
        let python = try await Subprocess.run("/usr/bin/env", ["python3", "check_receipt.py", "receipt.json", "custody.pub.pem"], currentDirectory: work.path)
        #expect(python.status == 0 && python.out.contains("receipt signature ok"), "the Python check: \(python.out) \(python.err)")
        let receipt = try String(contentsOfFile: work.appending("receipt.json"), encoding: .utf8)
        try receipt.replacingOccurrences(of: "Corner Shop Ltd", with: "Corner Shop Plc").write(toFile: work.appending("altered.json"), atomically: true, encoding: .utf8)
        #expect(receipt.contains("Corner Shop Ltd"), "the receipt names its sender")
        let altered = try await Subprocess.run("/usr/bin/env", ["python3", "check_receipt.py", "altered.json", "custody.pub.pem"], currentDirectory: work.path)
        #expect(altered.status != 0 && altered.out.contains("NOT valid"), "an altered receipt passed the Python check: \(altered.out)")
        // A receipt checked against another force's key fails in the CLI.
        let other = try await TestStore("request-other-key")
        try Data(try await other.run(["custody", "pubkey"]).out.utf8).write(to: URL(fileURLWithPath: work.appending("other.pem")))
        let foreign = try await ExhibitCLI.run(["request", "verify-receipt", work.appending("receipt.json"), "--key", work.appending("other.pem")])
        #expect(foreign.status != 0 && foreign.err.contains("another key"), "a receipt verified with another force's key: \(foreign.err)")
    }
}
