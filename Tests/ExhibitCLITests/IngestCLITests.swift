import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// The blob-store commands (`ingest`, `cat`, `verify`) through the real executable.
@Suite struct IngestCLITests {
    let store: TestStore
    var folder: TemporaryDirectory { store.folder }
    var storage: String { store.storage }
    var common: [String] { store.common }
    /// `ingest --case … --as jsmith`
    var ingest: [String] { ["ingest", "--case", TestStore.caseReference, "--as", "jsmith"] }

    init() async throws {
        store = try await TestStore("cli")
    }

    func makeFile(_ name: String, size: Int, seed: UInt64) throws -> String {
        let path = folder.appending(name)
        var random = DeterministicRandom(seed: seed)
        try random.writeFile(at: path, size: size)
        return path
    }

    func manifests() async throws -> [String] { try await store.objects.list(.manifests) }

    @Test func ingestPrintsOneJSONLinePerFileAndDedupes() async throws {
        let a = try makeFile("a.bin", size: 5 << 20, seed: 1)
        let b = try makeFile("b.bin", size: 1234, seed: 2)
        let first = try await ExhibitCLI.run(ingest + common + [a, b])
        #expect(first.status == 0, "\(first.err)")
        let lines = try ExhibitCLI.jsonLines(first)
        #expect(lines.count == 2)
        for (line, path) in zip(lines, [a, b]) {
            let sum = try await Subprocess.run("/usr/bin/sha256sum", [path]).out.prefix(64)
            #expect(line["sha256"] as? String == String(sum))
            #expect(line["file"] as? String == path)
            #expect(line["size"] as? Int == line["new_bytes"] as? Int)
            #expect((line["chunks"] as? Int ?? 0) >= 1)
            #expect(line["verdict"] as? String == "not-media")
        }
        let again = try await ExhibitCLI.jsonLines(ExhibitCLI.run(ingest + common + [a]))
        #expect(again.first?["new_bytes"] as? Int == 0)
        #expect(again.first?["sha256"] as? String == lines[0]["sha256"] as? String)
        // Each ingest is its own exhibit, numbered per uploader: JS/1, JS/2, then JS/3 for the same bytes again.
        #expect(lines.map { $0["reference"] as? String } == ["JS/1", "JS/2"])
        #expect(again.first?["reference"] as? String == "JS/3")
    }

    /// Coverage only for footage: a readme beside the videos of a DVR export covers no time, whatever the
    /// recorder's start given for the batch says; a video in the same batch does.
    @Test func onlyFootageIsGivenTimeCoverage() async throws {
        let readme = folder.appending("readme.txt")
        try "Exported from DVR 3, channel 1.\n".write(toFile: readme, atomically: true, encoding: .utf8)
        let result = try await ExhibitCLI.run(ingest + common + ["--recorded-start", "2024-03-01T13:58:00Z", readme, TestPaths.fixtures + "/mp4_h264.mp4"])
        #expect(result.status == 0, "\(result.err)")
        let lines = try ExhibitCLI.jsonLines(result)
        let text = try #require(lines.first)
        #expect(text["verdict"] as? String == "not-media")
        #expect((text["coverage"] as? String)?.hasPrefix("no time coverage") == true, "\(text["coverage"] ?? "-")")
        #expect(!((text["coverage"] as? String) ?? "").contains("13:58"), "a document was given the recorder's time")
        #expect((lines.last?["coverage"] as? String)?.contains("13:58:00") == true, "\(lines.last?["coverage"] ?? "-")")
        let shown = try await ExhibitCLI.run(["show", "JS/1", "--as", "jsmith"] + common)
        let coverage = (try JSONSerialization.jsonObject(with: shown.stdout) as? [String: Any])?["coverage"] as? [String: Any]
        #expect(coverage?["true_start"] == nil, "a document has no start in true time: \(coverage ?? [:])")
    }

    @Test func catWritesTheBlobAndItsRanges() async throws {
        let path = try makeFile("c.bin", size: 3 << 20 + 77, seed: 3)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let sha = try await ExhibitCLI.jsonLines(ExhibitCLI.run(ingest + common + [path]))[0]["sha256"] as! String
        let whole = try await ExhibitCLI.run(["cat", "--as", "jsmith"] + common + [sha])
        #expect(whole.status == 0)
        #expect(whole.stdout == data)
        let cases: [(String, Range<Int>)] = [
            ("0-0", 0..<1), ("100-2000000", 100..<2_000_001), ("3145000-", 3_145_000..<data.count),
            ("-188", data.count - 188..<data.count), ("0-999999999", 0..<data.count),
        ]
        for (range, expected) in cases {
            // A range starting with '-' must be attached with '=' so it is not read as an option.
            let result = try await ExhibitCLI.run(["cat", "--as", "jsmith"] + common + ["JS/1", "--range=\(range)"])
            #expect(result.status == 0, "\(range): \(result.err)")
            #expect(result.stdout == data[expected], "range \(range)")
        }
        for bad in ["5-1", "abc", "1-2-3", "-", ""] {
            let result = try await ExhibitCLI.run(["cat", "--as", "jsmith"] + common + [sha, "--range=\(bad)"])
            #expect(result.status != 0, "range '\(bad)' must be refused")
            #expect(result.stdout.isEmpty, "range '\(bad)' must be refused")
        }
        let past = try await ExhibitCLI.run(["cat", "--as", "jsmith"] + common + [sha, "--range", "\(data.count)-"])
        #expect(past.status != 0)
        #expect(past.err.contains("outside"))
        let unknown = try await ExhibitCLI.run(["cat", "--as", "jsmith"] + common + [String(repeating: "ab", count: 32)])
        #expect(unknown.status != 0)
        #expect(unknown.err.contains("no exhibit"))
        let malformed = try await ExhibitCLI.run(["cat", "--as", "jsmith"] + common + ["../../etc/passwd"])
        #expect(malformed.status != 0)
        #expect(malformed.err.contains("no exhibit"))
        // Every download is in the custody record, with its range.
        let csv = try await ExhibitCLI.run(["custody", "export", "--as", "audit", "--format", "csv"] + common).out
        #expect(csv.components(separatedBy: "exhibit.downloaded").count - 1 == 1 + cases.count)
        #expect(csv.contains("\"\"range\"\":\"\"100-2000000\"\""))
    }

    @Test func verifyNamesWhatIsBroken() async throws {
        let path = try makeFile("v.bin", size: 4 << 20, seed: 4)
        #expect(try await ExhibitCLI.run(ingest + common + [path]).status == 0)
        let clean = try await ExhibitCLI.run(["verify"] + common)
        #expect(clean.status == 0, "\(clean.out)")
        #expect(clean.out.hasPrefix("ok: 1 exhibits, 1 blobs"), "\(clean.out)")

        let chunks = try await store.objects.list(.chunks)
        let name = try #require(chunks.first)
        var bytes = try await store.objects.read(.chunks, name)
        bytes[10] ^= 0x40
        try await store.objects.overwrite(.chunks, name, with: bytes)

        let broken = try await ExhibitCLI.run(["verify"] + common)
        #expect(broken.status == 1)
        #expect(broken.out.contains("corrupt-chunk: chunk \(name)"))
        #expect(broken.out.contains("damaged: 1 exhibit(s) broken"), "\(broken.out)")
    }

    @Test func aMissingFileStopsEverythingBeforeAnythingIsStored() async throws {
        let good = try makeFile("good.bin", size: 100_000, seed: 5)
        let result = try await ExhibitCLI.run(ingest + common + [good, folder.appending("absent.mp4")])
        #expect(result.status != 0)
        #expect(result.err.contains("no such file: \(folder.appending("absent.mp4"))"))
        #expect(result.out.isEmpty)
        #expect(try await manifests().isEmpty)
        #expect(try await store.sql("SELECT count(*) FROM exhibits").out == "0\n")
        let folderArgument = try await ExhibitCLI.run(ingest + common + [folder.path])
        #expect(folderArgument.status != 0)
        #expect(folderArgument.err.contains("not a regular file"))
    }

    @Test func anUnreadableFileIsRefused() async throws {
        let secret = try makeFile("secret.bin", size: 1000, seed: 6)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: secret)
        _ = try await Subprocess.run("/bin/chown", ["-R", "65534:65534", storage])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let result = try await ExhibitCLI.run(ingest + common + [secret], asNobody: true)
        #expect(result.status != 0)
        #expect(result.err.contains("cannot read \(secret): permission denied"))
    }

    @Test func aStorageFolderWithoutPermissionIsRefused() async throws {
        let file = try makeFile("f.bin", size: 1000, seed: 7)
        let locked = folder.appending("Locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        // Owned by root and not writable by others: the unprivileged user may not write there.
        let result = try await ExhibitCLI.run(
            ingest + ["--storage", locked + "/Storage", "--policies", TestPaths.policies, file], asNobody: geteuid() == 0)
        if geteuid() == 0 {
            #expect(result.status != 0)
            #expect(result.err.contains("Permission denied"), "\(result.err)")
        }
        // Whoever runs the test: a storage root that is a file is refused too.
        let notAFolder = try makeFile("plain", size: 10, seed: 8)
        let second = try await ExhibitCLI.run(ingest + ["--storage", notAFolder, "--policies", TestPaths.policies, file])
        #expect(second.status != 0)
        #expect(second.err.contains("cannot"))
    }

    /// A full disk: a private 3 MiB tmpfs (mounted in a user+mount namespace, so no root is needed) and an
    /// 8 MiB file. The command fails clearly and leaves no manifest and nothing in tmp/.
    @Test(.enabled(if: !TestEngines.usesS3, "a full local disk: chunks in object storage do not fill it")) func aFullDiskFailsCleanly() async throws {
        let file = try makeFile("big.bin", size: 8 << 20, seed: 9)
        let mount = folder.appending("small")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let script = """
            mount -t tmpfs -o size=3m tmpfs "$1" || exit 90
            cp -a "$5" "$1/Storage" || exit 91
            "$2" ingest --case 2017/MPS/0421 --as jsmith --storage "$1/Storage" --policies "$3" "$4"
            rc=$?
            echo "exhibits=$(sqlite3 "$1/Storage/exhibit.sqlite" 'SELECT count(*) FROM exhibits')"
            echo "manifests=$(find "$1/Storage/manifests" -type f | wc -l) tmp=$(ls "$1/Storage/tmp" | wc -l)"
            exit $rc
            """
        let result = try await Subprocess.run(
            "/usr/bin/unshare", ["-Urm", "/bin/sh", "-c", script, "sh", mount, TestPaths.exhibitExecutable, TestPaths.policies, file, storage])
        #expect(result.status != 90, "could not mount a tmpfs (this test needs root or unprivileged user namespaces for `unshare -Urm`): \(result.err)")
        #expect(result.status != 0)
        #expect(result.err.contains("No space left on device"), "\(result.err)")
        #expect(result.out.contains("manifests=0 tmp=0"), "\(result.out)")
        #expect(result.out.contains("exhibits=0"), "\(result.out)")
    }

    @Test func aBadPolicyFileNamesTheLineAndTheProblem() async throws {
        let file = try makeFile("p.bin", size: 1000, seed: 10)
        let policies = folder.appending("Policies")
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.policies + "/roles.yaml", toPath: policies + "/roles.yaml")
        let cases: [(String, String)] = [
            ("chunking:\n  min_size: 1KiB\n  avg_size: 1MiB\n  max_size: 4MiB\nuploads:\n  max_size: 1GiB\n",
             "storage.yaml:2: chunking.min_size: 1KiB is below the smallest allowed chunk size (4KiB)"),
            ("chunking:\n  min_size: 256KiB\n  avg_size: 1MiB\n  max_size: 4MiB\n  colour: blue\nuploads:\n  max_size: 1GiB\n",
             "storage.yaml:5: unknown setting 'chunking.colour'"),
            ("chunking:\n  min_size: lots\n  avg_size: 1MiB\n  max_size: 4MiB\nuploads:\n  max_size: 1GiB\n",
             "storage.yaml:2: chunking.min_size: 'lots' is not a size"),
            ("chunking:\n  min_size: 256KiB\n  avg_size: 1MiB\n  max_size: 4MiB\n",
             "uploads is missing"),
            ("chunking: [unclosed\n", "storage.yaml:2: not valid YAML"),
            ("chunking:\n  min_size: 256KiB\n  avg_size: 1000KiB\n  max_size: 4MiB\nuploads:\n  max_size: 1GiB\n",
             "storage.yaml:3: chunking.avg_size: 1000KiB is not a power of two"),
        ]
        for (yaml, expected) in cases {
            try yaml.write(toFile: policies + "/storage.yaml", atomically: true, encoding: .utf8)
            let result = try await ExhibitCLI.run(ingest + ["--storage", storage, "--policies", policies, file])
            #expect(result.status != 0)
            #expect(result.err.contains(expected), "expected '\(expected)' in: \(result.err)")
        }
        #expect(try await manifests().isEmpty)
    }

    @Test(arguments: [
        ["ingest"], ["cat"], ["verify"], ["probe"], ["show"], ["user", "add"], ["user", "list"], ["case", "create"],
        ["case", "list"], ["case", "show"], ["case", "add-member"], ["custody", "export"], ["custody", "verify"],
        ["custody", "checkpoint"], ["custody", "pubkey"], ["custody", "note"], ["custody", "prove"], ["custody", "vkey"], ["bundle", "create"], ["bundle", "verify"], ["witness", "keygen"],
        ["witness", "vkey"], ["witness", "serve"], ["backup", "create"], ["backup", "list"], ["backup", "verify"], ["restore"],
    ])
    func everyCommandExplainsItselfWithAnExample(command: [String]) async throws {
        let result = try await ExhibitCLI.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("Example"))
    }
}
