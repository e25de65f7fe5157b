import ArgumentParser
import Exhibit
import Foundation

extension ExhibitCommand {
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store files in the evidence store and print one JSON line per file.",
            discussion: """
                Each file is cut into content-defined chunks, every chunk and the whole file are hashed with \
                SHA-256, and new chunks are written durably before the command reports the file. Chunks the \
                store already holds are not written again (new_bytes says how many bytes were new).

                Every path is checked before anything is stored: a missing or unreadable file stops the \
                command with nothing written.

                Example:
                  exhibit ingest --storage Storage cam1.mp4 cam2.mp4
                  {"chunks":12,"file":"cam1.mp4","new_bytes":12582912,"sha256":"9f86d0…","size":12582912}
                """)

        @OptionGroup var options: StorageOptions

        @Argument(help: ArgumentHelp("The files to store.", valueName: "file"))
        var files: [String]

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("name at least one file to ingest") }
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
            }
            let store = try options.open()
            for file in files {
                let stored = try await store.storeFile(at: file)
                try printJSONLine(stored)
            }
        }
    }
}
