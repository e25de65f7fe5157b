public import ExhibitModel
public import Foundation

/// `Policies/requests.yaml`: footage requests (README, "Footage requests"). A folder without the file gets the
/// defaults below (a store set up before requests existed keeps starting).
public struct RequestsPolicy: Sendable, Equatable {
    /// Who is asking, as the owner's page names it.
    public var forceName: String
    /// The zone the owner's page shows times in, and in which the recorder's clock is read.
    public var timeZone: TimeZone
    public var defaultLifetime: Duration
    public var maxLifetime: Duration
    public var defaultLimits: RequestLimits
    public var maxLimits: RequestLimits
    public var uploadsPerMinutePerLink: Int
    public var uploadsPerMinutePerAddress: Int

    public static let `default` = RequestsPolicy(
        forceName: "the police", timeZone: TimeZone(identifier: "UTC") ?? .current, defaultLifetime: .seconds(7 * 86400),
        maxLifetime: .seconds(30 * 86400),
        defaultLimits: RequestLimits(files: 16, fileSize: 60 << 30, totalSize: 200 << 30, submissions: 1),
        maxLimits: RequestLimits(files: 100, fileSize: 200 << 30, totalSize: 1 << 40, submissions: 10),
        uploadsPerMinutePerLink: 30, uploadsPerMinutePerAddress: 60)

    static func load(_ path: String) throws(PolicyError) -> RequestsPolicy {
        guard FileManager.default.fileExists(atPath: path) else { return .default }
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        let force = try top.string("force_name")
        let zoneName = try top.string("time_zone")
        let defaultLifetime = try top.duration("default_lifetime")
        let maxLifetime = try top.duration("max_lifetime")
        let defaults = RequestLimits(
            files: try top.integer("default_max_files"), fileSize: try top.size("default_max_file_size"),
            totalSize: try top.size("default_max_total_size"), submissions: try top.integer("default_max_submissions"))
        let maxima = RequestLimits(
            files: try top.integer("max_files_limit"), fileSize: try top.size("max_file_size_limit"),
            totalSize: try top.size("max_total_size_limit"), submissions: try top.integer("max_submissions_limit"))
        let perLink = try top.integer("uploads_per_minute_per_link")
        let perAddress = try top.integer("uploads_per_minute_per_address")
        try top.check(!force.isEmpty && force.count <= 100 && !force.unicodeScalars.contains { $0.properties.generalCategory == .control },
                  "force_name", "must be 1 to 100 characters without control characters")
        let zone = TimeZone(identifier: zoneName)
        try top.check(zone != nil, "time_zone", "'\(zoneName.prefix(60))' is not a time zone (e.g. Europe/London, UTC)")
        try top.check(maxLifetime >= .seconds(60) && maxLifetime <= .seconds(365 * 86400), "max_lifetime", "must be between 1m and 365d")
        try top.check(defaultLifetime >= .seconds(60) && defaultLifetime <= maxLifetime, "default_lifetime", "must be at least 1m and at most max_lifetime")
        try top.check((1...10_000).contains(maxima.files), "max_files_limit", "must be between 1 and 10000")
        try top.check((1...maxima.files).contains(defaults.files), "default_max_files", "must be between 1 and max_files_limit")
        try top.check(maxima.fileSize >= 1, "max_file_size_limit", "must be above 0")
        try top.check((1...maxima.fileSize).contains(defaults.fileSize), "default_max_file_size", "must be above 0 and at most max_file_size_limit")
        try top.check(maxima.totalSize >= 1, "max_total_size_limit", "must be above 0")
        try top.check((1...maxima.totalSize).contains(defaults.totalSize), "default_max_total_size", "must be above 0 and at most max_total_size_limit")
        try top.check((1...1000).contains(maxima.submissions), "max_submissions_limit", "must be between 1 and 1000")
        try top.check((1...maxima.submissions).contains(defaults.submissions), "default_max_submissions", "must be between 1 and max_submissions_limit")
        try top.check((1...100_000).contains(perLink), "uploads_per_minute_per_link", "must be between 1 and 100000")
        try top.check((1...100_000).contains(perAddress), "uploads_per_minute_per_address", "must be between 1 and 100000")
        try top.rejectUnknownKeys()
        return RequestsPolicy(
            forceName: force, timeZone: zone ?? .current, defaultLifetime: defaultLifetime, maxLifetime: maxLifetime,
            defaultLimits: defaults, maxLimits: maxima, uploadsPerMinutePerLink: perLink, uploadsPerMinutePerAddress: perAddress)
    }
}
