import Foundation

/// `Policies/sharing.yaml`.
public struct SharingPolicy: Sendable, Equatable {
    public var defaultLifetime: Duration
    public var maxLifetime: Duration
    public var defaultMaxDownloads: Int
    public var maxDownloadsLimit: Int
    public var baseURL: String
    /// A playback view with no request for this long is closed and what it served recorded (`share.served`).
    public var viewIdle: Duration

    public static let `default` = SharingPolicy(
        defaultLifetime: .seconds(72 * 3600), maxLifetime: .seconds(30 * 86400), defaultMaxDownloads: 3, maxDownloadsLimit: 100,
        baseURL: "http://127.0.0.1:8080", viewIdle: .seconds(300))

    static func load(_ path: String) throws(PolicyError) -> SharingPolicy {
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        let defaultLifetime = try top.duration("default_lifetime")
        let maxLifetime = try top.duration("max_lifetime")
        let defaultDownloads = try top.integer("default_max_downloads")
        let limit = try top.integer("max_downloads_limit")
        let base = try top.string("base_url")
        let viewIdle = try top.duration("view_idle")
        func check(_ ok: Bool, _ key: String, _ message: String) throws(PolicyError) {
            if !ok { throw document.error(top.valueNode(key), "\(key): \(message)") }
        }
        try check(maxLifetime > .zero && maxLifetime <= .seconds(10 * 365 * 86400), "max_lifetime", "must be above 0 and at most 10 years")
        try check(defaultLifetime > .zero && defaultLifetime <= maxLifetime, "default_lifetime", "must be above 0 and at most max_lifetime")
        try check(limit >= 1 && limit <= 1_000_000, "max_downloads_limit", "must be between 1 and 1000000")
        try check(defaultDownloads >= 1 && defaultDownloads <= limit, "default_max_downloads", "must be between 1 and max_downloads_limit")
        try check(base.hasPrefix("http://") || base.hasPrefix("https://"), "base_url", "must start with http:// or https://")
        try check(viewIdle >= .seconds(1) && viewIdle <= .seconds(86400), "view_idle", "must be between 1s and 24h")
        try top.rejectUnknownKeys()
        return SharingPolicy(
            defaultLifetime: defaultLifetime, maxLifetime: maxLifetime, defaultMaxDownloads: defaultDownloads,
            maxDownloadsLimit: limit, baseURL: base.hasSuffix("/") ? String(base.dropLast()) : base,
            viewIdle: viewIdle)
    }
}
