import BlobStore
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import ExhibitCrypto
import ExhibitServer
import ExhibitTesting
import Foundation
import Hummingbird
import Logging
import MediaProbe
import NIOCore
import Testing

/// tus 1.0 on a real server through curl, and through tuspy (the Python tus client).
@Suite struct TusServerTests {
    let store: TestStore
    let server: LiveServer
    var jsmith: String { store.tokens["jsmith"]! }
    static let caseReference = TestStore.caseReference

    init() async throws {
        store = try await TestStore("tus")
        server = try await LiveServer(storage: store.storage)
    }

    static func metadata(_ fields: [String: String]) -> String {
        fields.sorted { $0.key < $1.key }.map { "\($0.key) \(Data($0.value.utf8).base64EncodedString())" }.joined(separator: ",")
    }

    func create(length: Int, fields: [String: String], token: String? = nil, extra: [String: String] = [:], body: Data? = nil) async throws -> HTTP.Result {
        var headers = ["Tus-Resumable": "1.0.0", "Upload-Length": String(length), "Upload-Metadata": Self.metadata(fields)]
        if body != nil { headers["Content-Type"] = "application/offset+octet-stream" }
        headers.merge(extra) { $1 }
        return try await HTTP.request("POST", server.url + "/v1/uploads", token: token ?? jsmith, headers: headers, data: body)
    }

    func patch(_ location: String, offset: Int, _ data: Data, token: String? = nil, extra: [String: String] = [:]) async throws -> HTTP.Result {
        var headers = ["Tus-Resumable": "1.0.0", "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream"]
        headers.merge(extra) { $1 }
        return try await HTTP.request("PATCH", server.url + location, token: token ?? jsmith, headers: headers, data: data)
    }

    func head(_ location: String, token: String? = nil) async throws -> HTTP.Result {
        try await HTTP.request("HEAD", server.url + location, token: token ?? jsmith, headers: ["Tus-Resumable": "1.0.0"])
    }

    func events() async throws -> [[String: Any]] {
        try await ExhibitCLI.jsonLines(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl"]))
    }

    /// Regression (found by the crash rounds): the tail a request replaced was removed before the catalog
    /// recorded the progress naming the new one, so a crash (or a failed catalog write) in between left the upload
    /// pointing at a tail that was gone: every later request failed with 500. The catalog write is made to fail
    /// here (a trigger refusing updates); the upload must carry on from the offset the catalog kept.
    @Test func aFailedProgressWriteLeavesTheUploadResumable() async throws {
        var random = DeterministicRandom(seed: 92)
        let file = Data(random.bytes(6_000_000))
        let created = try await create(length: file.count, fields: ["case": Self.caseReference, "filename": "tail.bin", "sha256": SHA256.hash(file).hex])
        #expect(created.status == 201, "\(created.text)")
        let location = try #require(created.header("location"))
        #expect(try await patch(location, offset: 0, file.prefix(100_000)).status == 204)
        let (refuse, allow) = store.postgresDatabase != nil
            ? ("""
               CREATE FUNCTION refuse_progress() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql;
               CREATE TRIGGER refuse_progress BEFORE UPDATE ON uploads FOR EACH ROW EXECUTE FUNCTION refuse_progress();
               """, "DROP TRIGGER refuse_progress ON uploads; DROP FUNCTION refuse_progress();")
            : ("CREATE TRIGGER refuse_progress BEFORE UPDATE ON uploads BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
               "DROP TRIGGER refuse_progress;")
        #expect(try await store.sql(refuse).status == 0)
        // 3 MB: chunks are cut, so the tail moves to a new start; the progress cannot be recorded.
        let failed = try await patch(location, offset: 100_000, file[100_000..<3_100_000])
        #expect(failed.status >= 500, "\(failed.status) \(failed.text)")
        #expect(try await store.sql(allow).status == 0)
        let offset = try #require(Int(try await head(location).header("upload-offset") ?? ""))
        #expect(offset == 100_000, "the catalog kept the last recorded offset")
        let rest = try await patch(location, offset: offset, file[offset...])
        #expect(rest.status == 204, "\(rest.status) \(rest.text)")
        #expect(rest.header("exhibit-id") != nil)
        #expect(try await store.run(["verify"]).status == 0)
    }

    @Test func theProtocolAsTheSpecSaysIt() async throws {
        var random = DeterministicRandom(seed: 91)
        let file = Data(random.bytes(9_000_000))
        let digest = SHA256.hash(file)
        let fields = ["case": Self.caseReference, "filename": "cam 1.bin", "sha256": digest.hex]

        // Discovery, and the version every request must name.
        let options = try await HTTP.request("OPTIONS", server.url + "/v1/uploads", token: jsmith)
        #expect(options.status == 204)
        #expect(options.header("tus-version") == "1.0.0")
        #expect(options.header("tus-extension") == "creation,creation-with-upload,termination,expiration,checksum")
        #expect(options.header("tus-checksum-algorithm") == "sha256")
        #expect(try await HTTP.request("OPTIONS", server.url + "/v1/uploads").status == 401, "no route answers without a token")
        let noVersion = try await HTTP.request("POST", server.url + "/v1/uploads", token: jsmith, headers: ["Upload-Length": "10"])
        #expect(noVersion.status == 412)
        #expect(noVersion.header("tus-version") == "1.0.0")
        #expect(noVersion.header("tus-resumable") == "1.0.0")

        // Creation: the length and the case and name are required; the limit holds.
        #expect(try await create(length: 10, fields: ["filename": "a"]).status == 400)
        #expect(try await create(length: 10, fields: ["case": Self.caseReference]).status == 400)
        #expect(try await HTTP.request("POST", server.url + "/v1/uploads", token: jsmith, headers: ["Tus-Resumable": "1.0.0", "Upload-Metadata": Self.metadata(fields)]).status == 400)
        #expect(try await create(length: 10, fields: ["case": Self.caseReference, "filename": "a"], extra: ["Upload-Metadata": "case !!!"]).status == 400)
        #expect(try await create(length: 2 << 40, fields: fields).status == 413)
        #expect(try await create(length: 10, fields: ["case": "NO/SUCH", "filename": "a"]).status == 404)
        #expect(try await create(length: 10, fields: fields, token: store.tokens["audit"]).status == 403)

        let created = try await create(length: file.count, fields: fields)
        #expect(created.status == 201)
        #expect(created.header("upload-offset") == "0")
        #expect(created.header("upload-expires") != nil)
        let location = try #require(created.header("location"))
        #expect(location.hasPrefix("/v1/uploads/up_"))

        // PATCH: the right type, the right offset; HEAD says where it stands.
        let first = file.prefix(3_000_000)
        #expect(try await patch(location, offset: 0, Data(first), extra: ["Content-Type": "application/octet-stream"]).status == 415)
        #expect(try await patch(location, offset: 5, Data(first)).status == 409)
        let sent = try await patch(location, offset: 0, Data(first))
        #expect(sent.status == 204)
        #expect(sent.header("upload-offset") == "3000000")
        #expect(sent.header("tus-resumable") == "1.0.0")
        let status = try await head(location)
        #expect(status.status == 200)
        #expect(status.header("upload-offset") == "3000000")
        #expect(status.header("upload-length") == String(file.count))
        #expect(status.header("cache-control") == "no-store")
        #expect(status.header("upload-metadata") == Self.metadata(fields))
        #expect(try await patch(location, offset: 0, Data(first)).status == 409, "the offset moved on")

        // Someone else's upload does not exist for them.
        #expect(try await head(location, token: store.tokens["akhan"]).status == 404)
        #expect(try await patch(location, offset: 3_000_000, Data(first), token: store.tokens["akhan"]).status == 404)

        // Checksums: a wrong one is 460 and keeps nothing; an unknown algorithm is 400; a right one is kept.
        let second = file[3_000_000..<6_000_000]
        let wrong = try await patch(location, offset: 3_000_000, Data(second), extra: ["Upload-Checksum": "sha256 " + Data(SHA256.hash(Data(first)).bytes).base64EncodedString()])
        #expect(wrong.status == 460, "\(wrong.text)")
        #expect(try await head(location).header("upload-offset") == "3000000")
        #expect(try await patch(location, offset: 3_000_000, Data(second), extra: ["Upload-Checksum": "md5 AAAA"]).status == 400)
        let right = try await patch(location, offset: 3_000_000, Data(second), extra: ["Upload-Checksum": "sha256 " + Data(SHA256.hash(Data(second)).bytes).base64EncodedString()])
        #expect(right.status == 204)
        #expect(right.header("upload-offset") == "6000000")
        // More bytes than the length: refused, nothing kept.
        #expect(try await patch(location, offset: 6_000_000, Data(file.suffix(3_000_000)) + Data([1])).status == 400)

        // The last bytes: an exhibit, through the same path as a single upload, with one event.
        let last = try await patch(location, offset: 6_000_000, Data(file.suffix(3_000_000)))
        #expect(last.status == 204)
        #expect(last.header("upload-offset") == String(file.count))
        let exhibitID = try #require(last.header("exhibit-id"))
        #expect(last.header("exhibit-reference") == "JS/1")
        let exhibit = try await HTTP.get(server.url + "/v1/exhibits/\(exhibitID)", token: jsmith).json()
        #expect(exhibit["sha256"] as? String == digest.hex)
        #expect(exhibit["filename"] as? String == "cam 1.bin")
        #expect(await SHA256.hash(try HTTP.get(server.url + "/v1/exhibits/\(exhibitID)/content", token: jsmith).body) == digest)
        let shown = try await HTTP.get(server.url + location, token: jsmith).json()
        #expect(shown["state"] as? String == "completed")
        #expect(shown["requests"] as? Int == 3)
        let ingested = try await events().filter { $0["action"] as? String == "exhibit.ingested" }
        #expect(ingested.count == 1)
        let details = ingested.first?["details"] as? [String: Any] ?? [:]
        #expect(details["upload"] as? String == String(location.dropFirst("/v1/uploads/".count)))
        #expect(details["requests"] as? Int == 3)
        #expect(details["resumptions"] as? Int == 0)
        #expect(details["client_sha256"] as? String == digest.hex)
        #expect(try await patch(location, offset: file.count, Data([1])).status == 409, "a completed upload takes no more")

        // Termination.
        let abandoned = try #require(try await create(length: 100, fields: fields).header("location"))
        #expect(try await patch(abandoned, offset: 0, Data(count: 50)).status == 204)
        #expect(try await HTTP.request("DELETE", server.url + abandoned, token: jsmith, headers: ["Tus-Resumable": "1.0.0"]).status == 204)
        #expect(try await head(abandoned).status == 404)
        #expect(!FileManager.default.fileExists(atPath: store.storage + "/uploads/" + abandoned.dropFirst("/v1/uploads/".count)))
    }

    @Test func aWrongWholeFileDigestLeavesNoExhibitAndSaysWhy() async throws {
        let file = Data(DeterministicRandom.bytes(2_000_000, seed: 5))
        let fields = ["case": Self.caseReference, "filename": "x.bin", "sha256": SHA256.hash(Data("something else".utf8)).hex]
        // Creation with upload: all the bytes in the POST.
        let created = try await create(length: file.count, fields: fields, body: file)
        #expect(created.status == 400, "\(created.text)")
        #expect(created.text.contains("digest-mismatch"), "\(created.text)")
        #expect(created.text.contains("no exhibit was made"), "\(created.text)")
        #expect(try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421/exhibits", token: jsmith).jsonArray().isEmpty)
        #expect(try await events().filter { $0["action"] as? String == "exhibit.ingested" }.isEmpty)
        // With the right digest, creation-with-upload makes the exhibit in one request.
        var right = fields
        right["sha256"] = SHA256.hash(file).hex
        let made = try await create(length: file.count, fields: right, body: file)
        #expect(made.status == 201)
        #expect(made.header("exhibit-reference") == "JS/1")
        #expect(made.header("upload-offset") == String(file.count))
    }

    /// tuspy, the Python tus client from PyPI (in a virtualenv `make deps` makes; made here when missing).
    @Test func tuspyUploadsAndTheExhibitVerifies() async throws {
        let python = try await TusPy.python()
        let work = try TemporaryDirectory("tuspy")
        let path = work.appending("clip.bin")
        var random = DeterministicRandom(seed: 17)
        try random.writeFile(at: path, size: 12_345_678)
        let digest = try SHA256.hash(Data(contentsOf: URL(fileURLWithPath: path)))
        let script = """
            import sys
            from tusclient import client
            c = client.TusClient(sys.argv[1] + "/v1/uploads", headers={"Authorization": "Bearer " + sys.argv[2]})
            u = c.uploader(sys.argv[3], chunk_size=5 * 1024 * 1024,
                           metadata={"case": sys.argv[4], "filename": "clip.bin", "sha256": sys.argv[5]})
            u.upload()
            print(u.url)
            """
        let result = try await Subprocess.run(python, ["-c", script, server.url, jsmith, path, Self.caseReference, digest.hex])
        #expect(result.status == 0, "\(result.err)")
        let url = result.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let upload = try await HTTP.get(url, token: jsmith).json()
        #expect(upload["state"] as? String == "completed", "\(upload)")
        #expect(upload["requests"] as? Int == 3, "\(upload)")
        let exhibit = try #require(upload["exhibit"] as? [String: Any])
        #expect(exhibit["sha256"] as? String == digest.hex)
        #expect(try await store.run(["verify"]).status == 0)
    }
}

/// The Python clients' virtualenv at `.build/py-venv`, which `make deps` makes (a test installs nothing).
enum TusPy {
    static func python() async throws -> String {
        let python = TestPaths.packageRoot + "/.build/py-venv/bin/python"
        guard FileManager.default.fileExists(atPath: python),
              try await Subprocess.run(python, ["-c", "import tusclient"]).status == 0 else {
            throw TestSupportError("the tuspy client is not in .build/py-venv: run `make deps`")
        }
        return python
    }
}

/// Abandoned uploads expire, with a clock the test moves: 410, and their bytes are reclaimed.
@Suite struct UploadExpiryTests {
    @Test func anAbandonedUploadExpiresAndItsBytesAreReclaimed() async throws {
        let files = try await TestStore("upload-expiry")
        let clock = ShareExpiryTests.TestClock()
        let store = try EvidenceStore(root: files.storage, policies: try Policies.load(from: TestPaths.policies), now: { clock.read() })
        let jsmith = try await store.actor(named: "jsmith", client: "test")
        let upload = try await store.createUpload(
            .init(caseName: TestStore.caseReference, filename: "a.bin", length: 20_000_000, metadata: "", expectedSHA256: nil, time: .init()),
            by: jsmith)
        let bytes = ByteBuffer(bytes: DeterministicRandom.bytes(10_000_000, seed: 3))
        let progress = try await store.appendUpload(upload.id.rawValue, offset: 0, body: [bytes].async, checksum: nil, by: jsmith)
        #expect(progress.upload.offset == 10_000_000)
        #expect(progress.ingested == nil)
        let chunks = progress.upload.entries.map(\.chunk)
        #expect(!chunks.isEmpty)
        // A garbage collection meanwhile keeps the chunks of the open upload.
        _ = try await store.collectGarbage(dryRun: false, by: jsmith)
        for chunk in chunks { #expect(try await store.chunks.size(of: .chunk(chunk)) != nil) }

        clock.advance(23 * 3600)
        #expect(try await store.expireUploads() == 0, "not yet: 24h without a request")
        clock.advance(3600 + 1)
        await #expect(throws: ExhibitError.self) { try await store.findUpload(upload.id.rawValue, for: jsmith) }
        #expect(try await store.expireUploads() == 1)
        for chunk in chunks { #expect(try await store.chunks.size(of: .chunk(chunk)) == nil, "the expired upload's chunks were reclaimed") }
        #expect(!FileManager.default.fileExists(atPath: files.storage + "/uploads/" + upload.id.rawValue))
        do {
            _ = try await store.findUpload(upload.id.rawValue, for: jsmith)
            Issue.record("an expired upload was found")
        } catch let error as ExhibitError {
            #expect(error.code == .gone)
        }
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence (a request body in a test).
    var async: AsyncArray<Element> { AsyncArray(elements: self) }
}

struct AsyncArray<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]
    struct Iterator: AsyncIteratorProtocol {
        var index = 0
        let elements: [Element]
        mutating func next() async -> Element? {
            guard index < elements.count else { return nil }
            defer { index += 1 }
            return elements[index]
        }
    }
    func makeAsyncIterator() -> Iterator { Iterator(elements: elements) }
}

/// The README's curl sequence, run as printed.
@Suite struct TusReadmeTests {
    @Test func theReadmeCurlSequenceWorksAsPrinted() async throws {
        let store = try await TestStore("tus-readme")
        let server = try await LiveServer(storage: store.storage)
        let work = try TemporaryDirectory("tus-readme-work")
        try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/mp4_h264.mp4", toPath: work.appending("cam2.mp4"))
        let script = try Readme.bashBlock(after: "By hand with curl")
        let result = try await Subprocess.run(
            "/bin/bash", ["-c", script], environment: ["EXHIBIT": server.url, "TOKEN": store.tokens["jsmith"]!],
            currentDirectory: work.path)
        #expect(result.status == 0, "stdout: \(result.out)\nstderr: \(result.err)")
        #expect(result.out.contains("the server has 100000 bytes"))
        #expect(result.out.lowercased().contains("exhibit-reference: js/1"))
        let exhibit = try await HTTP.get(server.url + "/v1/exhibits/JS%2F1", token: store.tokens["jsmith"]!).json()
        #expect(exhibit["sha256"] as? String == "2eb6f94d9ffa83916641929819c3de4f5413746416e9907c815c7f007124166d")
        #expect(exhibit["verdict"] as? String == "complete")
    }
}
