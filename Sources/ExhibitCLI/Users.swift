import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation

extension ExhibitCommand {
    struct UserCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "user", abstract: "Add, list and disable users; reissue or revoke their tokens.",
            subcommands: [Add.self, List.self, Disable.self, Enable.self, Token.self])

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
                printTable(["NAME", "ROLE", "INITIALS", "FULL NAME", "CREATED", "STATE", "TOKEN EXPIRES"], users.map {
                    [$0.name, $0.role, $0.initials, $0.fullName ?? "", $0.createdAt,
                     $0.disabledAt.map { "disabled \($0)" } ?? "enabled", $0.tokenExpiresAt ?? "never"]
                })
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Disable a user: their token is refused at once, on every server; their record stays.",
                discussion: "Example:\n  exhibit user disable jsmith --reason \"left the force, 2024-06-30\" --as admin")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The user.", valueName: "name")) var name: String
            @Option(help: ArgumentHelp("Why (recorded in the custody ledger).", valueName: "text")) var reason: String

            func run() async throws {
                let store = try options.openExisting()
                let user = try await store.disableUser(name, reason: reason, by: try await actorOptions.actor(in: store))
                print("user \(user.name) disabled at \(user.disabledAt ?? "?")")
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Enable a disabled user again (their token works again unless it was reissued or revoked).",
                discussion: "Example:\n  exhibit user enable jsmith --as admin")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The user.", valueName: "name")) var name: String

            func run() async throws {
                let store = try options.openExisting()
                let user = try await store.enableUser(name, by: try await actorOptions.actor(in: store))
                print("user \(user.name) enabled")
            }
        }

        struct Token: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Issue a user a new token (printed once; the old one stops working at once), or revoke it.",
                discussion: """
                    Example:
                      exhibit user token jsmith --as admin            # a lost or leaked token: a new one
                      exhibit user token jsmith --revoke --as admin   # no token at all until the next reissue
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The user.", valueName: "name")) var name: String
            @Flag(help: "Revoke the token without issuing a new one.") var revoke = false

            func run() async throws {
                let store = try options.openExisting()
                let (user, token) = try await store.reissueToken(name, revokeOnly: revoke, by: try await actorOptions.actor(in: store))
                if let token {
                    print("token: \(token)")
                    print("(for \(user.name); keep it: it is not shown again\(user.tokenExpiresAt.map { "; it expires \($0)" } ?? ""))")
                } else {
                    print("the token of \(user.name) is revoked; issue a new one with exhibit user token \(user.name)")
                }
            }
        }
    }
}
