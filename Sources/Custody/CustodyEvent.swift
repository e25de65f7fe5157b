public import ExhibitCrypto
import CheckedInput
public import Foundation

/// One line of the chain-of-custody ledger: who did what to which exhibit, when, from where.
///
/// `hash = SHA-256(prev_hash ‖ canonical)` where `prev_hash` is the previous event's hash as 64 lowercase hex
/// digits (64 zeros before the first event) and `canonical` is the canonical JSON (see `JSONValue`) of
/// `{"action","actor","at","case","client","details","exhibit","role","seq"}`, absent values as `null`;
/// both as ASCII bytes, and the hash written as 64 lowercase hex digits (README, "Auditing").
public struct CustodyEvent: Sendable, Equatable, Codable {
    public let seq: Int64
    /// RFC 3339 UTC with milliseconds, exactly as stored and hashed.
    public let at: String
    public let actor: String
    public let role: String?
    public let action: String
    public let exhibit: String?
    public let caseReference: String?
    /// The details as canonical JSON text: exactly the bytes that are hashed (and stored).
    public let detailsJSON: String
    public let client: String?
    public let prevHash: String
    public let hash: String

    /// The details as a value.
    public var details: JSONValue { JSONValue.parse(detailsJSON) ?? .string(detailsJSON) }

    enum CodingKeys: String, CodingKey {
        case seq, at, actor, role, action, exhibit
        case caseReference = "case"
        case details, client
        case prevHash = "prev_hash"
        case hash
    }

    public static let genesisHash = String(repeating: "0", count: 64)

    /// The canonical bytes hashed for this event (everything but the hashes).
    public var canonical: String {
        Self.canonical(seq: seq, at: at, actor: actor, role: role, action: action, exhibit: exhibit,
                       caseReference: caseReference, detailsJSON: detailsJSON, client: client)
    }

    /// The canonical object written key by key, in sorted order (action, actor, at, case, client, details,
    /// exhibit, role, seq), with the already-canonical details text inserted as it is.
    static func canonical(
        seq: Int64, at: String, actor: String, role: String?, action: String, exhibit: String?,
        caseReference: String?, detailsJSON: String, client: String?
    ) -> String {
        var out = ""
        out.reserveCapacity(160 + detailsJSON.utf8.count)
        func field(_ name: String, _ value: String?) {
            out += name
            if let value { JSONValue.writeString(value, to: &out) } else { out += "null" }
        }
        field("{\"action\":", action)
        field(",\"actor\":", actor)
        field(",\"at\":", at)
        field(",\"case\":", caseReference)
        field(",\"client\":", client)
        out += ",\"details\":"
        out += detailsJSON
        field(",\"exhibit\":", exhibit)
        field(",\"role\":", role)
        out += ",\"seq\":"
        out += String(seq)
        out += "}"
        return out
    }

    /// Its leaf hash in the ledger's Merkle tree: SHA-256(0x00 ‖ canonical bytes).
    public var leafHash: Merkle.Hash { Merkle.leafHash(canonical) }

    /// The hash this event must have after `prevHash`.
    public var expectedHash: String { Self.hash(prev: prevHash, canonical: canonical) }

    static func hash(prev: String, canonical: String) -> String {
        var hasher = SHA256()
        hasher.update(prev)
        hasher.update(canonical)
        return hasher.finalize().hex
    }

    /// Chains a new event after `head` (the latest event, or `nil` for the first).
    public static func chained(_ draft: Draft, after head: (seq: Int64, hash: String)?, at: String) -> CustodyEvent {
        chainedWithLeaf(draft, after: head, at: at).event
    }

    /// The same, with the event's Merkle leaf hash: its canonical bytes are built once for both hashes.
    public static func chainedWithLeaf(
        _ draft: Draft, after head: (seq: Int64, hash: String)?, at: String
    ) -> (event: CustodyEvent, leafHash: Merkle.Hash) {
        let seq = (head?.seq ?? 0) + 1
        let prev = head?.hash ?? genesisHash
        let details = draft.details.canonical
        let text = canonical(seq: seq, at: at, actor: draft.actor, role: draft.role, action: draft.action,
                             exhibit: draft.exhibit, caseReference: draft.caseReference, detailsJSON: details,
                             client: draft.client)
        let event = CustodyEvent(
            seq: seq, at: at, actor: draft.actor, role: draft.role, action: draft.action, exhibit: draft.exhibit,
            caseReference: draft.caseReference, detailsJSON: details, client: draft.client, prevHash: prev,
            hash: hash(prev: prev, canonical: text))
        return (event, Merkle.leafHash(text))
    }

    /// An event as stored: `detailsJSON` is taken as it is (hashing then covers the stored bytes exactly).
    public init(seq: Int64, at: String, actor: String, role: String?, action: String, exhibit: String?,
                caseReference: String?, detailsJSON: String, client: String?, prevHash: String, hash: String) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.role = role
        self.action = action
        self.exhibit = exhibit
        self.caseReference = caseReference
        self.detailsJSON = detailsJSON
        self.client = client
        self.prevHash = prevHash
        self.hash = hash
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            seq: try container.decode(Int64.self, forKey: .seq), at: try container.decode(String.self, forKey: .at),
            actor: try container.decode(String.self, forKey: .actor),
            role: try container.decodeIfPresent(String.self, forKey: .role),
            action: try container.decode(String.self, forKey: .action),
            exhibit: try container.decodeIfPresent(String.self, forKey: .exhibit),
            caseReference: try container.decodeIfPresent(String.self, forKey: .caseReference),
            detailsJSON: (try container.decodeIfPresent(JSONValue.self, forKey: .details) ?? .null).canonical,
            client: try container.decodeIfPresent(String.self, forKey: .client),
            prevHash: try container.decode(String.self, forKey: .prevHash),
            hash: try container.decode(String.self, forKey: .hash))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(at, forKey: .at)
        try container.encode(actor, forKey: .actor)
        try container.encodeIfPresent(role, forKey: .role)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(exhibit, forKey: .exhibit)
        try container.encodeIfPresent(caseReference, forKey: .caseReference)
        try container.encode(details, forKey: .details)
        try container.encodeIfPresent(client, forKey: .client)
        try container.encode(prevHash, forKey: .prevHash)
        try container.encode(hash, forKey: .hash)
    }

    /// An event before it is chained: what the application knows when something happens.
    public struct Draft: Sendable, Equatable {
        public var actor: String
        public var role: String?
        public var action: String
        public var exhibit: String?
        public var caseReference: String?
        public var details: JSONValue
        public var client: String?

        public init(actor: String, role: String?, action: String, exhibit: String? = nil, caseReference: String? = nil,
                    details: JSONValue = [:], client: String?) {
            self.actor = actor
            self.role = role
            self.action = action
            self.exhibit = exhibit
            self.caseReference = caseReference
            self.details = details
            self.client = client
        }
    }
}

/// Custody times: RFC 3339 in UTC with exactly three fractional digits, e.g. `2026-11-26T09:15:02.123Z`.
public enum CustodyTime {
    /// A time in the store's form; total: a `Date` outside 1970–9999 (or not finite) is written as the nearest end
    /// of that range, so no computed time (a deadline decades on, an expiry) can trap or write a malformed year.
    public static func string(_ date: Date) -> String {
        string(milliseconds: UTCTime.milliseconds(of: date))
    }

    /// Milliseconds since 1970 of a time in the exact form `string` writes (`YYYY-MM-DDTHH:MM:SS.mmmZ`), by
    /// integer arithmetic (days from civil); nil for any other form or an impossible date.
    public static func milliseconds(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes -> Int64? in
            guard bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
                  bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "."),
                  bytes[23] == UInt8(ascii: "Z")
            else { return nil }
            func number(_ from: Int, _ count: Int) -> Int64? {
                var value: Int64 = 0
                for i in from..<(from + count) {
                    let digit = bytes[i] &- UInt8(ascii: "0")
                    guard digit < 10 else { return nil }
                    value = value * 10 + Int64(digit)
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
                  let minute = number(14, 2), let second = number(17, 2), let millis = number(20, 3),
                  (1...12).contains(month), day >= 1, hour < 24, minute < 60, second < 60
            else { return nil }
            guard day <= UTCTime.daysIn(month: month, of: year) else { return nil }
            let days = UTCTime.days(year: year, month: month, day: day)
            return ((days * 86400 + hour * 3600 + minute * 60 + second) * 1000) + millis
        }
    }

    /// The same, from milliseconds since 1970 (civil date by Howard Hinnant's days-from-civil inverse:
    /// plain integer arithmetic, no calendar or formatter on the append path).
    public static func string(milliseconds: Int64) -> String {
        let milliseconds = min(max(milliseconds, UTCTime.earliest), UTCTime.latest)
        let (seconds, millis) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let totalSeconds = millis < 0 ? seconds - 1 : seconds
        let fraction = millis < 0 ? millis + 1000 : millis
        var (days, secondOfDay) = totalSeconds.quotientAndRemainder(dividingBy: 86400)
        if secondOfDay < 0 {
            secondOfDay += 86400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var out = [UInt8]()
        out.reserveCapacity(24)
        func digits(_ value: Int64, _ width: Int) {
            var buffer = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var v = value
            for i in stride(from: width - 1, through: 0, by: -1) {
                buffer[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            out.append(contentsOf: buffer)
        }
        digits(year, 4); out.append(UInt8(ascii: "-"))
        digits(month, 2); out.append(UInt8(ascii: "-"))
        digits(day, 2); out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2); out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 3600 / 60, 2); out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2); out.append(UInt8(ascii: "."))
        digits(fraction, 3); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses the exact form written by `string` (fast), else any form `UTCTime` reads, within 1970–9999.
    public static func parse(_ text: String) -> Date? {
        if let milliseconds = milliseconds(text), UTCTime.range.contains(milliseconds) {
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        return UTCTime.parseIfValid(text)
    }
}
