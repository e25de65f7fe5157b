import ArgumentParser
import BlobStore
import NIOCore
import Exhibit
import ExhibitCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension ExhibitCommand {
    struct Cat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a stored blob's bytes (or a range of them) to standard output.",
            discussion: """
                The blob is named by its SHA-256. Chunks read whole are re-hashed on the way out; a damaged \
                chunk stops the output with an error and a non-zero exit.

                Examples:
                  exhibit cat 9f86d081884c7d65… > copy.mp4
                  exhibit cat 9f86d081884c7d65… --range 0-1023 | xxd | head
                  exhibit cat 9f86d081884c7d65… --range=-188      # the last 188 bytes (note the '=')
                """)

        @OptionGroup var options: StorageOptions

        @Argument(help: ArgumentHelp("The blob's SHA-256 (64 hex digits, optionally prefixed sha256:).", valueName: "sha256"))
        var sha256: String

        @Option(help: ArgumentHelp("Bytes to write: A-B (inclusive), A- (to the end) or -N (the last N; write --range=-N).", valueName: "range"))
        var range: String?

        func validate() throws {
            guard SHA256Digest(prefixedHex: sha256) != nil else {
                throw ValidationError("'\(sha256)' is not a SHA-256 digest (64 hex digits)")
            }
            if let range, ByteRangeSpec(range) == nil {
                throw ValidationError("'\(range)' is not a range: use A-B, A- or -N with A <= B")
            }
        }

        func run() async throws {
            let digest = SHA256Digest(prefixedHex: sha256)!
            let store = try options.openForReading()
            let manifest = try await store.blobs.manifest(of: digest)
            var selected: Range<Int64> = 0..<manifest.size
            if let range {
                guard let resolved = ByteRangeSpec(range)!.resolve(size: manifest.size) else {
                    throw CLIError("range \(range) is outside the blob's \(manifest.size) bytes")
                }
                selected = resolved
            }
            signal(SIGPIPE, SIG_IGN)
            for try await piece in try await store.blobs.contents(of: digest, range: selected) {
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
