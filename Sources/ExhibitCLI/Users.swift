import ArgumentParser
import Exhibit
import Foundation

extension ExhibitCommand {
    struct UserCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "user", abstract: "Add and list users.", subcommands: [Add.self, List.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a user with a role from Policies/roles.yaml and print their bearer token once.",
                discussion: """
                    The token is shown once and never again: only its SHA-256 is stored. Without --as the user \
                    is added by "system" (whoever can write the storage folder, as on first set-up); with --as, \
                    that user needs the user.manage permission.

                    Example:
                      exhibit user add jsmith --role investigator --full-name "John Smith"
                      user jsmith (investigator, initials JS) added
                      token: exh_3q2…   (keep it: it is not shown again)
                    """)

            @OptionGroup var options: StorageOptions

            @Argument(help: ArgumentHelp("The login name (lowercase letters, digits, . _ -).", valueName: "name"))
            var name: String

            @Option(help: ArgumentHelp("The role, from Policies/roles.yaml.", valueName: "role"))
            var role: String

            @Option(help: ArgumentHelp("The person's full name (gives the initials).", valueName: "name"))
            var fullName: String?

            @Option(help: ArgumentHelp("Initials for exhibit references (default: from the full name).", valueName: "AB"))
            var initials: String?

            @Option(name: .customLong("as"), help: ArgumentHelp("The user adding (needs user.manage).", valueName: "user"))
            var actingUser: String?

            @Flag(help: "Print the user and token as JSON.")
            var json = false

            func run() async throws {
                let store = try options.open()
                var actor = Actor.system(client: cliClient)
                if let actingUser { actor = try await store.actor(named: actingUser, client: cliClient) }
                let (user, token) = try await store.addUser(name: name, role: role, fullName: fullName, initials: initials, by: actor)
                if json {
                    struct Output: Encodable { let user: User; let token: String }
                    try printJSONLine(Output(user: user, token: token))
                } else {
                    print("user \(user.name) (\(user.role), initials \(user.initials)) added")
                    print("token: \(token)")
                    print("(keep it: it is not shown again)")
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List users and their roles.",
                discussion: "Example:\n  exhibit user list --as admin")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let users = try await store.users(by: try await actorOptions.actor(in: store))
                if json { return try printJSONLine(users) }
                printTable(["NAME", "ROLE", "INITIALS", "FULL NAME", "CREATED"], users.map {
                    [$0.name, $0.role, $0.initials, $0.fullName ?? "", $0.createdAt]
                })
            }
        }
    }
}
