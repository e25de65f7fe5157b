import ExhibitTesting
import Foundation

/// Issue 10: ingest and download with chunks in S3-compatible storage (a single-node Ceph cluster with the RADOS
/// Gateway, started here) and the catalog in SQLite or PostgreSQL (a server started here), against the embedded
/// default (local chunks + SQLite) in the same run, and against a plain boto3 upload and download of the same
/// bytes to the same gateway: the floor of any S3 client there.
struct ObjectStoreBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let python: String
    let runs: Int

    static let size = 512 << 20

    func run() async throws -> Table {
        let mib = Double(Self.size) / 1_048_576
        var table = Table(
            title: "Chunks in S3 (Ceph RGW on memstore, same machine), catalog in SQLite or PostgreSQL, vs local, \(Int(mib)) MiB random file (best of \(runs))",
            header: ["what", "seconds", "MiB/s", "÷ boto3", "peak RSS"])
        guard CephGateway.installed else {
            table.notes.append("Ceph is not installed (make deps): rows skipped")
            return table
        }
        guard FileManager.default.isExecutableFile(atPath: python),
              Measure.spawn([python, "-c", "import boto3"]).status == 0 else {
            table.notes.append("boto3 is not installed in \(python) (make bench-deps): rows skipped")
            return table
        }
        let file = benchDir + "/random-512m.bin"
        if ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil) != Self.size {
            var random = DeterministicRandom(seed: 2610)
            try random.writeFile(at: file, size: Self.size)
        }
        Measure.shell("cat '\(file)' > /dev/null")
        let gateway = try await CephGateway(buckets: ["bench-exhibit", "bench-boto3"])
        defer { gateway.stop() }
        let postgres = PostgresServer.installed ? try await PostgresServer() : nil
        defer { postgres?.stop() }
        let keys = [
            "AWS_ACCESS_KEY_ID": gateway.access, "AWS_SECRET_ACCESS_KEY": gateway.secret, "AWS_REGION": "us-east-1",
            "PGPASSWORD": PostgresServer.password,
        ]

        // boto3: the managed transfer (multipart, 10 threads), the way a script would move the file.
        let script = benchDir + "/boto3-bench.py"
        try """
            import sys, boto3
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], config=Config(s3={"addressing_style": "path"}))
            if sys.argv[2] == "put":
                s3.upload_file(sys.argv[3], "bench-boto3", sys.argv[4])
            else:
                s3.download_file("bench-boto3", sys.argv[4], sys.argv[3])
            """.write(toFile: script, atomically: true, encoding: .utf8)
        var counter = 0
        let botoPut = Measure.best(times: runs) {
            counter += 1
            return Measure.spawn([python, script, gateway.endpoint, "put", file, "object-\(counter)"], environment: keys)
        }
        let botoGet = Measure.best(times: runs) {
            Measure.spawn([python, script, gateway.endpoint, "get", benchDir + "/boto3-download.bin", "object-1"], environment: keys)
        }
        Measure.shell("rm -f '\(benchDir)/boto3-download.bin'")

        func row(_ name: String, _ run: Run?, _ reference: Run?) {
            guard let run else {
                table.rows.append([name, "failed", "", "", ""])
                return
            }
            let ratio = reference.map { fmt($0.seconds / run.seconds) + "×" } ?? ""
            table.rows.append([name, fmt(run.seconds, 3), fmt(mib / run.seconds, 0), ratio, "\(run.maxRSSKiB / 1024) MiB"])
        }

        var deployments: [(String, String?, Bool)] = [("local + SQLite", nil, false), ("S3 + SQLite", "s3://bench-exhibit", false)]
        if postgres != nil { deployments.append(("S3 + PostgreSQL", "s3://bench-exhibit", true)) }
        for (label, chunks, usesPostgres) in deployments {
            let storage = benchDir + "/disk/objectstore"
            let common = ["--storage", storage, "--policies", policies]
            var place = chunks.map { ["--chunks", $0 + "/\(UUID().uuidString.lowercased())", "--s3-endpoint", gateway.endpoint] } ?? []
            // A fresh database for each ingest run, made before the timed runs (making one awaits a subprocess).
            var databases: [String] = []
            if usesPostgres, let postgres {
                for _ in 0...runs { databases.append(try await postgres.createDatabase()) }
                place += ["--catalog", databases.removeLast()]
            }
            var sha = ""
            let ingest = Measure.best(times: runs, prepare: {
                Measure.shell("rm -rf '\(storage)'")
                if let database = databases.popLast() { place = place.dropLast(2) + ["--catalog", database] }
                _ = Measure.spawn([exhibit, "user", "add", "bench", "--role", "investigator"] + common + place, environment: keys)
                _ = Measure.spawn([exhibit, "case", "create", "BENCH/1", "--as", "bench"] + common, environment: keys)
            }) {
                let output = benchDir + "/objectstore-ingest.json"
                let run = Measure.spawn([exhibit, "ingest", "--case", "BENCH/1", "--as", "bench"] + common + [file], environment: keys, stdout: output)
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                sha = text.firstMatch(of: /"sha256":"([0-9a-f]{64})"/).map { String($0.1) } ?? sha
                return run
            }
            let download = Measure.best(times: runs) {
                Measure.spawn([exhibit, "cat", "--as", "bench"] + common + [sha], environment: keys)
            }
            row("exhibit ingest, \(label)", ingest, chunks == nil ? nil : botoPut)
            row("exhibit cat, \(label)", download, chunks == nil ? nil : botoGet)
            Measure.shell("rm -rf '\(storage)'")
        }
        row("boto3 upload_file (multipart, 10 threads)", botoPut, nil)
        row("boto3 download_file", botoGet, nil)
        table.notes.append(
            "'÷ boto3' is Exhibit's throughput over boto3's moving the same bytes to the same gateway (above 1 = faster). "
                + "Exhibit's ingest also chunks, hashes, probes and scans the file and commits the catalog; the aim is ≥ 0.8×.")
        return table
    }
}
