import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
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

        /// Diagnostics: probe `file` and `--also` files this many times in this process and report the resident
        /// memory before and after on standard error (the leak check of the test suite).
        @Option(help: .hidden) var repeatCount: Int = 0
        @Option(help: .hidden) var also: [String] = []

        func run() async throws {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw CLIError(FileManager.default.fileExists(atPath: file) ? "cannot read \(file): permission denied" : "no such file: \(file)")
            }
            let limits = (try? options.loadPolicies())?.storage.probe ?? .default
            if repeatCount > 0 {
                let files = [file] + also
                func round(_ count: Int) throws {
                    for i in 0..<count { _ = try MediaProbe.examine(path: files[i % files.count], limits: limits) }
                }
                // Warm up allocator pools and FFmpeg's static tables, and visit every file twice: the peak one file
                // needs (a larger decode buffer) is reached before measuring, so what grows after is a leak.
                try round(max(200, 2 * files.count))
                let before = residentKiB()
                try round(repeatCount)
                FileHandle.standardError.write(Data("rss-kib before=\(before) after=\(residentKiB()) probes=\(repeatCount)\n".utf8))
                return
            }
            let report = try MediaProbe.examine(path: file, limits: limits)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }
}

func residentKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}
