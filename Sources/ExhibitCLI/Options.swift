import ArgumentParser
import Exhibit
import Foundation

/// Where the data and the policy files are; shared by every command.
struct StorageOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The storage root (default: $EXHIBIT_STORAGE, else ./Storage).", valueName: "dir"))
    var storage: String = ProcessInfo.processInfo.environment["EXHIBIT_STORAGE"] ?? "Storage"

    @Option(
        name: .long,
        help: ArgumentHelp("The policy folder (default: $EXHIBIT_POLICIES, else ./Policies).", valueName: "dir"))
    var policies: String = ProcessInfo.processInfo.environment["EXHIBIT_POLICIES"] ?? "Policies"

    func loadPolicies() throws -> Policies {
        try Policies.load(from: policies)
    }

    /// Opens the store with its policies loaded (commands that write).
    func open() throws -> EvidenceStore {
        try EvidenceStore(root: storage, policies: loadPolicies())
    }

    /// Opens the store for reading, with default policies when the policy folder is not needed.
    func openForReading() throws -> EvidenceStore {
        guard FileManager.default.fileExists(atPath: storage) else {
            throw CLIError("no storage at \(storage) (pass --storage DIR or set EXHIBIT_STORAGE)")
        }
        let policies = (try? loadPolicies()) ?? Policies()
        return try EvidenceStore(root: storage, policies: policies)
    }
}

/// A plain message for the user, printed as `Error: …` with a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line of JSON for one encodable value.
func printJSONLine(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}
