import BlobStore
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitDeployment
import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Case status, holds and the plan over HTTP through a real server and curl; garbage collection racing uploads.
@Suite struct RetentionServerTests {
    static let caseInURL = "2017%2FMPS%2F0421"

    @Test func statusHoldsAndThePlanOverHTTP() async throws {
        let store = try await TestStore("retention-http")
        let server = try await LiveServer(storage: store.storage)
        let jsmith = store.tokens["jsmith"]!, sup = store.tokens["sup"]!, audit = store.tokens["audit"]!, akhan = store.tokens["akhan"]!
        let base = server.url + "/v1/cases/\(Self.caseInURL)"
        let uploaded = try await HTTP.request("POST", base + "/exhibits?filename=cam1.mp4", token: jsmith, upload: TestPaths.fixtures + "/mp4_h264.mp4")
        #expect(uploaded.status == 201)

        func put(_ body: [String: Any], token: String) async throws -> HTTP.Result {
            try await HTTP.request("PUT", base + "/status", token: token, headers: ["Content-Type": "application/json"],
                             data: try JSONSerialization.data(withJSONObject: body))
        }
        // Bad input is refused with a problem document, and changes nothing.
        for (body, message) in [
            (["status": "sentenced"], "unknown status"), (["status": "convicted", "at": "2020-05-01", "release_date": "2020-01-01"], "before the conviction"),
            (["status": "closed", "class": "nope"], "unknown retention class"), (["status": "open", "at": "not a date"], "not a time"),
            (["status": "charged", "release_date": "2030-01-01"], "only with the status convicted"), (["at": "2020-01-01"], "status"),
        ] as [([String: Any], String)] {
            let result = try await put(body, token: jsmith)
            #expect(result.status == 400, "\(body): \(result.status)")
            #expect(result.header("content-type") == "application/problem+json", "\(body): \(result.status)")
            #expect(result.text.contains(message), "\(body): \(result.text)")
        }
        #expect(try await put(["status": "charged"], token: audit).status == 403)
        #expect(try await put(["status": "charged"], token: akhan).status == 404, "someone else's case does not exist for them")
        #expect(try await (HTTP.get(base, token: jsmith).json()["statuses"] as? [Any])?.isEmpty == true, "refused changes left no history")

        // A conviction in 2019 with release in 2020: due 2020-07-01 (six calendar months after release).
        let convicted = try await put(["status": "convicted", "at": "2019-03-04", "release_date": "2020-01-01T00:00:00Z"], token: jsmith)
        #expect(convicted.status == 200, "\(convicted.text)")
        let retention = try #require(try convicted.json()["retention"] as? [String: Any])
        #expect(retention["date"] as? String == "2020-07-01T00:00:00.000Z")
        let detail = try await HTTP.get(base, token: jsmith).json()
        #expect((detail["statuses"] as? [[String: Any]])?.map { $0["status"] as? String } == ["convicted"])
        let exhibit = try await HTTP.get(server.url + "/v1/exhibits/JS%2F1", token: jsmith).json()
        #expect((exhibit["retention"] as? [String: Any])?["deadline"] as? String == "2020-07-01T00:00:00.000Z")

        // The plan: for supervisors, auditors and admins; not investigators.
        let plan = try await HTTP.get(server.url + "/v1/retention/plan", token: audit)
        #expect(plan.status == 200)
        let entries = try #require(try plan.json()["entries"] as? [[String: Any]])
        try #require(entries.count == 1)
        #expect(entries[0]["action"] as? String == "delete")
        #expect(entries[0]["reference"] as? String == "JS/1")
        #expect(try await HTTP.get(server.url + "/v1/retention/plan", token: jsmith).status == 403)
        #expect(try await HTTP.get(server.url + "/v1/retention/plan?as_of=2019-01-01", token: sup).json()["entries"] as? [Any] != nil)
        #expect(try await (HTTP.get(server.url + "/v1/retention/plan?as_of=2019-01-01", token: sup).json()["entries"] as! [Any]).isEmpty)
        #expect(try await HTTP.get(server.url + "/v1/retention/plan?as_of=yesterday", token: sup).status == 400)

        // A hold on the case: needs a reason; one at a time; the plan says held; only a supervisor lifts it.
        #expect(try await HTTP.request("POST", base + "/hold", token: jsmith).status == 400)
        let held = try await HTTP.postJSON(base + "/hold", token: jsmith, ["reason": "civil claim 2024/0193"])
        let heldReason = try held.json()["reason"] as? String
        #expect(held.status == 201)
        #expect(heldReason == "civil claim 2024/0193")
        #expect(try await HTTP.postJSON(base + "/hold", token: jsmith, ["reason": "again"]).status == 409)
        #expect(try await (HTTP.get(server.url + "/v1/retention/plan", token: sup).json()["entries"] as? [[String: Any]])?.first?["action"] as? String == "held")
        #expect(try await HTTP.get(server.url + "/v1/holds", token: sup).jsonArray().count == 1)
        #expect(try await HTTP.request("DELETE", base + "/hold", token: jsmith).status == 403)
        // Lifting a hold needs a reason, as setting one does.
        let reasonless = try await HTTP.request("DELETE", base + "/hold", token: sup)
        #expect(reasonless.status == 400, "\(reasonless.text)")
        #expect(reasonless.text.contains("reason"), "\(reasonless.text)")
        let blank = try await HTTP.request("DELETE", base + "/hold", token: sup, headers: ["Content-Type": "application/json"], data: Data(#"{"reason":"  "}"#.utf8))
        #expect(blank.status == 400, "\(blank.text)")
        let released = try await HTTP.request("DELETE", base + "/hold", token: sup, headers: ["Content-Type": "application/json"], data: Data(#"{"reason":"settled"}"#.utf8))
        let releasedBy = try released.json()["released_by"] as? String
        #expect(released.status == 200)
        #expect(releasedBy == "sup")
        let reason = Data(#"{"reason":"review done"}"#.utf8)
        #expect(try await HTTP.request("DELETE", base + "/hold", token: sup, headers: ["Content-Type": "application/json"], data: reason).status == 404)
        // On one exhibit too.
        #expect(try await HTTP.postJSON(server.url + "/v1/exhibits/JS%2F1/hold", token: jsmith, ["reason": "IOPC"]).status == 201)
        #expect(try await HTTP.request("DELETE", server.url + "/v1/exhibits/JS%2F1/hold", token: sup, headers: ["Content-Type": "application/json"], data: reason).status == 200)

        // All of it is on the record.
        let export = try await store.run(["custody", "export", "--as", "audit", "--format", "jsonl"])
        let actions = try ExhibitCLI.jsonLines(export).map { $0["action"] as? String ?? "" }
        #expect(actions.filter { $0 == "case.status-changed" }.count == 1)
        #expect(actions.filter { $0 == "hold.set" }.count == 2)
        #expect(actions.filter { $0 == "hold.released" }.count == 2)
    }

    /// `exhibit gc` run over and over while 8 uploads stream in, four of them of footage whose chunks are already
    /// in the store as orphans (the dedupe race): every upload succeeds and is intact, and the store verifies.
    @Test func garbageCollectionRacingUploadsNeverBreaksOne() async throws {
        let store = try await TestStore("gc-race")
        let folder = store.folder
        var paths: [String] = []
        for index in 0..<8 {
            var random = DeterministicRandom(seed: 900 + UInt64(index))
            let path = folder.appending("upload\(index).bin")
            try random.writeFile(at: path, size: 6 << 20)
            paths.append(path)
        }
        // Orphans: the first four files' chunks and manifests, in the store but in no exhibit (as an interrupted
        // ingest or a purge leaves them), plus one file nobody uploads again.
        var orphan = DeterministicRandom(seed: 999)
        let lone = folder.appending("lone.bin")
        try orphan.writeFile(at: lone, size: 3 << 20)
        // Written through the store's own chunk backend (local, or the S3 bucket in an S3 run), by a store that is
        // gone before the server starts (as an ingest process that ended).
        let loneDigest = try await {
            let blobs = try EvidenceStore(root: store.storage, policies: try Policies.load(from: TestPaths.policies)).blobs
            for path in paths.prefix(4) { _ = try await blobs.put(try FileBytes(path: path)) }
            return try await blobs.put(try FileBytes(path: lone)).blob.digest
        }()
        #expect(try await store.objects.list(.manifests).contains(loneDigest.hex))

        let server = try await LiveServer(storage: store.storage)
        let jsmith = store.tokens["jsmith"]!
        var uploads: [Process] = []
        for (index, path) in paths.enumerated() {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-o", folder.appending("response\(index).json"), "-w", "%{http_code}", "--limit-rate", "2M",
                              "-H", "Authorization: Bearer \(jsmith)", "--data-binary", "@" + path,
                              server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=upload\(index).bin"]
            curl.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: {
                let status = folder.appending("status\(index)")
                _ = FileManager.default.createFile(atPath: status, contents: nil)
                return status
            }()))
            try curl.run()
            uploads.append(curl)
        }
        var collections = 0
        while uploads.contains(where: \.isRunning) {
            let gc = try await store.run(["gc", "--json"])
            #expect(gc.status == 0, "\(gc.err)")
            collections += 1
        }
        for curl in uploads { await curl.exited() }
        #expect(collections >= 3, "gc ran \(collections) times during the uploads")
        for (index, path) in paths.enumerated() {
            let status = try String(contentsOfFile: folder.appending("status\(index)"), encoding: .utf8)
            #expect(status == "201", "upload \(index): \(status) \((try? String(contentsOfFile: folder.appending("response\(index).json"), encoding: .utf8)) ?? "")")
            let response = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.appending("response\(index).json")))) as? [String: Any]
            let id = try #require(response?["id"] as? String)
            let stored = try await HTTP.get(server.url + "/v1/exhibits/\(id)/content", token: jsmith)
            let original = try SHA256.hash(Data(contentsOf: URL(fileURLWithPath: path)))
            let received = SHA256.hash(stored.body)
            #expect(received == original, "upload \(index) is intact")
        }
        let verify = try await store.run(["verify"])
        #expect(verify.status == 0, "\(verify.out)")
        // The orphan nobody uploaded again is gone; a last collection finds nothing more to remove.
        #expect(try await !store.objects.list(.manifests).contains(loneDigest.hex))
        let last = try await ExhibitCLI.jsonLines(try store.run(["gc", "--json"]))[0]
        #expect(last["chunks_removed"] as? Int == 0)
        #expect(last["manifests_removed"] as? Int == 0)
        let actions = try await ExhibitCLI.jsonLines(try store.run(["custody", "export", "--as", "audit", "--format", "jsonl"])).map { $0["action"] as? String }
        #expect(actions.filter { $0 == "store.gc" }.count == collections + 1)
        #expect(try await store.run(["custody", "verify"]).status == 0)
    }
}
