import Foundation

/// The forms an export of custody events takes.
public enum CustodyExportFormat: String, Sendable, CaseIterable {
    /// RFC 4180 CSV for people, each exhibit's reference beside its id.
    case csv
    /// A `CustodyBundle`: the events, the checkpoint that signs their head and the public key; checkable offline.
    case json
    /// One event per line, as stored and hashed.
    case jsonl
}

/// Writes an export of custody events, streamed: the events come from an asynchronous sequence and leave as
/// pieces of text, so an export of any size holds one event at a time.
public struct CustodyExport: Sendable {
    public var format: CustodyExportFormat
    /// The checkpoint signed at the export's head (the events are those up to it).
    public var checkpoint: Checkpoint
    /// The public key (PEM) that signed it.
    public var publicKeyPEM: String
    /// The filter the events were selected with (`case`, `exhibit`, `since`, `until`), as given.
    public var filter: [String: String]
    /// Whether the events are the whole ledger up to the checkpoint.
    public var complete: Bool
    /// Exhibit references by id, for the CSV.
    public var exhibitReferences: [String: String]

    public init(
        format: CustodyExportFormat, checkpoint: Checkpoint, publicKeyPEM: String, filter: [String: String] = [:],
        complete: Bool, exhibitReferences: [String: String] = [:]
    ) {
        self.format = format
        self.checkpoint = checkpoint
        self.publicKeyPEM = publicKeyPEM
        self.filter = filter
        self.complete = complete
        self.exhibitReferences = exhibitReferences
    }

    /// Writes `events` in the export's format through `write`; returns how many were written.
    public func write<Events: AsyncSequence>(
        _ events: Events, to write: (String) throws -> Void
    ) async throws -> Int where Events.Element == CustodyEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        var count = 0
        switch format {
        case .csv:
            try write(CustodyCSV.line(CustodyCSV.header))
            for try await event in events {
                count += 1
                try write(CustodyCSV.row(event, exhibitReference: event.exhibit.flatMap { exhibitReferences[$0] }))
            }
        case .jsonl:
            for try await event in events {
                count += 1
                try write(try json(event) + "\n")
            }
        case .json:
            // The bundle's keys in the order `CustodyBundle` decodes them; its events one at a time.
            try write("{\"format\":\"\(CustodyBundle.formatName)\",\"version\":1,\"exported_at\":\"\(checkpoint.at)\",\"complete\":\(complete),")
            try write("\"filter\":" + (try json(filter)) + ",")
            try write("\"canonical_form\":" + (try json(CustodyBundle.canonicalDescription)) + ",")
            try write("\"events\":[\n")
            for try await event in events {
                try write((count == 0 ? "" : ",\n") + (try json(event)))
                count += 1
            }
            try write("\n],\"checkpoint\":" + (try json(checkpoint)) + ",")
            try write("\"public_key\":" + (try json(publicKeyPEM)) + "}\n")
        }
        return count
    }
}
