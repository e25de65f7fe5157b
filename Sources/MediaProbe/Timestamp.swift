public import Foundation
import CheckedInput

/// RFC 3339 times in UTC with milliseconds (`2024-03-01T14:00:00.000Z`), the one text form Exhibit writes.
public enum Timestamp {
    /// Parses RFC 3339 / ISO 8601 with or without fractional seconds; a time without a zone is read as UTC
    /// (as DVRs write it). Nil outside 1970–9999 (see `UTCTime`).
    public static func parse(_ text: String) -> Date? {
        UTCTime.parseIfValid(text)
    }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
