import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One timed run of a child process.
struct Run {
    let seconds: Double
    /// Peak resident set of the child, in KiB (from wait4's rusage).
    let maxRSSKiB: Int
    let status: Int32
}

enum Measure {
    /// Spawns `arguments[0]` with the rest as arguments, output discarded, and reports wall time and peak RSS.
    static func spawn(_ arguments: [String], environment: [String: String] = [:], stdout: String = "/dev/null") -> Run {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let envStrings = env.map { "\($0)=\($1)" }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = envStrings.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let start = DispatchTime.now()
        let rc = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
        guard rc == 0 else { return Run(seconds: 0, maxRSSKiB: 0, status: -1) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Run(seconds: seconds, maxRSSKiB: Int(usage.ru_maxrss), status: exit)
    }

    /// Runs `body` `times` times (with `prepare` before each) and keeps the fastest successful run.
    static func best(times: Int, prepare: () -> Void = {}, _ body: () -> Run) -> Run? {
        var best: Run?
        for _ in 0..<times {
            prepare()
            let run = body()
            guard run.status == 0 else {
                FileHandle.standardError.write(Data("  (a run failed with status \(run.status))\n".utf8))
                continue
            }
            if best == nil || run.seconds < best!.seconds { best = run }
        }
        return best
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func shell(_ command: String) {
        _ = spawn(["/bin/sh", "-c", command])
    }
}

/// A printed table of results.
struct Table {
    var title: String
    var header: [String]
    var rows: [[String]] = []
    var notes: [String] = []

    func print() {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        Swift.print("\n### \(title)\n")
        Swift.print(line(header))
        Swift.print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        for row in rows { Swift.print(line(row)) }
        if !notes.isEmpty { Swift.print("") }
        for note in notes { Swift.print("- " + note) }
    }
}

func fmt(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// A ratio against its goal, as the bench's notes print it: "0.56×, NOT met".
func verdict(_ ratio: Double?, atLeast goal: Double) -> String {
    ratio.map { fmt($0) + "×, " + ($0 >= goal ? "met" : "NOT met") } ?? "not measured"
}
