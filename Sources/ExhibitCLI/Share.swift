import CheckedInput
import ArgumentParser
import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation

extension ExhibitCommand {
    struct ShareCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "share", abstract: "Create, list and revoke share links for prosecutors, defence or court.",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Share an exhibit through a signed, time-limited link; print the link.",
                discussion: """
                    The link works until it expires, is revoked, or its downloads run out; anyone holding it can \
                    open a page that plays the footage and offers the files. Lifetimes and download counts over \
                    the maximum in Policies/sharing.yaml are refused. The link starts with the address the server on \
                    this storage root recorded (its --public-url, or where it listens), else public_url in \
                    Policies/sharing.yaml, or --base-url.

                    Example:
                      exhibit share create JS/1 --expires-in 72h --max-downloads 2 --recipient "CPS, A. Lawyer" --as jsmith
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The exhibit: id, reference or SHA-256.", valueName: "exhibit")) var exhibit: String
            @Option(name: .customLong("case"), help: ArgumentHelp("The case, when a reference is ambiguous.", valueName: "case")) var caseName: String?
            @Option(help: ArgumentHelp("How long the link works, e.g. 72h or 14d (default from the policy).", valueName: "duration")) var expiresIn: String?
            @Option(help: ArgumentHelp("Whole-file downloads allowed (default from the policy).", valueName: "n")) var maxDownloads: Int?
            @Option(help: ArgumentHelp("Who the link is for (shown on the page).", valueName: "text")) var recipient: String?
            @Option(help: ArgumentHelp("A note for the record.", valueName: "text")) var note: String?
            @Option(help: ArgumentHelp("The address links start with (default: the one the server recorded, else public_url from the policy).", valueName: "url")) var baseURL: String?

            func validate() throws {
                if let expiresIn { _ = try InputDuration.parse(expiresIn, field: "--expires-in") }
                if let baseURL, SharingPolicy.checkedURL(baseURL) == nil {
                    throw ValidationError("--base-url: '\(baseURL.prefix(80))' is not http(s)://host[:port][/path]")
                }
            }

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                let record = try await store.findExhibit(exhibit, case: caseName, for: actor)
                guard let base = baseURL.flatMap(SharingPolicy.checkedURL) ?? store.publicURLForLinks() else {
                    throw CLIError("no address is known for links: start the server once on this storage (it records its address), set public_url in Policies/sharing.yaml, or pass --base-url; no share was made")
                }
                let created = try await store.createShare(
                    record, expiresIn: try expiresIn.map { try InputDuration.parse($0, field: "--expires-in") }, maxDownloads: maxDownloads,
                    recipient: recipient, note: note, by: actor)
                print(base + created.path)
                FileHandle.standardError.write(Data("share \(created.share.id) of \(record.reference): expires \(created.share.expiresAt), \(created.share.maxDownloads ?? 0) download(s)\n".utf8))
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List an exhibit's share links.", discussion: "Example:\n  exhibit share list JS/1 --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The exhibit.", valueName: "exhibit")) var exhibit: String
            @Option(name: .customLong("case"), help: ArgumentHelp("The case, when a reference is ambiguous.", valueName: "case")) var caseName: String?
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                let record = try await store.findExhibit(exhibit, case: caseName, for: actor)
                let shares = try await store.shares(of: record, for: actor)
                // A link is a credential to the footage: printed only for someone who may download it.
                let base = store.maySeeLinks(of: record, for: actor) ? store.publicURLForLinks() : nil
                func link(_ share: ShareRecord) throws -> String? {
                    guard store.maySeeLinks(of: record, for: actor) else { return nil }
                    guard let token = try store.token(for: share) else { return "(key pruned)" }
                    return (base ?? "") + "/s/" + token
                }
                if json { return try printJSONLine(try shares.map { ListedShare(share: $0, url: try link($0)) }) }
                printTable(["ID", "EXPIRES", "DOWNLOADS", "REVOKED", "RECIPIENT", "LINK"], try shares.map { share in
                    [share.id, share.expiresAt, "\(share.downloads)/\(share.maxDownloads.map(String.init) ?? "-")", share.revokedAt ?? "",
                     share.recipient ?? "", try link(share) ?? "(not shown to the \(actor.role.name) role)"]
                })
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a share link: it stops working on the next request.",
                discussion: "Example:\n  exhibit share revoke sh_abcdefghijklmnop --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The share id (sh_…).", valueName: "id")) var id: String

            func run() async throws {
                let store = try options.openExisting()
                let share = try await store.revokeShare(id, by: try await actorOptions.actor(in: store))
                print("share \(share.id) revoked at \(share.revokedAt ?? "?")")
            }
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the store's keys.", subcommands: [RotateLinkKey.self])

        struct RotateLinkKey: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "rotate-link-key",
                abstract: "Make a new share-link key for new links; old links keep working until they expire.",
                discussion: """
                    Keys retired longer ago than the longest a link may live (max_lifetime in \
                    Policies/sharing.yaml) are removed: no link they signed can still be valid. A running server \
                    picks up the new key at once.

                    Example:
                      exhibit keys rotate-link-key
                    """)

            @OptionGroup var options: StorageOptions

            func run() async throws {
                let store = try options.openExisting()
                let (added, pruned) = try store.rotateLinkKey()
                print("new link key \(added)" + (pruned.isEmpty ? "" : "; removed retired keys \(pruned.joined(separator: ", "))"))
            }
        }
    }
}

/// A share as `exhibit share list --json` prints it: the share's fields and, for those who may see it, its link.
struct ListedShare: Encodable {
    let share: ShareRecord
    let url: String?
    enum CodingKeys: String, CodingKey { case url }

    func encode(to encoder: any Encoder) throws {
        try share.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(url, forKey: .url)
    }
}
