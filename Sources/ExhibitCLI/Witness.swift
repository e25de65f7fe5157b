import ArgumentParser
import BlobStore
import Custody
import ExhibitCrypto
import Foundation
import Hummingbird
import NIOCore

extension ExhibitCommand {
    struct WitnessCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "witness",
            abstract: "Run a witness of a custody log (C2SP tlog-witness): it cosigns only checkpoints that extend what it has seen.",
            discussion: """
                A prosecution service, a court registry or a defence expert runs one on a machine of their own. \
                The force lists it in Policies/custody.yaml (witnesses: "<vkey> <URL>", and a quorum); every \
                checkpoint Exhibit signs is then sent to it with a consistency proof, and a court bundle carries \
                its cosignature. Once it has cosigned a history it refuses any other: a log rewritten after that \
                can no longer get its cosignature.

                Examples:
                  exhibit witness keygen --name witness.cps.example/w1 --key witness.pem > witness.vkey
                  exhibit witness serve --name witness.cps.example/w1 --key witness.pem --log-key "$(cat custody.vkey)" --state witness-state --port 8090
                """,
            subcommands: [Keygen.self, VerifierKey.self, Serve.self])

        struct Keygen: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a witness's Ed25519 key (PEM, mode 0600) and print its cosignature verifier key.",
                discussion: "Example:\n  exhibit witness keygen --name witness.cps.example/w1 --key witness.pem > witness.vkey")

            @Option(help: ArgumentHelp("The witness's name (a scheme-less URL, no spaces or '+').", valueName: "name")) var name: String
            @Option(help: ArgumentHelp("The new key file.", valueName: "file")) var key: String

            func run() async throws {
                let generated = try Ed25519PrivateKey.generate()
                let signer = try NoteSigner(name: name, key: generated, type: NoteVerifierKey.cosignatureV1)
                guard try DurableFile.create(key, with: Data(generated.pem.utf8), mode: 0o600) else {
                    throw CLIError("\(key) exists already: a witness key is never overwritten")
                }
                print(try signer.verifierKey.vkey)
            }
        }

        struct VerifierKey: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "vkey", abstract: "Print a witness's cosignature verifier key.",
                discussion: "Example:\n  exhibit witness vkey --name witness.cps.example/w1 --key witness.pem")

            @Option(help: ArgumentHelp("The witness's name.", valueName: "name")) var name: String
            @Option(help: ArgumentHelp("Its key file.", valueName: "file")) var key: String

            func run() async throws {
                let signer = try NoteSigner(name: name, key: try Ed25519PrivateKey(pem: try String(contentsOfFile: key, encoding: .utf8)), type: NoteVerifierKey.cosignatureV1)
                print(try signer.verifierKey.vkey)
            }
        }

        struct Serve: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Serve a witness: POST <prefix>/add-checkpoint, GET <prefix>/<hex SHA-256 of the origin>/checkpoint.",
                discussion: """
                    The state folder holds the latest checkpoint cosigned (written durably before the cosignature \
                    is sent) and, under refused/, every checkpoint refused as inconsistent: evidence that the log \
                    showed two histories.

                    Example:
                      exhibit witness serve --name witness.cps.example/w1 --key witness.pem --log-key "$(cat custody.vkey)" --state witness-state
                    """)

            @Option(help: ArgumentHelp("The witness's name.", valueName: "name")) var name: String
            @Option(help: ArgumentHelp("Its key file.", valueName: "file")) var key: String
            @Option(help: ArgumentHelp("The log's verifier key (text or file).", valueName: "vkey")) var logKey: String
            @Option(help: ArgumentHelp("The state folder.", valueName: "dir")) var state: String
            @Option(help: ArgumentHelp("Address to listen on.", valueName: "host")) var host = "127.0.0.1"
            @Option(help: ArgumentHelp("Port to listen on.", valueName: "port")) var port = 8090

            func run() async throws {
                let signer = try NoteSigner(name: name, key: try Ed25519PrivateKey(pem: try String(contentsOfFile: key, encoding: .utf8)), type: NoteVerifierKey.cosignatureV1)
                let logVkey = (try? String(contentsOfFile: logKey, encoding: .utf8)) ?? logKey
                let witness = try WitnessState(core: try WitnessCore(signer: signer, logKey: try NoteVerifierKey(parsing: logVkey)), folder: state)
                let router = Router()
                router.post("/add-checkpoint") { request, _ -> Response in
                    let body = try await request.body.collect(upTo: 1 << 16)
                    let (status, text, type) = try await witness.add(String(buffer: body))
                    return Response(status: .init(code: status), headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
                }
                router.get("/{origin}/checkpoint") { _, context -> Response in
                    guard let note = try await witness.latest(originHash: context.parameters.get("origin") ?? "") else {
                        return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no checkpoint of that log\n")))
                    }
                    return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: note.rendered)))
                }
                let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "exhibit-witness"))
                print("witness \(try signer.verifierKey.vkey) of \(witness.core.logKey.name) on http://\(host):\(port)")
                try await app.runService()
            }
        }
    }
}

/// A witness's state on disk: the latest cosigned checkpoint of its log (`<folder>/checkpoint`), replaced durably
/// before each cosignature leaves, and the refused ones (`<folder>/refused/`). One request at a time: deciding
/// and persisting is atomic, as the spec requires.
actor WitnessState {
    let core: WitnessCore
    let folder: String
    var path: String { folder + "/checkpoint" }

    init(core: WitnessCore, folder: String) throws {
        self.core = core
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder + "/refused", withIntermediateDirectories: true)
    }

    func stored() throws -> SignedNote? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return try SignedNote(parsing: text)
    }

    func add(_ request: String) throws -> (Int, String, String) {
        let decision = core.addCheckpoint(request, latest: try stored(), time: UInt64(max(0, Date().timeIntervalSince1970)))
        switch decision {
        case .cosigned(let lines, let keep):
            try DurableFile.replace(path, with: Data(keep.rendered.utf8), mode: 0o644)
            return (200, lines, "text/plain; charset=utf-8")
        case .refused(let status, let reason, let body, let type):
            if status == 422 {
                // Kept as evidence of what the log showed: a checkpoint signed by its key that contradicts one
                // this witness cosigned is a fork, provable to anyone with the two notes.
                let name = folder + "/refused/\(Int(Date().timeIntervalSince1970 * 1000)).txt"
                try? DurableFile.replace(name, with: Data(("# " + reason + "\n" + request).utf8), mode: 0o644)
            }
            return (status, body, type)
        }
    }

    func latest(originHash: String) throws -> SignedNote? {
        guard originHash == SHA256.hash(Array(core.logKey.name.utf8)).hex else { return nil }
        return try stored()
    }
}
