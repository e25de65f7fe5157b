import ExhibitModel
import Foundation

/// `Policies/sharing.yaml`.
public struct SharingPolicy: Sendable, Equatable {
    public var defaultLifetime: Duration
    public var maxLifetime: Duration
    public var defaultMaxDownloads: Int
    public var maxDownloadsLimit: Int
    /// The address people reach the server at, which every link starts with (nil: the server's own listening
    /// address). `exhibit serve --public-url` overrides it; the server records the one it uses for the CLI.
    public var publicURL: String?
    /// A playback view with no request for this long is closed and what it served recorded (`share.served`).
    public var viewIdle: Duration
    /// Bytes a link may serve through playback in all, as a multiple of the size of the footage it shares: enough
    /// to watch it through several times with seeking, never an unlimited copy (downloads are counted apart).
    public var playbackBudget: Int

    public static let `default` = SharingPolicy(
        defaultLifetime: .seconds(72 * 3600), maxLifetime: .seconds(30 * 86400), defaultMaxDownloads: 3, maxDownloadsLimit: 100,
        publicURL: nil, viewIdle: .seconds(300), playbackBudget: 5)

    /// `http(s)://host[:port][/prefix]` without a trailing slash, or nil when it is not one.
    public static func checkedURL(_ text: String) -> String? {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard trimmed.hasPrefix("http://") || trimmed.hasPrefix("https://"), trimmed.utf8.count <= 200,
              let url = URL(string: trimmed), let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil,
              url.user == nil, trimmed.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F })
        else { return nil }
        return trimmed
    }

    static func load(_ path: String) throws(PolicyError) -> SharingPolicy {
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        let defaultLifetime = try top.duration("default_lifetime")
        let maxLifetime = try top.duration("max_lifetime")
        let defaultDownloads = try top.integer("default_max_downloads")
        let limit = try top.integer("max_downloads_limit")
        // `base_url` is the earlier name of `public_url`.
        let urlKey = top.valueNode("public_url") != nil ? "public_url" : "base_url"
        let base: String? = top.valueNode(urlKey) != nil ? try top.string(urlKey) : nil
        _ = top.take("public_url")
        _ = top.take("base_url")
        let viewIdle = try top.duration("view_idle")
        let budget = top.valueNode("playback_budget") != nil ? try top.integer("playback_budget") : 5
        try top.check(maxLifetime > .zero && maxLifetime <= .seconds(10 * 365 * 86400), "max_lifetime", "must be above 0 and at most 10 years")
        try top.check(defaultLifetime > .zero && defaultLifetime <= maxLifetime, "default_lifetime", "must be above 0 and at most max_lifetime")
        try top.check(limit >= 1 && limit <= 1_000_000, "max_downloads_limit", "must be between 1 and 1000000")
        try top.check(defaultDownloads >= 1 && defaultDownloads <= limit, "default_max_downloads", "must be between 1 and max_downloads_limit")
        if let base {
            try top.check(checkedURL(base) != nil, urlKey, "must be http(s)://host[:port][/path], with no query")
        }
        try top.check((1...1000).contains(budget), "playback_budget", "must be between 1 and 1000 (times the footage's size)")
        try top.check(viewIdle >= .seconds(1) && viewIdle <= .seconds(86400), "view_idle", "must be between 1s and 24h")
        try top.rejectUnknownKeys()
        return SharingPolicy(
            defaultLifetime: defaultLifetime, maxLifetime: maxLifetime, defaultMaxDownloads: defaultDownloads,
            maxDownloadsLimit: limit, publicURL: base.flatMap(checkedURL), viewIdle: viewIdle, playbackBudget: budget)
    }
}
