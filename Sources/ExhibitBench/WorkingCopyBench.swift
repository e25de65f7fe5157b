import Foundation
import MediaProbe

/// Issue 6: working copies of a 60-second 720p file, in process, beside the ffmpeg command doing the same job.
struct WorkingCopyBench {
    let benchDir: String
    let runs: Int

    func run() throws -> Table {
        let folder = benchDir + "/working-copies"
        Measure.shell("mkdir -p '\(folder)'")
        let ts = folder + "/in-720p-60s.ts"
        let avi = folder + "/in-720p-60s.avi"
        let source = "testsrc2=duration=60:size=1280x720:rate=25"
        let tone = "sine=frequency=440:duration=60:sample_rate=48000"
        if !FileManager.default.fileExists(atPath: ts) {
            _ = Measure.spawn(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-f", "lavfi", "-i", tone,
                               "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", ts])
        }
        if !FileManager.default.fileExists(atPath: avi) {
            _ = Measure.spawn(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-f", "lavfi", "-i", tone,
                               "-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-shortest", avi])
        }
        var table = Table(
            title: "Working copies of a 60-second 1280x720 25 fps file (best of \(runs); speed = seconds of footage per second)",
            header: ["what", "seconds", "speed", "Exhibit ÷ ffmpeg"])
        let settings = EncoderSettings.default
        for (label, input, ffmpegArguments) in [
            ("remux (MPEG-TS H.264 + AAC → MP4)", ts, ["-map", "0:v:0", "-map", "0:a:0", "-c", "copy"]),
            ("transcode (AVI MPEG-4 Part 2 + MP3 → H.264 + MP3 in MP4)", avi,
             ["-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264", "-preset", settings.preset, "-crf", String(settings.crf),
              "-pix_fmt", "yuv420p", "-c:a", "copy"]),
        ] {
            let report = try MediaProbe.examine(path: input)
            let plan = WorkingCopyPlan.plan(report.media, verdict: report.integrity.verdict)
            let output = folder + "/exhibit.mp4"
            let ours = Measure.best(times: runs, prepare: { unlink(output) }) {
                let start = DispatchTime.now()
                let status: Int32
                do {
                    _ = try Transcoder.make(from: FileByteSource(path: input), filename: input, plan: plan, to: output, settings: settings)
                    status = 0
                } catch {
                    FileHandle.standardError.write(Data("  transcoder: \(error)\n".utf8))
                    status = 1
                }
                return Run(seconds: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9, maxRSSKiB: 0, status: status)
            }
            let ffmpeg = Measure.best(times: runs) {
                Measure.spawn(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", input] + ffmpegArguments + ["-movflags", "+faststart", folder + "/ffmpeg.mp4"])
            }
            func cell(_ run: Run?) -> [String] { run.map { [fmt($0.seconds, 2), fmt(60 / $0.seconds, 1) + "×"] } ?? ["failed", ""] }
            table.rows.append(["Exhibit " + label] + cell(ours) + [ours.flatMap { o in ffmpeg.map { fmt($0.seconds / o.seconds) + "×" } } ?? ""])
            table.rows.append(["ffmpeg " + label] + cell(ffmpeg) + ["1.00×"])
        }
        table.notes = ["Goal (issue 6): at least 0.9× ffmpeg. Both read the file from disk and write an MP4 with +faststart."]
        return table
    }
}
