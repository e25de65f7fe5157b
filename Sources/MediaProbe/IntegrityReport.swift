import Foundation

/// Whether footage is all there: the result of demuxing every packet.
public struct IntegrityReport: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        /// Every packet could be read; timestamps run without gaps to the end the container announces.
        case complete
        /// The footage stops before its end: the file was cut (the end is missing, or the index that makes
        /// it readable at all).
        case truncated
        /// Parts in the middle are unreadable or missing: timestamp gaps, corrupt packets, read errors.
        case damaged
        /// No demuxer recognises the bytes as audio or video.
        case notMedia = "not-media"
    }

    public struct StreamScan: Codable, Sendable, Equatable {
        public var index: Int
        public var codecType: String
        public var packets: Int
        public var keyFrames: Int
        public var corruptPackets: Int
        /// First and last timestamp seen (seconds, container time) and where the last packet ends.
        public var firstTime: Double?
        public var lastTime: Double?
        public var endTime: Double?
        public var gaps: [Gap]

        enum CodingKeys: String, CodingKey {
            case index
            case codecType = "codec_type"
            case packets
            case keyFrames = "key_frames"
            case corruptPackets = "corrupt_packets"
            case firstTime = "first_time"
            case lastTime = "last_time"
            case endTime = "end_time"
            case gaps
        }
    }

    public struct Gap: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// A recording gap: timestamps jump, the packets around the jump intact.
            case jump
            /// Timestamps run backwards (a recorder's clock set back).
            case backwards
            /// Footage lost to damage: the jump follows a corrupt packet or a read error.
            case missing
        }
        public var kind: Kind
        /// Where the footage breaks, in seconds from its start, and how much time is skipped (negative when
        /// timestamps jump backwards).
        public var at: Double
        public var length: Double
        /// The byte offset of the first packet after the gap, when known.
        public var bytePosition: Int64?

        enum CodingKeys: String, CodingKey {
            case kind, at, length
            case bytePosition = "byte_position"
        }
    }

    public struct ReadError: Codable, Sendable, Equatable {
        public var bytePosition: Int64
        /// The time of the last good packet before the error, in seconds from the start.
        public var after: Double?
        public var message: String

        enum CodingKeys: String, CodingKey {
            case bytePosition = "byte_position"
            case after, message
        }
    }

    /// The judgement: `complete`, or a verdict with the problems that make it so. A complete report holds no
    /// problem by construction: anything found that is not damage (a recording gap) is a note.
    public private(set) var judgement: Judgement
    /// One sentence for the investigator.
    public var summary: String
    /// Findings that are not problems: recording gaps (timestamps jump, the data around them intact).
    public var notes: [String]
    /// The recording gaps found, in all.
    public var recordingGaps: RecordingGaps?
    /// The duration the container announces (its longest announced length, in seconds), and how much of it the
    /// packets cover.
    public var expectedDuration: Double?
    public var readableDuration: Double?
    public var missingDuration: Double?
    public var streams: [StreamScan]
    public var readErrors: [ReadError]
    public var readErrorCount: Int
    public var bytesRead: Int64
    public var size: Int64
    /// What FFmpeg itself reported while reading (first messages only).
    public var demuxerMessages: [String]
    /// What decoding every frame found, when a working copy was made (decoders catch damage demuxing misses).
    public var decode: DecodeCheck?

    public struct DecodeCheck: Codable, Sendable, Equatable {
        public var errors: Int
        public var corruptFrames: Int
        public var framesDecoded: Int
        public var checkedAt: String

        public init(errors: Int, corruptFrames: Int, framesDecoded: Int, checkedAt: String) {
            self.errors = errors
            self.corruptFrames = corruptFrames
            self.framesDecoded = framesDecoded
            self.checkedAt = checkedAt
        }

        enum CodingKeys: String, CodingKey {
            case errors
            case corruptFrames = "corrupt_frames"
            case framesDecoded = "frames_decoded"
            case checkedAt = "checked_at"
        }
    }

    enum CodingKeys: String, CodingKey {
        case verdict, summary, problems, notes
        case recordingGaps = "recording_gaps"
        case expectedDuration = "expected_duration"
        case readableDuration = "readable_duration"
        case missingDuration = "missing_duration"
        case streams
        case readErrors = "read_errors"
        case readErrorCount = "read_error_count"
        case bytesRead = "bytes_read"
        case size
        case demuxerMessages = "demuxer_messages"
        case decode
    }

    /// A verdict other than `complete`, with at least one problem (the first is required).
    public struct Problems: Sendable, Equatable {
        public enum Verdict: String, Sendable {
            case truncated, damaged
            case notMedia = "not-media"
        }
        public var verdict: Verdict
        public var first: String
        public var more: [String]

        public init(_ verdict: Verdict, _ first: String, _ more: [String] = []) {
            self.verdict = verdict
            self.first = first
            self.more = more
        }

        public var all: [String] { [first] + more }
    }

    public enum Judgement: Sendable, Equatable {
        case complete
        case problems(Problems)
    }

    public var verdict: Verdict {
        switch judgement {
        case .complete: .complete
        case .problems(let problems):
            switch problems.verdict {
            case .truncated: .truncated
            case .damaged: .damaged
            case .notMedia: .notMedia
            }
        }
    }

    public var problems: [String] {
        switch judgement {
        case .complete: []
        case .problems(let problems): problems.all
        }
    }

    /// Adds a problem: a complete report becomes `verdict`; a truncated one becomes damaged when damage is added
    /// (damage in the middle is the graver finding; both stay listed).
    public mutating func add(_ problem: String, as verdict: Problems.Verdict) {
        switch judgement {
        case .complete:
            judgement = .problems(Problems(verdict, problem))
        case .problems(var problems):
            problems.more.append(problem)
            if verdict == .damaged && problems.verdict == .truncated { problems.verdict = .damaged }
            judgement = .problems(problems)
        }
    }

    /// Adds damage found after the scan (decoding every frame for a working copy): the verdict becomes `damaged`,
    /// the graver finding, and the summary leads with it, keeping what it said of a truncation.
    public mutating func addLaterDamage(_ problem: String) {
        switch verdict {
        case .complete: summary = "damaged: " + problem
        case .truncated: summary = "damaged: \(problem); and \(summary)"
        case .damaged, .notMedia: break
        }
        add(problem, as: .damaged)
    }

    /// The stretches without footage inside the recorded span, (start, length) in seconds from the start: the
    /// video's recording gaps and footage lost to damage (the first audio stream's when there is no video).
    public var footageGaps: [(at: Double, length: Double)] {
        let stream = streams.first { $0.codecType == "video" } ?? streams.first { $0.codecType == "audio" }
        return (stream?.gaps ?? []).filter { $0.kind != .backwards }.map { ($0.at, $0.length) }
    }

    public struct RecordingGaps: Codable, Sendable, Equatable {
        public var count: Int
        /// Seconds without footage in all, and the longest gap with where it starts (seconds from the start).
        public var total: Double
        public var longest: Double
        public var longestAt: Double

        enum CodingKeys: String, CodingKey {
            case count, total, longest
            case longestAt = "longest_at"
        }

        public var sentence: String {
            "\(count) recording gap\(count == 1 ? "" : "s"), \(describe(seconds: total)) in all, longest \(describe(seconds: longest)) at \(clock(longestAt))"
        }
    }

    public init(
        judgement: Judgement, summary: String, notes: [String] = [], recordingGaps: RecordingGaps? = nil,
        expectedDuration: Double?, readableDuration: Double?, missingDuration: Double?, streams: [StreamScan],
        readErrors: [ReadError], readErrorCount: Int, bytesRead: Int64, size: Int64, demuxerMessages: [String],
        decode: DecodeCheck?
    ) {
        self.judgement = judgement
        self.summary = summary
        self.notes = notes
        self.recordingGaps = recordingGaps
        self.expectedDuration = expectedDuration
        self.readableDuration = readableDuration
        self.missingDuration = missingDuration
        self.streams = streams
        self.readErrors = readErrors
        self.readErrorCount = readErrorCount
        self.bytesRead = bytesRead
        self.size = size
        self.demuxerMessages = demuxerMessages
        self.decode = decode
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let verdict = try c.decode(Verdict.self, forKey: .verdict)
        summary = try c.decode(String.self, forKey: .summary)
        let problems = try c.decodeIfPresent([String].self, forKey: .problems) ?? []
        notes = try c.decodeIfPresent([String].self, forKey: .notes) ?? []
        switch verdict {
        case .complete:
            judgement = .complete
            // Reports stored before a complete one could not carry problems keep what they said, as notes.
            notes = problems + notes
        case .truncated, .damaged, .notMedia:
            let kind: Problems.Verdict = verdict == .truncated ? .truncated : verdict == .damaged ? .damaged : .notMedia
            judgement = .problems(Problems(kind, problems.first ?? summary, Array(problems.dropFirst())))
        }
        recordingGaps = try c.decodeIfPresent(RecordingGaps.self, forKey: .recordingGaps)
        expectedDuration = try c.decodeIfPresent(Double.self, forKey: .expectedDuration)
        readableDuration = try c.decodeIfPresent(Double.self, forKey: .readableDuration)
        missingDuration = try c.decodeIfPresent(Double.self, forKey: .missingDuration)
        streams = try c.decodeIfPresent([StreamScan].self, forKey: .streams) ?? []
        readErrors = try c.decodeIfPresent([ReadError].self, forKey: .readErrors) ?? []
        readErrorCount = try c.decodeIfPresent(Int.self, forKey: .readErrorCount) ?? 0
        bytesRead = try c.decodeIfPresent(Int64.self, forKey: .bytesRead) ?? 0
        size = try c.decodeIfPresent(Int64.self, forKey: .size) ?? 0
        demuxerMessages = try c.decodeIfPresent([String].self, forKey: .demuxerMessages) ?? []
        decode = try c.decodeIfPresent(DecodeCheck.self, forKey: .decode)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(summary, forKey: .summary)
        try c.encode(problems, forKey: .problems)
        try c.encode(notes, forKey: .notes)
        try c.encodeIfPresent(recordingGaps, forKey: .recordingGaps)
        try c.encodeIfPresent(expectedDuration, forKey: .expectedDuration)
        try c.encodeIfPresent(readableDuration, forKey: .readableDuration)
        try c.encodeIfPresent(missingDuration, forKey: .missingDuration)
        try c.encode(streams, forKey: .streams)
        try c.encode(readErrors, forKey: .readErrors)
        try c.encode(readErrorCount, forKey: .readErrorCount)
        try c.encode(bytesRead, forKey: .bytesRead)
        try c.encode(size, forKey: .size)
        try c.encode(demuxerMessages, forKey: .demuxerMessages)
        try c.encodeIfPresent(decode, forKey: .decode)
    }

    static func notMedia(_ summary: String, size: Int64, messages: [String]) -> IntegrityReport {
        unopened(.notMedia, summary, size: size, messages: messages)
    }

    /// A file no demuxer could open: one problem, which is also its summary.
    static func unopened(_ verdict: Problems.Verdict, _ summary: String, size: Int64, messages: [String]) -> IntegrityReport {
        IntegrityReport(
            judgement: .problems(Problems(verdict, summary)), summary: summary, expectedDuration: nil, readableDuration: nil,
            missingDuration: nil, streams: [], readErrors: [], readErrorCount: 0, bytesRead: 0, size: size,
            demuxerMessages: messages, decode: nil)
    }
}

/// Human durations: `12.4 s`, `17 min 29 s`, `2 h 03 min`.
func describe(seconds: Double) -> String {
    let value = abs(seconds)
    if value < 60 { return String(format: "%.1f s", value) }
    let total = Int(value.rounded())
    if total < 3600 { return "\(total / 60) min \(String(format: "%02d", total % 60)) s" }
    return "\(total / 3600) h \(String(format: "%02d", (total % 3600) / 60)) min"
}
