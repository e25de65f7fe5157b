public import ExhibitCrypto
import Foundation

/// A self-contained export of custody events: everything needed to check them offline.
public struct CustodyBundle: Codable, Sendable {
    public static let formatName = "exhibit-custody-bundle"

    public var format: String = formatName
    public var version: Int = 1
    public var exportedAt: String
    /// `true` when the bundle holds every event from seq 1 to the checkpoint.
    public var complete: Bool
    /// The filter the events were selected with (case, exhibit, since, until), as given.
    public var filter: [String: String]
    public var events: [CustodyEvent]
    public var checkpoint: Checkpoint
    /// The custody public key (PEM) that signed the checkpoint.
    public var publicKey: String
    /// How the hashes and the signature are made (the README's "Auditing" section, in short).
    public var canonicalForm: String = CustodyBundle.canonicalDescription

    enum CodingKeys: String, CodingKey {
        case format, version
        case exportedAt = "exported_at"
        case complete, filter, events, checkpoint
        case publicKey = "public_key"
        case canonicalForm = "canonical_form"
    }

    public init(exportedAt: String, complete: Bool, filter: [String: String], events: [CustodyEvent],
                checkpoint: Checkpoint, publicKey: String) {
        self.exportedAt = exportedAt
        self.complete = complete
        self.filter = filter
        self.events = events
        self.checkpoint = checkpoint
        self.publicKey = publicKey
    }

    public static let canonicalDescription = "hash = sha256(prev_hash_hex + json.dumps({action,actor,at,case,client,details,exhibit,role,seq}, sort_keys=True, separators=(',',':'), ensure_ascii=True)); checkpoint signature = Ed25519 over 'exhibit-checkpoint-v1\\n<seq>\\n<hash>\\n<at>\\n'"

    /// What checking a bundle found.
    public struct Verification: Sendable {
        public var problems: [LedgerVerifier.Problem] = []
        public var eventsChecked = 0
        public var proves: [String] = []
        public var cannotProve: [String] = []
        public var isIntact: Bool { problems.isEmpty }
        public var firstBroken: LedgerVerifier.Problem? { problems.min { $0.seq < $1.seq } }
    }

    /// Checks the bundle with its own public key, or with `trustedKey` when given (which it must match).
    public func verify(trustedKey: Ed25519PublicKey? = nil) -> Verification {
        var result = Verification()
        let key: Ed25519PublicKey
        do {
            key = try Ed25519PublicKey(pem: publicKey)
        } catch {
            result.problems.append(.init(seq: checkpoint.seq, what: "the bundle's public key cannot be read: \(error)"))
            return result
        }
        if let trustedKey, trustedKey != key {
            result.problems.append(.init(seq: checkpoint.seq, what: "the bundle was signed with key \(key.keyID), not with the trusted key \(trustedKey.keyID)"))
        }
        if !checkpoint.isValid(for: key) {
            result.problems.append(.init(seq: checkpoint.seq, what: "the checkpoint signature does not verify with key \(key.keyID)"))
        }
        if complete {
            var verifier = LedgerVerifier(checkpointSeqs: [checkpoint.seq], sealsAfter: .max)
            for event in events { verifier.feed(event, seal: nil) }
            let report = verifier.finish(latest: checkpoint, publicKey: key, sealKey: nil)
            result.problems += report.problems.filter { !$0.what.contains("does not verify") && !$0.what.contains("not by this store") }
            if report.headSeq < checkpoint.seq && report.problems.isEmpty {
                result.problems.append(.init(seq: report.headSeq + 1, what: "missing: the bundle ends before the checkpoint"))
            } else if report.headSeq > checkpoint.seq {
                result.problems.append(.init(seq: checkpoint.seq + 1, what: "events after the checkpoint are not covered by its signature"))
            }
            result.eventsChecked = Int(report.eventsChecked)
            result.proves = [
                "every event from seq 1 to \(checkpoint.seq) is present, in order, and unchanged since it was written",
                "the ledger's head at seq \(checkpoint.seq) was signed by custody key \(key.keyID) at \(checkpoint.at)",
            ]
            result.cannotProve = ["anything about events written after \(checkpoint.at)"]
        } else {
            var previous: CustodyEvent?
            for event in events {
                result.eventsChecked += 1
                if event.expectedHash != event.hash {
                    result.problems.append(.init(seq: event.seq, what: "the event does not match its hash: a field was changed"))
                }
                if event.seq > checkpoint.seq {
                    result.problems.append(.init(seq: event.seq, what: "after the checkpoint (seq \(checkpoint.seq)): not covered by its signature"))
                }
                if event.seq == checkpoint.seq && event.hash != checkpoint.hash {
                    result.problems.append(.init(seq: event.seq, what: "the hash differs from the one signed in the checkpoint"))
                }
                if let previous {
                    if event.seq <= previous.seq {
                        result.problems.append(.init(seq: event.seq, what: "out of order or repeated"))
                    } else if event.seq == previous.seq + 1 && event.prevHash != previous.hash {
                        result.problems.append(.init(seq: event.seq, what: "prev_hash does not match the event before it"))
                    }
                }
                previous = event
            }
            result.proves = [
                "each of the \(events.count) events matches its own hash, so none was altered after being hashed",
                "events with consecutive seqs are linked to each other",
                "the ledger's head at seq \(checkpoint.seq) (hash \(checkpoint.hash.prefix(12))…) was signed by custody key \(key.keyID) at \(checkpoint.at)",
            ]
            result.cannotProve = [
                "that these events are part of that signed chain (their links to the head pass through events left out of a filtered export): check them against a full export or with `exhibit custody verify` on the store",
                "that no other event concerns the same case or exhibit",
            ]
        }
        return result
    }
}

/// RFC 4180 CSV of custody events: a header row, CRLF line ends; `details` is its canonical JSON.
///
/// Safe to open in a spreadsheet whatever the events hold (a user agent, a file name, a note): every field that
/// holds a separator of any common locale (`,` `;` tab), a quote or a line break is quoted (quotes doubled), and a
/// field that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab or CR, OWASP's
/// CSV-injection list) gets a leading `'` and quotes. The CSV is for reading; the signed JSON export is the record.
public enum CustodyCSV {
    public static let header = [
        "seq", "at", "actor", "role", "action", "exhibit", "exhibit_reference", "case", "details", "client", "prev_hash", "hash",
    ]

    public static func field(_ text: String) -> String {
        // Scalars, not characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
        let formula = text.unicodeScalars.first.map { "=+-@\t\r".unicodeScalars.contains($0) } ?? false
        let value = formula ? "'" + text : text
        let needsQuotes = formula || value.unicodeScalars.contains(where: { ",;\t\"\r\n".unicodeScalars.contains($0) })
        return needsQuotes ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }

    public static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    /// `exhibitReference` is the exhibit's reference (`JS/1`) beside its id, for people reading the CSV.
    public static func row(_ event: CustodyEvent, exhibitReference: String? = nil) -> String {
        line([
            String(event.seq), event.at, event.actor, event.role ?? "", event.action, event.exhibit ?? "", exhibitReference ?? "",
            event.caseReference ?? "", event.detailsJSON, event.client ?? "", event.prevHash, event.hash,
        ])
    }
}
