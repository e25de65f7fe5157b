public import Foundation
import CheckedInput

/// When footage was recorded in true time, and how much of the window asked of its owner it covers.
///
/// CCTV clocks drift; officers note the offset when they seize footage. All inputs and results are kept with
/// the exhibit. The clock offset is *recorder time minus true time*: a recorder 90 s fast has `+00:01:30`,
/// and true time is recorder time minus the offset.
public struct TimeCoverage: Codable, Sendable, Equatable {
    public struct Inputs: Codable, Sendable, Equatable {
        /// Recorder-clock start given by the investigator (when the file has none, or to override it).
        public var recordedStart: Date?
        /// Recorder time minus true time, in seconds.
        public var clockOffset: Double?
        /// The window asked of the footage owner, in true time.
        public var requestedFrom: Date?
        public var requestedTo: Date?

        enum CodingKeys: String, CodingKey {
            case recordedStart = "recorded_start"
            case clockOffset = "clock_offset"
            case requestedFrom = "requested_from"
            case requestedTo = "requested_to"
        }

        public init(recordedStart: Date? = nil, clockOffset: Double? = nil, requestedFrom: Date? = nil, requestedTo: Date? = nil) {
            self.recordedStart = recordedStart
            self.clockOffset = clockOffset
            self.requestedFrom = requestedFrom
            self.requestedTo = requestedTo
        }

        public var isEmpty: Bool { recordedStart == nil && clockOffset == nil && requestedFrom == nil && requestedTo == nil }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            recordedStart = try c.decodeTime(.recordedStart)
            clockOffset = try c.decodeIfPresent(Double.self, forKey: .clockOffset)
            requestedFrom = try c.decodeTime(.requestedFrom)
            requestedTo = try c.decodeTime(.requestedTo)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(recordedStart.map(Timestamp.format), forKey: .recordedStart)
            try c.encodeIfPresent(clockOffset, forKey: .clockOffset)
            try c.encodeIfPresent(requestedFrom.map(Timestamp.format), forKey: .requestedFrom)
            try c.encodeIfPresent(requestedTo.map(Timestamp.format), forKey: .requestedTo)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputs = try c.decode(Inputs.self, forKey: .inputs)
        startSource = try c.decodeIfPresent(String.self, forKey: .startSource)
        trueStart = try c.decodeTime(.trueStart)
        trueEnd = try c.decodeTime(.trueEnd)
        requestedCoverage = try c.decodeIfPresent(Double.self, forKey: .requestedCoverage)
        missingAtStart = try c.decodeIfPresent(Double.self, forKey: .missingAtStart)
        missingAtEnd = try c.decodeIfPresent(Double.self, forKey: .missingAtEnd)
        missingInGaps = try c.decodeIfPresent(Double.self, forKey: .missingInGaps)
        summary = try c.decode(String.self, forKey: .summary)
    }

    /// Times are written as RFC 3339 UTC strings with milliseconds.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(inputs, forKey: .inputs)
        try c.encodeIfPresent(startSource, forKey: .startSource)
        try c.encodeIfPresent(trueStart.map(Timestamp.format), forKey: .trueStart)
        try c.encodeIfPresent(trueEnd.map(Timestamp.format), forKey: .trueEnd)
        try c.encodeIfPresent(requestedCoverage, forKey: .requestedCoverage)
        try c.encodeIfPresent(missingAtStart, forKey: .missingAtStart)
        try c.encodeIfPresent(missingAtEnd, forKey: .missingAtEnd)
        try c.encodeIfPresent(missingInGaps, forKey: .missingInGaps)
        try c.encode(summary, forKey: .summary)
    }

    init(inputs: Inputs, summary: String) {
        self.inputs = inputs
        self.summary = summary
    }

    public var inputs: Inputs
    /// Where the recorder-clock start came from: `file` (its creation_time), `investigator`, or absent.
    public var startSource: String?
    /// The recorded span corrected to true time.
    public var trueStart: Date?
    public var trueEnd: Date?
    /// Fraction (0…1) of the requested window the footage covers, and what is missing on either side.
    public var requestedCoverage: Double?
    public var missingAtStart: Double?
    public var missingAtEnd: Double?
    /// Seconds of the requested window that fall in recording gaps or footage lost to damage inside the span.
    public var missingInGaps: Double?
    /// The result in one sentence.
    public var summary: String

    enum CodingKeys: String, CodingKey {
        case inputs
        case startSource = "start_source"
        case trueStart = "true_start"
        case trueEnd = "true_end"
        case requestedCoverage = "requested_coverage"
        case missingAtStart = "missing_at_start"
        case missingAtEnd = "missing_at_end"
        case missingInGaps = "missing_in_gaps"
        case summary
    }

    /// Computes the true-time span from the file's own start (if any), the inputs and the readable duration.
    /// A file that is not footage covers no time, whatever the recorder's start says (a `readme.txt` beside the
    /// videos of a DVR export).
    public static func notFootage(inputs: Inputs) -> TimeCoverage {
        TimeCoverage(inputs: inputs, summary: "no time coverage: the file is not footage")
    }

    /// `gaps` are the stretches without footage inside the recorded span (recording gaps, and footage lost to
    /// damage), as (start, length) in seconds from the footage's start: they count as missing time in the window.
    public static func compute(
        inputs: Inputs, fileStart: Date?, readableDuration: Double?, gaps: [(at: Double, length: Double)] = []
    ) -> TimeCoverage {
        var result = TimeCoverage(inputs: inputs, summary: "")
        let recorderStart = inputs.recordedStart ?? fileStart
        result.startSource = inputs.recordedStart != nil ? "investigator" : (fileStart != nil ? "file" : nil)
        guard let recorderStart else {
            result.summary = "recording time unknown: the file has no creation time; give the recorder's start time"
            return result
        }
        let offset = inputs.clockOffset ?? 0
        let start = recorderStart.addingTimeInterval(-offset)
        guard start >= earliest, start.addingTimeInterval(readableDuration ?? 0) <= latest else {
            result.summary = "recording time unknown: the recorder's start corrected by its clock offset falls outside 1970–9999"
            return result
        }
        result.trueStart = start
        guard let duration = readableDuration else {
            result.summary = "starts \(dayTime(start)) UTC (true time); its duration is unknown"
            return result
        }
        let end = start.addingTimeInterval(duration)
        result.trueEnd = end
        let span = "\(time(start))–\(time(end)) UTC"
        let offsetNote = offset == 0 ? "" : " (recorder clock \(formatOffset(offset)), corrected)"
        guard let from = inputs.requestedFrom, let to = inputs.requestedTo, to > from else {
            result.summary = "recorded \(day(start)) \(span)\(offsetNote)"
            return result
        }
        let window = to.timeIntervalSince(from)
        // Time inside the span with no footage (gaps), where it overlaps the window.
        var inGaps = 0.0
        for gap in gaps where gap.length > 0 && gap.length.isFinite && gap.at.isFinite {
            let gapStart = start.addingTimeInterval(gap.at)
            let gapEnd = gapStart.addingTimeInterval(gap.length)
            inGaps += max(0, min(gapEnd, min(end, to)).timeIntervalSince(max(gapStart, max(start, from))))
        }
        let covered = max(0, min(end, to).timeIntervalSince(max(start, from)) - inGaps)
        if inGaps >= 0.5 { result.missingInGaps = inGaps }
        let fraction = covered / window
        result.requestedCoverage = fraction
        let before = max(0, min(start, to).timeIntervalSince(from))
        let after = max(0, to.timeIntervalSince(max(end, from)))
        result.missingAtStart = before
        result.missingAtEnd = after
        // Nearest whole percent, but never 100 % for a window not wholly covered.
        let percent = fraction < 1 ? min(99, Int((fraction * 100).rounded())) : 100
        var sentence = "covers \(span) of the requested \(windowText(from, to)) (\(percent) %)"
        if covered == 0 {
            sentence = "recorded \(span), outside the requested \(windowText(from, to)) (0 %)"
        } else {
            var missing: [String] = []
            if before >= 1 { missing.append("\(describe(seconds: before)) missing at the start") }
            if inGaps >= 0.5 { missing.append("\(describe(seconds: inGaps)) in gaps within it") }
            if after >= 1 { missing.append("\(describe(seconds: after)) missing at the end") }
            if !missing.isEmpty { sentence += "; " + missing.joined(separator: ", ") }
        }
        result.summary = sentence + offsetNote
        return result
    }

    static let earliest = Date(timeIntervalSince1970: Double(UTCTime.earliest) / 1000)
    static let latest = Date(timeIntervalSince1970: Double(UTCTime.latest) / 1000)

    /// Parses `±HH:MM:SS` (also `HH:MM:SS`, `±MM:SS`, `±SS`, with optional fractional seconds) into seconds.
    public static func parseOffset(_ text: String) -> Double? {
        try? ClockOffset.parse(text, field: "clock_offset")
    }

    static func formatOffset(_ seconds: Double) -> String {
        let total = Int(abs(seconds).rounded())
        return (seconds < 0 ? "-" : "+") + String(format: "%02d:%02d:%02d", total / 3600, (total % 3600) / 60, total % 60)
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func time(_ date: Date) -> String {
        let c = utc.dateComponents([.hour, .minute, .second], from: date)
        return String(format: "%02d:%02d:%02d", c.hour!, c.minute!, c.second!)
    }

    static func day(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    static func dayTime(_ date: Date) -> String { day(date) + " " + time(date) }

    /// `14:00–14:30` when the times fall on whole minutes, with seconds otherwise; with the day.
    static func windowText(_ from: Date, _ to: Date) -> String {
        func short(_ date: Date) -> String {
            let text = time(date)
            return text.hasSuffix(":00") ? String(text.dropLast(3)) : text
        }
        return "\(short(from))–\(short(to)) UTC on \(day(from))"
    }
}

extension KeyedDecodingContainer {
    /// A time written as RFC 3339 text.
    func decodeTime(_ key: Key) throws -> Date? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let date = Timestamp.parse(text) ?? Self.storedTime(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not an RFC 3339 time: \(text)")
        }
        return date
    }
}

extension KeyedDecodingContainer {
    /// A time stored before times were range-checked (any year ISO 8601 can write): read, never refused.
    static func storedTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
