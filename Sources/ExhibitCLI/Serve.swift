import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitServer
import Foundation
import Hummingbird
import Logging
#if canImport(Glibc)
import Glibc
#endif

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
        @Option(
            name: .customLong("public-url"),
            help: ArgumentHelp(
                "The address people reach this server at, which every share link starts with (default: public_url in Policies/sharing.yaml, else the address listened on).",
                valueName: "url"))
        var publicURL: String?

        func validate() throws {
            if let publicURL, SharingPolicy.checkedURL(publicURL) == nil {
                throw ValidationError("--public-url: '\(publicURL.prefix(80))' is not http(s)://host[:port][/path]")
            }
        }

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
            // The first admin's token is shown once, on a terminal; when standard output is not one (a service
            // whose output goes to a journal, a pipe), it goes to a file only its owner can read, never to a log.
            var tokenLine: String?
            if let token {
                if isatty(STDOUT_FILENO) == 1 {
                    tokenLine = "First start: user 'admin' created. Token (shown once, keep it): \(token)\n"
                } else {
                    let path = options.storage + "/first-admin-token"
                    guard FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                        throw CLIError("cannot write the first admin's token to \(path)")
                    }
                    tokenLine = "First start: user 'admin' created. Its token is in \(path) (mode 0600): keep it elsewhere and delete the file\n"
                }
            }
            let bootstrapLine = tokenLine
            let app = ExhibitHTTPServer.buildApplication(
                store: store, configuration: ServerConfiguration(host: host, port: port, publicURL: publicURL.flatMap(SharingPolicy.checkedURL)), logger: logger
            ) { actualPort in
                // One line a script can read; the token (first start only) is shown once, never logged.
                var lines = "Exhibit listening on http://\(shownHost):\(actualPort)\n"
                if let bootstrapLine { lines += bootstrapLine }
                // Unbuffered, so a script reading a pipe sees the lines at once.
                FileHandle.standardOutput.write(Data(lines.utf8))
            }
            try await app.runService()
        }
    }
}
