import ArgumentParser
import Exhibit
import ExhibitServer
import Foundation
import Hummingbird
import Logging

extension ExhibitCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the HTTP server (investigators' uploads and downloads, the API).",
            discussion: """
                Every route but /healthz and /metrics needs `Authorization: Bearer <token>`. On the first \
                start with no users, an `admin` user is made and its token printed once. Stray temporary \
                files of crashed uploads are removed at start. SIGINT or SIGTERM stop the server gracefully: \
                requests in flight finish first.

                Example:
                  exhibit serve --storage Storage --port 8080
                  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/cases
                """)

        @OptionGroup var options: StorageOptions

        @Option(help: "The address to listen on.") var host = "127.0.0.1"
        @Option(help: "The port to listen on (0 picks a free one).") var port = 8080

        func run() async throws {
            let store = try options.open()
            try await store.checkDeployment()
            var logger = Logger(label: "exhibit.server")
            logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
            let shownHost = host == "0.0.0.0" ? "127.0.0.1" : host
            var token: String?
            if try await !store.hasUsers() {
                token = try await store.addUser(name: "admin", role: "admin", fullName: "Administrator", initials: "AD", by: .system(client: cliClient)).1
            }
            let bootstrapToken = token
            let app = ExhibitHTTPServer.buildApplication(
                store: store, configuration: ServerConfiguration(host: host, port: port), logger: logger
            ) { actualPort in
                // One line a script can read; the token (first start only) is shown once, never logged.
                var lines = "Exhibit listening on http://\(shownHost):\(actualPort)\n"
                if let bootstrapToken {
                    lines += "First start: user 'admin' created. Token (shown once, keep it): \(bootstrapToken)\n"
                }
                // Unbuffered, so a script reading a pipe sees the lines at once.
                FileHandle.standardOutput.write(Data(lines.utf8))
            }
            try await app.runService()
        }
    }
}
