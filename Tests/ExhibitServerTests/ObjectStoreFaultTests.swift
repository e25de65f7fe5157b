import ExhibitTesting
import Foundation
import Testing

/// Chunks in a real S3 store (Ceph RGW) and the catalog in a real PostgreSQL that fail: the gateway killed or
/// the database stopped in the middle of an upload, wrong keys or password, a bucket that does not exist. Each
/// test starts engines of its own, so it can stop them.
@Suite(.serialized, .enabled(
    if: CephGateway.installed && PostgresServer.installed,
    "SKIPPED LOUDLY: Ceph (ceph-mon, ceph-osd, radosgw) or PostgreSQL is not installed; run `make deps`"))
struct ObjectStoreFaultTests {
    static let caseInURL = "2017%2FMPS%2F0421"

    @Test func theGatewayDyingMidUploadIsA503AndNothingHalfWrittenThenItRecovers() async throws {
        let gateway = try await TestEngines.startGateway()
        let store = try await TestStore("s3-fault", chunksAt: gateway)
        let server = try await LiveServer(storage: store.storage)
        defer { server.terminate() }
        let token = try #require(store.tokens["jsmith"])
        // Footage already stored before the fault.
        let before = try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=before.mp4", token: token,
                             upload: TestPaths.fixtures + "/mp4_h264.mp4")
        #expect(before.status == 201, "\(before.text)")

        // A 200 MiB upload, sent slowly enough that the gateway dies while it streams.
        let file = store.folder.appending("big.bin")
        var random = DeterministicRandom(seed: 1010)
        try random.writeFile(at: file, size: 200 << 20)
        let upload = Task {
            try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=big.bin", token: token,
                                 upload: file, extra: ["--limit-rate", "20M"])
        }
        try await Task.sleep(for: .seconds(2))
        await gateway.stopGateway()
        let failed = try await upload.value
        #expect(failed.status == 503, "\(failed.status) \(failed.text)")
        #expect(failed.header("content-type")?.contains("application/problem+json") == true)
        #expect(failed.text.contains("unavailable"), "\(failed.text)")
        #expect(failed.header("retry-after") != nil)

        // Nothing half-written is visible: no exhibit, no event for it; what was there is untouched.
        let listed = try await HTTP.get(server.url + "/v1/cases/\(Self.caseInURL)/exhibits", token: token).jsonArray()
        #expect(listed.map { $0["filename"] as? String } == ["before.mp4"])
        #expect(try await store.sql("SELECT count(*) FROM custody_events WHERE action = 'exhibit.ingested'").out == "1\n")

        // The gateway returns: the same upload succeeds, everything verifies, the ledger is one intact chain.
        try await gateway.startGateway()
        let again = try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=big.bin", token: token, upload: file)
        #expect(again.status == 201, "\(again.text)")
        #expect(try await again.json()["sha256"] as? String == Subprocess.run("/usr/bin/sha256sum", [file]).out.prefix(64).description)
        let verify = try await store.run(["verify"])
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        #expect(try await store.run(["custody", "verify"]).status == 0)
        // The chunks the failed upload left behind are orphans: garbage collection reclaims them.
        let gc = try await store.run(["gc"])
        #expect(gc.status == 0, "\(gc.err)")
        #expect(try await store.run(["verify"]).status == 0)
    }

    @Test func wrongKeysAndAMissingBucketStopTheServerAtStartWithAClearMessage() async throws {
        let gateway = try await TestEngines.startGateway()
        let store = try await TestStore("s3-keys", chunksAt: gateway)
        await #expect(throws: TestSupportError.self) {
            _ = try await LiveServer(storage: store.storage, environment: ["AWS_SECRET_ACCESS_KEY": "not-the-secret"])
        }
        // Bounded by timeout(1): a server that wrongly starts is killed, and the test fails instead of hanging.
        func serve(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> Subprocess.Result {
            try await Subprocess.run("/usr/bin/timeout", ["60", TestPaths.exhibitExecutable, "serve", "--port", "0"] + arguments, environment: environment)
        }
        let refused = try await serve(store.common, ["AWS_SECRET_ACCESS_KEY": "not-the-secret"])
        #expect(refused.status != 0, "\(refused.err)")
        #expect(refused.err.contains("credentials"), "\(refused.err)")

        let other = try TemporaryDirectory("s3-nobucket")
        let fresh = ["--storage", other.appending("Storage"), "--policies", TestPaths.policies, "--s3-endpoint", gateway.endpoint]
        let missing = try await serve(fresh + ["--chunks", "s3://no-such-bucket/x"])
        #expect(missing.status != 0, "\(missing.err)")
        #expect(missing.err.contains("does not exist"), "\(missing.err)")
        // The new store did not keep the failed choice: the corrected bucket is accepted, and remembered.
        let corrected = try await ExhibitCLI.run(["user", "add", "jo", "--role", "investigator", "--chunks", "s3://\(TestEngines.bucket)/fresh"] + fresh)
        #expect(corrected.status == 0, "\(corrected.err)")
        let record = try String(contentsOfFile: other.appending("Storage/deployment.json"), encoding: .utf8)
        #expect(record.contains("s3://\(TestEngines.bucket)/fresh"))

        let keyless = try await ExhibitCLI.run(
            ["user", "list", "--as", "root"] + store.common, environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
        #expect(keyless.status != 0, "\(keyless.err)")
        #expect(keyless.err.contains("AWS_ACCESS_KEY_ID"), "\(keyless.err)")
    }

    @Test func theDatabaseStoppedMidUploadIsA503AndNothingHalfWrittenThenItRecovers() async throws {
        let postgres = try await PostgresServer()
        let store = try await TestStore("pg-fault", catalogAt: postgres)
        let environment = ["PGPASSWORD": PostgresServer.password]
        let server = try await LiveServer(storage: store.storage, environment: environment)
        defer { server.terminate() }
        let token = try #require(store.tokens["jsmith"])
        let file = store.folder.appending("big.bin")
        var random = DeterministicRandom(seed: 1011)
        try random.writeFile(at: file, size: 60 << 20)
        let upload = Task {
            try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=big.bin", token: token,
                                 upload: file, extra: ["--limit-rate", "20M"])
        }
        try await Task.sleep(for: .seconds(1))
        await postgres.pause()
        let failed = try await upload.value
        #expect(failed.status == 503, "\(failed.status) \(failed.text)")
        #expect(failed.header("content-type")?.contains("application/problem+json") == true)
        #expect(failed.header("retry-after") != nil)
        #expect(failed.text.contains("catalog database"), "\(failed.text)")
        // While it is down, reads fail the same clear way, and nothing else breaks.
        let listing = try await HTTP.get(server.url + "/v1/cases/\(Self.caseInURL)/exhibits", token: token)
        #expect(listing.status == 503)
        // Liveness still answers (the process is fine); readiness says the catalog does not.
        #expect(try await HTTP.get(server.url + "/healthz").status == 200, "liveness while the catalog is down")
        let ready = try await HTTP.get(server.url + "/readyz")
        #expect(ready.status == 503 && ready.text.contains("catalog database"), "readiness while the catalog is down: \(ready.status) \(ready.text)")

        try await postgres.resume()
        #expect(try await HTTP.get(server.url + "/readyz").status == 200, "readiness once the catalog is back")
        #expect(try await store.sql("SELECT count(*) FROM exhibits").out == "0\n", "nothing half-written")
        let again = try await HTTP.request("POST", server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=big.bin", token: token, upload: file)
        #expect(again.status == 201, "\(again.text)")
        let verify = try await ExhibitCLI.run(["custody", "verify"] + store.common, environment: environment)
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        #expect(try await store.run(["verify"]).status == 0)

        // A wrong password stops a server at start with a clear message.
        let refused = try await Subprocess.run(
            "/usr/bin/timeout", ["60", TestPaths.exhibitExecutable, "serve", "--port", "0"] + store.common,
            environment: ["PGPASSWORD": "not-the-password"])
        #expect(refused.status != 0, "\(refused.err)")
        #expect(refused.err.contains("refused the credentials"), "\(refused.err)")
    }
}
