import CheckedInput
import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import Foundation
import MediaProbe

/// Where the data and the policy files are; shared by every command.
struct StorageOptions: ParsableArguments {
    // Each option is read as given (nil when absent) and its default, from the environment or fixed, is applied
    // below: declared as `var x = environment[…] ?? …`, ArgumentParser printed a second "(default: …)" in --help.
    @Option(
        name: .customLong("storage"),
        help: ArgumentHelp("The storage root (default: $EXHIBIT_STORAGE, else ./Storage).", valueName: "dir"))
    var storageOption: String?

    @Option(
        name: .customLong("policies"),
        help: ArgumentHelp("The policy folder (default: $EXHIBIT_POLICIES, else ./Policies).", valueName: "dir"))
    var policiesOption: String?

    @Option(
        name: .customLong("chunks"),
        help: ArgumentHelp(
            "Where a new store keeps its chunks: 'local' (under the storage root) or s3://bucket/prefix; an existing store remembers its choice (default: $EXHIBIT_CHUNKS).",
            valueName: "place"))
    var chunksOption: String?

    @Option(
        name: .customLong("s3-endpoint"),
        help: ArgumentHelp(
            "The S3-compatible endpoint for --chunks s3://… (default: $EXHIBIT_S3_ENDPOINT); keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
            valueName: "url"))
    var s3EndpointOption: String?

    @Option(
        name: .customLong("catalog"),
        help: ArgumentHelp(
            "Where a new store keeps its catalog and custody ledger: 'sqlite' (under the storage root) or postgres://user@host:port/database (password from PGPASSWORD); an existing store remembers its choice (default: $EXHIBIT_CATALOG).",
            valueName: "place"))
    var catalogOption: String?

    @Option(
        name: .customLong("keys"),
        help: ArgumentHelp(
            "The folder of the secret keys (ledger seal, checkpoint signing, share links), shared by every server of a deployment (default: $EXHIBIT_KEYS, else <storage>/keys).",
            valueName: "dir"))
    var keysOption: String?

    private static var environment: [String: String] { ProcessInfo.processInfo.environment }
    var storage: String { storageOption ?? Self.environment["EXHIBIT_STORAGE"] ?? "Storage" }
    var policies: String { policiesOption ?? Self.environment["EXHIBIT_POLICIES"] ?? "Policies" }
    var chunks: String? { chunksOption ?? Self.environment["EXHIBIT_CHUNKS"] }
    var s3Endpoint: String? { s3EndpointOption ?? Self.environment["EXHIBIT_S3_ENDPOINT"] }
    var catalog: String? { catalogOption ?? Self.environment["EXHIBIT_CATALOG"] }
    var keys: String? { keysOption ?? Self.environment["EXHIBIT_KEYS"] }

    func loadPolicies() throws -> Policies {
        try Policies.load(from: policies)
    }

    /// Opens the store with its policies loaded (commands that write).
    func open() throws -> EvidenceStore {
        let chunkLocation = try chunks.map { try ChunkLocation.parse($0, endpoint: s3Endpoint) }
        let catalogLocation = try catalog.map { try CatalogLocation.parse($0) }
        return try EvidenceStore(root: storage, policies: loadPolicies(), chunks: chunkLocation, catalog: catalogLocation, keys: keys)
    }

    /// Opens an existing store (commands that only read).
    func openExisting() throws -> EvidenceStore {
        guard FileManager.default.fileExists(atPath: storage) else {
            throw CLIError("no storage at \(storage) (pass --storage DIR or set EXHIBIT_STORAGE)")
        }
        return try open()
    }
}

/// Who is acting: every command that changes or reads evidence names its user, recorded in the custody ledger
/// with the operating-system user and host as the client.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: ArgumentHelp("The Exhibit user acting (recorded in the custody ledger).", valueName: "user"))
    var user: String

    func actor(in store: EvidenceStore) async throws -> Actor {
        try await store.actor(named: user, client: cliClient)
    }
}

/// `cli:<os user>@<host>`.
var cliClient: String {
    let user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
    return "cli:\(user)@\(ProcessInfo.processInfo.hostName)"
}

/// A plain message for the user, printed as `Error: …` with a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line of JSON for one encodable value (pretty-printed over several lines with `pretty`), flushed at
/// once: a line `ingest` or `upload` prints is the acknowledgment that its file is stored, so it must reach a
/// pipe or file before the next file starts, not when the process ends (a killed process never gets there).
func printJSONLine(_ value: some Encodable, pretty: Bool = false) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for row in [header] + rows {
        print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces))
    }
}

/// Parses a time given on the command line (RFC 3339, a time without zone being UTC, or a date for midnight UTC).
func parseTime(_ text: String, _ option: String) throws -> Date {
    try UTCTime.parse(text, field: option)
}
