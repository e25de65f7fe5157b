public import Foundation

/// `Policies/custody.yaml`: the custody ledger as a transparency log (README, "Auditing"). A folder without the
/// file gets the defaults: the origin derived from the custody key, no witnesses.
public struct CustodyPolicy: Sendable, Equatable {
    /// The log's origin (C2SP tlog-checkpoint): the first line of its checkpoints and the key name of its
    /// signature; nil to derive it from the custody key (`exhibit.local/custody/<key id>`).
    public var origin: String?
    /// The witnesses checkpoints are sent to: each a C2SP cosignature verifier key (type 4) and the URL prefix of
    /// its `add-checkpoint` endpoint.
    public var witnesses: [Witness]
    /// How many of them must have cosigned the checkpoint a court bundle carries.
    public var quorum: Int

    public struct Witness: Sendable, Equatable {
        public var vkey: String
        public var url: URL

        public init(vkey: String, url: URL) {
            self.vkey = vkey
            self.url = url
        }
    }

    public static let `default` = CustodyPolicy(origin: nil, witnesses: [], quorum: 0)

    public init(origin: String?, witnesses: [Witness], quorum: Int) {
        self.origin = origin
        self.witnesses = witnesses
        self.quorum = quorum
    }

    static func load(_ path: String) throws(PolicyError) -> CustodyPolicy {
        guard FileManager.default.fileExists(atPath: path) else { return .default }
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        let origin = try top.string("origin")
        let witnessLines = try top.stringList("witnesses")
        let quorum = try top.integer("quorum")
        try top.check(origin.isEmpty || Self.isValidOrigin(origin), "origin",
                  "'\(origin.prefix(80))' is not a log origin: 1 to 255 ASCII characters, no spaces, no '+' (e.g. custody.police.example/v1)")
        var witnesses: [Witness] = []
        for line in witnessLines {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            let url = parts.count == 2 ? URL(string: String(parts[1])) : nil
            try top.check(parts.count == 2 && url?.scheme.map { ["http", "https"].contains($0) } == true && url?.host != nil, "witnesses",
                      "'\(line.prefix(80))' is not \"<witness vkey> <https URL of its add-checkpoint prefix>\"")
            try top.check(parts[0].split(separator: "+", maxSplits: 2).count == 3, "witnesses", "'\(parts[0].prefix(80))' is not a verifier key")
            if let url { witnesses.append(Witness(vkey: String(parts[0]), url: url)) }
        }
        try top.check((0...witnesses.count).contains(quorum), "quorum", "must be between 0 and the number of witnesses (\(witnesses.count))")
        try top.rejectUnknownKeys()
        return CustodyPolicy(origin: origin.isEmpty ? nil : origin, witnesses: witnesses, quorum: quorum)
    }

    /// An origin as C2SP recommends and witnesses require: printable ASCII, no spaces, no '+', at most 255 bytes.
    public static func isValidOrigin(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 255 && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "+") }
    }
}
