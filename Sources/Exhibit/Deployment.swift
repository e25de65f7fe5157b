import ExhibitCatalog
public import ExhibitModel
import ExhibitPolicies
import BlobStore
public import Foundation
public import S3Store

/// Where a store keeps its chunks and manifests: under its storage root, or in an S3-compatible bucket.
public enum ChunkLocation: Sendable, Equatable, CustomStringConvertible {
    case local
    case s3(S3Location)

    /// Parses `--chunks` (`local` or `s3://bucket[/prefix]`) with `--s3-endpoint`.
    public static func parse(
        _ chunks: String, endpoint: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ChunkLocation {
        if chunks == "local" { return .local }
        guard chunks.hasPrefix("s3://") else {
            throw ExhibitError(.badRequest, "--chunks: '\(chunks)' is neither 'local' nor an s3://bucket/prefix address")
        }
        guard let endpoint, !endpoint.isEmpty else {
            throw ExhibitError(.badRequest, "--chunks \(chunks) needs --s3-endpoint URL (or EXHIBIT_S3_ENDPOINT)")
        }
        do {
            return .s3(try S3Location.parse(chunks, endpoint: endpoint, environment: environment))
        } catch {
            throw ExhibitError(.badRequest, error.message)
        }
    }

    public var description: String {
        switch self {
        case .local: "local"
        case .s3(let location): "s3://\(location.bucket)\(location.prefix.isEmpty ? "" : "/" + location.prefix) at \(location.endpoint.absoluteString)"
        }
    }

    /// Equal when they name the same place (keys are not part of it).
    public static func == (a: ChunkLocation, b: ChunkLocation) -> Bool { a.description == b.description }
}

/// Where a store keeps its catalog and custody ledger: SQLite under its storage root, or a PostgreSQL database.
public enum CatalogLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite
    case postgres(PostgresLocation)

    /// Parses `--catalog` (`sqlite` or `postgres://user@host:port/database`).
    public static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CatalogLocation {
        if text == "sqlite" { return .sqlite }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw ExhibitError(.badRequest, "--catalog: '\(text)' is neither 'sqlite' nor a postgres:// address")
        }
        return .postgres(try PostgresLocation.parse(text, environment: environment))
    }

    public var description: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres(let location): location.description
        }
    }

    /// Equal when they name the same place (a password is not part of it).
    public static func == (a: CatalogLocation, b: CatalogLocation) -> Bool { a.description == b.description }
}

/// Where a storage root's chunks and catalog live. A root records this in `deployment.json` the first time it is
/// opened (no secrets: S3 keys and the database password come from the environment), so later commands need no
/// flags, and a command that names another place is refused instead of writing footage or custody events where
/// the rest of the store will not look for them.
public struct Deployment: Sendable, Equatable {
    public var chunks: ChunkLocation
    public var catalog: CatalogLocation

    static let file = "deployment.json"

    /// What `deployment.json` holds.
    struct Record: Codable, Equatable {
        var chunks: String
        var s3Endpoint: String?
        var s3Region: String?
        var catalog: String?

        enum CodingKeys: String, CodingKey {
            case chunks
            case s3Endpoint = "s3_endpoint"
            case s3Region = "s3_region"
            case catalog
        }
    }

    var record: Record {
        var record: Record
        switch chunks {
        case .local: record = Record(chunks: "local")
        case .s3(let location):
            record = Record(
                chunks: "s3://\(location.bucket)\(location.prefix.isEmpty ? "" : "/" + location.prefix)",
                s3Endpoint: location.endpoint.absoluteString, s3Region: location.region)
        }
        record.catalog = catalog.description
        return record
    }

    /// Whether any chunk is stored under the root.
    static func hasLocalChunks(_ root: String) -> Bool {
        guard let files = FileManager.default.enumerator(atPath: root + "/chunks") else { return false }
        for case let name as String in files where name.count > 64 { return true }
        return false
    }

    /// Points a root's catalog elsewhere after `exhibit migrate` moved it (or back, when verification failed): the
    /// record is rewritten, and the SQLite file (with its WAL) is set aside as `.migrated` so nothing writes to it
    /// again, or put back.
    public static func switchCatalog(root: String, to catalog: CatalogLocation) throws {
        let path = root + "/exhibit.sqlite"
        let recordPath = root + "/" + file
        var record: Record
        if let data = FileManager.default.contents(atPath: recordPath) {
            record = try JSONDecoder().decode(Record.self, from: data)
        } else {
            record = Record(chunks: "local")
        }
        record.catalog = catalog.description
        let manager = FileManager.default
        for suffix in ["", "-wal", "-shm"] {
            let live = path + suffix, aside = path + ".migrated" + suffix
            if case .sqlite = catalog {
                if manager.fileExists(atPath: aside) { try manager.moveItem(atPath: aside, toPath: live) }
            } else if manager.fileExists(atPath: live) {
                try manager.moveItem(atPath: live, toPath: aside)
            }
        }
        try write(record, to: recordPath)
    }

    static func write(_ record: Record, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try DurableFile.replace(path, with: try encoder.encode(record) + Data("\n".utf8), mode: 0o644)
        } catch {
            throw ExhibitError(.storage, "cannot write \(path): \(error)")
        }
    }

    /// Forgets the recorded choice of a root whose record this process has just written, when its first start-up
    /// check failed, so the next attempt may choose again.
    package static func forget(root: String) {
        try? FileManager.default.removeItem(atPath: root + "/" + file)
    }

    /// The deployment recorded for the storage root at `root`; for a root without a record, what was requested
    /// (recording it; `recordedNow` is then true). A root that predates the record (an `exhibit.sqlite` and no
    /// record) keeps its chunks locally and its catalog in SQLite, unless it has neither chunks nor catalog yet.
    package static func settle(
        root: String, chunks requestedChunks: ChunkLocation?, catalog requestedCatalog: CatalogLocation?,
        environment: [String: String]
    ) throws -> (deployment: Deployment, recordedNow: Bool) {
        let path = root + "/" + file
        if let data = FileManager.default.contents(atPath: path) {
            let record: Record
            do {
                record = try JSONDecoder().decode(Record.self, from: data)
            } catch {
                throw ExhibitError(.storage, "\(path) is not valid: \(error)")
            }
            var environment = environment
            if let region = record.s3Region, environment["AWS_REGION"] == nil { environment["AWS_REGION"] = region }
            let recorded = Deployment(
                chunks: try ChunkLocation.parse(record.chunks, endpoint: record.s3Endpoint, environment: environment),
                catalog: try CatalogLocation.parse(record.catalog ?? "sqlite", environment: environment))
            if let requestedChunks, requestedChunks != recorded.chunks {
                throw ExhibitError(
                    .conflict,
                    "this store keeps its chunks in \(recorded.chunks), not \(requestedChunks); pass --chunks \(record.chunks)"
                        + (record.s3Endpoint.map { " --s3-endpoint \($0)" } ?? "") + " or none")
            }
            if let requestedCatalog, requestedCatalog != recorded.catalog {
                throw ExhibitError(
                    .conflict,
                    "this store keeps its catalog in \(recorded.catalog), not \(requestedCatalog) (to move it: exhibit migrate)")
            }
            return (recorded, false)
        }
        let hasSQLite = FileManager.default.fileExists(atPath: root + "/exhibit.sqlite")
        let chosen = Deployment(chunks: requestedChunks ?? .local, catalog: requestedCatalog ?? .sqlite)
        if chosen.chunks != .local && hasLocalChunks(root) {
            throw ExhibitError(
                .conflict, "this store already keeps chunks under \(root)/chunks, where \(chosen.chunks) would not find them")
        }
        if chosen.catalog != .sqlite && hasSQLite {
            throw ExhibitError(
                .conflict,
                "this store already keeps its catalog in \(root)/exhibit.sqlite; move it with `exhibit migrate --to \(chosen.catalog)`")
        }
        try write(chosen.record, to: path)
        return (chosen, true)
    }
}
