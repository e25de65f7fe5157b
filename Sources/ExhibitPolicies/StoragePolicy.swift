public import ExhibitModel
public import BlobStore
import CheckedInput
public import MediaProbe

/// `Policies/storage.yaml`: how uploads are cut into chunks and how large they may be.
public struct StoragePolicy: Sendable, Equatable {
    public var chunking: ChunkingParameters
    /// The largest upload accepted, in bytes.
    public var maxUploadSize: Int64
    /// How long a resumable upload may sit without a request before it expires and its bytes are reclaimed.
    public var uploadExpiry: Duration = .seconds(86400)
    /// Bounds on probing and scanning footage.
    public var probe: ProbeLimits
    /// Working copies: made automatically or not, how many at once, how they are encoded.
    public var workingCopies: WorkingCopyPolicy
    /// How many resumable uploads may be open at once, per user and in all.
    public var openUploads = OpenUploadLimits(perUser: 50, total: 2000)
    /// How long the server waits for slow clients, and how many connections it holds at once.
    public var connections: ConnectionPolicy = .default
    /// The server's scheduled scrub (`scrub:`, optional).
    public var scrub: ScrubPolicy = .default

    public struct ConnectionPolicy: Sendable, Equatable {
        /// A request's headers must be complete within this long of the connection opening or of the previous
        /// response ending (also the limit for an idle keep-alive connection).
        public var headerTimeout: Duration
        /// While the server waits for a request body's next bytes, none arriving for this long cuts it off.
        public var bodyStallTimeout: Duration
        /// A request body must average at least this many bytes per second over the time the server waited for
        /// it (once it has waited `rateGrace`); the server's own pauses do not count.
        public var minBodyRate: Int64
        public var rateGrace: Duration { bodyStallTimeout }
        /// Connections held at once; more wait in the kernel's listen queue.
        public var maxConnections: Int

        public static let `default` = ConnectionPolicy(
            headerTimeout: .seconds(30), bodyStallTimeout: .seconds(60), minBodyRate: 1024, maxConnections: 1024)

        public init(headerTimeout: Duration, bodyStallTimeout: Duration, minBodyRate: Int64, maxConnections: Int) {
            self.headerTimeout = headerTimeout
            self.bodyStallTimeout = bodyStallTimeout
            self.minBodyRate = minBodyRate
            self.maxConnections = maxConnections
        }
    }

    public struct WorkingCopyPolicy: Sendable, Equatable {
        public var automatic: Bool
        public var jobs: Int
        public var encoder: EncoderSettings

        public static let `default` = WorkingCopyPolicy(automatic: true, jobs: 1, encoder: .default)
    }

    public static let `default` = StoragePolicy(chunking: .default, maxUploadSize: 1 << 40, probe: .default, workingCopies: .default)

    public init(chunking: ChunkingParameters, maxUploadSize: Int64, probe: ProbeLimits, workingCopies: WorkingCopyPolicy = .default) {
        self.chunking = chunking
        self.maxUploadSize = maxUploadSize
        self.probe = probe
        self.workingCopies = workingCopies
    }

    static func load(_ path: String) throws(PolicyError) -> StoragePolicy {
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        let chunking = try chunkingSection(&top, document)
        let (maxUpload, expiry, openUploads) = try uploadsSection(&top, document)
        let probe = try mediaSection(&top, document)
        let workingCopies = try workingCopiesSection(&top, document)
        let connections = try connectionsSection(&top, document)
        let scrub = top.keyNode("scrub") == nil ? ScrubPolicy.default : try scrubSection(&top, document)
        try top.rejectUnknownKeys()
        var policy = StoragePolicy(chunking: chunking, maxUploadSize: maxUpload, probe: probe, workingCopies: workingCopies)
        policy.uploadExpiry = expiry
        policy.openUploads = openUploads
        policy.connections = connections
        policy.scrub = scrub
        return policy
    }

    /// `chunking:` — the content-defined chunk sizes.
    private static func chunkingSection(_ top: inout PolicyMapping, _ document: PolicyDocument) throws(PolicyError) -> ChunkingParameters {
        var chunkingMap = try top.mapping("chunking")
        let minSize = try chunkingMap.size("min_size")
        let avgSize = try chunkingMap.size("avg_size")
        let maxSize = try chunkingMap.size("max_size")
        let smallest = Int64(ChunkingParameters.smallestAllowed)
        let largest = Int64(ChunkingParameters.largestAllowed)
        try chunkingMap.check(minSize >= smallest, "min_size", "\(ByteSize.format(minSize)) is below the smallest allowed chunk size (4KiB)")
        try chunkingMap.check(maxSize <= largest, "max_size", "\(ByteSize.format(maxSize)) is above the largest allowed chunk size (16MiB)")
        try chunkingMap.check(avgSize.nonzeroBitCount == 1, "avg_size", "\(ByteSize.format(avgSize)) is not a power of two")
        try chunkingMap.check(minSize < avgSize, "min_size", "must be smaller than avg_size")
        try chunkingMap.check(avgSize < maxSize, "max_size", "must be larger than avg_size")
        try chunkingMap.rejectUnknownKeys()
        let chunking: ChunkingParameters
        do {
            chunking = try ChunkingParameters(minSize: Int(minSize), averageSize: Int(avgSize), maxSize: Int(maxSize))
        } catch {
            throw document.error(chunkingMap.node, error.message)
        }
        return chunking
    }

    /// `uploads:` — the largest upload, how long an idle resumable upload lives, how many may be open.
    private static func uploadsSection(
        _ top: inout PolicyMapping, _ document: PolicyDocument
    ) throws(PolicyError) -> (maxSize: Int64, expiry: Duration, open: OpenUploadLimits) {
        var uploads = try top.mapping("uploads")
        let maxUpload = try uploads.size("max_size")
        guard maxUpload > 0 else { throw document.error(uploads.node, "uploads.max_size must be above 0") }
        let expiry = try uploads.duration("expire_after")
        guard expiry >= .seconds(60) && expiry <= .seconds(90 * 86400) else {
            throw document.error(uploads.valueNode("expire_after"), "uploads.expire_after must be between 1m and 90d")
        }
        var openUploads = OpenUploadLimits(perUser: 50, total: 2000)
        if uploads.valueNode("max_open_per_user") != nil { openUploads.perUser = try uploads.integer("max_open_per_user") }
        if uploads.valueNode("max_open") != nil { openUploads.total = try uploads.integer("max_open") }
        guard (1...100_000).contains(openUploads.perUser) else {
            throw document.error(uploads.valueNode("max_open_per_user"), "uploads.max_open_per_user must be between 1 and 100000")
        }
        guard (openUploads.perUser...1_000_000).contains(openUploads.total) else {
            throw document.error(uploads.valueNode("max_open"), "uploads.max_open must be between max_open_per_user and 1000000")
        }
        try uploads.rejectUnknownKeys()
        return (maxUpload, expiry, openUploads)
    }

    /// `media:` — the probe's and the integrity scan's limits.
    private static func mediaSection(_ top: inout PolicyMapping, _ document: PolicyDocument) throws(PolicyError) -> ProbeLimits {
        var media = try top.mapping("media")
        let probeSize = try media.size("probe_size")
        let analyze = try media.duration("analyze_duration")
        let probeTime = try media.duration("probe_time_limit")
        let scanTime = try media.duration("scan_time_limit")
        let gapFrames = try media.integer("gap_frames")
        func positive(_ ok: Bool, _ key: String, _ message: String) throws(PolicyError) {
            if !ok { throw document.error(media.valueNode(key), "media.\(key): \(message)") }
        }
        try positive(probeSize >= 32 << 10 && probeSize <= 1 << 30, "probe_size", "must be between 32KiB and 1GiB")
        try positive(analyze > .zero, "analyze_duration", "must be above 0")
        try positive(probeTime > .zero, "probe_time_limit", "must be above 0")
        try positive(scanTime > .zero, "scan_time_limit", "must be above 0")
        try positive(gapFrames >= 2 && gapFrames <= 100_000, "gap_frames", "must be between 2 and 100000")
        try media.rejectUnknownKeys()
        return ProbeLimits(
            probeSize: probeSize, analyzeDuration: analyze, probeTimeLimit: probeTime, scanTimeLimit: scanTime, gapFrames: gapFrames)
    }

    /// `working_copies:` — whether copies are made on ingest, how many at once, and the encoder's settings.
    private static func workingCopiesSection(_ top: inout PolicyMapping, _ document: PolicyDocument) throws(PolicyError) -> WorkingCopyPolicy {
        var copies = try top.mapping("working_copies")
        let automatic = try copies.bool("automatic")
        let jobs = try copies.integer("jobs")
        let preset = try copies.string("preset")
        let crf = try copies.integer("crf")
        let audioBitRate = try copies.integer("audio_bit_rate")
        let timeLimit = try copies.duration("time_limit")
        try copies.check((1...16).contains(jobs), "jobs", "must be between 1 and 16")
        let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
        try copies.check(presets.contains(preset), "preset", "'\(preset)' is not a libx264 preset (\(presets.joined(separator: ", ")))")
        try copies.check((0...51).contains(crf), "crf", "must be between 0 and 51")
        try copies.check((32_000...512_000).contains(audioBitRate), "audio_bit_rate", "must be between 32000 and 512000")
        try copies.check(timeLimit > .zero, "time_limit", "must be above 0")
        try copies.rejectUnknownKeys()
        return WorkingCopyPolicy(
            automatic: automatic, jobs: jobs,
            encoder: EncoderSettings(preset: preset, crf: crf, audioBitRate: audioBitRate, timeLimit: timeLimit))
    }

    /// `scrub:` — the server re-reads every chunk once per `every`, at most `max_rate`, pausing while uploads run.
    private static func scrubSection(_ top: inout PolicyMapping, _ document: PolicyDocument) throws(PolicyError) -> ScrubPolicy {
        var map = try top.mapping("scrub")
        let every = try map.duration("every")
        let rate = try map.size("max_rate")
        let repairFrom = try map.string("repair_from")
        try map.check(every >= .seconds(1) && every <= .seconds(366 * 86400), "every", "must be between 1s and 366d")
        try map.check(rate >= 1 << 20 && rate <= 1 << 40, "max_rate", "must be between 1MiB and 1TiB (per second)")
        try map.check(
            repairFrom.isEmpty || repairFrom.hasPrefix("/") || repairFrom.hasPrefix("s3://"), "repair_from",
            "must be an absolute path to a backup folder, an s3://bucket/prefix of backups, or empty")
        try map.rejectUnknownKeys()
        return ScrubPolicy(every: every, maxRate: rate, repairFrom: repairFrom.isEmpty ? nil : repairFrom)
    }

    /// `connections:` — the slow-client guard's limits.
    private static func connectionsSection(_ top: inout PolicyMapping, _ document: PolicyDocument) throws(PolicyError) -> ConnectionPolicy {
        var connectionsMap = try top.mapping("connections")
        let headerTimeout = try connectionsMap.duration("header_timeout")
        let stallTimeout = try connectionsMap.duration("body_stall_timeout")
        let minRate = try connectionsMap.size("min_body_rate")
        let maxConnections = try connectionsMap.integer("max_connections")
        try connectionsMap.check(headerTimeout >= .seconds(1) && headerTimeout <= .seconds(3600), "header_timeout", "must be between 1s and 1h")
        try connectionsMap.check(stallTimeout >= .seconds(1) && stallTimeout <= .seconds(3600), "body_stall_timeout", "must be between 1s and 1h")
        try connectionsMap.check(minRate >= 0 && minRate <= 1 << 30, "min_body_rate", "must be between 0 (no minimum) and 1GiB")
        try connectionsMap.check((16...1_000_000).contains(maxConnections), "max_connections", "must be between 16 and 1000000")
        try connectionsMap.rejectUnknownKeys()
        return ConnectionPolicy(
            headerTimeout: headerTimeout, bodyStallTimeout: stallTimeout, minBodyRate: minRate, maxConnections: maxConnections)
    }
}

/// The scheduled scrub (README, "Backups"): every chunk re-read and re-hashed once per `every`, at most `maxRate`
/// bytes per second, paused while uploads run; damage repaired from `repairFrom` (a backup folder or bucket) when set.
public struct ScrubPolicy: Sendable, Equatable {
    public var every: Duration
    public var maxRate: Int64
    public var repairFrom: String?

    public static let `default` = ScrubPolicy(every: .seconds(30 * 86400), maxRate: 50 << 20, repairFrom: nil)

    public init(every: Duration, maxRate: Int64, repairFrom: String?) {
        self.every = every
        self.maxRate = maxRate
        self.repairFrom = repairFrom
    }
}
