import ArgumentParser
import BlobStore
import Custody
import Exhibit
import ExhibitDeployment
import ExhibitModel
import ExhibitPolicies
import Foundation

extension ExhibitCommand.CaseCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a case's outcome, which decides how long its footage is kept.",
            discussion: """
                Statuses: \(CaseStatus.allCases.map(\.rawValue).joined(separator: ", ")). --at is when it \
                happened (default now; never in the future). --release-date goes with convicted. --class gives the \
                case a retention class of its own from Policies/retention.yaml (e.g. major-crime); --class none \
                removes it.

                Example:
                  exhibit case status 2017/MPS/0421 convicted --at 2018-02-01 --release-date 2021-08-01 --as jsmith
                """)

        @OptionGroup var options: StorageOptions
        @OptionGroup var actorOptions: ActorOptions
        @Argument(help: ArgumentHelp("The case (reference or id).", valueName: "case")) var caseName: String
        @Argument(help: ArgumentHelp("The new status.", valueName: "status")) var status: String
        @Option(help: ArgumentHelp("When it happened (RFC 3339 or a date).", valueName: "time")) var at: String?
        @Option(name: .customLong("release-date"), help: ArgumentHelp("With convicted: the release date.", valueName: "time"))
        var releaseDate: String?
        @Option(name: .customLong("class"), help: ArgumentHelp("A retention class of the case's own, or none.", valueName: "class"))
        var retentionClass: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try options.openExisting()
            let change: ClassChange = retentionClass.map { .set($0 == "none" ? nil : $0) } ?? .keep
            let record = try await store.setCaseStatus(
                caseName, status: status, at: try at.map { try parseTime($0, "--at") },
                releaseDate: try releaseDate.map { try parseTime($0, "--release-date") }, retentionClass: change,
                by: try await actorOptions.actor(in: store))
            if json { return try printJSONLine(record) }
            print("case \(record.reference) is \(record.status) since \(record.statusAt ?? "?")")
            if let retention = record.retention {
                print("retention: \(retention.date.map { "due \($0)" } ?? "not due") (\(retention.because))")
            }
        }
    }
}

extension ExhibitCommand {
    struct HoldCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hold", abstract: "Set, release and list legal holds: held footage is never deleted.",
            subcommands: [Set.self, Release.self, List.self])

        struct Target: ParsableArguments {
            @Argument(help: ArgumentHelp("An exhibit to hold (with its working copies); omit to hold the whole case.", valueName: "exhibit"))
            var exhibit: String?
            @Option(name: .customLong("case"), help: ArgumentHelp("The case (and, with an exhibit, where to find it).", valueName: "case"))
            var caseName: String?

            func validate() throws {
                if exhibit == nil && caseName == nil { throw ValidationError("name an exhibit or a --case") }
            }
        }

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put a legal hold on a case or an exhibit.",
                discussion: """
                    Examples:
                      exhibit hold set --case 2017/MPS/0421 --reason "civil claim 2024/0193" --as jsmith
                      exhibit hold set JS/1 --case 2017/MPS/0421 --reason "IOPC review" --as jsmith
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @OptionGroup var target: Target
            @Option(help: "Why (recorded in the custody ledger).") var reason: String

            func run() async throws {
                let store = try options.openExisting()
                let hold = try await store.setHold(
                    case: target.caseName, exhibit: target.exhibit, reason: reason, by: try await actorOptions.actor(in: store))
                print("hold \(hold.id) set on \(target.exhibit ?? target.caseName ?? "?")")
            }
        }

        struct Release: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Lift the legal hold on a case or an exhibit.",
                discussion: "Example:\n  exhibit hold release --case 2017/MPS/0421 --reason \"claim settled\" --as sup")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @OptionGroup var target: Target
            @Option(help: "Why (recorded in the custody ledger; required, as to set one).") var reason: String

            func run() async throws {
                let store = try options.openExisting()
                let hold = try await store.releaseHold(
                    case: target.caseName, exhibit: target.exhibit, reason: reason, by: try await actorOptions.actor(in: store))
                print("hold \(hold.id) released")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the holds standing on cases you can see.", discussion: "Example:\n  exhibit hold list --as sup")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let holds = try await store.standingHolds(for: try await actorOptions.actor(in: store))
                if json { return try printJSONLine(holds) }
                printTable(["HOLD", "CASE", "EXHIBIT", "SET BY", "SET AT", "REASON"], holds.map { hold in
                    [hold.id.rawValue, [hold.caseReference, hold.caseID.map { "(\($0))" }].compactMap { $0 }.joined(separator: " "),
                     hold.exhibitReference.map { "\($0) (\(hold.exhibitID?.rawValue ?? ""))" } ?? (hold.exhibitID?.rawValue ?? ""),
                     hold.setBy, hold.setAt, hold.reason]
                })
            }
        }
    }

    struct RetentionCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retention", abstract: "See and apply the retention policy (Policies/retention.yaml).",
            subcommands: [Plan.self, Apply.self])

        struct Plan: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List what is due for deletion and why; changes nothing.",
                discussion: """
                    ACTION is what `retention apply` would do: delete (to pending deletion for the grace period), \
                    purge (grace period over), wait (in the grace period), held (due, but a legal hold keeps it), \
                    restore (pending, but now held or no longer due). --as-of previews a future date.

                    Example:
                      exhibit retention plan --as-of 2027-01-01 --as sup
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Option(name: .customLong("as-of"), help: ArgumentHelp("The date to plan for (default now).", valueName: "time"))
            var asOf: String?
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let plan = try await store.retentionPlan(
                    asOf: try asOf.map { try parseTime($0, "--as-of") }, for: try await actorOptions.actor(in: store))
                if json { return try printJSONLine(plan, pretty: true) }
                print("retention plan as of \(plan.asOf) (grace period \(plan.gracePeriod))")
                printTable(["ACTION", "CASE", "EXHIBIT", "FILENAME", "DEADLINE", "PURGE AFTER", "WHY"], plan.entries.map {
                    [$0.action.rawValue, $0.caseReference, $0.reference, $0.filename, $0.deadline ?? "", $0.purgeAfter ?? "",
                     $0.hold.map { "held by \($0.setBy): \($0.reason)" } ?? $0.because]
                })
                if plan.entries.isEmpty { print("nothing is due") }
            }
        }

        struct Apply: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Apply the plan: schedule due exhibits for deletion, purge those past the grace period.",
                discussion: """
                    Due exhibits move to pending deletion (restorable with `exhibit restore`) for the grace period; \
                    a later apply purges them: each keeps a tombstone (reference, SHA-256, who, when, why), its links \
                    stop working, and its chunks are removed unless another exhibit uses them. Held exhibits are \
                    never touched. Every step is a custody event.

                    Example:
                      exhibit retention apply --reason "monthly review, DS Khan" --as sup
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Option(help: "Why (recorded with every step).") var reason: String?
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let applied = try await store.applyRetention(reason: reason ?? "", by: try await actorOptions.actor(in: store))
                if json { return try printJSONLine(applied) }
                print("scheduled for deletion: \(applied.scheduled.count)\(list(applied.scheduled))")
                print("purged: \(applied.purged.count)\(list(applied.purged))")
                print("restored: \(applied.restored.count)\(list(applied.restored))")
                for skipped in applied.skipped { print("skipped \(skipped)") }
                if let collection = applied.collection {
                    print("removed \(collection.chunksRemoved) chunk(s), \(collection.manifestsRemoved) manifest(s), \(collection.bytesRemoved) bytes")
                }
            }

            func list(_ references: [String]) -> String { references.isEmpty ? "" : " (" + references.joined(separator: ", ") + ")" }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take an exhibit out of pending deletion, or rebuild a whole store from a backup (--from).",
            discussion: """
                With an exhibit: takes it (and its working copies) out of pending deletion.

                With --from: rebuilds a storage root at --to (a new or empty folder) from the latest backup in the \
                folder or bucket (or --at ID): the keys (sealed in the backup: --passphrase-file; or a keys folder \
                kept elsewhere: --keys-from), every chunk the exhibits need, each re-hashed, then the catalog and \
                ledger; and records store.restored in the restored ledger as --as (user.manage). The new root keeps \
                its chunks locally and its catalog in SQLite, or where --chunks s3://… and --catalog postgres://… \
                say (the database must be empty). --s3-endpoint serves both the backup bucket and --chunks.

                Examples:
                  exhibit restore JS/1 --case 2017/MPS/0421 --reason "appeal lodged" --as sup
                  exhibit restore --from /mnt/backup/exhibit --to /srv/exhibit/Storage --passphrase-file /root/backup.pass --as root
                  exhibit restore --from s3://exhibit-backups/nightly --to /srv/exhibit/Storage --chunks s3://exhibit/store \\
                      --catalog postgres://exhibit@db:5432/exhibit --s3-endpoint https://s3.example --keys-from /etc/exhibit/keys --as root
                """)

        @OptionGroup var options: StorageOptions
        @OptionGroup var actorOptions: ActorOptions
        @Argument(help: ArgumentHelp("The exhibit: id, reference or SHA-256.", valueName: "exhibit")) var exhibit: String?
        @Option(name: .customLong("case"), help: ArgumentHelp("The case, when a reference is ambiguous.", valueName: "case"))
        var caseName: String?
        @Option(help: "Why (recorded in the custody ledger).") var reason: String?
        @Option(help: ArgumentHelp("A backup folder or bucket (s3://bucket/prefix) to rebuild a store from.", valueName: "dir|s3://…")) var from: String?
        @Option(help: ArgumentHelp("The backup's id (default: the latest).", valueName: "id")) var at: String?
        @Option(help: ArgumentHelp("The new storage root.", valueName: "dir")) var to: String?
        @Option(help: ArgumentHelp("A file whose first line is the backup's passphrase.", valueName: "file")) var passphraseFile: String?
        @Option(help: ArgumentHelp("A keys folder kept elsewhere (for a backup made without --include-keys).", valueName: "dir")) var keysFrom: String?

        func validate() throws {
            if from != nil {
                guard to != nil else { throw ValidationError("--from needs --to, the new storage root") }
                guard exhibit == nil else { throw ValidationError("give an exhibit, or --from: not both") }
            } else if exhibit == nil {
                throw ValidationError("name an exhibit to restore, or a backup folder with --from")
            }
        }

        func run() async throws {
            if let from, let to {
                let (record, event) = try await BackupRestore.restore(
                    from: try BackupTargets.open(from, endpoint: options.s3Endpoint), at: at, to: to,
                    chunks: try options.chunks.map { try ChunkLocation.parse($0, endpoint: options.s3Endpoint) },
                    catalog: try options.catalog.map { try CatalogLocation.parse($0) }, passphrase: try BackupCommand.passphrase(passphraseFile), keysFolder: keysFrom,
                    policies: try options.loadPolicies(), as: actorOptions.user, client: cliClient)
                print("restored backup \(record.id) (\(record.blobs) blobs, ledger \(record.treeSize) events) into \(to)")
                print("recorded as event \(event.seq) (store.restored)")
                return
            }
            let store = try options.openExisting()
            let (restored, stillDue) = try await store.restore(
                exhibit ?? "", case: caseName, reason: reason ?? "", by: try await actorOptions.actor(in: store))
            print("restored \(restored.map(\.reference).joined(separator: ", "))")
            if stillDue {
                print("note: still due under Policies/retention.yaml; the next apply schedules it again unless the case's status changes or a hold is set")
            }
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Remove chunks and manifests that no live exhibit needs.",
            discussion: """
                Orphans come from interrupted uploads and purged footage. Safe while the server ingests: chunks of \
                uploads in flight are kept. Recorded as a store.gc custody event (not with --dry-run).

                Example:
                  exhibit gc --dry-run
                """)

        @OptionGroup var options: StorageOptions
        @Flag(name: .customLong("dry-run"), help: "Only say what would be removed.") var dryRun = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try options.openExisting()
            let report = try await store.collectGarbage(dryRun: dryRun, by: Actor.system(client: cliClient))
            if json { return try printJSONLine(report) }
            let verb = dryRun ? "would remove" : "removed"
            print("\(verb) \(report.manifestsRemoved) manifest(s) and \(report.chunksRemoved) chunk(s), \(report.bytesRemoved) bytes; kept \(report.leased) object(s) held by uploads in flight; checked \(report.manifestsChecked) manifests, \(report.chunksChecked) chunks")
        }
    }
}
