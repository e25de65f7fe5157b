public import Foundation

/// Where the PostgreSQL catalog is: `postgres://user[:password]@host[:port]/database[?sslmode=require]`. The
/// password may come from `PGPASSWORD` instead (and is never recorded).
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    /// The address without the password (what a storage root records and messages show).
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)\(requireTLS ? "?sslmode=require" : "")"
    }

    public static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresLocation {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text),
              let host = url.host, !host.isEmpty
        else {
            throw ExhibitError(.badRequest, "'\(text)' is not a postgres://user@host:port/database address")
        }
        let database = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !database.isEmpty else { throw ExhibitError(.badRequest, "'\(text)' names no database") }
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "require"].contains(mode) else {
            throw ExhibitError(.badRequest, "sslmode=\(mode): use disable or require")
        }
        return PostgresLocation(
            host: host, port: url.port ?? 5432, user: url.user ?? environment["PGUSER"] ?? "postgres",
            password: url.password ?? environment["PGPASSWORD"], database: database, requireTLS: mode == "require")
    }
}
