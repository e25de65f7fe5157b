public import ArgumentParser

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
        await ExhibitCommand.main()
    }
}
