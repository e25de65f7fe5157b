import ArgumentParser
import Exhibit
import Foundation
import MediaProbe

extension ExhibitCommand {
    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say what a file is and whether it is all there, without storing it.",
            discussion: """
                Prints one JSON object: the container and streams under "media" (field names as ffprobe \
                prints them: format_name, codec_name, pix_fmt, avg_frame_rate, …) and the result of reading \
                every packet under "integrity", whose "verdict" is complete, truncated, damaged or not-media, \
                with a one-line "summary". The exit status is 0 whatever the verdict.

                Example:
                  exhibit probe cam1.mp4 | jq .integrity.summary
                  "complete: all packets read (100 video); 4.0 s of footage"
                """)

        @OptionGroup var options: StorageOptions

        @Argument(help: ArgumentHelp("The file to examine.", valueName: "file"))
        var file: String

        func run() async throws {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw CLIError(FileManager.default.fileExists(atPath: file) ? "cannot read \(file): permission denied" : "no such file: \(file)")
            }
            let limits = (try? options.loadPolicies())?.storage.probe ?? .default
            let report = try MediaProbe.examine(path: file, limits: limits)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }
}
