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

    @Test func thousandsOfMutatedVideosNeitherCrashNorHangNorGrowMemory() async throws {
        let count = Int(ProcessInfo.processInfo.environment["EXHIBIT_FUZZ_MUTATIONS"] ?? "") ?? 10000
        let seed = UInt64(ProcessInfo.processInfo.environment["EXHIBIT_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
        print("probe fuzz: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it), \(count) mutations")
        var random = DeterministicRandom(seed: seed)
        // raw_slices.h264 takes the same paths as raw.h264 (and costs as much again to decode).
        let corpus = try mediaFixtures.filter { $0 != "raw_slices.h264" }.map { name in
            (name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name)))))
        }
        // Tight limits, as a hostile upload would meet them: every run stops within them.
        let limits = ProbeLimits(
            probeSize: 1 << 20, analyzeDuration: .seconds(5), probeTimeLimit: .seconds(5), scanTimeLimit: .seconds(10), gapFrames: 10)
        var verdicts: [String: Int] = [:]
        var slowest: (Double, String) = (0, "")
        let work = try TemporaryDirectory("probe-fuzz")
        var kept: [String] = []
        for index in 0..<count {
            let (name, original) = corpus[Int(random.next() % UInt64(corpus.count))]
            let other = corpus[Int(random.next() % UInt64(corpus.count))].1
            let bytes = Self.mutate(original, other: other, &random)
            let began = Date()
            let report = try MediaProbe.examine(MemoryByteSource(bytes), filename: name, limits: limits)
            let seconds = Date().timeIntervalSince(began)
            if seconds > slowest.0 { slowest = (seconds, "\(name) #\(index)") }
            verdicts[report.integrity.verdict.rawValue, default: 0] += 1
            // Each run is bounded by the limits it was given (the probe's and the scan's), with slack for a loaded machine.
            #expect(seconds < 5 + 10 + 10, "mutation \(index) of \(name) ran \(seconds) s (seed \(seed))")
            // Every 40th mutation is kept for the memory check below.
            if index % 40 == 0 {
                let path = work.appending("m\(index).\((name as NSString).pathExtension)")
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                kept.append(path)
            }
        }
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
