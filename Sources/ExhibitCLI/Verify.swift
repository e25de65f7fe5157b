import ArgumentParser
import BlobStore
import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation

extension ExhibitCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read and re-hash footage; name each broken exhibit and exit 1 on any damage.",
            discussion: """
                Checks one exhibit (--exhibit), every exhibit of a case (--case), or the whole store: every \
                blob is rebuilt from its manifest and hashed against its SHA-256, every chunk against its name \
                (in the whole store, also chunks no exhibit uses). Each broken exhibit is named with its case, \
                reference and what is wrong: a missing chunk, a corrupt chunk, a missing or corrupt manifest, or \
                a manifest whose chunks do not make the footage. The result is recorded as a store.verified \
                custody event.

                With --repair-from DIR (a copy of the storage root, e.g. a backup of Storage/), each broken chunk \
                or manifest is replaced by its copy in DIR when the copy checks out (a chunk must hash to its \
                name), then the footage is checked again. Exit 0 when nothing is broken (any more), 1 otherwise.

                Examples:
                  exhibit verify
                  ok: 12 exhibits, 14 blobs, 41 chunks, 39.2 MiB checked (custody event 118)
                  exhibit verify --case OP-KESTREL --repair-from /mnt/backup/Storage
                """)

        @OptionGroup var options: StorageOptions

        @Option(help: ArgumentHelp("Check only this exhibit (id, sha256:<hex> or reference).", valueName: "ref"))
        var exhibit: String?

        @Option(name: .customLong("case"), help: ArgumentHelp("Check only this case's exhibits (or say which case --exhibit is in).", valueName: "ref"))
        var caseName: String?

        @Option(
            name: .customLong("repair-from"),
            help: ArgumentHelp("Restore broken chunks and manifests from this copy of the storage root, or a backup bucket (s3://bucket/prefix, with --s3-endpoint), when their hashes match.", valueName: "dir|s3://…"))
        var repairFrom: String?

        @Option(name: .customLong("as"), help: ArgumentHelp("The Exhibit user checking (default: the system).", valueName: "user"))
        var user: String?

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() async throws {
            let store = try options.openExisting()
            let source = try repairFrom.map { try BackupTargets.repairSource($0, endpoint: options.s3Endpoint ?? store.defaultBackupEndpoint) }
            var actor = Actor.system(client: cliClient)
            if let user { actor = try await store.actor(named: user, client: cliClient) }
            let report = try await store.scrub(exhibit: exhibit, case: caseName, repairFrom: source, by: actor)
            if json {
                try printJSONLine(report)
            } else {
                let mib = String(format: "%.1f", Double(report.bytesChecked) / 1_048_576)
                let totals = "\(report.exhibitsChecked) exhibits, \(report.blobsChecked) blobs, \(report.chunksChecked) chunks, \(mib) MiB checked (custody event \(report.eventSeq))"
                for damaged in report.damaged {
                    let state = report.repair == nil ? "BROKEN" : (damaged.repaired ? "REPAIRED" : "BROKEN")
                    print("\(state) exhibit \(damaged.reference) (\(damaged.exhibit)) in case \(damaged.caseReference), sha256 \(damaged.sha256)")
                    for problem in damaged.problems { print("  \(problem)") }
                }
                for problem in report.otherProblems { print("BROKEN (no exhibit) \(problem)") }
                if let repair = report.repair {
                    for path in repair.restored { print("restored \(path)") }
                    for miss in repair.missed { print("not restored \(miss)") }
                }
                if report.clean && report.damaged.isEmpty && report.otherProblems.isEmpty {
                    print("ok: \(totals)")
                } else if report.clean {
                    print("repaired: \(report.damaged.count) exhibit(s) whole again; \(totals)")
                } else {
                    let broken = report.damaged.filter { !$0.repaired }.count
                    print("damaged: \(broken) exhibit(s) broken, \(report.otherProblems.count) other problem(s); \(totals)")
                }
            }
            if !report.clean { throw ExitCode(1) }
        }
    }
}
