import ArgumentParser
import Custody
import Exhibit
import ExhibitCrypto
import ExhibitModel
import Foundation
import NIOCore

extension ExhibitCommand {
    struct BundleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle", abstract: "Make a court bundle of an exhibit or a case, or check one.",
            subcommands: [Create.self, VerifyBundle.self], defaultSubcommand: Create.self)

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "create",
                abstract: "Make the court bundle of an exhibit (with its working copies) or of a whole case.",
                discussion: """
                    The bundle is a folder anyone can check offline, without Exhibit: the footage, every custody \
                    event of it with an RFC 9162 inclusion proof against one signed checkpoint of the custody log \
                    (a C2SP signed note), the log's key, report.html to read and print, and VERIFY.txt with three \
                    independent checks (exhibit bundle verify, a Python script, the Go team's x/mod code). Making \
                    it is recorded (bundle.created) and needs exhibit.download. `create` may be left out.

                    Examples:
                      exhibit bundle JS/1 --case 2017/MPS/0421 --as jsmith --output JS-1-bundle
                      exhibit bundle --case 2017/MPS/0421 --as sup --output case-bundle
                    """)

            @OptionGroup var options: StorageOptions
            @OptionGroup var actorOptions: ActorOptions
            @Argument(help: ArgumentHelp("The exhibit (id or reference); leave out with --case for the whole case.", valueName: "exhibit"))
            var exhibit: String?
            @Option(name: .customLong("case"), help: ArgumentHelp("The case (of the exhibit, or the whole case).", valueName: "case"))
            var caseName: String?
            @Option(help: ArgumentHelp("The new folder to write the bundle to.", valueName: "dir")) var output: String

            func validate() throws {
                if exhibit == nil && caseName == nil { throw ValidationError("name an exhibit, or a case with --case") }
            }

            func run() async throws {
                let store = try options.openExisting()
                let actor = try await actorOptions.actor(in: store)
                if output.hasSuffix(".zip") { return try await zip(store, actor) }
                let sink = try DirectoryBundleSink(path: output)
                do {
                    let summary = try await store.makeBundle(exhibit: exhibit, case: caseName, by: actor, into: sink)
                    print("bundle: \(output): \(summary.exhibits.count) file(s), \(summary.bytes) bytes of footage, \(summary.events) custody events")
                    print("checkpoint: \(summary.checkpoint.seq) events, recorded as event \(summary.bundleEvent.seq) (bundle.created)")
                    print("check it: exhibit bundle verify \(output)   (or see \(output)/VERIFY.txt)")
                } catch {
                    sink.abandon()
                    throw error
                }
            }

            /// The bundle as one zip file, written beside its final name and moved there when whole.
            func zip(_ store: EvidenceStore, _ actor: Actor) async throws {
                let path = URL(fileURLWithPath: output).standardizedFileURL.path
                guard !FileManager.default.fileExists(atPath: path) else { throw CLIError("\(path) exists already") }
                let staging = path + ".partial"
                guard FileManager.default.createFile(atPath: staging, contents: nil), let handle = FileHandle(forWritingAtPath: staging) else {
                    throw CLIError("cannot write \(staging)")
                }
                do {
                    let plan = try await store.prepareBundle(exhibit: exhibit, case: caseName, by: actor)
                    let sink = ZipBundleSink(prefix: plan.name) { buffer in try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) } }
                    let summary = try await store.writeBundle(plan, into: sink)
                    try handle.synchronize()
                    try handle.close()
                    try FileManager.default.moveItem(atPath: staging, toPath: path)
                    print("bundle: \(output): \(summary.exhibits.count) file(s), \(summary.bytes) bytes of footage, \(summary.events) custody events")
                    print("checkpoint: \(summary.checkpoint.seq) events, recorded as event \(summary.bundleEvent.seq) (bundle.created)")
                    print("check it: unzip \(output) && exhibit bundle verify \(plan.name)")
                } catch {
                    try? handle.close()
                    try? FileManager.default.removeItem(atPath: staging)
                    throw error
                }
            }
        }

        struct VerifyBundle: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "verify",
                abstract: "Check a court bundle offline: every file's hash, every proof and signature.",
                discussion: """
                    Needs no store. Prints what it proved and exits 0, or names every failure and exits 1. \
                    --vkey is the log's verifier key as the force publishes it (text or a file; without it the \
                    bundle's own key is used, which proves nothing on its own); --previous an earlier signed \
                    checkpoint of the same log, which the bundle's must extend; --witness a witness's \
                    cosignature key to count towards the quorum.

                    Example:
                      exhibit bundle verify JS-1-bundle --vkey "$(cat custody.vkey)"
                    """)

            @Argument(help: ArgumentHelp("The bundle: its folder, or the zip as made.", valueName: "path")) var path: String
            @Option(help: ArgumentHelp("The log's published verifier key (text or file).", valueName: "vkey")) var vkey: String?
            @Option(help: ArgumentHelp("An earlier signed checkpoint (file).", valueName: "file")) var previous: String?
            @Option(help: ArgumentHelp("A witness's cosignature verifier key (text or file).", valueName: "vkey")) var witness: [String] = []

            func textOrFile(_ value: String) -> String {
                (try? String(contentsOfFile: value, encoding: .utf8)) ?? value
            }

            func run() async throws {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CLIError("no bundle at \(path)") }
                let trusted = try vkey.map { try NoteVerifierKey(parsing: textOrFile($0)) }
                let earlier = try previous.map { try SignedNote(parsing: try String(contentsOfFile: $0, encoding: .utf8)) }
                let witnesses = try witness.map { try NoteVerifierKey(parsing: textOrFile($0)) }
                let read: (String) throws -> [UInt8]?
                let hash: (String) throws -> (SHA256Digest, Int64)?
                if isDirectory.boolValue {
                    let root = URL(fileURLWithPath: path)
                    func inside(_ relative: String) -> URL? {
                        let url = root.appendingPathComponent(relative).standardizedFileURL
                        return url.path.hasPrefix(root.standardizedFileURL.path + "/") ? url : nil
                    }
                    read = { relative in
                        // Events, proofs and notes are small: a file over 64 MiB is not one of them (never read whole).
                        guard let url = inside(relative),
                              ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil).map({ $0 <= 64 << 20 }) == true,
                              let data = FileManager.default.contents(atPath: url.path)
                        else { return nil }
                        return [UInt8](data)
                    }
                    hash = { relative in try inside(relative).flatMap { try SHA256.file(atPath: $0.path) } }
                } else {
                    // A zipped bundle, read in place (its entries are stored, not compressed).
                    let zip = try StoredZip(path: path)
                    let prefix = zip.folder.map { $0 + "/" } ?? ""
                    read = { relative in
                        var bytes: [UInt8] = []
                        guard (zip.entries[prefix + relative]?.size ?? .max) <= 64 << 20 else { return nil }
                        return try zip.read(prefix + relative) { bytes += $0 } ? bytes : nil
                    }
                    hash = { relative in
                        var hasher = SHA256()
                        var count: Int64 = 0
                        guard try zip.read(prefix + relative, { block in
                            hasher.update(block)
                            count += Int64(block.count)
                        }) else { return nil }
                        return (hasher.finalize(), count)
                    }
                }
                let result = CourtBundle.verify(read: read, hash: hash, trusted: trusted, previous: earlier, witnesses: witnesses)
                for note in result.notes { print("note: \(note)") }
                for line in result.proved { print("proved: \(line)") }
                for line in result.problems { print("FAILED: \(line)") }
                guard result.isIntact else {
                    print("the bundle does NOT verify")
                    throw ExitCode(1)
                }
                print("ok: the bundle verifies")
            }
        }
    }
}
