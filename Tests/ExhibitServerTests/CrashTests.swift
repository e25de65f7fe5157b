import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Crash rounds (README, "Reliability"): the real server `kill -9`'d at seeded random moments while sixteen uploads
/// run (plain POSTs and resumable `exhibit upload`s, generated files and fixture videos, some identical to race
/// deduplication), and the CLI's `ingest` killed the same way. After each crash: every acknowledged upload is
/// there, byte for byte, with exactly one `exhibit.ingested` event; nothing exists that was not sent; the store
/// and the ledger verify; `tmp/` is empty; and garbage collection removes exactly the orphans.
///
/// `EXHIBIT_TEST_SEED` repeats a run; `EXHIBIT_CRASH_ROUNDS` changes the number of rounds (default 20).
@Suite(.serialized) struct CrashTests {
    static let caseInURL = "2017%2FMPS%2F0421"
    static var rounds: Int { Int(ProcessInfo.processInfo.environment["EXHIBIT_CRASH_ROUNDS"] ?? "") ?? 20 }
    static func seed() -> UInt64 {
        UInt64(ProcessInfo.processInfo.environment["EXHIBIT_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
    }

    struct Source {
        let path: String
        let sha256: String
        var ext: String { (path as NSString).pathExtension }
    }

    /// What the rounds sent and what was acknowledged, checked against the store after every crash.
    struct Ledger {
        /// Every upload sent: its filename (unique) and the SHA-256 of its bytes.
        var sent: [String: String] = [:]
        /// Exhibit id -> SHA-256, for every upload that got its 201 (or its `exhibit upload` success line).
        var acknowledged: [String: String] = [:]
        /// Filenames of uploads answered 201 whose body the crash cut off.
        var mustExist: Set<String> = []
        var exhibitsChecked = 0
        var inFlightStored = 0
        /// The chunks each blob's manifest names, read once per blob: a manifest is named by its blob and never
        /// changes (`exhibit verify`, every round, checks that each still matches its blob).
        var manifestChunks: [String: Set<String>] = [:]
    }

    /// The JSON lines a client wrote to `path`.
    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func source(_ path: String) throws -> Source {
        Source(path: path, sha256: SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))).hex)
    }

    static func generated(_ folder: TemporaryDirectory, _ name: String, size: Int, seed: UInt64) throws -> Source {
        let path = folder.appending(name)
        var random = DeterministicRandom(seed: seed)
        try random.writeFile(at: path, size: size)
        return try source(path)
    }

    /// Policies without automatic working copies: the rounds check exactly the exhibits they uploaded.
    static func policies(in folder: TemporaryDirectory) throws -> String {
        try TestPolicies.copy(into: folder, replacing: ["storage.yaml": [("automatic: true", "automatic: false")]])
    }

    /// Checks the store after a crash against what was sent and acknowledged; `downloads` are fetched whole and hashed.
    static func check(
        _ store: TestStore, _ ledger: inout Ledger, downloads: [String], server: LiveServer?, label: String
    ) async throws {
        let rows = try await store.sql("SELECT id, filename, blob FROM exhibits").out.split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        let ingested = try await store.sql("SELECT exhibit, count(*) FROM custody_events WHERE action = 'exhibit.ingested' GROUP BY exhibit").out
            .split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        var events: [String: Int] = [:]
        for row in ingested where row.count == 2 { events[row[0]] = Int(row[1]) }
        var stored: [String: String] = [:]
        for row in rows where row.count == 3 {
            stored[row[0]] = row[2]
            // Nothing exists that was not sent, and what exists is what was sent.
            #expect(ledger.sent[row[1]] != nil, "\(label): exhibit \(row[0]) (\(row[1])) was never sent")
            #expect(ledger.sent[row[1]] == row[2], "\(label): exhibit \(row[0]) holds \(row[2]), \(row[1]) was \(ledger.sent[row[1]] ?? "?")")
            #expect(events[row[0]] == 1, "\(label): exhibit \(row[0]) has \(events[row[0]] ?? 0) exhibit.ingested events")
        }
        #expect(events.count == stored.count, "\(label): \(events.count) exhibit.ingested events for \(stored.count) exhibits")
        let names = Set(rows.filter { $0.count == 3 }.map { $0[1] })
        for name in ledger.mustExist { #expect(names.contains(name), "\(label): \(name) was answered 201 but is not stored") }
        for (id, sha256) in ledger.acknowledged {
            #expect(stored[id] == sha256, "\(label): acknowledged exhibit \(id) is \(stored[id] ?? "missing")")
        }
        ledger.inFlightStored = stored.keys.filter { ledger.acknowledged[$0] == nil }.count
        ledger.exhibitsChecked += stored.count

        if let server {
            let token = store.tokens["jsmith"]!
            for id in downloads {
                let body = try await HTTP.request("GET", server.url + "/v1/exhibits/\(id)/content", token: token)
                #expect(body.status == 200, "\(label): \(id) downloads intact")
                #expect(SHA256.hash(body.body).hex == ledger.acknowledged[id], "\(label): \(id) downloads intact")
            }
        } else {
            for id in downloads {
                let body = try await store.run(["cat", "--as", "jsmith", id])
                #expect(body.status == 0, "\(label): \(id) reads intact")
                #expect(SHA256.hash(body.stdout).hex == ledger.acknowledged[id], "\(label): \(id) reads intact")
            }
        }
        let verify = try await store.run(["verify"])
        #expect(verify.status == 0, "\(label): \(verify.out)\(verify.err)")
        let custody = try await store.run(["custody", "verify"])
        #expect(custody.status == 0, "\(label): \(custody.out)\(custody.err)")
        let tmp = store.storage + "/tmp"
        let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        #expect(left.isEmpty, "\(label): tmp/ holds \(left)")

        // Garbage collection removes exactly what no exhibit needs.
        let live = Set(stored.values)
        var needed = Set<String>()
        for blob in live {
            if ledger.manifestChunks[blob] == nil {
                let manifest = String(decoding: try await store.objects.read(.manifests, blob), as: UTF8.self)
                ledger.manifestChunks[blob] = Set(manifest.split(separator: "\n").dropFirst(4).map { String($0.prefix(64)) })
            }
            needed.formUnion(ledger.manifestChunks[blob] ?? [])
        }
        let chunksBefore = Set(try await store.objects.list(.chunks))
        let manifestsBefore = Set(try await store.objects.list(.manifests))
        let gc = try await ExhibitCLI.jsonLines(try store.run(["gc", "--json"])).first ?? [:]
        #expect(gc["chunks_removed"] as? Int == chunksBefore.subtracting(needed).count, "\(label): \(gc)")
        #expect(gc["manifests_removed"] as? Int == manifestsBefore.subtracting(live).count, "\(label): \(gc)")
        #expect(Set(try await store.objects.list(.chunks)) == needed, "\(label): chunks after gc are exactly those exhibits use")
        #expect(Set(try await store.objects.list(.manifests)) == live, "\(label): manifests after gc are exactly the exhibits'")
    }

    @Test func theServerKilledAtRandomMomentsLosesAndAltersNothing() async throws {
        let seed = Self.seed()
        print("server crash rounds: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it), \(Self.rounds) rounds")
        var random = DeterministicRandom(seed: seed)
        let store = try await TestStore("crash-server")
        let work = try TemporaryDirectory("crash-server-work")
        let policies = try Self.policies(in: work)
        // Files every round draws from (identical uploads race deduplication), fixture videos, and larger files
        // for the resumable uploads.
        var pool: [Source] = []
        for (index, size) in [300_000, 1 << 20, 2 << 20 + 12345, 3 << 20, 5 << 20 + 1].enumerated() {
            pool.append(try Self.generated(work, "pool\(index).bin", size: size, seed: seed &+ 1000 &+ UInt64(index)))
        }
        let fixtures = try ["mp4_h264_aac.mp4", "webm_vp9.webm", "mov_h264.mov", "truncated_no_moov.mp4", "corrupted_middle.ts", "random.bin"]
            .map { try Self.source(TestPaths.fixtures + "/" + $0) }
        var large: [Source] = []
        for index in 0..<3 {
            large.append(try Self.generated(work, "large\(index).bin", size: (12 + 6 * index) << 20, seed: seed &+ 2000 &+ UInt64(index)))
        }
        let port = try LiveServer.freePort()
        var server = try await LiveServer(storage: store.storage, policies: policies, port: port)
        let token = store.tokens["jsmith"]!
        var ledger = Ledger()
        var kills: [Int] = []

        for round in 0..<Self.rounds {
            // Sixteen uploads: two of one file at once, two files never seen before, fixture videos, pool files,
            // and every fourth one resumable.
            var plan: [(Source, Bool)] = []
            let twin = pool[Int(random.next() % UInt64(pool.count))]
            for index in 0..<16 {
                let resumable = index % 4 == 3
                let source: Source
                switch index {
                case _ where resumable: source = large[Int(random.next() % UInt64(large.count))]
                case 0, 1: source = twin
                case 2, 4:
                    let size = 200_000 + Int(random.next() % UInt64(4 << 20))
                    source = try Self.generated(work, "fresh-\(round)-\(index).bin", size: size, seed: seed &+ UInt64(round * 100 + index))
                case 5, 6, 8: source = fixtures[Int(random.next() % UInt64(fixtures.count))]
                default: source = pool[Int(random.next() % UInt64(pool.count))]
                }
                plan.append((source, resumable))
            }
            var posts: [(Process, String, String, String)] = []  // process, status file, response file, filename
            var resumables: [(Process, String)] = []
            for (index, (source, resumable)) in plan.enumerated() {
                let name = String(format: "r%02d-u%02d.%@", round, index, source.ext)
                ledger.sent[name] = source.sha256
                if resumable {
                    // The CLI uploads under the file's own name: give it a link with the round's name.
                    let link = work.appending(name)
                    try? FileManager.default.removeItem(atPath: link)
                    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: source.path)
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: TestPaths.exhibitExecutable)
                    process.arguments = ["upload", "--server", server.url, "--case", TestStore.caseReference, "--json", link]
                    let config = work.appending("config-\(round)-\(index)")
                    process.environment = ProcessInfo.processInfo.environment.merging(["EXHIBIT_TOKEN": token, "XDG_CONFIG_HOME": config]) { $1 }
                    let output = work.appending("out-\(round)-\(index)")
                    _ = FileManager.default.createFile(atPath: output, contents: nil)
                    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    resumables.append((process, output))
                } else {
                    let rate = 2 + Int(random.next() % 14)
                    let status = work.appending("status-\(round)-\(index)")
                    let response = work.appending("response-\(round)-\(index)")
                    _ = FileManager.default.createFile(atPath: status, contents: nil)
                    let curl = Process()
                    curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                    curl.arguments = ["-s", "-o", response, "-w", "%{http_code}", "--limit-rate", "\(rate)M",
                                      "-H", "Authorization: Bearer \(token)", "--data-binary", "@" + source.path,
                                      server.url + "/v1/cases/\(Self.caseInURL)/exhibits?filename=\(name)"]
                    curl.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: status))
                    curl.standardError = FileHandle.nullDevice
                    try curl.run()
                    posts.append((curl, status, response, name))
                }
            }
            let moment = 50 + Int(random.next() % 1500)
            kills.append(moment)
            try await Task.sleep(for: .milliseconds(moment))
            await server.stop(signal: SIGKILL)
            for (curl, _, _, _) in posts { await curl.exited() }
            server = try await LiveServer(storage: store.storage, policies: policies, port: port)
            for (process, _) in resumables { await process.exited() }

            var downloads: [String] = []
            var acknowledged = 0
            for (curl, status, response, name) in posts {
                guard (try? String(contentsOfFile: status, encoding: .utf8)) == "201" else { continue }
                // A 201 whose body was cut off by the kill is not a whole answer, but the server only says 201
                // after the commit: that exhibit must exist.
                guard curl.terminationStatus == 0 else {
                    ledger.mustExist.insert(name)
                    continue
                }
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: response))) as? [String: Any]
                let id = try #require(json?["id"] as? String)
                ledger.acknowledged[id] = json?["sha256"] as? String
                downloads.append(id)
                acknowledged += 1
            }
            for (process, output) in resumables {
                // The resumable uploads outlive the crash: each must finish.
                #expect(process.terminationStatus == 0, "round \(round): a resumable upload failed: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? ""); server log: \(server.log.suffix(3000))")
                for line in try Self.jsonLines(output) {
                    guard let id = line["exhibit_id"] as? String else { continue }
                    ledger.acknowledged[id] = line["sha256"] as? String
                    downloads.append(id)
                    acknowledged += 1
                }
            }
            try await Self.check(store, &ledger, downloads: downloads, server: server, label: "round \(round) (killed at \(moment) ms)")
            print("round \(round): killed at \(moment) ms, \(acknowledged) of 16 acknowledged, \(ledger.inFlightStored) stored in flight in all")
        }
        await server.stop()
        #expect(ledger.acknowledged.count > 0, "no upload was acknowledged in \(Self.rounds) rounds: the rounds proved nothing")
        #expect(ledger.exhibitsChecked > 0, "no exhibit was checked after the crashes")
        print("server crash rounds: \(Self.rounds) survived, \(ledger.acknowledged.count) acknowledged uploads, \(ledger.exhibitsChecked) exhibit checks, seed \(seed)")
    }

    @Test func theCLIIngestKilledAtRandomMomentsLosesAndAltersNothing() async throws {
        let seed = Self.seed()
        print("ingest crash rounds: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it), \(Self.rounds) rounds")
        var random = DeterministicRandom(seed: seed)
        let store = try await TestStore("crash-ingest")
        let work = try TemporaryDirectory("crash-ingest-work")
        let shared = try Self.generated(work, "shared.bin", size: 6 << 20, seed: seed &+ 7)
        var ledger = Ledger()
        for round in 0..<Self.rounds {
            // Three files per run: one seen before, two new; ingested one after another by one process.
            var files: [Source] = [shared]
            for index in 0..<2 {
                let size = 1 << 20 + Int(random.next() % UInt64(12 << 20))
                files.append(try Self.generated(work, String(format: "i%02d-%d.bin", round, index), size: size, seed: seed &+ UInt64(round * 10 + index)))
            }
            var paths: [String] = []
            for (index, file) in files.enumerated() {
                let name = String(format: "r%02d-f%d.bin", round, index)
                let link = work.appending(name)
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file.path)
                ledger.sent[name] = file.sha256
                paths.append(link)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestPaths.exhibitExecutable)
            process.arguments = ["ingest", "--case", TestStore.caseReference, "--as", "jsmith"] + store.common + paths
            let output = work.appending("ingest-\(round)")
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardError = FileHandle.nullDevice
            try process.run()
            let moment = 30 + Int(random.next() % 900)
            try await Task.sleep(for: .milliseconds(moment))
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
            var downloads: [String] = []
            for line in try Self.jsonLines(output) {
                guard let id = line["exhibit"] as? String else { continue }
                ledger.acknowledged[id] = line["sha256"] as? String
                downloads.append(id)
            }
            try await Self.check(store, &ledger, downloads: downloads, server: nil, label: "ingest round \(round) (killed at \(moment) ms)")
            print("ingest round \(round): killed at \(moment) ms, \(downloads.count) of 3 printed")
        }
        #expect(ledger.acknowledged.count > 0, "no ingest was acknowledged in \(Self.rounds) rounds: the rounds proved nothing")
        print("ingest crash rounds: \(Self.rounds) survived, \(ledger.acknowledged.count) acknowledged ingests, \(ledger.exhibitsChecked) exhibit checks, seed \(seed)")
    }
}
