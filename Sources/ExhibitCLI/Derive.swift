import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation

extension ExhibitCommand {
    struct Derive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a browser-playable working copy of a master exhibit now.",
            discussion: """
                The master's bytes are only read. Browser codecs in a container browsers refuse are copied \
                into MP4 unchanged (remux); other video is encoded as H.264 and other audio as AAC \
                (transcode). The copy is checked against the master (streams, duration and frames within one \
                frame per second of footage) before it is stored, and recorded as a derived exhibit (JS/1-W1) \
                with its lineage. A master that plays as it is, or has no video, needs no copy. Exits 1 when \
                the copy cannot be made; the custody record says why.

                Example:
                  exhibit derive JS/1 --case 2017/MPS/0421 --as jsmith
                """)

        @OptionGroup var options: StorageOptions
        @OptionGroup var actorOptions: ActorOptions
        @Argument(help: ArgumentHelp("The master exhibit: id, reference or SHA-256.", valueName: "exhibit")) var exhibit: String
        @Option(name: .customLong("case"), help: ArgumentHelp("The case, when a reference is ambiguous.", valueName: "case"))
        var caseName: String?

        func run() async throws {
            let store = try options.openExisting()
            let actor = try await actorOptions.actor(in: store)
            let master = try await store.findExhibit(exhibit, case: caseName, for: actor, needing: .exhibitDownload)
            switch try await store.derive(master, by: actor) {
            case .created(let copy):
                print("working copy \(copy.reference) made (\(copy.lineage?.operation ?? "?")), sha256 \(copy.sha256.hex)")
                try printJSONLine(copy.lineage, pretty: true)
            case .existing(let copy):
                print("\(master.reference) already has working copy \(copy.reference) (sha256 \(copy.sha256.hex))")
            case .notNeeded(let reason):
                print("no working copy needed: \(reason)")
            case .failed(let reason):
                throw CLIError("no working copy of \(master.reference): \(reason)")
            }
        }
    }
}
