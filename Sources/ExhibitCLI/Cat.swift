import CheckedInput
import ArgumentParser
import BlobStore
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

extension ExhibitCommand {
    struct Cat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an exhibit's bytes (or a range of them) to standard output.",
            discussion: """
                The exhibit is named by its id (ex_…), its reference (JS/1, with --case when several cases \
                have one), or its SHA-256. The download is recorded in the custody ledger before any byte is \
                written. Chunks read whole are re-hashed on the way out; a damaged chunk stops the output \
                with an error and a non-zero exit.

                Examples:
                  exhibit cat JS/1 --case 2017/MPS/0421 --as jsmith > copy.mp4
                  exhibit cat ex_abcdefghijklmnop --as jsmith --range 0-1023 | xxd | head
                  exhibit cat JS/1 --as jsmith --range=-188      # the last 188 bytes (note the '=')
                """)

        @OptionGroup var options: StorageOptions
        @OptionGroup var actorOptions: ActorOptions

        @Argument(help: ArgumentHelp("The exhibit: id, reference or SHA-256.", valueName: "exhibit"))
        var exhibit: String

        @Option(name: .customLong("case"), help: ArgumentHelp("The case, when a reference is ambiguous.", valueName: "case"))
        var caseName: String?

        @Option(help: ArgumentHelp("Bytes to write: A-B (inclusive), A- (to the end) or -N (the last N; write --range=-N).", valueName: "range"))
        var range: String?

        func validate() throws {
            if let range, ByteRangeSpec(range) == nil {
                throw ValidationError("'\(range)' is not a range: use A-B, A- or -N with A <= B")
            }
        }

        func run() async throws {
            let store = try options.openExisting()
            let actor = try await actorOptions.actor(in: store)
            let record = try await store.findExhibit(exhibit, case: caseName, for: actor, needing: .exhibitDownload)
            var selected: Range<Int64>?
            if let range {
                guard let resolved = ByteRangeSpec(range)!.resolve(size: record.size) else {
                    throw CLIError("range \(range) is outside the exhibit's \(record.size) bytes")
                }
                selected = resolved
            }
            signal(SIGPIPE, SIG_IGN)
            for try await piece in try await store.download(record, range: selected, by: actor) {
                try piece.withUnsafeReadableBytes { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw CLIError("cannot write to standard output: \(String(cString: strerror(errno)))")
                        }
                        offset += n
                    }
                }
            }
        }
    }
}
