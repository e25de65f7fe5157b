import ArgumentParser
import BlobStore
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation

extension ExhibitCommand {
    struct CustodyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "custody", abstract: "Export, verify and sign the chain-of-custody ledger.",
            subcommands: [Export.self, Verify.self, Checkpoint.self, Prove.self, PublicKey.self, VerifierKey.self, Note.self])

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Export custody events as CSV, JSON (a self-contained signed bundle) or JSON lines.",
                discussion: """
                    The export itself is recorded (custody.exported) and a checkpoint of the ledger's head is \
                    signed; the events exported are those up to that checkpoint. --since and --until take \
                    RFC 3339 times (--until is exclusive). A JSON bundle holds the events with their hashes, \
                    the signed checkpoint and the public key, so it can be checked offline with \
                    `exhibit custody verify --bundle FILE` or the README's Python script.

                    Examples:
                      exhibit custody export --as auditor --format json --output custody.json
                      exhibit custody export --as auditor --case 2017/MPS/0421 --format csv > case.csv
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Option(name: .customLong("case"), help: ArgumentHelp("Only this case.", valueName: "case")) var caseName: String?
            @Option(help: ArgumentHelp("Only this exhibit (id or reference).", valueName: "exhibit")) var exhibit: String?
            @Option(help: ArgumentHelp("Only events at or after this time.", valueName: "time")) var since: String?
            @Option(help: ArgumentHelp("Only events before this time.", valueName: "time")) var until: String?
            @Option(help: ArgumentHelp("csv, json or jsonl.", valueName: "format")) var format: String
            @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file")) var output: String?

            func validate() throws {
                guard EvidenceStore.ExportFormat(rawValue: format) != nil else {
                    throw ValidationError("--format must be csv, json or jsonl")
                }
                if let since { _ = try parseTime(since, "--since") }
                if let until { _ = try parseTime(until, "--until") }
            }

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                var filter = EventFilter()
                filter.caseReference = caseName
                if let exhibit {
                    filter.exhibitIDs = [try await store.findExhibit(exhibit, case: caseName, for: actor).id.rawValue]
                }
                if let since { filter.since = CustodyTime.string(try parseTime(since, "--since")) }
                if let until { filter.until = CustodyTime.string(try parseTime(until, "--until")) }
                let sink = try OutputSink(path: output)
                do {
                    let result = try await store.exportCustody(
                        filter, format: EvidenceStore.ExportFormat(rawValue: format)!, by: actor, write: { try sink.write($0) })
                    try sink.commit()
                    if output != nil {
                        FileHandle.standardError.write(Data("exported \(result.count) events to \(output!), checkpoint at seq \(result.checkpoint.seq)\n".utf8))
                    }
                } catch {
                    sink.discard()
                    throw error
                }
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Re-check the ledger (or an exported bundle); exit 1 naming the first broken seq.",
                discussion: """
                    Without --bundle: recomputes every event's hash in the store's database, checks the chain \
                    links, the latest signed checkpoint and the seals of the events after it.
                    With --bundle: checks an exported JSON bundle offline, with its own public key or the one \
                    given with --public-key, and says what the bundle proves and what it cannot.

                    Examples:
                      exhibit custody verify
                      exhibit custody verify --bundle custody.json --public-key custody.pub.pem
                    """)

            @OptionGroup var options: StorageOptions
            @Option(help: ArgumentHelp("An exported JSON bundle to check instead of the store.", valueName: "file")) var bundle: String?
            @Option(help: ArgumentHelp("The public key (PEM) the bundle must be signed with.", valueName: "file")) var publicKey: String?

            func run() async throws {
                if let bundle { return try verifyBundle(bundle) }
                let store = try options.openExisting()
                let report = try await store.verifyCustody()
                for note in report.notes { print("note: \(note)") }
                if let first = report.firstBroken {
                    for problem in report.problems.sorted(by: { $0.seq < $1.seq }) { print("BROKEN \(problem)") }
                    print("broken: first at seq \(first.seq): \(first.what)")
                    throw ExitCode(1)
                }
                let signed = report.checkpoint.map { "; latest checkpoint seq \($0.seq) signed by \($0.keyID) at \($0.at)" } ?? ""
                print("ok: \(report.eventsChecked) events, head seq \(report.headSeq) hash \(report.headHash)\(signed)")
            }

            func verifyBundle(_ path: String) throws {
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw CLIError("cannot read \(path): \(error.localizedDescription)") }
                let bundle: CustodyBundle
                do {
                    bundle = try JSONDecoder().decode(CustodyBundle.self, from: data)
                } catch {
                    throw CLIError("\(path) is not an Exhibit custody bundle (JSON expected): \(error)")
                }
                guard bundle.format == CustodyBundle.formatName, bundle.version == 1 else {
                    throw CLIError("\(path): unknown bundle format \(bundle.format) version \(bundle.version)")
                }
                var trusted: Ed25519PublicKey?
                if let publicKey {
                    do {
                        trusted = try Ed25519PublicKey(pem: String(contentsOfFile: publicKey, encoding: .utf8))
                    } catch {
                        throw CLIError("\(publicKey) is not an Ed25519 public key in PEM: \(error)")
                    }
                }
                let result = bundle.verify(trustedKey: trusted)
                print("\(bundle.complete ? "complete" : "filtered") bundle: \(result.eventsChecked) events, checkpoint seq \(bundle.checkpoint.seq) at \(bundle.checkpoint.at)")
                for line in result.proves { print("proves: \(line)") }
                for line in result.cannotProve { print("cannot prove: \(line)") }
                if let first = result.firstBroken {
                    for problem in result.problems.sorted(by: { $0.seq < $1.seq }) { print("BROKEN \(problem)") }
                    print("broken: first at seq \(first.seq): \(first.what)")
                    throw ExitCode(1)
                }
                print("ok")
            }
        }

        struct Checkpoint: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Sign a checkpoint of the ledger's head with the custody key.",
                discussion: "Example:\n  exhibit custody checkpoint --as auditor")

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions

            func run() async throws {
                let store = try options.openExisting()
                let checkpoint = try await store.checkpoint(by: try await actorOptions.actor(in: store))
                print("checkpoint: seq \(checkpoint.seq) hash \(checkpoint.hash) at \(checkpoint.at), key \(checkpoint.keyID)")
                print("signature: \(checkpoint.signature)")
                if let note = checkpoint.note { print("\n" + note, terminator: "") }
            }
        }

        struct Prove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Prove that an event is in a signed checkpoint, or that one checkpoint extends another.",
                discussion: """
                    With --event, prints a C2SP tlog-proof (c2sp.org/tlog-proof@v1: the leaf index, the RFC 9162 \
                    inclusion path and the signed checkpoint it leads to); --size picks an earlier signed \
                    checkpoint than the latest. With --from and --to, prints the RFC 9162 consistency proof \
                    between two signed checkpoints as tlog-witness writes it ("old <size>", then one base64 hash \
                    per line), then the newer checkpoint after a blank line.

                    Examples:
                      exhibit custody prove --event 42 --as auditor > event-42.tlog-proof
                      exhibit custody prove --from 40 --to 97 --as auditor
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Option(help: ArgumentHelp("The event's seq.", valueName: "seq")) var event: Int64?
            @Option(help: ArgumentHelp("The tree size of the signed checkpoint to prove it in (default: the latest).", valueName: "n")) var size: Int64?
            @Option(help: ArgumentHelp("The older checkpoint's tree size.", valueName: "m")) var from: Int64?
            @Option(help: ArgumentHelp("The newer checkpoint's tree size.", valueName: "n")) var to: Int64?

            func validate() throws {
                guard (event != nil) != (from != nil || to != nil) else { throw ValidationError("give --event, or --from and --to") }
                if event == nil, from == nil || to == nil { throw ValidationError("a consistency proof needs --from and --to") }
                for (name, value) in [("--event", event), ("--size", size), ("--from", from), ("--to", to)] {
                    if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
                }
            }

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                if let event {
                    let proof = try await store.proveInclusion(seq: event, size: size, by: actor)
                    guard let text = proof.tlogProof?.rendered else { throw ExhibitError(.storage, "the checkpoint at \(proof.treeSize) has no readable signed note") }
                    print(text, terminator: "")
                } else if let from, let to {
                    let (proof, _, newer) = try await store.proveConsistency(from: from, to: to, by: actor)
                    print("old \(from)")
                    for hash in proof { print(Data(hash.bytes).base64EncodedString()) }
                    print("\n" + (newer.note ?? ""), terminator: "")
                }
            }
        }

        struct VerifierKey: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "vkey", abstract: "Print the custody log's verifier key (C2SP signed-note vkey) that checks its checkpoints.",
                discussion: "Example:\n  exhibit custody vkey > custody.vkey")

            @OptionGroup var options: StorageOptions

            func run() async throws {
                print(try options.openExisting().custodyVerifierKey.vkey)
            }
        }

        struct PublicKey: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "pubkey", abstract: "Print the custody public key (PEM) that verifies checkpoints.",
                discussion: "Example:\n  exhibit custody pubkey > custody.pub.pem")

            @OptionGroup var options: StorageOptions

            func run() async throws {
                print(try options.openExisting().custodyPublicKeyPEM, terminator: "")
            }
        }

        struct Note: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a note to the custody record (e.g. a hand-over that happened outside Exhibit).",
                discussion: """
                    Example:
                      exhibit custody note "DVD copy JS/1 handed to CPS lawyer A. Khan" --case 2017/MPS/0421 --as jsmith
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: "The note.") var text: String
            @Option(name: .customLong("case"), help: ArgumentHelp("The case it concerns.", valueName: "case")) var caseName: String?
            @Option(help: ArgumentHelp("The exhibit it concerns.", valueName: "exhibit")) var exhibit: String?
            @Option(help: .hidden) var repeatCount: Int = 1

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                var last: CustodyEvent?
                for _ in 0..<max(1, repeatCount) {
                    last = try await store.note(text, case: caseName, exhibit: exhibit, by: actor)
                }
                if let last { print("noted as seq \(last.seq)") }
            }
        }
    }
}

/// Writes an export to standard output, or to a temporary file renamed into place only when complete.
final class OutputSink {
    private let path: String?
    private let temporary: String?
    private let handle: FileHandle

    init(path: String?) throws {
        self.path = path
        if let path {
            let temporary = path + ".partial-\(getpid())"
            guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
                throw CLIError("cannot write \(path)")
            }
            self.temporary = temporary
            self.handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        } else {
            self.temporary = nil
            self.handle = FileHandle.standardOutput
        }
    }

    func write(_ text: String) throws { try handle.write(contentsOf: Data(text.utf8)) }

    func commit() throws {
        guard let path, let temporary else { return }
        try handle.close()
        try DurableFile.commit(temporary, to: path)
    }

    func discard() {
        guard let temporary else { return }
        try? handle.close()
        unlink(temporary)
    }
}
