import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitServer
import ExhibitTesting
import Hummingbird
import Logging

/// The whole server in this test's process, over a store whose clock the test may move, on a free port.
struct InProcessServer {
    let port: Int
    let running: Task<Void, any Error>

    init(_ store: EvidenceStore) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = ExhibitHTTPServer.buildApplication(
            store: store, configuration: ServerConfiguration(port: 0), logger: Logger(label: "test"),
            onServerRunning: { continuation.yield($0) })
        running = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            running.cancel()
            throw TestSupportError("the in-process server did not start")
        }
        self.port = port
    }

    func stop() { running.cancel() }
}
