public import Foundation
public import ExhibitModel
import MediaProbe
import Custody

/// How much of a request's window the footage received covers, in words the owner of the recorder reads ("covers
/// 14:00–14:12 of 14:00–14:30; 18 minutes missing at the end (14:12–14:30): please export them too"), in the
/// force's time zone.
public struct RequestCoverage: Sendable, Equatable {
    public let windowFrom: Date
    public let windowTo: Date
    /// The covered stretches inside the window, merged, in order.
    public let covered: [ClosedRange<Date>]
    /// The stretches of the window nothing received covers.
    public let missing: [ClosedRange<Date>]
    /// Footage files whose recording time is unknown (their coverage cannot be placed).
    public let unplaced: Int
    public let sentence: String

    public var coveredSeconds: Double { covered.reduce(0) { $0 + $1.upperBound.timeIntervalSince($1.lowerBound) } }
    public var isComplete: Bool { missing.isEmpty }

    /// The coverage of `request`'s window by `files` (masters received through it).
    public static func of(_ request: FootageRequest, files: [ExhibitRecord], zone: TimeZone) -> RequestCoverage? {
        guard let (from, to) = request.window, to > from else { return nil }
        var spans: [ClosedRange<Date>] = []
        var unplaced = 0
        for file in files where file.integrity?.verdict != .notMedia {
            guard let start = file.coverage?.trueStart, let end = file.coverage?.trueEnd, end >= start else {
                unplaced += 1
                continue
            }
            let low = max(start, from), high = min(end, to)
            if low < high { spans.append(low...high) }
        }
        return compute(from: from, to: to, spans: spans, unplaced: unplaced, zone: zone)
    }

    /// Merges `spans` (already inside the window) and says what is covered and missing.
    public static func compute(from: Date, to: Date, spans: [ClosedRange<Date>], unplaced: Int, zone: TimeZone) -> RequestCoverage {
        var merged: [ClosedRange<Date>] = []
        for span in spans.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            // Stretches less than a second apart are one (frames and rounding leave hairline gaps).
            if let last = merged.last, span.lowerBound.timeIntervalSince(last.upperBound) < 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, span.upperBound)
            } else {
                merged.append(span)
            }
        }
        var missing: [ClosedRange<Date>] = []
        var cursor = from
        for span in merged {
            if span.lowerBound.timeIntervalSince(cursor) >= 1 { missing.append(cursor...span.lowerBound) }
            cursor = max(cursor, span.upperBound)
        }
        if to.timeIntervalSince(cursor) >= 1 { missing.append(cursor...to) }
        let instants = [from, to] + merged.flatMap { [$0.lowerBound, $0.upperBound] } + missing.flatMap { [$0.lowerBound, $0.upperBound] }
        let format = Formatter(
            zone: zone, spansDays: !Formatter.sameDay(from, to, zone),
            seconds: instants.contains { Int64($0.timeIntervalSince1970.rounded(.down)) % 60 != 0 })
        let window = format.span(from, to)
        var sentence: String
        if merged.isEmpty {
            sentence = "nothing received so far covers \(window): please export the footage of that time"
        } else if missing.isEmpty {
            sentence = "covers the whole of \(window)"
        } else {
            let coveredText = merged.map { format.span($0.lowerBound, $0.upperBound) }.joined(separator: ", ")
            var gaps: [String] = []
            for gap in missing {
                let length = Formatter.length(gap.upperBound.timeIntervalSince(gap.lowerBound))
                let place = gap.lowerBound == from ? " at the start" : (gap.upperBound == to ? " at the end" : "")
                gaps.append("\(length) missing\(place) (\(format.span(gap.lowerBound, gap.upperBound)))")
            }
            sentence = "covers \(coveredText) of \(window); " + gaps.joined(separator: "; ")
                + (missing.count == 1 ? ": please export it too" : ": please export them too")
        }
        if unplaced > 0 {
            sentence += unplaced == 1
                ? ". One file has no recording time the store can read: the investigator will check it"
                : ". \(unplaced) files have no recording time the store can read: the investigator will check them"
        }
        // One sentence, as it is shown alone: a capital and a full stop.
        sentence = sentence.prefix(1).uppercased() + sentence.dropFirst() + "."
        return RequestCoverage(windowFrom: from, windowTo: to, covered: merged, missing: missing, unplaced: unplaced, sentence: sentence)
    }

    struct Formatter {
        let zone: TimeZone
        let spansDays: Bool
        /// Whether times show their seconds (when any of them has some: `14:00:00–14:00:30`, else `14:00–14:30`).
        let seconds: Bool

        var calendar: Calendar {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            return calendar
        }

        static func sameDay(_ a: Date, _ b: Date, _ zone: TimeZone) -> Bool {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            return calendar.isDate(a, inSameDayAs: b.addingTimeInterval(-1))
        }

        func time(_ date: Date) -> String {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            var text = String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
            if seconds { text += String(format: ":%02d", c.second ?? 0) }
            if spansDays { text = String(format: "%04d-%02d-%02d ", c.year ?? 0, c.month ?? 0, c.day ?? 0) + text }
            return text
        }

        func span(_ from: Date, _ to: Date) -> String { "\(time(from))–\(time(to))" }

        /// `18 minutes`, `1 hour 5 minutes`, `40 seconds`.
        static func length(_ seconds: Double) -> String {
            let whole = Int(seconds.rounded())
            if whole < 60 { return "\(whole) second\(whole == 1 ? "" : "s")" }
            let minutes = (whole + 30) / 60
            if minutes < 60 { return "\(minutes) minute\(minutes == 1 ? "" : "s")" }
            let (h, m) = (minutes / 60, minutes % 60)
            return "\(h) hour\(h == 1 ? "" : "s")" + (m > 0 ? " \(m) minute\(m == 1 ? "" : "s")" : "")
        }
    }
}
