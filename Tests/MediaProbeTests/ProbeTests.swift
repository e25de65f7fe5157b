import ExhibitTesting
import Foundation
import MediaProbe
import Testing

let mediaFixtures = [
    "mp4_h264.mp4", "mp4_h264_aac.mp4", "mov_h264.mov", "mkv_h264_aac.mkv", "webm_vp9.webm", "avi_mjpeg.avi",
    "ts_h264_aac.ts", "raw.h264", "audio_only.m4a", "avi_mpeg4.avi", "mpegps_mpeg2.mpg", "avi_odd_720x405.avi",
    "mkv_attachment.mkv", "truncated_faststart.mp4", "corrupted_middle.ts", "avi_no_index.avi", "avi_lowfps_gaps.avi",
    "vfr_h264.mkv", "truncated_half.avi", "header_only.mov", "raw_noise.h264", "raw.hevc", "raw_slices.h264",
]

func fixture(_ name: String) -> String { TestPaths.fixtures + "/" + name }

/// ffprobe's view of a file, parsed from `ffprobe -show_format -show_streams -of json`.
func ffprobe(_ path: String) async throws -> [String: Any] {
    let result = try await Subprocess.run(
        Subprocess.which("ffprobe") ?? "/usr/bin/ffprobe",
        ["-v", "error", "-show_format", "-show_streams", "-of", "json", path])
    return try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] ?? [:]
}

@Suite struct ProbeTests {
    /// The probe agrees with ffprobe on format name, stream count, codec names, width, height, pixel format and
    /// frame rates exactly, and on duration within one frame.
    @Test(arguments: mediaFixtures)
    func matchesFFprobe(name: String) async throws {
        let path = fixture(name)
        let report = try MediaProbe.examine(path: path)
        let media = try #require(report.media, "\(name) should be recognised as media")
        let reference = try await ffprobe(path)
        let format = try #require(reference["format"] as? [String: Any])
        let streams = try #require(reference["streams"] as? [[String: Any]])

        #expect(media.format.formatName == format["format_name"] as? String)
        #expect(media.streams.count == streams.count)
        #expect(media.format.nbStreams == format["nb_streams"] as? Int)
        let fps = media.videoStreams.first?.framesPerSecond ?? 25
        if let duration = (format["duration"] as? String).flatMap(Double.init) {
            let ours = try #require(media.format.duration)
            #expect(abs(ours - duration) <= 1 / fps, "duration \(ours) vs ffprobe \(duration)")
        } else {
            #expect(media.format.duration == nil)
        }
        for (ours, theirs) in zip(media.streams, streams) {
            #expect(ours.index == theirs["index"] as? Int)
            #expect(ours.codecType == theirs["codec_type"] as? String)
            #expect(ours.codecName == theirs["codec_name"] as? String ?? "unknown", "stream \(ours.index) codec")
            #expect(ours.width == theirs["width"] as? Int)
            #expect(ours.height == theirs["height"] as? Int)
            #expect(ours.pixFmt == theirs["pix_fmt"] as? String)
            #expect(ours.rFrameRate == theirs["r_frame_rate"] as? String)
            #expect(ours.avgFrameRate == theirs["avg_frame_rate"] as? String)
            #expect(ours.timeBase == theirs["time_base"] as? String)
            #expect(ours.profile == theirs["profile"] as? String)
            #expect(ours.sampleRate == (theirs["sample_rate"] as? String).flatMap(Int.init))
            #expect(ours.channels == theirs["channels"] as? Int)
            #expect(ours.channelLayout == theirs["channel_layout"] as? String)
            #expect(ours.displayAspectRatio == theirs["display_aspect_ratio"] as? String)
            #expect(ours.nbFrames == (theirs["nb_frames"] as? String).flatMap(Int64.init))
        }
    }

    @Test(arguments: [
        ("mp4_h264.mp4", "complete"), ("mp4_h264_aac.mp4", "complete"), ("mov_h264.mov", "complete"),
        ("mkv_h264_aac.mkv", "complete"), ("webm_vp9.webm", "complete"), ("avi_mjpeg.avi", "complete"),
        ("ts_h264_aac.ts", "complete"), ("raw.h264", "complete"), ("audio_only.m4a", "complete"),
        ("avi_mpeg4.avi", "complete"), ("mpegps_mpeg2.mpg", "complete"), ("avi_odd_720x405.avi", "complete"),
        ("mkv_attachment.mkv", "complete"), ("truncated_no_moov.mp4", "truncated"),
        ("truncated_faststart.mp4", "truncated"), ("corrupted_middle.ts", "damaged"), ("empty.bin", "not-media"),
        ("avi_no_index.avi", "complete"), ("avi_lowfps_gaps.avi", "complete"), ("vfr_h264.mkv", "complete"),
        ("truncated_half.avi", "truncated"), ("header_only.mov", "truncated"), ("raw_noise.h264", "damaged"),
        ("random.h264", "not-media"), ("raw.hevc", "complete"), ("raw_slices.h264", "complete"),
        ("random.bin", "not-media"),
    ])
    func verdicts(name: String, expected: String) throws {
        let report = try MediaProbe.examine(path: fixture(name))
        #expect(report.integrity.verdict.rawValue == expected, "\(name): \(report.integrity.summary)")
        #expect(report.integrity.summary.hasPrefix(expected == "not-media" ? (name == "empty.bin" ? "the file is empty" : "not media") : expected))
    }

    /// Damage found after the scan (decoding for a working copy) makes the verdict `damaged`, and the summary
    /// says so first: a summary never names a verdict the report does not have.
    @Test func damageFoundLaterLeadsTheSummary() throws {
        var truncated = try MediaProbe.examine(path: fixture("truncated_half.avi")).integrity
        let before = truncated.summary
        truncated.addLaterDamage("decoding found 3 error(s)")
        #expect(truncated.verdict == .damaged, "truncated + damage found later: \(truncated.verdict)")
        #expect(truncated.summary == "damaged: decoding found 3 error(s); and \(before)", "summary: \(truncated.summary)")
        #expect(truncated.problems.contains("decoding found 3 error(s)"), "problems: \(truncated.problems)")
        var complete = try MediaProbe.examine(path: fixture("mp4_h264.mp4")).integrity
        complete.addLaterDamage("decoding found 1 error(s)")
        #expect(complete.verdict == .damaged && complete.summary == "damaged: decoding found 1 error(s)", "\(complete.summary)")
    }

    @Test func truncationSaysHowMuchIsMissing() throws {
        let cut = try MediaProbe.examine(path: fixture("truncated_faststart.mp4")).integrity
        // The container still announces 4 s; the packets stop a little after 2 s.
        #expect(cut.expectedDuration == 4.0)
        let missing = try #require(cut.missingDuration)
        #expect(missing > 1.5)
        #expect(missing < 2.0)
        #expect(cut.summary.contains("the last 1.8 s of 4.0 s are missing"), "\(cut.summary)")
        let noIndex = try MediaProbe.examine(path: fixture("truncated_no_moov.mp4"))
        #expect(noIndex.media == nil)
        #expect(noIndex.integrity.summary.contains("moov atom missing"))
        #expect(noIndex.integrity.demuxerMessages.contains { $0.contains("moov atom not found") })
    }

    @Test func damageSaysWhere() throws {
        let report = try MediaProbe.examine(path: fixture("corrupted_middle.ts")).integrity
        let video = try #require(report.streams.first { $0.codecType == "video" })
        let gap = try #require(video.gaps.first)
        // The jump follows the damage: footage lost to it, not a recording gap.
        #expect(gap.kind == .missing)
        #expect(report.verdict == .damaged)
        #expect(report.recordingGaps == nil)
        #expect(abs(gap.length - 1.48) < 0.05)
        #expect(abs(gap.at - 2.0) < 0.05)
        #expect(gap.bytePosition == 157_732)
        #expect(report.problems.contains { $0.contains("1.5 s missing after 00:02.0 (byte 157732)") })
    }

    @Test func packetCountsAndKeyFrames() throws {
        let report = try MediaProbe.examine(path: fixture("mp4_h264_aac.mp4")).integrity
        let video = try #require(report.streams.first { $0.codecType == "video" })
        #expect(video.packets == 100)
        #expect(video.keyFrames == 4)
        #expect(video.corruptPackets == 0)
        #expect(report.streams.first { $0.codecType == "audio" }?.packets == 189)
        #expect(report.readErrorCount == 0)
        #expect(report.missingDuration == nil)
        #expect(report.bytesRead >= report.size)
    }

    @Test func creationTimeGivesTheRecordedSpan() throws {
        let media = try #require(try MediaProbe.examine(path: fixture("mp4_h264.mp4")).media)
        #expect(media.format.tags["creation_time"] == "2024-03-01T14:00:00.000000Z")
        #expect(media.format.tags["title"] == "Camera 3, rear yard")
        #expect(media.recordedStart == "2024-03-01T14:00:00.000Z")
        #expect(media.recordedEnd == "2024-03-01T14:00:04.000Z")
    }

    /// A custom I/O context over any byte source gives exactly what reading the path gives.
    @Test(arguments: ["mp4_h264_aac.mp4", "ts_h264_aac.ts", "truncated_faststart.mp4", "avi_mjpeg.avi"])
    func byteSourceEqualsPath(name: String) throws {
        let path = fixture(name)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let fromPath = try MediaProbe.examine(path: path)
        let fromMemory = try MediaProbe.examine(MemoryByteSource(bytes), filename: name)
        #expect(fromPath == fromMemory)
    }

    @Test func aFailingSourceIsAnErrorNotAVerdict() throws {
        final class Broken: ByteSource {
            var size: Int64 { 1 << 20 }
            func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
                throw ByteSourceError("disk on fire")
            }
        }
        #expect(throws: ByteSourceError.self) { try MediaProbe.examine(Broken(), filename: "x.mp4") }
    }

    /// An endless input (an MPEG-TS repeated for ever) stops at the scan's time limit.
    @Test func anEndlessInputStopsAtTheTimeLimit() throws {
        final class Endless: ByteSource {
            let pattern: [UInt8]
            init(_ pattern: [UInt8]) { self.pattern = pattern }
            var size: Int64 { Int64.max / 4 }
            func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
                for i in 0..<buffer.count { buffer[i] = pattern[Int((offset + Int64(i)) % Int64(pattern.count))] }
                return buffer.count
            }
        }
        let pattern = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("ts_h264_aac.ts"))))
        var limits = ProbeLimits.default
        limits.scanTimeLimit = .seconds(1)
        let started = ContinuousClock.now
        let report = try MediaProbe.examine(Endless(pattern), filename: "endless.ts", limits: limits)
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(10))
        #expect(report.integrity.verdict == .damaged)
        #expect(report.integrity.summary.contains("time limit"))
    }

    /// Probing the fixtures 1,000 times leaves the resident memory flat: every FFmpeg object is freed. Run in
    /// its own process (the `exhibit` executable), so other tests' memory does not count.
    @Test func repeatedProbesDoNotLeak() async throws {
        let names = mediaFixtures + ["truncated_no_moov.mp4", "random.bin", "empty.bin"]
        var arguments = ["probe", fixture(names[0]), "--repeat-count", "1000"]
        for name in names.dropFirst() { arguments += ["--also", fixture(name)] }
        let result = try await ExhibitCLI.run(arguments)
        #expect(result.status == 0, "\(result.err)")
        let fields = Dictionary(uniqueKeysWithValues: result.err.split(separator: " ").compactMap { field -> (String, Int)? in
            let parts = field.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1].trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
            return (String(parts[0]), value)
        })
        let before = try #require(fields["before"])
        let after = try #require(fields["after"])
        #expect(fields["probes"] == 1000)
        #expect(after - before < 4 * 1024, "RSS grew from \(before) KiB to \(after) KiB over 1,000 probes")
    }

    @Test func libraryVersionsAreKnown() {
        let versions = MediaProbe.libraryVersions
        #expect(versions["libavformat"]?.hasPrefix("59.") == true)
        #expect(versions.keys.sorted() == ["libavcodec", "libavformat", "libavutil"])
    }
}


@Suite struct TimeCoverageTests {
    func date(_ text: String) -> Date { Timestamp.parse(text)! }

    @Test func theExampleFromTheIssue() {
        let coverage = TimeCoverage.compute(
            inputs: .init(requestedFrom: date("2024-03-01T14:00:00Z"), requestedTo: date("2024-03-01T14:30:00Z")),
            fileStart: date("2024-03-01T14:00:00Z"), readableDuration: 751)
        #expect(coverage.summary == "covers 14:00:00–14:12:31 UTC of the requested 14:00–14:30 UTC on 2024-03-01 (42 %); 17 min 29 s missing at the end")
        #expect(abs(coverage.requestedCoverage! - 751.0 / 1800) < 1e-9)
        #expect(coverage.missingAtEnd == 1049)
        #expect(coverage.missingAtStart == 0)
        #expect(coverage.startSource == "file")
    }

    @Test func aFastRecorderClockIsCorrected() {
        // The recorder was 90 s fast: footage stamped 14:01:30 was recorded at 14:00:00 true time.
        let coverage = TimeCoverage.compute(
            inputs: .init(recordedStart: date("2024-03-01T14:01:30Z"), clockOffset: 90,
                          requestedFrom: date("2024-03-01T13:55:00Z"), requestedTo: date("2024-03-01T14:05:00Z")),
            fileStart: date("2024-03-01T09:00:00Z"), readableDuration: 300)
        #expect(coverage.trueStart == date("2024-03-01T14:00:00Z"))
        #expect(coverage.trueEnd == date("2024-03-01T14:05:00Z"))
        #expect(coverage.startSource == "investigator")
        #expect(coverage.summary == "covers 14:00:00–14:05:00 UTC of the requested 13:55–14:05 UTC on 2024-03-01 (50 %); 5 min 00 s missing at the start (recorder clock +00:01:30, corrected)")
    }

    /// Recording gaps inside the span are time the footage does not cover: a low-frame-rate AVI with 15 gaps
    /// covers less of a window than its first and last frames span.
    @Test func gapsCountAsMissingTime() throws {
        let report = try MediaProbe.examine(path: fixture("avi_lowfps_gaps.avi"))
        let gaps = report.integrity.footageGaps
        #expect(!gaps.isEmpty)
        let readable = try #require(report.integrity.readableDuration)
        let coverage = TimeCoverage.compute(
            inputs: .init(recordedStart: date("2024-03-01T14:00:00Z"), requestedFrom: date("2024-03-01T14:00:00Z"),
                          requestedTo: date("2024-03-01T14:00:00Z").addingTimeInterval(readable)),
            fileStart: nil, readableDuration: readable, gaps: gaps)
        let inGaps = gaps.reduce(0) { $0 + $1.length }
        #expect(abs((coverage.missingInGaps ?? 0) - inGaps) < 0.01, "\(coverage.missingInGaps ?? 0) s vs \(inGaps) s in gaps")
        #expect(abs(coverage.requestedCoverage! - (readable - inGaps) / readable) < 0.01)
        #expect(coverage.summary.contains("in gaps within it"), "\(coverage.summary)")
        // Outside the window, gaps do not count.
        let before = TimeCoverage.compute(
            inputs: .init(recordedStart: date("2024-03-01T14:00:00Z"), requestedFrom: date("2024-03-01T13:00:00Z"),
                          requestedTo: date("2024-03-01T14:00:00Z")),
            fileStart: nil, readableDuration: readable, gaps: gaps)
        #expect(before.missingInGaps == nil)
    }

    @Test func unknownStartAndDisjointWindows() {
        let unknown = TimeCoverage.compute(inputs: .init(), fileStart: nil, readableDuration: 10)
        #expect(unknown.trueStart == nil)
        #expect(unknown.summary.hasPrefix("recording time unknown"))
        let outside = TimeCoverage.compute(
            inputs: .init(requestedFrom: date("2024-03-01T10:00:00Z"), requestedTo: date("2024-03-01T11:00:00Z")),
            fileStart: date("2024-03-01T14:00:00Z"), readableDuration: 60)
        #expect(outside.requestedCoverage == 0)
        #expect(outside.summary.contains("outside the requested"))
    }

    @Test func offsetsParse() {
        #expect(TimeCoverage.parseOffset("+00:01:30") == 90)
        #expect(TimeCoverage.parseOffset("-01:00:00") == -3600)
        #expect(TimeCoverage.parseOffset("00:00:02.5") == 2.5)
        #expect(TimeCoverage.parseOffset("45") == 45)
        for bad in ["", "+", "1:2:3:4", "00:61:00", "ab:cd", "00:00:-1", "999999:00:00"] {
            #expect(TimeCoverage.parseOffset(bad) == nil, "\(bad)")
        }
    }

    @Test func timestampsParseAndPrintInOneForm() {
        #expect(Timestamp.format(date("2024-03-01T14:00:00.000000Z")) == "2024-03-01T14:00:00.000Z")
        #expect(Timestamp.format(date("2024-03-01 14:00:00")) == "2024-03-01T14:00:00.000Z")
        #expect(Timestamp.format(date("2024-03-01T15:00:00+01:00")) == "2024-03-01T14:00:00.000Z")
        #expect(Timestamp.parse("yesterday") == nil)
    }
}
