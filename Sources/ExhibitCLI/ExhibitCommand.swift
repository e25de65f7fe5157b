public import ArgumentParser
import CLinux
import Foundation

/// `exhibit`: the command line of the Exhibit evidence store.
public struct ExhibitCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "exhibit",
        abstract: "Exhibit: a digital evidence store for CCTV footage.",
        discussion: """
            Stores footage content-addressed and chunked under a storage root (Storage/ by default), so that \
            identical footage is kept once and every byte can be re-checked against its SHA-256.
            """,
        subcommands: [
            Serve.self, UserCommand.self, CaseCommand.self, Ingest.self, Show.self, Cat.self, Derive.self, ShareCommand.self,
            RequestCommand.self,
            Probe.self, Keys.self,
            CustodyCommand.self, BundleCommand.self, WitnessCommand.self, BackupCommand.self,
            Upload.self, HoldCommand.self, RetentionCommand.self, Restore.self,
            Verify.self, GC.self, Migrate.self,
        ]
    )

    public init() {}
}

/// The entry point the `exhibit` executable calls.
public enum ExhibitMain {
    public static func run() async {
        limitMallocArenas()
        await ExhibitCommand.main()
    }

    /// glibc gives each thread that allocates under contention an arena of its own, up to eight per core, and
    /// keeps what is freed in each: a server whose buffers are allocated on one thread and freed on another (NIO's
    /// event loops, Swift's pool, the blocking-I/O threads) grew to 171 MiB over six 1 GiB downloads. One arena
    /// per core (at least two) held it to 93 MiB at the same speed (README, Performance). Before any thread starts.
    static func limitMallocArenas() {
        _ = exhibit_limit_malloc_arenas(Int32(Swift.max(2, Swift.min(64, ProcessInfo.processInfo.activeProcessorCount))))
    }
}
