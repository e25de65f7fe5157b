public import Foundation

/// Times from outside, parsed by integer arithmetic into milliseconds since 1970 within `range`.
///
/// Accepted forms (RFC 3339, and what people and recorders write): `2024-03-01T14:00:00Z`,
/// `2024-03-01T14:00:00.123456+01:00`, `2024-03-01 14:00:00` (no zone: UTC, as DVRs write it), `2024-03-01T14:00Z`
/// and a bare date `2024-03-01` (midnight UTC). The fraction may have any number of digits (kept to the millisecond,
/// rounded down); an offset is `Z` or `±HH:MM` (`±HHMM`, `±HH`) up to ±23:59. Years run from 1970 to 9999: nothing
/// Exhibit records happened before 1970, and every later computation on a time in range (a deadline 30 years on, an
/// expiry, a clock offset) stays far from overflow. Leap seconds (`:60`) are refused: the store counts POSIX time.
public enum UTCTime {
    /// 1970-01-01T00:00:00.000Z.
    public static let earliest: Int64 = 0
    /// 9999-12-31T23:59:59.999Z.
    public static let latest: Int64 = 253_402_300_799_999
    /// Every time a request or a file may give.
    public static let range: ClosedRange<Int64> = earliest...latest
    /// The longest text looked at (a time with a 30-digit fraction and an offset is 60 characters).
    public static let maximumLength = 80

    public static let example = "RFC 3339, e.g. 2024-03-01T14:00:00Z, or a date, 2024-03-01"

    /// The time `text` names, as a `Date`, or an error naming `field`.
    public static func parse(_ text: String, field: String) throws(InputError) -> Date {
        Date(timeIntervalSince1970: Double(try milliseconds(text, field: field)) / 1000)
    }

    /// The time `text` names, or nil (for values whose absence is the answer, such as a file's own tag).
    public static func parseIfValid(_ text: String) -> Date? {
        try? parse(text, field: "time")
    }

    /// Milliseconds since 1970 of the time `text` names, within `range`.
    public static func milliseconds(_ text: String, field: String) throws(InputError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        guard trimmed.utf8.count <= maximumLength else {
            throw InputError(field: field, "\(InputError.quoted(trimmed)) is too long to be a time (\(example))")
        }
        var bytes = Array(trimmed.utf8)
        guard let value = parse(&bytes) else {
            throw InputError(field: field, "\(InputError.quoted(trimmed)) is not a time (\(example))")
        }
        switch value {
        case .failure(let reason):
            throw InputError(field: field, "\(InputError.quoted(trimmed)): \(reason)")
        case .success(let milliseconds):
            guard range.contains(milliseconds) else {
                throw InputError(field: field, "\(InputError.quoted(trimmed)) is outside the years 1970 to 9999")
            }
            return milliseconds
        }
    }

    /// Milliseconds since 1970 of a `Date`, clamped to `range` (NaN and infinities to its ends): total, never traps.
    public static func milliseconds(of date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard value.isFinite else { return value.isNaN ? earliest : (value < 0 ? earliest : latest) }
        if value <= Double(earliest) { return earliest }
        if value >= Double(latest) { return latest }
        return Int64(value)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil); any year, no overflow
    /// for |year| < 10^12.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    public static func daysIn(month: Int64, of year: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private enum Parsed {
        case success(Int64)
        case failure(String)
    }

    /// nil: not of the form at all; `.failure`: of the form but impossible (month 13, 25 o'clock, a leap second).
    private static func parse(_ b: inout [UInt8]) -> Parsed? {
        var i = 0
        func digits(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var value: Int64 = 0
            for k in i..<(i + count) {
                let d = b[k] &- 48
                guard d < 10 else { return nil }
                value = value * 10 + Int64(d)
            }
            i += count
            return value
        }
        func take(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        let dash = UInt8(ascii: "-"), colon = UInt8(ascii: ":")
        guard let year = digits(4), take(dash), let month = digits(2), take(dash), let day = digits(2) else { return nil }
        guard (1...12).contains(month) else { return .failure("there is no month \(month)") }
        guard day >= 1, day <= daysIn(month: month, of: year) else {
            return .failure("there is no day \(day) in \(year)-\(month < 10 ? "0" : "")\(month)")
        }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, millis: Int64 = 0, offset: Int64 = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
            i += 1
            guard let h = digits(2), take(colon), let m = digits(2) else { return nil }
            (hour, minute) = (h, m)
            if take(colon) {
                guard let s = digits(2) else { return nil }
                second = s
                if take(UInt8(ascii: ".")) || take(UInt8(ascii: ",")) {
                    let start = i
                    while i < b.count, b[i] &- 48 < 10 { i += 1 }
                    guard i > start else { return nil }
                    for k in 0..<3 { millis = millis * 10 + (start + k < i ? Int64(b[start + k] &- 48) : 0) }
                }
            }
            guard hour < 24 else { return .failure("there is no hour \(hour)") }
            guard minute < 60 else { return .failure("there is no minute \(minute)") }
            guard second < 60 else {
                return .failure(second == 60 ? "a leap second (:60) cannot be stored; give :59" : "there is no second \(second)")
            }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == dash {
                    let sign: Int64 = b[i] == dash ? -1 : 1
                    i += 1
                    guard let oh = digits(2) else { return nil }
                    var om: Int64 = 0
                    if take(colon) {
                        guard let m = digits(2) else { return nil }
                        om = m
                    } else if i < b.count {
                        guard let m = digits(2) else { return nil }
                        om = m
                    }
                    guard oh < 24, om < 60 else { return .failure("the offset is not between -23:59 and +23:59") }
                    offset = sign * (oh * 3600 + om * 60)
                } else {
                    return nil
                }
            }
        }
        guard i == b.count else { return nil }
        let seconds = days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
        return .success(seconds * 1000 + millis)
    }
}
