import Foundation
import Hummingbird
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The request floor's reference (issue 20): Hummingbird 2 alone, built with the same settings as Exhibit (it is
/// this very executable, run as `exhibit-bench --bare-hummingbird PORT`), with two routes: `/ok` answers "ok",
/// `/64k` answers 64 KiB from memory. What Exhibit adds on top of the framework is the difference.
enum BareHummingbird {
    static func serve(port: Int) async throws {
        let router = Router()
        router.get("/ok") { _, _ in "ok" }
        let payload = ByteBuffer(repeating: 0x61, count: 65536)
        router.get("/64k") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: payload))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare"))
        try await app.runService()
    }
}

/// A running bare server (this executable, started again with `--bare-hummingbird`).
struct BareServer {
    let process: Process
    let base: String

    init() throws {
        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        server.arguments = ["--bare-hummingbird", String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        base = "http://127.0.0.1:\(port)"
        process = server
        // Wait until it answers (at most 10 s).
        for _ in 0..<200 {
            if Measure.spawn(["curl", "-sf", "-o", "/dev/null", base + "/ok"]).status == 0 { return }
            usleep(50_000)
        }
        server.terminate()
        throw BenchError("the bare Hummingbird server did not start")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
