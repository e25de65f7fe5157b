import Foundation
import MediaProbe

/// Issue 3: probing (and probe + full integrity scan) in process, beside spawning ffprobe on the same files.
struct ProbeBench {
    let fixtures: String
    let runs: Int

    func run() -> Table {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? [])
            .filter { !$0.hasSuffix(".sh") && !$0.hasPrefix(".") }.sorted()
        var table = Table(
            title: "Media probe per file, in process vs spawning ffprobe (mean of \(runs) runs per file, \(files.count) fixtures)",
            header: ["what", "ms per file", "ffprobe ÷ it"])
        func timeIt(_ body: () -> Void) -> Double {
            let start = DispatchTime.now()
            for _ in 0..<runs { body() }
            return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6 / Double(runs * files.count)
        }
        let ffprobe = timeIt {
            for file in files {
                _ = Measure.spawn(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", fixtures + "/" + file])
            }
        }
        let probe = timeIt { for file in files { _ = try? MediaProbe.examine(path: fixtures + "/" + file, scan: false) } }
        let scan = timeIt { for file in files { _ = try? MediaProbe.examine(path: fixtures + "/" + file, scan: true) } }
        table.rows = [
            ["ffprobe -show_format -show_streams (spawned)", fmt(ffprobe, 2), "1.00×"],
            ["MediaProbe probe only (in process)", fmt(probe, 2), fmt(ffprobe / probe, 1) + "×"],
            ["MediaProbe probe + integrity scan (in process)", fmt(scan, 2), fmt(ffprobe / scan, 1) + "×"],
        ]
        table.notes = ["Goal (issue 3): the probe alone at least 10× faster than spawning ffprobe."]
        return table
    }
}
