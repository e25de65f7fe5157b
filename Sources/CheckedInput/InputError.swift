/// A value from outside (a query parameter, a JSON field, tus metadata, a command-line option, a policy file) that
/// is not of its form or not in its range. It names the field, so the HTTP layer can answer a 400 problem that
/// says which value to mend, and the CLI can print the option.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field, parameter or option the value came in (`since`, `expires_in`, `--at`).
    public let field: String
    /// What is wrong with it, in words, without the field's name.
    public let reason: String

    public init(field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }

    /// The first characters of an outside value, for a message: never the whole of a hostile megabyte.
    public static func quoted(_ text: some StringProtocol, limit: Int = 40) -> String {
        let cut = text.count > limit ? String(text.prefix(limit)) + "…" : String(text)
        let printable = cut.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : String($0) }.joined()
        return "'" + printable + "'"
    }
}
