import CheckedInput
import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import MediaProbe

extension ExhibitCommand {
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store files as exhibits of a case; print one JSON line per file.",
            discussion: """
                Each file is cut into content-defined chunks, every chunk and the whole file are hashed with \
                SHA-256 and written durably; libavformat then reads the stored bytes back to say what the \
                footage is and whether it is all there (the verdict: complete, truncated, damaged or \
                not-media). The exhibit, its reference (your initials and running number, e.g. JS/1) and its \
                exhibit.ingested custody event are recorded in one transaction. Evidence is never refused for \
                its verdict.

                Every path is checked before anything is stored.

                Time coverage (all optional): --recorded-start gives the recorder's start time when the file \
                has none (or overrides it); --clock-offset is recorder time minus true time as ±HH:MM:SS; \
                --requested-from/--requested-to is the window asked of the footage owner, in true time.

                Example:
                  exhibit ingest --case 2017/MPS/0421 --as jsmith cam1.mp4 \\
                      --clock-offset +00:01:30 --requested-from 2024-03-01T14:00Z --requested-to 2024-03-01T14:30Z
                """)

        @OptionGroup var options: StorageOptions
        @OptionGroup var actorOptions: ActorOptions

        @Option(name: .customLong("case"), help: ArgumentHelp("The case (reference or id).", valueName: "case"))
        var caseName: String

        @Option(help: ArgumentHelp("Recorder-clock start of the footage (RFC 3339).", valueName: "time"))
        var recordedStart: String?

        @Option(help: ArgumentHelp("Recorder time minus true time, ±HH:MM:SS.", valueName: "offset"))
        var clockOffset: String?

        @Option(help: ArgumentHelp("Start of the requested window, true time (RFC 3339).", valueName: "time"))
        var requestedFrom: String?

        @Option(help: ArgumentHelp("End of the requested window, true time (RFC 3339).", valueName: "time"))
        var requestedTo: String?

        @Argument(help: ArgumentHelp("The files to store.", valueName: "file"))
        var files: [String]

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("name at least one file to ingest") }
            _ = try timeInputs()
        }

        func timeInputs() throws -> TimeCoverage.Inputs {
            var inputs = TimeCoverage.Inputs()
            if let recordedStart { inputs.recordedStart = try parseTime(recordedStart, "--recorded-start") }
            if let clockOffset {
                inputs.clockOffset = try ClockOffset.parse(clockOffset, field: "--clock-offset")
            }
            if let requestedFrom { inputs.requestedFrom = try parseTime(requestedFrom, "--requested-from") }
            if let requestedTo { inputs.requestedTo = try parseTime(requestedTo, "--requested-to") }
            if (inputs.requestedFrom == nil) != (inputs.requestedTo == nil) {
                throw ValidationError("give both --requested-from and --requested-to")
            }
            if let from = inputs.requestedFrom, let to = inputs.requestedTo, to <= from {
                throw ValidationError("--requested-to must be after --requested-from")
            }
            return inputs
        }

        struct Line: Encodable {
            let file: String
            let exhibit: String
            let reference: String
            let `case`: String
            let sha256: String
            let size: Int64
            let chunks: Int
            let newBytes: Int64
            let verdict: String
            let integrity: String
            let coverage: String?

            enum CodingKeys: String, CodingKey {
                case file, exhibit, reference, `case`, sha256, size, chunks
                case newBytes = "new_bytes"
                case verdict, integrity, coverage
            }
        }

        func run() async throws {
            // Refuse every bad path before storing anything.
            for file in files {
                guard FileManager.default.isReadableFile(atPath: file) else {
                    if FileManager.default.fileExists(atPath: file) {
                        throw CLIError("cannot read \(file): permission denied; nothing was stored")
                    }
                    throw CLIError("no such file: \(file); nothing was stored")
                }
                let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? nil
                guard size != 0 else { throw CLIError("\(file) is empty (0 bytes): there is nothing to store; nothing was stored") }
            }
            let store = try options.open()
            let actor = try await actorOptions.actor(in: store)
            let time = try timeInputs()
            for file in files {
                let result = try await store.ingest(file: file, into: caseName, by: actor, time: time)
                let exhibit = result.exhibit
                try printJSONLine(Line(
                    file: file, exhibit: exhibit.id.rawValue, reference: exhibit.reference, case: exhibit.caseReference,
                    sha256: exhibit.sha256.hex, size: exhibit.size, chunks: result.chunks, newBytes: result.newBytes,
                    verdict: exhibit.verdict, integrity: exhibit.integrity?.summary ?? "",
                    coverage: exhibit.coverage?.summary))
            }
        }
    }
}
