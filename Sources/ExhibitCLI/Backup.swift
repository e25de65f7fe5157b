import ArgumentParser
import Exhibit
import ExhibitDeployment
import ExhibitModel
import Foundation

extension ExhibitCommand {
    struct BackupCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup", abstract: "Back the store up into a folder or a bucket, list the backups there, or check them.",
            subcommands: [Create.self, List.self, VerifyBackups.self], defaultSubcommand: Create.self)

        /// Reads a passphrase from a file (its first line), never from the command line (which `ps` shows).
        static func passphrase(_ path: String?) throws -> String? {
            guard let path else { return nil }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "create",
                abstract: "Copy what a backup folder or bucket lacks (chunks, manifests), then a snapshot of the catalog and ledger.",
                discussion: """
                    Incremental by content: chunks and manifests the folder holds are not copied again; every chunk \
                    copied is re-hashed against its name. The catalog is snapshotted while the store serves (SQLite's \
                    online backup). Each backup is recorded (store.backed-up) and signs a checkpoint; its record \
                    (backup.json) is signed by the custody key and written last. The secret keys go in only with \
                    --include-keys, sealed under the passphrase in --passphrase-file (AES-256-GCM, PBKDF2). Needs \
                    user.manage. `create` may be left out. A bucket is s3://bucket/prefix at --s3-endpoint (default: \
                    $EXHIBIT_S3_ENDPOINT, else the store's own), keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; \
                    the bucket must exist.

                    Examples:
                      exhibit backup --to /mnt/backup/exhibit --as root
                      exhibit backup --to s3://exhibit-backups/nightly --s3-endpoint https://s3.offsite.example --as root
                      exhibit backup --to /mnt/backup/exhibit --include-keys --passphrase-file /root/backup.pass --as root
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Option(help: ArgumentHelp("The backup folder, or s3://bucket/prefix.", valueName: "dir|s3://…")) var to: String
            @Flag(help: "Include the secret keys, sealed under a passphrase.") var includeKeys = false
            @Option(help: ArgumentHelp("A file whose first line is the passphrase.", valueName: "file")) var passphraseFile: String?

            func validate() throws {
                if includeKeys && passphraseFile == nil { throw ValidationError("--include-keys needs --passphrase-file") }
            }

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                let target = try BackupTargets.open(to, endpoint: options.s3Endpoint ?? store.defaultBackupEndpoint)
                let record = try await store.backup(to: target, includeKeys: includeKeys ? try BackupCommand.passphrase(passphraseFile) : nil, by: actor)
                print("backup \(record.id): \(record.blobs) blobs, \(record.chunks) chunks (\(record.chunkBytes) bytes), \(record.newChunks) new (\(record.newChunkBytes) bytes)")
                print("ledger: \(record.treeSize) events, catalog SHA-256 \(record.catalogSHA256)\(record.sealedKeys ? ", keys sealed" : ", no secret keys")")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the backups in a folder, oldest first (each record's signature checked).",
                discussion: "Examples:\n  exhibit backup list /mnt/backup/exhibit\n  exhibit backup list s3://exhibit-backups/nightly --s3-endpoint https://s3.offsite.example")

            @Argument(help: ArgumentHelp("The backup folder, or s3://bucket/prefix.", valueName: "dir|s3://…")) var target: String
            @OptionGroup var endpoint: EndpointOption

            func run() async throws {
                for found in try await Backups.list(try BackupTargets.open(target, endpoint: endpoint.s3Endpoint)) {
                    let r = found.record
                    print("\(r.id)  \(r.createdAt)  by \(r.createdBy)  ledger \(r.treeSize) events  \(r.blobs) blobs  \(r.chunkBytes) bytes (\(r.newChunkBytes) new)\(r.sealedKeys ? "  keys sealed" : "")")
                }
            }
        }

        struct VerifyBackups: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "verify",
                abstract: "Re-hash everything in a backup folder and check every backup's record, catalog and ledger.",
                discussion: """
                    Each chunk against its name; each record's signature; each catalog against its SHA-256; each \
                    ledger's Merkle root against its signed checkpoint; every manifest and chunk a backup needs; and \
                    that each backup's ledger extends the one before it. Exit 0, or 1 naming each problem.

                    Examples:
                      exhibit backup verify /mnt/backup/exhibit
                      exhibit backup verify s3://exhibit-backups/nightly --s3-endpoint https://s3.offsite.example
                    """)

            @Argument(help: ArgumentHelp("The backup folder, or s3://bucket/prefix.", valueName: "dir|s3://…")) var target: String
            @OptionGroup var endpoint: EndpointOption

            func run() async throws {
                let report = try await BackupRestore.verify(try BackupTargets.open(target, endpoint: endpoint.s3Endpoint))
                for line in report.proved { print("proved: \(line)") }
                for problem in report.problems { print("FAILED: \(problem)") }
                print("\(report.backups) backups, \(report.chunks) chunks (\(report.bytes) bytes) re-hashed")
                guard report.problems.isEmpty else { throw ExitCode(1) }
                print("ok")
            }
        }
    }
}

/// `--s3-endpoint` for a command that reads a backup bucket without opening a store.
struct EndpointOption: ParsableArguments {
    @Option(
        name: .customLong("s3-endpoint"),
        help: ArgumentHelp("The S3-compatible endpoint of an s3:// backup (default: $EXHIBIT_S3_ENDPOINT).", valueName: "url"))
    var s3Endpoint: String?
}
