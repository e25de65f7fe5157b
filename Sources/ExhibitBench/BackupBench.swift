import ExhibitTesting
import Foundation

/// Issue 22: the first and an incremental backup of a 2 GiB store, and its restore, beside `restic` and `borg`
/// backing up (and restic restoring) the same storage root in the same run, all on disk.
struct BackupBench {
    let benchDir: String
    let exhibit: String
    let policies: String

    func run() throws -> Table {
        var table = Table(
            title: "Backups of a 2 GiB store (20 exhibits) on disk: first, incremental with 1% new footage, restore",
            header: ["what", "seconds", "MiB/s", "Exhibit ÷ it"])
        let root = benchDir + "/disk/backup-bench"
        Measure.shell("rm -rf '\(root)' && mkdir -p '\(root)/files'")
        var random = DeterministicRandom(seed: 2222)
        var files: [String] = []
        for i in 0..<20 {
            let path = root + "/files/cam\(i).bin"
            try random.writeFile(at: path, size: 100 << 20)
            files.append(path)
        }
        let extra = root + "/files/new.bin"
        try random.writeFile(at: extra, size: 20 << 20)
        let storage = root + "/Storage"
        let common = ["--storage", storage, "--policies", policies]
        _ = Measure.spawn([exhibit, "user", "add", "root", "--role", "admin"] + common)
        _ = Measure.spawn([exhibit, "user", "add", "bench", "--role", "supervisor"] + common)
        _ = Measure.spawn([exhibit, "case", "create", "BENCH/22", "--as", "bench"] + common)
        _ = Measure.spawn([exhibit, "ingest", "--case", "BENCH/22", "--as", "bench"] + common + files)
        let total = 2000.0
        let target = root + "/backup"
        let first = Measure.spawn([exhibit, "backup", "--to", target, "--as", "root"] + common)
        _ = Measure.spawn([exhibit, "ingest", "--case", "BENCH/22", "--as", "bench"] + common + [extra])
        let incremental = Measure.spawn([exhibit, "backup", "--to", target, "--as", "root"] + common)
        let restored = root + "/Restored"
        let restore = Measure.spawn([exhibit, "restore", "--from", target, "--to", restored, "--keys-from", storage + "/keys", "--as", "root", "--policies", policies])
        Measure.shell("rm -rf '\(restored)'")

        func row(_ name: String, _ run: Run?, _ mib: Double, _ ours: Run?) {
            guard let run, run.status == 0 else { return table.rows.append([name, "failed", "", ""]) }
            table.rows.append([name, fmt(run.seconds, 2), fmt(mib / run.seconds, 0), ours.map { fmt(run.seconds / $0.seconds) + "×" } ?? ""])
        }
        row("exhibit backup (first: every chunk copied, re-hashed, fsync)", first, total, nil)
        row("exhibit backup (incremental: 20 MiB new)", incremental, 20, nil)
        row("exhibit restore (every chunk re-hashed, fsync)", restore, total + 20, nil)
        if Measure.which("restic") != nil {
            let repo = root + "/restic"
            let env = ["RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": root + "/restic-cache"]
            _ = Measure.spawn(["restic", "init", "--repository-version", "2", "--repo", repo], environment: env)
            let resticFirst = Measure.spawn(["restic", "backup", "--compression", "off", "--repo", repo, storage], environment: env)
            let resticAgain = Measure.spawn(["restic", "backup", "--compression", "off", "--repo", repo, storage], environment: env)
            let resticRestore = Measure.spawn(["restic", "restore", "latest", "--repo", repo, "--target", root + "/restic-out"], environment: env)
            row("restic backup --compression off (first)", resticFirst, total + 20, first)
            row("restic backup (again; nothing new)", resticAgain, 20, incremental)
            row("restic restore latest", resticRestore, total + 20, restore)
            Measure.shell("rm -rf '\(repo)' '\(root)/restic-out' '\(root)/restic-cache'")
        } else {
            table.notes.append("restic not installed: its rows are skipped (apt-get install restic)")
        }
        if Measure.which("borg") != nil {
            let repo = root + "/borg"
            let env = ["BORG_BASE_DIR": root + "/borg-home", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"]
            _ = Measure.spawn(["borg", "init", "-e", "none", repo], environment: env)
            let borgFirst = Measure.spawn(["borg", "create", "--compression", "none", repo + "::one", storage], environment: env)
            row("borg create --compression none (first)", borgFirst, total + 20, first)
            Measure.shell("rm -rf '\(repo)' '\(root)/borg-home'")
        }
        table.notes.append(
            "Goals (issue 22): a first backup ≥ 1× restic's speed, an incremental one with 1% new footage ≥ 5× restic's. "
                + "restic and borg back up the storage root after the 20 MiB file was ingested, so their first run holds 2,020 MiB and their "
                + "second has nothing new: a lower bound on their incremental time.")
        Measure.shell("rm -rf '\(root)'")
        return table
    }
}
