import ArgumentParser
import CheckedInput
import Custody
import Exhibit
import ExhibitCrypto
import ExhibitModel
import ExhibitPolicies
import Foundation

extension ExhibitCommand {
    struct RequestCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "request",
            abstract: "Ask the owner of a recorder for footage: a link they upload through, with no account.",
            subcommands: [Create.self, List.self, Revoke.self, VerifyReceipt.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a footage request on a case; print its link (…/r/<token>) to send to the footage's owner.",
                discussion: """
                    The owner opens the link in a browser (no account), checks the recorder's clock against true \
                    time, uploads the files or the exported folder, sees at once what each file covers of the \
                    window asked for, and finishes with a signed receipt. The link uploads into this case only, \
                    within its limits, and reads nothing. Times without a zone are read in the force's zone \
                    (time_zone in Policies/requests.yaml); defaults and maxima of the limits are there too.

                    Example:
                      exhibit request create 2017/MPS/0421 --from "2026-12-04 14:00" --to "2026-12-04 14:30" \\
                        --location "Corner Shop, 12 High St: till camera" --owner "Corner Shop Ltd" \\
                        --contact "01632 960123" --expires-in 7d --as jsmith
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The case: id or reference.", valueName: "case")) var caseName: String
            @Option(help: ArgumentHelp("Start of the window asked for (RFC 3339, or local time in the force's zone).", valueName: "time")) var from: String
            @Option(help: ArgumentHelp("End of the window asked for.", valueName: "time")) var to: String
            @Option(help: ArgumentHelp("Where the footage was recorded.", valueName: "text")) var location: String
            @Option(help: ArgumentHelp("Which camera(s).", valueName: "text")) var camera: String?
            @Option(help: ArgumentHelp("Who holds the footage.", valueName: "name")) var owner: String
            @Option(help: ArgumentHelp("How to reach them.", valueName: "text")) var contact: String?
            @Option(help: ArgumentHelp("A note shown to them.", valueName: "text")) var note: String?
            @Option(help: ArgumentHelp("Initials the exhibits are numbered under (default: yours).", valueName: "initials")) var prefix: String?
            @Option(help: ArgumentHelp("How long the link works, e.g. 3d (default from the policy).", valueName: "duration")) var expiresIn: String?
            @Option(help: ArgumentHelp("Files at most.", valueName: "n")) var maxFiles: Int?
            @Option(help: ArgumentHelp("Bytes in one file at most, e.g. 60GiB.", valueName: "size")) var maxFileSize: String?
            @Option(help: ArgumentHelp("Bytes in all at most, e.g. 200GiB.", valueName: "size")) var maxTotalSize: String?
            @Option(help: ArgumentHelp("Submissions (receipts) at most.", valueName: "n")) var maxSubmissions: Int?
            @Option(help: ArgumentHelp("The address links start with (default: the one the server recorded, else public_url from Policies/sharing.yaml).", valueName: "url")) var baseURL: String?
            @Flag(help: "Print the request as JSON (with its link) instead of the link alone.") var json = false

            func validate() throws {
                if let expiresIn { _ = try InputDuration.parse(expiresIn, field: "--expires-in") }
                for (name, value) in [("--max-file-size", maxFileSize), ("--max-total-size", maxTotalSize)] {
                    if let value, ByteSize.parse(value) == nil { throw ValidationError("\(name): '\(value.prefix(40))' is not a size (e.g. 500MiB, 60GiB)") }
                }
                if let baseURL, SharingPolicy.checkedURL(baseURL) == nil {
                    throw ValidationError("--base-url: '\(baseURL.prefix(80))' is not http(s)://host[:port][/path]")
                }
            }

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                guard let base = baseURL.flatMap(SharingPolicy.checkedURL) ?? store.publicURLForLinks() else {
                    throw CLIError("no address is known for links: start the server once on this storage (it records its address), set public_url in Policies/sharing.yaml, or pass --base-url; no request was made")
                }
                var draft = EvidenceStore.RequestDraft(caseName: caseName, from: from, to: to, location: location, ownerName: owner)
                draft.camera = camera
                draft.ownerContact = contact
                draft.note = note
                draft.prefix = prefix
                draft.expiresIn = try expiresIn.map { try InputDuration.parse($0, field: "--expires-in") }
                draft.maxFiles = maxFiles
                draft.maxFileSize = maxFileSize.flatMap(ByteSize.parse)
                draft.maxTotalSize = maxTotalSize.flatMap(ByteSize.parse)
                draft.maxSubmissions = maxSubmissions
                let created = try await store.createRequest(draft, by: actor)
                if json {
                    try printJSONLine(ListedRequest(request: created.request, state: created.request.state(at: created.request.createdAt), url: base + created.path))
                } else {
                    print(base + created.path)
                }
                let r = created.request
                FileHandle.standardError.write(Data("request \(r.reference) (\(r.id)) on \(r.caseReference): \(r.windowFrom) to \(r.windowTo); link works until \(r.expiresAt)\n".utf8))
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List a case's footage requests: state, files received, coverage of the window so far.",
                discussion: "Example:\n  exhibit request list 2017/MPS/0421 --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The case.", valueName: "case")) var caseName: String
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                let requests = try await store.requests(in: caseName, for: actor)
                let now = CustodyTime.string(store.now())
                let base = store.publicURLForLinks() ?? ""
                var listed: [ListedRequest] = []
                for request in requests {
                    // A request's link is a credential to upload into the case: printed for those who may make requests.
                    let url = store.maySeeRequestLinks(for: actor) && request.revokedAt == nil ? try store.token(for: request).map { base + "/r/" + $0 } : nil
                    let coverage = RequestCoverage.of(request, files: try await store.requestFiles(request), zone: store.policies.requests.timeZone)
                    listed.append(ListedRequest(request: request, state: request.state(at: now), url: url, coverage: coverage?.sentence))
                }
                if json { return try printJSONLine(listed) }
                printTable(["REFERENCE", "ID", "STATE", "OWNER", "WINDOW", "FILES", "COVERAGE"], listed.map { item in
                    let r = item.request
                    return [r.reference, r.id.rawValue, item.state.rawValue, r.ownerName, "\(r.windowFrom) to \(r.windowTo)", "\(r.filesReceived)", item.coverage ?? ""]
                })
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a footage request: its link stops taking uploads at once; what it brought stays.",
                discussion: "Example:\n  exhibit request revoke R-7K3M9Q2X --reason \"footage obtained on DVD\" --as jsmith")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The request: its reference (R-…) or id (rq_…).", valueName: "id")) var id: String
            @Option(help: ArgumentHelp("Why, for the record.", valueName: "text")) var reason: String?

            func run() async throws {
                let store = try options.openExisting()
                let request = try await store.revokeRequest(id, reason: reason, by: try await actorOptions.actor(in: store))
                print("request \(request.reference) revoked at \(request.revokedAt ?? "?")")
            }
        }

        struct VerifyReceipt: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "verify-receipt",
                abstract: "Check a footage receipt's signature (needs no store).",
                discussion: """
                    Checks that the receipt was signed by the key it names and was not changed since; with --key, \
                    also that the key is the force's (the PEM `exhibit custody pubkey` prints). Exits non-zero \
                    otherwise. The files follow in sha256sum's format, so `sha256sum -c` checks them.

                    Example:
                      exhibit request verify-receipt receipt-R-7K3M9Q2X-1.json --key custody.pub.pem
                    """)

            @Argument(help: ArgumentHelp("The receipt (JSON).", valueName: "file")) var file: String
            @Option(help: ArgumentHelp("The force's public key (PEM) the receipt must be signed with.", valueName: "pem")) var key: String?

            func run() async throws {
                guard let data = FileManager.default.contents(atPath: file), data.count <= 16 << 20 else {
                    throw CLIError("cannot read \(file) (or it is over 16 MiB)")
                }
                var expected: Ed25519PublicKey?
                if let key {
                    guard let pem = FileManager.default.contents(atPath: key) else { throw CLIError("cannot read \(key)") }
                    expected = try Ed25519PublicKey(pem: String(decoding: pem, as: UTF8.self))
                }
                switch RequestReceiptDocument.verify(String(decoding: data, as: UTF8.self), expected: expected) {
                case .failure(let failure):
                    throw CLIError("\(file): \(failure)")
                case .success(let receipt):
                    let files: [JSONValue] = if case .array(let list)? = receipt["files"] { list } else { [] }
                    print("ok: receipt \(receipt["submission"]?.intValue ?? 0) of request \(receipt["request"]?.stringValue ?? "?") (case \(receipt["case"]?.stringValue ?? "?")), \(files.count) file(s), signed \(expected == nil ? "by the key it names (pass --key to check it is the force's)" : "by the force's key")")
                    // The files in sha256sum's own format: `… | tail -n +2 | sha256sum -c` checks them where they are.
                    for item in files {
                        print("\(item["sha256"]?.stringValue ?? "?")  \(item["name"]?.stringValue ?? "?")")
                    }
                }
            }
        }
    }
}

/// A request as `exhibit request list --json` prints it.
struct ListedRequest: Encodable {
    let request: FootageRequest
    let state: RequestState
    let url: String?
    var coverage: String?

    enum CodingKeys: String, CodingKey { case state, url, coverage }

    func encode(to encoder: any Encoder) throws {
        try request.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(url, forKey: .url)
        try c.encodeIfPresent(coverage, forKey: .coverage)
    }
}
