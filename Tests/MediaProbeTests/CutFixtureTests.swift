import ExhibitTesting
import Foundation
import MediaProbe
import Testing

/// A cut file is never `complete` unless the cut removed no media: every committed fixture, cut at 10 %, 50 %
/// and 90 % of its bytes, at seeded random offsets and with its last KiB removed, is probed; whenever the
/// verdict is `complete`, ffprobe (an independent reader) must find exactly the original's packets, count and
/// bytes, in the cut file, and the test says what the cut removed instead. `EXHIBIT_TEST_SEED` repeats a run.
@Suite struct CutFixtureTests {
    /// Fixtures that are whole (the cut ones are already short).
    static let whole = mediaFixtures.filter { $0 != "truncated_faststart.mp4" && $0 != "corrupted_middle.ts" }
        + ["avi_no_index.avi", "avi_lowfps_gaps.avi", "vfr_h264.mkv"]

    /// Fixtures that are raw elementary streams (no container: nothing says how long they are, so a cut between
    /// two frames leaves a shorter stream that is whole).
    static let rawElementary: Set<String> = ["raw.h264", "raw_noise.h264", "random.h264", "raw.hevc", "raw_slices.h264"]

    /// The size of each packet of each stream, as ffprobe reads them.
    static func packets(_ path: String) async throws -> [Int: [Int]] {
        let result = try await Subprocess.run(
            Subprocess.which("ffprobe") ?? "/usr/bin/ffprobe",
            ["-v", "quiet", "-show_entries", "packet=stream_index,size", "-of", "csv=p=0", path])
        var out: [Int: [Int]] = [:]
        for line in result.out.split(separator: "\n") {
            let parts = line.split(separator: ",")
            guard parts.count >= 2, let stream = Int(parts[0]), let size = Int(parts[1]) else { continue }
            out[stream, default: []].append(size)
        }
        return out
    }

    @Test func noFixtureCutAnywhereIsCalledComplete() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["EXHIBIT_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
        print("cut fixtures: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it)")
        var random = DeterministicRandom(seed: seed)
        let work = try TemporaryDirectory("cuts")
        var checked = 0
        var completeButWhole: [String] = []
        for name in Self.whole {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
            let original = try await Self.packets(fixture(name))
            let size = bytes.count
            var cuts = [size / 10, size / 2, size * 9 / 10, size - 1024]
            for _ in 0..<3 { cuts.append(Int.random(in: 1..<size, using: &random)) }
            let raw = Self.rawElementary.contains(name)
            for cut in cuts where cut > 0 && cut < size {
                let path = work.appending("cut-\(cut)-" + name)
                try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
                let report = try MediaProbe.examine(path: path)
                checked += 1
                guard report.integrity.verdict == .complete else { continue }
                // Complete is allowed only when every packet, each of its size, is still there; in a raw stream,
                // when the cut fell between two frames (the packets left are the original's first ones, whole).
                let remaining = try await Self.packets(path)
                let whole = raw
                    ? try await Self.cutBetweenFrames(bytes, original: fixture(name), left: remaining[0] ?? [])
                    : original.allSatisfy { stream, sizes in remaining[stream] == sizes }
                #expect(whole, """
                    \(name) cut at byte \(cut) of \(size) is called complete (\(report.integrity.summary)), but it lost \
                    packets: \(original.map { "stream \($0.key): \(remaining[$0.key].map { "\($0.count) packets, \($0.reduce(0, +)) bytes" } ?? "none") of \($0.value.count), \($0.value.reduce(0, +))" })
                    """)
                if whole {
                    completeButWhole.append(raw
                        ? "\(name) at \(cut): cut between two frames (a raw stream says nothing of what followed)"
                        : "\(name) at \(cut): only non-media bytes were cut (an index or trailer)")
                }
            }
        }
        print("cut fixtures: \(checked) cuts probed; complete only where no packet was lost: \(completeButWhole)")
        #expect(checked >= Self.whole.count * 6)
    }

    /// Where each packet of the first stream starts and how long it is, as ffprobe reads them.
    static func packetSpans(_ path: String) async throws -> [(position: Int, size: Int)] {
        let result = try await Subprocess.run(
            Subprocess.which("ffprobe") ?? "/usr/bin/ffprobe",
            ["-v", "quiet", "-select_streams", "0", "-show_entries", "packet=pos,size", "-of", "json", path])
        let json = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let packets = json?["packets"] as? [[String: Any]] ?? []
        return packets.compactMap { packet in
            guard let position = (packet["pos"] as? String).flatMap(Int.init), let size = (packet["size"] as? String).flatMap(Int.init) else { return nil }
            return (position, size)
        }
    }

    /// Whether a raw stream cut to `left` packets kept whole frames: the packets left are the original's first
    /// ones, each of its size, but the last may have lost zero bytes at its end (the next frame's start code
    /// begins with one, and a stream may end in zero bytes).
    static func cutBetweenFrames(_ bytes: Data, original: String, left: [Int]) async throws -> Bool {
        let spans = try await packetSpans(original)
        guard let last = left.indices.last, left.count <= spans.count,
              zip(left.dropLast(), spans).allSatisfy({ $0 == $1.size })
        else { return false }
        let span = spans[last]
        guard left[last] <= span.size else { return false }
        let start = bytes.startIndex + span.position
        return bytes[(start + left[last])..<(start + span.size)].allSatisfy { $0 == 0 }
    }

    /// Each decoded frame's MD5, as ffmpeg decodes the file (an independent decoder's view of its pictures).
    static func frameDigests(_ path: String) async throws -> [String] {
        let result = try await Subprocess.run(
            Subprocess.which("ffmpeg") ?? "/usr/bin/ffmpeg",
            ["-nostdin", "-v", "quiet", "-threads", "1", "-i", path, "-map", "0:v:0", "-f", "framemd5", "-"])
        return result.out.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: ",").last.map(String.init) }
    }

    /// A raw elementary stream cut inside a frame is `truncated` wherever the cut falls in it: its middle, just
    /// inside the next frame (its 4-byte start code with nothing after it, or its first NAL units only). Cut one
    /// byte short of a frame's end it may be `complete` only when no picture changed (that byte held nothing but
    /// the arithmetic coder's flush and the stop bit, or the next start code's leading zero): ffmpeg must decode
    /// the same pictures from it as from the stream cut at the frame's end. Cut exactly between two frames, it is
    /// a shorter stream that is whole. (Three zero bytes after a frame are not a cut: a stream may end in zero
    /// bytes.) Frames at the start, in the middle of a group and just after an open group's key frame (whose
    /// leading pictures refer to the group before).
    @Test(arguments: ["raw.h264", "raw.hevc", "raw_slices.h264"])
    func rawStreamCutInsideAFrameIsTruncated(name: String) async throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
        let spans = try await Self.packetSpans(fixture(name))
        try #require(spans.count >= 60, "\(name): ffprobe should list its packets with their positions")
        let work = try TemporaryDirectory("raw-cuts")
        var lastByteOnly: [String] = []
        for frame in [3, 12, 26, 27, 58] {
            let span = spans[frame]
            let end = span.position + span.size
            let wholePath = work.appending("whole-\(end)-" + name)
            try bytes.prefix(end).write(to: URL(fileURLWithPath: wholePath))
            for cut in [span.position + span.size / 2, end - 1, end + 4, end + 6, end] {
                let path = work.appending("cut-\(cut)-" + name)
                try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
                let integrity = try MediaProbe.examine(path: path).integrity
                let context = "\(name) cut at byte \(cut) (frame \(frame + 1) is bytes \(span.position)..<\(end)): \(integrity.summary)"
                switch cut {
                case end:
                    #expect(integrity.verdict == .complete, "\(context): a stream cut between two frames is whole")
                case end - 1 where integrity.verdict == .complete:
                    let cutPictures = try await Self.frameDigests(path)
                    let wholePictures = try await Self.frameDigests(wholePath)
                    #expect(!cutPictures.isEmpty && cutPictures == wholePictures, "\(context): complete, but ffmpeg decodes other pictures from it")
                    lastByteOnly.append("frame \(frame + 1)")
                default:
                    #expect(integrity.verdict == .truncated, "\(context): expected truncated")
                }
            }
        }
        print("\(name): one byte short of the end and complete with the same pictures: \(lastByteOnly)")
    }
}
