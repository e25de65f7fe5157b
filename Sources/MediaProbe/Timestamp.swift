public import Foundation

/// RFC 3339 times in UTC with milliseconds (`2024-03-01T14:00:00.000Z`), the one text form Exhibit writes.
public enum Timestamp {
    /// Parses RFC 3339 / ISO 8601 with or without fractional seconds; a time without a zone is read as UTC
    /// (as DVRs write it).
    public static func parse(_ text: String) -> Date? {
        var text = text.trimmingCharacters(in: .whitespaces)
        if text.count >= 19, text.dropFirst(10).first == " " {
            text = String(text.prefix(10)) + "T" + String(text.dropFirst(11))
        }
        let hasZone = text.hasSuffix("Z") || text.dropFirst(19).contains("+") || text.dropFirst(19).contains("-")
        if !hasZone { text += "Z" }
        // Foundation's ISO 8601 parser takes at most milliseconds reliably; cut longer fractions.
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let fraction = text[text.index(after: dot)..<zone]
            if fraction.count > 3 || fraction.isEmpty {
                let digits = fraction.prefix(3).padding(toLength: 3, withPad: "0", startingAt: 0)
                text = String(text[..<dot]) + "." + digits + String(text[zone...])
            }
        }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
