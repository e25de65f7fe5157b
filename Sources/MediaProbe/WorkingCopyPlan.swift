/// What a browser needs done to an exhibit before it can play it.
///
/// Browsers (Chromium as shipped by Debian) play H.264 (8-bit 4:2:0), VP8, VP9 and AV1 video with AAC, MP3,
/// Opus or Vorbis audio, in MP4 or WebM. Everything else needs a **working copy**: streams that browsers can
/// decode are copied into MP4 unchanged (`remux`); the others are decoded and encoded as H.264 `yuv420p` and
/// AAC (`transcode`). Audio-only and non-media exhibits get no video copy.
public struct WorkingCopyPlan: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        /// The master plays as it is: serve it.
        case playable
        /// Browser codecs in a container browsers refuse: copy the streams into MP4.
        case remux
        /// At least one stream must be decoded and encoded.
        case transcode
        /// Nothing to make (no video, or not media).
        case none
    }

    public enum StreamAction: String, Codable, Sendable {
        case copy
        case encode
        case drop
    }

    public struct Stream: Codable, Sendable, Equatable {
        public let index: Int
        public let codecType: String
        public let codecName: String
        public let action: StreamAction

        enum CodingKeys: String, CodingKey {
            case index
            case codecType = "codec_type"
            case codecName = "codec_name"
            case action
        }
    }

    public let operation: Operation
    public let reason: String
    public let streams: [Stream]

    static let browserVideo: Set<String> = ["h264", "vp8", "vp9", "av1"]
    static let browserAudio: Set<String> = ["aac", "mp3", "opus", "vorbis"]
    /// What an MP4 can carry for a browser without re-encoding.
    static let mp4Video: Set<String> = ["h264", "vp9", "av1"]
    static let mp4Audio: Set<String> = ["aac", "mp3", "opus"]
    static let webmCodecs: Set<String> = ["vp8", "vp9", "av1", "opus", "vorbis"]
    /// Containers with no timestamps of their own: copying their packets would need invented timestamps.
    static let elementaryStreams: Set<String> = ["h264", "hevc", "mpegvideo", "m4v", "mjpeg", "rawvideo"]

    /// Decides from the probe of the master.
    public static func plan(_ media: MediaInfo?, verdict: IntegrityReport.Verdict) -> WorkingCopyPlan {
        guard verdict != .notMedia else {
            return WorkingCopyPlan(operation: .none, reason: "not media: no copy to make", streams: [])
        }
        guard let media else {
            // A known container that cannot be opened at all (an MP4 whose index was never written).
            return WorkingCopyPlan(
                operation: .none,
                reason: "the file is \(verdict.rawValue) and nothing in it can be played; ask the footage owner for a fresh export",
                streams: [])
        }
        guard let video = media.videoStreams.first else {
            return WorkingCopyPlan(operation: .none, reason: "no video stream: no video copy to make", streams: [])
        }
        if video.framesRead == 0 {
            return WorkingCopyPlan(
                operation: .none,
                reason: "the file holds its header but no frame of footage; ask the footage owner for a fresh export",
                streams: [])
        }
        let format = media.format.formatName
        let audio = media.audioStreams.first
        func videoPlays(_ stream: MediaInfo.Stream) -> Bool {
            guard browserVideo.contains(stream.codecName) else { return false }
            // 10-bit, 4:2:2 and 4:4:4 H.264 do not decode in browsers.
            return ["yuv420p", "yuvj420p"].contains(stream.pixFmt ?? "")
        }
        let videoOK = videoPlays(video)
        let audioOK = audio.map { browserAudio.contains($0.codecName) } ?? true
        let kept = [video] + (audio.map { [$0] } ?? [])
        let names = Set(kept.map(\.codecName))

        let isMP4 = format == "mov,mp4,m4a,3gp,3g2,mj2" && media.format.tags["major_brand"]?.hasPrefix("qt") != true
        let isMatroska = format == "matroska,webm"
        // Only a file holding just these streams is served as it is (attachments or subtitles get a clean copy).
        if videoOK && audioOK && media.streams.count == kept.count {
            if isMP4 && names.isSubset(of: mp4Video.union(mp4Audio)) {
                return WorkingCopyPlan(operation: .playable, reason: "\(describe(kept)) in MP4 plays in browsers", streams: [])
            }
            if isMatroska && names.isSubset(of: webmCodecs) {
                return WorkingCopyPlan(operation: .playable, reason: "\(describe(kept)) in WebM plays in browsers", streams: [])
            }
        }
        var streams: [Stream] = []
        for stream in media.streams {
            let action: StreamAction
            if stream.index == video.index {
                action = videoOK && mp4Video.contains(stream.codecName) && !elementaryStreams.contains(format) ? .copy : .encode
            } else if stream.index == audio?.index {
                action = mp4Audio.contains(stream.codecName) && !elementaryStreams.contains(format) ? .copy : .encode
            } else {
                action = .drop
            }
            streams.append(Stream(index: stream.index, codecType: stream.codecType, codecName: stream.codecName, action: action))
        }
        let encoded = streams.filter { $0.action == .encode }
        let container = isMP4 ? "MP4" : (media.format.formatLongName ?? format)
        if encoded.isEmpty {
            return WorkingCopyPlan(
                operation: .remux,
                reason: "\(describe(kept)) play in browsers but \(container) does not: copied into MP4 unchanged",
                streams: streams)
        }
        let why = encoded.map { "\($0.codecName) \($0.codecType)" }.joined(separator: " and ")
        return WorkingCopyPlan(
            operation: .transcode,
            reason: "\(why) does not play in browsers: encoded as \(encoded.contains { $0.codecType == "video" } ? "H.264" : "")\(encoded.count == 2 ? " and " : "")\(encoded.contains { $0.codecType == "audio" } ? "AAC" : "") in MP4",
            streams: streams)
    }

    static func describe(_ streams: [MediaInfo.Stream]) -> String {
        streams.map { $0.codecName.uppercased() }.joined(separator: " + ")
    }
}
