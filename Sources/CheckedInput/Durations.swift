/// Durations from outside: `90s`, `15m`, `72h`, `31d`, `26w`, `6mo` (30 days), `30y` (365 days); a bare number is
/// seconds. Parsed with overflow checks into `0 s … 1,000 years` (every later `now + duration` stays in range);
/// the caller's own limits (a link's longest lifetime, a minimum) come after.
public enum InputDuration {
    /// 1,000 years of 365 days, in seconds.
    public static let longest: Int64 = 1000 * 365 * 86400

    public static let example = "seconds or a duration such as 30s, 15m, 72h, 31d, 26w, 6mo, 30y"

    public static func parse(_ text: String, field: String) throws(InputError) -> Duration {
        .seconds(try seconds(text, field: field))
    }

    /// The whole seconds `text` names, in `0...longest`.
    public static func seconds(_ text: String, field: String) throws(InputError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: " \t")
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let unit = unitSeconds(trimmed.dropFirst(digits.count).trimmingCharacters(in: " \t").lowercased()) else {
            throw InputError(field: field, "\(InputError.quoted(trimmed)) is not a duration (\(example))")
        }
        guard digits.count <= 18, let number = Int64(digits) else {
            throw InputError(field: field, "\(InputError.quoted(trimmed)) is longer than 1,000 years")
        }
        let (total, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow, total <= longest else {
            throw InputError(field: field, "\(InputError.quoted(trimmed)) is longer than 1,000 years")
        }
        return total
    }

    /// A number of seconds given as a number (a JSON integer), checked the same way.
    public static func seconds(_ number: Int64, field: String) throws(InputError) -> Int64 {
        guard number >= 0 else { throw InputError(field: field, "\(number) is negative") }
        guard number <= longest else { throw InputError(field: field, "\(number) seconds is longer than 1,000 years") }
        return number
    }

    static func unitSeconds(_ unit: String) -> Int64? {
        switch unit {
        case "", "s", "sec": 1
        case "m", "min": 60
        case "h": 3600
        case "d": 86400
        case "w": 7 * 86400
        case "mo": 30 * 86400
        case "y": 365 * 86400
        default: nil
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(in characters: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, characters.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, characters.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}

/// A recorder's clock offset, `±HH:MM:SS` (also `HH:MM:SS`, `±MM:SS`, `±SS`, with a fraction of a second): recorder
/// time minus true time, within ±50 years (a recorder whose clock was never set can be decades out).
public enum ClockOffset {
    public static let longest: Double = 50 * 366 * 86400

    public static func parse(_ text: String, field: String) throws(InputError) -> Double {
        var body = Substring(text.trimmingCharacters(in: " \t"))
        var sign = 1.0
        if body.first == "-" || body.first == "+" {
            sign = body.first == "-" ? -1 : 1
            body = body.dropFirst()
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        let wrong = InputError(field: field, "\(InputError.quoted(text)) is not an offset ±HH:MM:SS (recorder minus true time)")
        guard (1...3).contains(parts.count) else { throw wrong }
        var seconds = 0.0
        for (i, part) in parts.enumerated() {
            let isLast = i == parts.count - 1
            let dots = part.filter { $0 == "." }.count
            guard !part.isEmpty, part.count <= 9, dots <= (isLast ? 1 : 0), part.first != ".",
                  part.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(part)
            else { throw wrong }
            if i > 0 && value >= 60 { throw wrong }
            seconds = seconds * 60 + value
        }
        guard seconds <= longest else { throw InputError(field: field, "\(InputError.quoted(text)) is more than 50 years") }
        return sign * seconds
    }
}
