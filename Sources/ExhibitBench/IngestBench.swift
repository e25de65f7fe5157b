import ExhibitTesting
import Foundation

/// Issue 2: ingest of a 1 GiB random file through `exhibit ingest` (BlobStore.put) next to the hashing and
/// chunking tools a force would otherwise use, on the same file in the same run.
struct IngestBench {
    let benchDir: String
    let exhibit: String
    let policies: String
    let runs: Int

    static let size = 1 << 30

    func run() -> [Table] {
        let file = benchDir + "/random-1g.bin"
        prepareInput(file)
        let mib = Double(Self.size) / 1_048_576

        var table = Table(
            title: "Ingest of a 1 GiB random file (best of \(runs); MB/s = MiB/s; exhibit ingest includes the integrity scan and the catalog transaction)",
            header: ["what", "target", "seconds", "MiB/s", "Exhibit ÷ it", "peak RSS"])

        func row(_ name: String, _ target: String, _ run: Run?, reference: Run?) {
            guard let run else {
                table.rows.append([name, target, "failed", "", "", ""])
                return
            }
            let ratio = reference.map { fmt(run.seconds / $0.seconds) + "×" } ?? ""
            table.rows.append([
                name, target, fmt(run.seconds, 3), fmt(mib / run.seconds, 0), ratio, "\(run.maxRSSKiB / 1024) MiB",
            ])
        }

        let targets: [(String, String)] = [
            ("tmpfs", "/dev/shm/exhibit-bench"),
            ("disk", benchDir + "/disk"),
        ]
        var exhibitRuns: [String: Run] = [:]
        for (label, root) in targets {
            let storage = root + "/exhibit"
            let common = ["--storage", storage, "--policies", policies]
            let ingestCommand = [exhibit, "ingest", "--case", "BENCH/1", "--as", "bench"] + common + [file]
            func freshStore() {
                Measure.shell("rm -rf '\(storage)'")
                _ = Measure.spawn([exhibit, "user", "add", "bench", "--role", "investigator"] + common)
                _ = Measure.spawn([exhibit, "case", "create", "BENCH/1", "--as", "bench"] + common)
            }
            let ingest = Measure.best(times: runs, prepare: freshStore) { Measure.spawn(ingestCommand) }
            exhibitRuns[label] = ingest
            let again = Measure.best(times: runs) { Measure.spawn(ingestCommand) }
            row("exhibit ingest", label, ingest, reference: nil)
            row("exhibit ingest again (dedupe)", label, again, reference: nil)
            Measure.shell("rm -rf '\(storage)'")
        }

        // Hashing references (no storage).
        let hashes: [(String, [String])] = [
            ("openssl dgst -sha256", ["openssl", "dgst", "-sha256", file]),
            ("sha256sum", ["sha256sum", file]),
        ]
        var openssl: Run?
        for (name, command) in hashes {
            let reference = Measure.best(times: runs) { Measure.spawn(command) }
            appendReference(&table, name, "-", reference, exhibitRuns["tmpfs"], mib)
            if name.hasPrefix("openssl") { openssl = reference }
        }
        var borgRuns: [String: Run] = [:]

        // Chunking stores on the same targets.
        for (label, root) in targets {
            if Measure.which("borg") != nil {
                let repo = root + "/borg"
                let env = [
                    "BORG_BASE_DIR": root + "/borg-home", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
                    "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
                ]
                let borg = Measure.best(
                    times: runs,
                    prepare: {
                        Measure.shell("rm -rf '\(repo)' '\(root)/borg-home'")
                        _ = Measure.spawn(["borg", "init", "-e", "none", repo], environment: env)
                    }
                ) { Measure.spawn(["borg", "create", "--compression", "none", repo + "::bench", file], environment: env) }
                appendReference(&table, "borg create --compression none", label, borg, exhibitRuns[label], mib)
                borgRuns[label] = borg
                Measure.shell("rm -rf '\(repo)' '\(root)/borg-home'")
            } else {
                table.notes.append("borg not installed: its row is skipped (apt-get install borgbackup)")
            }
            if Measure.which("restic") != nil {
                let repo = root + "/restic"
                let env = ["RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": root + "/restic-cache"]
                let restic = Measure.best(
                    times: runs,
                    prepare: {
                        Measure.shell("rm -rf '\(repo)' '\(root)/restic-cache'")
                        _ = Measure.spawn(["restic", "init", "--repository-version", "2", "--repo", repo], environment: env)
                    }
                ) { Measure.spawn(["restic", "backup", "--compression", "off", "--repo", repo, file], environment: env) }
                appendReference(&table, "restic backup --compression off", label, restic, exhibitRuns[label], mib)
                Measure.shell("rm -rf '\(repo)' '\(root)/restic-cache'")
            } else {
                table.notes.append("restic not installed: its row is skipped (apt-get install restic)")
            }
        }
        Measure.shell("rm -rf /dev/shm/exhibit-bench")
        table.notes.append(
            "'Exhibit ÷ it' is Exhibit's throughput divided by the reference's on the same target "
                + "(above 1 = Exhibit faster); hashing references are compared with the tmpfs ingest.")
        let tmpfs = exhibitRuns["tmpfs"]
        let versusOpenSSL = tmpfs.flatMap { ours in openssl.map { $0.seconds / ours.seconds } }
        let versusBorg = targets.map { label, _ in
            "\(label) " + verdict(exhibitRuns[label].flatMap { ours in borgRuns[label].map { $0.seconds / ours.seconds } }, atLeast: 2)
        }
        let peakRSS = exhibitRuns.values.map(\.maxRSSKiB).max()
        table.notes.append(
            "Goals (issues 2 and 20): ≥ 0.6× openssl dgst (\(verdict(versusOpenSSL, atLeast: 0.6))), ≥ 2× borg create (\(versusBorg.joined(separator: "; "))), "
                + "peak RSS < 64 MiB (\(peakRSS.map { "\($0 / 1024) MiB, " + ($0 < 64 * 1024 ? "met" : "NOT met") } ?? "not measured")). "
                + "The disk target includes fsync of every chunk; the tmpfs target shows the CPU pipeline.")
        return [table]
    }

    func appendReference(_ table: inout Table, _ name: String, _ target: String, _ run: Run?, _ exhibit: Run?, _ mib: Double) {
        guard let run else {
            table.rows.append([name, target, "failed", "", "", ""])
            return
        }
        let ratio = exhibit.map { fmt(run.seconds / $0.seconds) + "×" } ?? ""
        table.rows.append([name, target, fmt(run.seconds, 3), fmt(mib / run.seconds, 0), ratio, "\(run.maxRSSKiB / 1024) MiB"])
    }

    /// Generates the input once (deterministic bytes) and reads it so it sits in the page cache.
    func prepareInput(_ file: String) {
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil
        if size != Self.size {
            FileHandle.standardError.write(Data("generating \(file)…\n".utf8))
            var random = DeterministicRandom(seed: 2026)
            try! random.writeFile(at: file, size: Self.size)
        }
        Measure.shell("cat '\(file)' > /dev/null")
    }
}
