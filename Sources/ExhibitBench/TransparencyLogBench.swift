import CatalogSQLite
import Custody
import ExhibitCatalog
import ExhibitCrypto
import ExhibitTesting
import Foundation

/// Issue 21: the custody log's proofs and checkpoint signing at 10³, 10⁵ and 10⁶ events (the cost must grow as
/// log n), and a court bundle of a 20-exhibit, 2 GiB case beside copying the same bytes durably (disk speed).
struct TransparencyLogBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let sizes: [Int]

    func run() async throws -> [Table] {
        var proofs = Table(
            title: "Custody log: inclusion and consistency proofs from the stored tree, and checkpoint signing (SQLite, WAL, synchronous=FULL)",
            header: ["events", "log₂ n", "inclusion proof", "consistency proof", "sign a checkpoint", "node reads per proof", "proof ÷ 10³'s"])
        let folder = benchDir + "/tlog"
        Measure.shell("rm -rf '\(folder)' && mkdir -p '\(folder)'")
        let key = try Ed25519PrivateKey.generate()
        var baseline: Double?
        var loaded = 0
        let catalog = Catalog(database: try SQLiteDatabase(path: folder + "/log.sqlite"), sealKey: SecureRandom.bytes(count: 32))
        for size in sizes.sorted() {
            // Grow the same ledger to `size` events, 10,000 per transaction.
            while loaded < size {
                let count = min(10_000, size - loaded)
                try await catalog.appendBatch((0..<count).map { i in
                    CustodyEvent.Draft(actor: "bench", role: "auditor", action: "custody.note", exhibit: "ex_bench", caseReference: "2024/BENCH/1",
                                       details: ["note": .string("bulk \(loaded + i)")], client: "cli:bench@host")
                })
                loaded += count
            }
            var random = DeterministicRandom(seed: UInt64(size))
            let samples = 2000
            let n = Int64(size)
            let start = DispatchTime.now()
            for _ in 0..<samples {
                _ = try await catalog.inclusionProof(seq: Int64(random.next() % UInt64(n)) + 1, size: n)
            }
            let inclusion = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e3 / Double(samples)
            let consistencyStart = DispatchTime.now()
            for _ in 0..<samples {
                _ = try await catalog.consistencyProof(from: Int64(random.next() % UInt64(n)) + 1, to: n)
            }
            let consistency = Double(DispatchTime.now().uptimeNanoseconds - consistencyStart.uptimeNanoseconds) / 1e3 / Double(samples)
            let signings = 100
            let signStart = DispatchTime.now()
            for _ in 0..<signings {
                _ = try await catalog.appendAndCheckpoint(
                    CustodyEvent.Draft(actor: "bench", role: "auditor", action: "custody.checkpointed", client: "bench")
                ) { seq, hash, at, root in try Checkpoint.sign(seq: seq, hash: hash, at: at, root: root, origin: "bench.example/log", with: key) }
            }
            loaded += signings
            let sign = Double(DispatchTime.now().uptimeNanoseconds - signStart.uptimeNanoseconds) / 1e6 / Double(signings)
            let reads = try Merkle.nodesNeeded { node in _ = try Merkle.inclusionProof(index: n / 3, size: n, node) }.count
            baseline = baseline ?? inclusion
            proofs.rows.append([
                String(size), fmt(log2(Double(size)), 1), fmt(inclusion, 0) + " µs", fmt(consistency, 0) + " µs", fmt(sign, 2) + " ms",
                String(reads), fmt(inclusion / (baseline ?? inclusion)) + "×",
            ])
        }
        proofs.notes.append(
            "Goal (issue 21): the cost grows as log n, so 10⁶ events cost about log₂(10⁶)/log₂(10³) = 2× the proofs of 10³, not 1000×. "
                + "Signing a checkpoint appends its event (with its leaf and nodes), computes the root from O(log n) nodes and signs twice (chain and note), durably.")
        return [proofs, try bundle()]
    }

    /// A case of 20 exhibits, 2 GiB in all: `exhibit bundle --case` into a folder on disk, beside `cp` of the
    /// same files followed by `sync` (the disk's copying speed).
    func bundle() throws -> Table {
        var table = Table(
            title: "Court bundle of a case: 20 exhibits, 2 GiB of footage, on disk",
            header: ["what", "seconds", "MiB/s", "Exhibit ÷ it"])
        let root = benchDir + "/disk/bundle-bench"
        Measure.shell("rm -rf '\(root)' && mkdir -p '\(root)/files'")
        let perFile = 100 << 20
        var random = DeterministicRandom(seed: 21)
        var files: [String] = []
        for i in 0..<20 {
            let path = root + "/files/cam\(i).bin"
            try random.writeFile(at: path, size: perFile + i * 4096)
            files.append(path)
        }
        let storage = root + "/Storage"
        let common = ["--storage", storage, "--policies", policies]
        _ = Measure.spawn([exhibit, "user", "add", "bench", "--role", "supervisor"] + common)
        _ = Measure.spawn([exhibit, "case", "create", "BENCH/21", "--as", "bench"] + common)
        _ = Measure.spawn([exhibit, "ingest", "--case", "BENCH/21", "--as", "bench"] + common + files)
        let total = Double(files.count * perFile + 4096 * 190) / 1_048_576
        Measure.shell("sync; cat '\(root)'/files/* > /dev/null")
        var count = 0
        let ours = Measure.best(times: 2, prepare: { Measure.shell("rm -rf '\(root)'/out*; sync") }) {
            count += 1
            return Measure.spawn([exhibit, "bundle", "--case", "BENCH/21", "--as", "bench", "--output", root + "/out\(count)"] + common)
        }
        let copy = Measure.best(times: 2, prepare: { Measure.shell("rm -rf '\(root)'/copy; sync") }) {
            Measure.spawn(["/bin/sh", "-c", "cp -r '\(root)/files' '\(root)/copy' && sync"])
        }
        if let ours { table.rows.append(["exhibit bundle --case (footage re-hashed from its chunks, events, proofs, report; fsync)", fmt(ours.seconds, 2), fmt(total / ours.seconds, 0), ""]) }
        if let copy {
            table.rows.append(["cp -r of the same files, then sync", fmt(copy.seconds, 2), fmt(total / copy.seconds, 0),
                               ours.map { fmt(copy.seconds / $0.seconds) + "×" } ?? ""])
        }
        table.notes.append("Goal (issue 21): bundle creation at disk speed, i.e. about 1× the copy.")
        Measure.shell("rm -rf '\(root)'")
        return table
    }
}
