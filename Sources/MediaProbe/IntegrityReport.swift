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
            case jump
            case backwards
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

    public var verdict: Verdict
    /// One sentence for the investigator.
    public var summary: String
    /// Every finding, one line each.
    public var problems: [String]
    /// The duration the container announces, and how much of it the packets cover (seconds).
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
        case verdict, summary, problems
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

    static func notMedia(_ summary: String, size: Int64, messages: [String]) -> IntegrityReport {
        IntegrityReport(
            verdict: .notMedia, summary: summary, problems: [summary], expectedDuration: nil, readableDuration: nil,
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
