import CheckedInput
import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation

extension ExhibitCommand {
    struct CaseCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "case", abstract: "Create, list and show cases; add members.",
            subcommands: [Create.self, List.self, Show.self, AddMember.self, Status.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a case; its creator becomes a member.",
                discussion: "Example:\n  exhibit case create 2017/MPS/0421 --title \"Burglary, 14 High Street\" --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The case reference, e.g. 2017/MPS/0421.", valueName: "reference"))
            var reference: String
            @Option(help: "A short title.") var title: String?

            func run() async throws {
                let store = try options.open()
                let record = try await store.createCase(reference: reference, title: title, by: try await actorOptions.actor(in: store))
                print("case \(record.reference) created (id \(record.id))")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the cases you can see.", discussion: "Example:\n  exhibit case list --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let cases = try await store.cases(for: try await actorOptions.actor(in: store))
                if json { return try printJSONLine(cases) }
                printTable(["REFERENCE", "ID", "STATUS", "CREATED BY", "CREATED", "TITLE"], cases.map {
                    [$0.reference, $0.id.rawValue, $0.status.rawValue, $0.createdBy, $0.createdAt, $0.title ?? ""]
                })
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show a case, its members and its exhibits.",
                discussion: "Example:\n  exhibit case show 2017/MPS/0421 --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The case (reference or id).", valueName: "case")) var caseName: String
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                let record = try await store.describe(try await store.findCase(caseName, for: actor))
                let members = try await store.members(of: record, for: actor)
                let exhibits = try await store.exhibits(in: record.id.rawValue, for: actor)
                if json {
                    struct Output: Encodable { let `case`: CaseRecord; let members: [String]; let exhibits: [ExhibitRecord] }
                    return try printJSONLine(Output(case: record, members: members, exhibits: exhibits))
                }
                print("case \(record.reference) (\(record.id)), \(record.status)\(record.statusAt.map { " since \($0)" } ?? ""), created by \(record.createdBy) at \(record.createdAt)")
                if let title = record.title { print("title: \(title)") }
                print("members: \(members.joined(separator: ", "))")
                if let retention = record.retention {
                    print("retention: \(retention.date.map { "due \($0)" } ?? "not due") (\(retention.because))")
                }
                if let hold = record.hold { print("legal hold: set by \(hold.setBy) at \(hold.setAt): \(hold.reason)") }
                printTable(["REFERENCE", "ID", "FILENAME", "SIZE", "VERDICT", "STATE", "SHA-256"], exhibits.map {
                    [$0.reference, $0.id.rawValue, $0.filename, ByteSize.human($0.size), $0.verdict, $0.state.rawValue, String($0.sha256.hex.prefix(16)) + "…"]
                })
            }
        }

        struct AddMember: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "add-member", abstract: "Give a user access to a case.",
                discussion: "Example:\n  exhibit case add-member 2017/MPS/0421 akhan --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The case (reference or id).", valueName: "case")) var caseName: String
            @Argument(help: ArgumentHelp("The user to add.", valueName: "user")) var member: String

            func run() async throws {
                let store = try options.openExisting()
                try await store.addMember(member, to: caseName, by: try await actorOptions.actor(in: store))
                print("\(member) added to \(caseName)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an exhibit's metadata (recorded as exhibit.viewed).",
            discussion: """
                Prints the exhibit as JSON: its case and reference, file name, SHA-256, size, uploader, the \
                media probe, the integrity report and the time coverage.

                Example:
                  exhibit show JS/1 --case 2017/MPS/0421 --as jsmith
                """)

        @OptionGroup var options: StorageOptions
        @OptionGroup var actorOptions: ActorOptions
        @Argument(help: ArgumentHelp("The exhibit: id, reference or SHA-256.", valueName: "exhibit")) var exhibit: String
        @Option(name: .customLong("case"), help: ArgumentHelp("The case, when a reference is ambiguous.", valueName: "case"))
        var caseName: String?

        func run() async throws {
            let store = try options.openExisting()
            let actor = try await actorOptions.actor(in: store)
            let record = try await store.view(try await store.findExhibit(exhibit, case: caseName, for: actor), by: actor)
            try printJSONLine(record, pretty: true)
        }
    }
}
