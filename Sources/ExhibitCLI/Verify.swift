import ArgumentParser
import BlobStore
import Exhibit
import Foundation

extension ExhibitCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read and re-hash the whole store; exit 1 and name what is broken.",
            discussion: """
                Every blob is rebuilt from its manifest and hashed against its SHA-256; every chunk is hashed \
                against its name. Each missing or corrupt chunk is named with the blobs it breaks.

                Example:
                  exhibit verify --storage Storage
                  ok: 3 blobs, 41 chunks, 39.2 MiB checked
                """)

        @OptionGroup var options: StorageOptions

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() async throws {
            let store = try options.openExisting()
            let report = try await store.blobs.verify()
            if json {
                try printJSONLine(report)
            } else {
                let mib = String(format: "%.1f", Double(report.bytesChecked) / 1_048_576)
                let totals = "\(report.blobsChecked) blobs, \(report.chunksChecked) chunks, \(mib) MiB checked"
                if report.isClean {
                    print("ok: \(totals)")
                } else {
                    for problem in report.problems { print("BROKEN \(problem)") }
                    print("damaged: \(report.problems.count) problem(s), \(report.brokenBlobs.count) blob(s) broken; \(totals)")
                }
            }
            if !report.isClean { throw ExitCode(1) }
        }
    }
}
