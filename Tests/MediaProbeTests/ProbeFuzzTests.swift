import ExhibitTesting
import Foundation
import MediaProbe
import Testing

/// The media probe on seeded mutations of the fixture videos (README, "Reliability"): no crash (the test process
/// would die), no hang past the probe's own limits, memory flat.
///
/// `EXHIBIT_FUZZ_MUTATIONS` sets how many (default 10000); `EXHIBIT_TEST_SEED` repeats a run.
@Suite struct ProbeFuzzTests {
    /// One mutation of `bytes`: bit flips, overwritten runs, cuts, duplicated or removed ranges, spliced-in bytes
    /// of another file, or huge length fields (0xFF runs).
    static func mutate(_ original: [UInt8], other: [UInt8], _ random: inout DeterministicRandom) -> [UInt8] {
        var bytes = original
        func position() -> Int { bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count)) }
        for _ in 0..<(1 + Int(random.next() % 4)) {
            guard !bytes.isEmpty else { break }
            switch random.next() % 8 {
            case 0:
                for _ in 0..<(1 + Int(random.next() % 16)) { bytes[position()] ^= UInt8(1 << (random.next() % 8)) }
            case 1:
                let start = position()
                let count = min(bytes.count - start, 1 + Int(random.next() % 64))
                for index in start..<(start + count) { bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
            case 2:
                bytes.removeSubrange(position()...)
            case 3:
                let start = position()
                let count = min(bytes.count - start, 1 + Int(random.next() % 4096))
                bytes.insert(contentsOf: bytes[start..<(start + count)], at: position())
            case 4:
                let start = position()
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + Int(random.next() % 4096)))
            case 5:
                let from = Int(random.next() % UInt64(max(1, other.count)))
                let count = min(other.count - from, 1 + Int(random.next() % 8192))
                if count > 0 { bytes.insert(contentsOf: other[from..<(from + count)], at: position()) }
            case 6:
                let start = position()
                for index in start..<min(bytes.count, start + 1 + Int(random.next() % 8)) { bytes[index] = 0xFF }
            default:
                let start = position()
                for index in start..<min(bytes.count, start + 1 + Int(random.next() % 8)) { bytes[index] = 0x00 }
            }
        }
        return bytes
    }

    /// What one share of the mutations found.
    struct Findings: Sendable {
        var verdicts: [String: Int] = [:]
        var slowest: (seconds: Double, what: String) = (0, "")
        /// Every 40th mutation, written out for the memory check.
        var kept: [String] = []
        /// Runs that took longer than their limits allow.
        var tooSlow: [String] = []
    }

    /// Probes the mutations numbered `indices` (synchronous: run it off the cooperative pool).
    static func fuzz(
        _ indices: Range<Int>, seed: UInt64, stream: UInt64, corpus: [(String, [UInt8])], work: String
    ) throws -> Findings {
        var random = DeterministicRandom(seed: seed &* 31 &+ stream)
        // Tight limits, as a hostile upload would meet them: every run stops within them.
        let limits = ProbeLimits(
            probeSize: 1 << 20, analyzeDuration: .seconds(5), probeTimeLimit: .seconds(5), scanTimeLimit: .seconds(10), gapFrames: 10)
        var found = Findings()
        for index in indices {
            let (name, original) = corpus[Int(random.next() % UInt64(corpus.count))]
            let other = corpus[Int(random.next() % UInt64(corpus.count))].1
            let bytes = mutate(original, other: other, &random)
            let began = Date()
            let report = try MediaProbe.examine(MemoryByteSource(bytes), filename: name, limits: limits)
            let seconds = Date().timeIntervalSince(began)
            if seconds > found.slowest.seconds { found.slowest = (seconds, "\(name) #\(index)") }
            found.verdicts[report.integrity.verdict.rawValue, default: 0] += 1
            // Each run is bounded by the limits it was given (the probe's and the scan's), with slack for a loaded machine.
            if seconds >= 5 + 10 + 10 { found.tooSlow.append("mutation \(index) of \(name) ran \(seconds) s") }
            if index % 40 == 0 {
                let path = work + "/m\(index).\((name as NSString).pathExtension)"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                found.kept.append(path)
            }
        }
        return found
    }

    @Test func thousandsOfMutatedVideosNeitherCrashNorHangNorGrowMemory() async throws {
        let count = Int(ProcessInfo.processInfo.environment["EXHIBIT_FUZZ_MUTATIONS"] ?? "") ?? 10000
        let seed = UInt64(ProcessInfo.processInfo.environment["EXHIBIT_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
        print("probe fuzz: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it), \(count) mutations")
        // Not the raw HEVC and multi-slice H.264 streams: each is decoded whole (100 ms a probe in a debug build)
        // and takes the paths raw.h264 takes; CutFixtureTests cuts them.
        let corpus = try mediaFixtures.filter { $0 != "raw_slices.h264" && $0 != "raw.hevc" }.map { name in
            (name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name)))))
        }
        let work = try TemporaryDirectory("probe-fuzz")
        // Two halves at once, each on a thread of its own (CPU work off the cooperative pool), each with its own
        // stream of the seed: the test no longer runs alone on one core at the end of the suite.
        async let first = offPool { try Self.fuzz(0..<(count / 2), seed: seed, stream: 1, corpus: corpus, work: work.path) }
        async let second = offPool { try Self.fuzz((count / 2)..<count, seed: seed, stream: 2, corpus: corpus, work: work.path) }
        let halves = try await [first, second]
        let verdicts = halves.reduce(into: [String: Int]()) { all, half in all.merge(half.verdicts, uniquingKeysWith: +) }
        let slowest = halves.map(\.slowest).max { $0.seconds < $1.seconds } ?? (0, "")
        let kept = halves.flatMap(\.kept)
        for late in halves.flatMap(\.tooSlow) { Issue.record("\(late) (seed \(seed))") }
        print("probe fuzz: \(count) mutations, verdicts \(verdicts.sorted { $0.key < $1.key }), slowest \(String(format: "%.2f", slowest.0)) s (\(slowest.1))")

        // Memory is flat: a process of its own (this one runs other tests in parallel) probes the kept mutations
        // over and over; its resident memory after thousands of probes is what it was after the first 200.
        let probes = max(2000, kept.count * 10)
        let leak = try await Subprocess.run(
            TestPaths.exhibitExecutable,
            ["probe", kept[0], "--repeat-count", String(probes), "--policies", TestPaths.policies] + kept.dropFirst().flatMap { ["--also", $0] })
        #expect(leak.status == 0, "\(leak.err)")
        let fields = Dictionary(uniqueKeysWithValues: leak.err.split(separator: " ").compactMap { field -> (String, Int)? in
            let parts = field.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1].trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
            return (String(parts[0]), value)
        })
        let before = try #require(fields["before"], "\(leak.err)")
        let after = try #require(fields["after"], "\(leak.err)")
        print("probe fuzz memory: \(probes) probes of \(kept.count) mutated files in one process: resident \(before >> 10) MiB after warm-up, \(after >> 10) MiB at the end")
        #expect(after - before < 16 << 10, "resident memory grew \((after - before) >> 10) MiB over \(probes) probes of mutated files (seed \(seed))")
        #expect(verdicts.count >= 2, "the mutations reach more than one verdict: \(verdicts)")
    }
}
