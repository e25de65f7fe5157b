import CheckedInput
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitTesting
import Foundation
import MediaProbe
import Testing

/// Every parser of times and durations that takes outside values, fed generated text: extreme and negative years,
/// impossible dates, leap seconds, offsets up to ±99:99, 30-digit fractions, huge numbers and junk. Each answer is
/// a value in range or a clean error naming the field; a trap would end this process and fail the run.
/// `EXHIBIT_TEST_SEED` repeats a run.
@Suite struct TimeAndDurationPropertyTests {
    static let rounds = 20_000

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// A generated time text and, when it is a valid time in 1970–9999, the milliseconds it must parse to
    /// (computed independently, through Foundation's calendar).
    struct Case {
        var text: String
        var expected: Int64?
    }

    static func generate(_ random: inout DeterministicRandom) -> Case {
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
        if int(0...9) == 0 {
            // Junk: digits, signs, separators and letters at random, sometimes very long.
            let alphabet = Array("0123456789-+:.TZ tz,eE\n\u{202E}é/")
            let length = pick([0, 1, 10, 19, 24, 40, 81, 400])
            return Case(text: String((0..<length).map { _ in pick(alphabet) }), expected: nil)
        }
        let year = pick([0, 1, 1969, 1970, 1971, 2000, 2024, 2038, 2106, 9999, 10000, -1, 99999, int(0...9999)] + Array(repeating: int(1970...9999), count: 8))
        let month = pick([0, 1, 2, 12, 13] + Array(repeating: int(1...12), count: 8))
        let day = pick([0, 1, 28, 29, 30, 31, 32] + Array(repeating: int(1...28), count: 8))
        let hour = pick([0, 23, 24] + Array(repeating: int(0...23), count: 6))
        let minute = pick([0, 59, 60] + Array(repeating: int(0...59), count: 6))
        let second = pick([0, 59, 60, 61] + Array(repeating: int(0...59), count: 8))
        let fractionDigits = pick([0, 0, 1, 3, 6, 9, 30])
        let fraction = String((0..<fractionDigits).map { _ in Character(String(int(0...9))) })
        let zone = pick(["Z", "Z", "Z", "z", "", "", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "+01:60", "+99:99", "+0530", "-08", "+1"])
        let separator = pick(["T", "t", " "])
        let dateOnly = int(0...7) == 0
        func padded(_ value: Int, _ width: Int) -> String {
            let text = String(abs(value))
            return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var text = "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
        if !dateOnly {
            text += "\(separator)\(padded(hour, 2)):\(padded(minute, 2)):\(padded(second, 2))"
            if !fraction.isEmpty { text += "." + fraction }
            text += zone
        }
        // The expected value, by Foundation, for what is well formed and possible.
        var expected: Int64?
        let validZone: Int? = switch zone {
        case "Z", "z", "", "+00:00", "-00:00": 0
        case "+23:59": 23 * 3600 + 59 * 60
        case "-23:59": -(23 * 3600 + 59 * 60)
        case "+0530": 5 * 3600 + 30 * 60
        case "-08": -8 * 3600
        default: nil
        }
        if (0...9999).contains(year), (1...12).contains(month), day >= 1, (dateOnly || (hour < 24 && minute < 60 && second < 60)),
           let offset = dateOnly ? 0 : validZone,
           let date = utc.date(from: DateComponents(year: year, month: month, day: day, hour: dateOnly ? 0 : hour,
                                                     minute: dateOnly ? 0 : minute, second: dateOnly ? 0 : second)),
           utc.component(.day, from: date) == day {
            let millis = dateOnly ? 0 : Int64(fraction.prefix(3).padding(toLength: 3, withPad: "0", startingAt: 0)) ?? 0
            let value = Int64(date.timeIntervalSince1970) * 1000 - Int64(offset) * 1000 + millis
            if UTCTime.range.contains(value) { expected = value }
        }
        return Case(text: text, expected: expected)
    }

    static func seed() -> UInt64 {
        let seed = UInt64(ProcessInfo.processInfo.environment["EXHIBIT_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
        print("time and duration properties: seed \(seed) (EXHIBIT_TEST_SEED=\(seed) repeats it)")
        return seed
    }

    @Test func everyTimeParserGivesAValueInRangeOrACleanError() throws {
        var random = DeterministicRandom(seed: Self.seed())
        var accepted = 0, refused = 0
        for _ in 0..<Self.rounds {
            let generated = Self.generate(&random)
            let text = generated.text
            do {
                let value = try UTCTime.milliseconds(text, field: "since")
                accepted += 1
                #expect(UTCTime.range.contains(value), "'\(text)' parsed to \(value) ms, outside 1970–9999")
                if let expected = generated.expected {
                    #expect(value == expected, "'\(text)' parsed to \(value) ms; Foundation says \(expected)")
                } else {
                    Issue.record("'\(text)' was accepted (\(value) ms) but is not a valid time in 1970–9999")
                }
                // What the store writes from it reads back as the same instant.
                let written = CustodyTime.string(milliseconds: value)
                #expect(CustodyTime.milliseconds(written) == value, "'\(text)' -> '\(written)' does not read back")
            } catch {
                refused += 1
                #expect(generated.expected == nil, "'\(text)' was refused (\(error)) but is \(generated.expected ?? 0) ms")
                #expect(error.field == "since", "the error names \(error.field), not the field")
                #expect(!error.reason.isEmpty)
            }
            // The other readers of times: a value in range or nil, never a trap.
            for date in [Timestamp.parse(text), CustodyTime.parse(text)].compactMap({ $0 }) {
                let ms = UTCTime.milliseconds(of: date)
                #expect(UTCTime.range.contains(ms), "'\(text)' read as \(date), outside 1970–9999")
            }
            _ = CustodyTime.milliseconds(text)
        }
        print("time properties: \(accepted) accepted, \(refused) refused of \(Self.rounds)")
        #expect(accepted > Self.rounds / 10, "too few generated times were valid (\(accepted)): the generator is broken")
        #expect(refused > Self.rounds / 10, "too few generated times were invalid (\(refused)): the generator is broken")
    }

    @Test func writingAnyInstantNeverTraps() throws {
        var random = DeterministicRandom(seed: Self.seed())
        let extremes: [Int64] = [.min, .min + 1, -1, 0, 1, UTCTime.latest, UTCTime.latest + 1, .max - 1, .max]
        for value in extremes + (0..<Self.rounds).map({ _ in Int64(bitPattern: random.next()) }) {
            let text = CustodyTime.string(milliseconds: value)
            #expect(text.utf8.count == 24, "\(value) ms was written as '\(text)'")
            let clamped = min(max(value, UTCTime.earliest), UTCTime.latest)
            #expect(CustodyTime.milliseconds(text) == clamped, "\(value) ms was written as '\(text)'")
        }
        for seconds in [-Double.infinity, -1e300, -62_167_219_200, -1, 0, 1e12, 253_402_300_800, 1e300, .infinity, .nan] {
            let text = CustodyTime.string(Date(timeIntervalSince1970: seconds))
            #expect(CustodyTime.milliseconds(text).map(UTCTime.range.contains) == true, "\(seconds) s was written as '\(text)'")
        }
    }

    @Test func everyDurationParserGivesAValueInRangeOrACleanError() throws {
        var random = DeterministicRandom(seed: Self.seed())
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        let units = ["", "s", "m", "min", "h", "d", "w", "mo", "y", "Y", " y", "ms", "x", "yy", "-", "h\n", "\u{202E}d"]
        var accepted = 0
        for _ in 0..<Self.rounds {
            let digits = pick([1, 1, 2, 3, 6, 9, 11, 12, 13, 18, 19, 20, 30])
            let number = String((0..<digits).map { _ in Character(String(random.next() % 10)) })
            let text = pick(["", "", "-", "+", " "]) + number + pick(units)
            do {
                let seconds = try InputDuration.seconds(text, field: "expires_in")
                accepted += 1
                #expect((0...InputDuration.longest).contains(seconds), "'\(text)' gave \(seconds) s")
            } catch {
                #expect(error.field == "expires_in")
            }
            if let value = Int64(number) {
                if let seconds = try? InputDuration.seconds(value, field: "expires_in") {
                    #expect(seconds == value)
                }
                _ = try? InputDuration.seconds(-value, field: "expires_in")
            }
            // Retention periods from policy files, and the deadlines they give from the extremes of the range.
            if let period = RetentionPeriod.parse(number + pick(["h", "d", "w", "mo", "y"])) {
                for start in [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: Double(UTCTime.latest) / 1000)] {
                    if let end = period.end(from: start) { _ = CustodyTime.string(end) }
                }
            }
            // Clock offsets, and the coverage computed with them from the ends of the range.
            let offsetText = pick(["", "-", "+"]) + [number, number + ":59", "99:" + number, number + "." + number].randomElement(using: &random)!
            if let offset = try? ClockOffset.parse(offsetText, field: "clock_offset") {
                #expect(abs(offset) <= ClockOffset.longest, "'\(offsetText)' gave \(offset) s")
                for start in [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: Double(UTCTime.latest) / 1000)] {
                    let coverage = TimeCoverage.compute(
                        inputs: .init(recordedStart: start, clockOffset: offset), fileStart: nil, readableDuration: 1e15)
                    if let trueStart = coverage.trueStart { _ = CustodyTime.string(trueStart) }
                }
            }
            _ = ByteSize.parse(text)
        }
        #expect(accepted > 100, "too few generated durations were valid (\(accepted))")
    }

    @Test func theIssueExamplesAreRefusedNamingTheField() throws {
        for text in ["0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "10000-01-01T00:00:00Z",
                     "2024-02-30T00:00:00Z", "2016-12-31T23:59:60Z", "2024-03-01T14:00:00+24:00", "2024-03-01T14:00:00\n"] {
            #expect(throws: InputError.self, "'\(text)' must be refused") { try UTCTime.milliseconds(text, field: "at") }
        }
        #expect((try? UTCTime.milliseconds("2024-03-01T14:00:00.123456789012345678901234567890+23:59", field: "at")) != nil)
        #expect(try UTCTime.milliseconds("9999-12-31T23:59:59.999Z", field: "at") == UTCTime.latest)
        #expect(try UTCTime.milliseconds("1970-01-01", field: "at") == 0)
        for text in ["300000000000y", "99999999999999999999s", "-5m", "1e9s", "5 fortnights", ""] {
            #expect(throws: InputError.self, "'\(text)' must be refused") { try InputDuration.seconds(text, field: "expires_in") }
        }
        #expect(try InputDuration.seconds("1000y", field: "x") == InputDuration.longest)
    }
}
