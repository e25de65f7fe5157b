internal import CFFmpeg
import Foundation

/// What libavformat says a file is: its container and streams, with ffprobe's field names so the two can be
/// held side by side (`ffprobe -show_format -show_streams -of json`). Numbers are JSON numbers; rationals
/// (`avg_frame_rate`, `time_base`, aspect ratios) are ffprobe's `num/den` or `num:den` strings.
public struct MediaInfo: Codable, Sendable, Equatable {
    public var format: Format
    public var streams: [Stream]
    /// When the recording started according to the file's own `creation_time` tag (RFC 3339, UTC).
    public var recordedStart: String?
    /// `recordedStart` plus the duration the integrity scan could read.
    public var recordedEnd: String?

    enum CodingKeys: String, CodingKey {
        case format, streams
        case recordedStart = "recorded_start"
        case recordedEnd = "recorded_end"
    }

    public struct Format: Codable, Sendable, Equatable {
        public var formatName: String
        public var formatLongName: String?
        public var nbStreams: Int
        public var startTime: Double?
        public var duration: Double?
        public var size: Int64?
        public var bitRate: Int64?
        public var probeScore: Int?
        public var tags: [String: String]

        enum CodingKeys: String, CodingKey {
            case formatName = "format_name"
            case formatLongName = "format_long_name"
            case nbStreams = "nb_streams"
            case startTime = "start_time"
            case duration, size
            case bitRate = "bit_rate"
            case probeScore = "probe_score"
            case tags
        }
    }

    public struct Stream: Codable, Sendable, Equatable {
        public var index: Int
        public var codecType: String
        public var codecName: String
        public var codecLongName: String?
        public var profile: String?
        public var codecTagString: String?
        public var width: Int?
        public var height: Int?
        public var pixFmt: String?
        public var sampleAspectRatio: String?
        public var displayAspectRatio: String?
        public var fieldOrder: String?
        public var sampleFmt: String?
        public var sampleRate: Int?
        public var channels: Int?
        public var channelLayout: String?
        public var rFrameRate: String
        public var avgFrameRate: String
        public var timeBase: String
        public var startTime: Double?
        public var duration: Double?
        public var bitRate: Int64?
        public var nbFrames: Int64?
        public var tags: [String: String]
        /// Not ffprobe's: the frames (packets) the integrity scan read, and the mean frame rate they really have
        /// (frames over the time they span). Variable-rate and motion-triggered CCTV differs from its nominal rate.
        public var framesRead: Int?
        public var measuredFrameRate: Double?

        enum CodingKeys: String, CodingKey {
            case framesRead = "frames_read"
            case measuredFrameRate = "measured_frame_rate"
            case index
            case codecType = "codec_type"
            case codecName = "codec_name"
            case codecLongName = "codec_long_name"
            case profile
            case codecTagString = "codec_tag_string"
            case width, height
            case pixFmt = "pix_fmt"
            case sampleAspectRatio = "sample_aspect_ratio"
            case displayAspectRatio = "display_aspect_ratio"
            case fieldOrder = "field_order"
            case sampleFmt = "sample_fmt"
            case sampleRate = "sample_rate"
            case channels
            case channelLayout = "channel_layout"
            case rFrameRate = "r_frame_rate"
            case avgFrameRate = "avg_frame_rate"
            case timeBase = "time_base"
            case startTime = "start_time"
            case duration
            case bitRate = "bit_rate"
            case nbFrames = "nb_frames"
            case tags
        }

        public var isVideo: Bool { codecType == "video" }
        public var isAudio: Bool { codecType == "audio" }

        /// Frames per second from `avg_frame_rate`, else `r_frame_rate`.
        public var framesPerSecond: Double? {
            for rate in [avgFrameRate, rFrameRate] {
                let parts = rate.split(separator: "/").compactMap { Double($0) }
                if parts.count == 2, parts[1] != 0, parts[0] > 0 { return parts[0] / parts[1] }
            }
            return nil
        }
    }

    public var videoStreams: [Stream] { streams.filter(\.isVideo) }

    /// Adds what the integrity scan measured to each audio and video stream.
    mutating func measure(_ integrity: IntegrityReport) {
        for scan in integrity.streams {
            guard let i = streams.firstIndex(where: { $0.index == scan.index }), streams[i].isVideo || streams[i].isAudio else { continue }
            streams[i].framesRead = scan.packets - scan.corruptPackets
            if streams[i].isVideo, let first = scan.firstTime, let last = scan.lastTime, last > first, scan.packets > 1 {
                streams[i].measuredFrameRate = (Double(scan.packets - 1) / (last - first) * 1000).rounded() / 1000
            }
        }
    }
    public var audioStreams: [Stream] { streams.filter(\.isAudio) }
}

extension MediaInfo {
    /// Reads the container and stream properties the way ffprobe's `show_format`/`show_streams` do.
    init(context: UnsafeMutablePointer<AVFormatContext>, size: Int64) {
        let ctx = context.pointee
        let noValue = exhibit_av_nopts_value()
        let format = Format(
            formatName: ctx.iformat.map { String(cString: $0.pointee.name) } ?? "unknown",
            formatLongName: ctx.iformat.flatMap { $0.pointee.long_name.map { String(cString: $0) } },
            nbStreams: Int(ctx.nb_streams),
            startTime: ctx.start_time == noValue ? nil : Double(ctx.start_time) / Double(AV_TIME_BASE),
            duration: ctx.duration == noValue || ctx.duration < 0 ? nil : Double(ctx.duration) / Double(AV_TIME_BASE),
            size: size,
            bitRate: ctx.bit_rate > 0 ? ctx.bit_rate : nil,
            probeScore: Int(ctx.probe_score),
            tags: Self.tags(ctx.metadata))
        var streams: [Stream] = []
        for i in 0..<Int(ctx.nb_streams) {
            guard let stream = ctx.streams[i] else { continue }
            streams.append(Self.stream(stream, in: context))
        }
        self.init(format: format, streams: streams, recordedStart: nil, recordedEnd: nil)
    }

    static func stream(_ pointer: UnsafeMutablePointer<AVStream>, in context: UnsafeMutablePointer<AVFormatContext>) -> Stream {
        let stream = pointer.pointee
        let par = stream.codecpar.pointee
        let descriptor = avcodec_descriptor_get(par.codec_id)
        let noValue = exhibit_av_nopts_value()
        let timeBase = stream.time_base
        func seconds(_ value: Int64) -> Double? {
            value == noValue || timeBase.den == 0 ? nil : Double(value) * Double(timeBase.num) / Double(timeBase.den)
        }
        var result = Stream(
            index: Int(stream.index),
            codecType: av_get_media_type_string(par.codec_type).map { String(cString: $0) } ?? "unknown",
            codecName: descriptor.map { String(cString: $0.pointee.name) } ?? "unknown",
            codecLongName: descriptor.flatMap { $0.pointee.long_name.map { String(cString: $0) } },
            profile: nil,
            codecTagString: tagString(par.codec_tag),
            rFrameRate: rational(stream.r_frame_rate),
            avgFrameRate: rational(stream.avg_frame_rate),
            timeBase: rational(timeBase),
            startTime: seconds(stream.start_time),
            duration: seconds(stream.duration),
            bitRate: par.bit_rate > 0 ? par.bit_rate : nil,
            nbFrames: stream.nb_frames > 0 ? stream.nb_frames : nil,
            tags: tags(stream.metadata))
        if let name = avcodec_profile_name(par.codec_id, par.profile) {
            result.profile = String(cString: name)
        } else if par.profile != FF_PROFILE_UNKNOWN {
            result.profile = String(par.profile)
        }
        switch par.codec_type {
        case AVMEDIA_TYPE_VIDEO:
            result.width = Int(par.width)
            result.height = Int(par.height)
            result.pixFmt = av_get_pix_fmt_name(AVPixelFormat(par.format)).map { String(cString: $0) }
            let sar = av_guess_sample_aspect_ratio(context, pointer, nil)
            if sar.num != 0 {
                result.sampleAspectRatio = "\(sar.num):\(sar.den)"
                var dar = AVRational()
                av_reduce(&dar.num, &dar.den, Int64(par.width) * Int64(sar.num), Int64(par.height) * Int64(sar.den), 1024 * 1024)
                result.displayAspectRatio = "\(dar.num):\(dar.den)"
            }
            result.fieldOrder = fieldOrder(par.field_order)
        case AVMEDIA_TYPE_AUDIO:
            result.sampleFmt = av_get_sample_fmt_name(AVSampleFormat(par.format)).map { String(cString: $0) }
            result.sampleRate = par.sample_rate > 0 ? Int(par.sample_rate) : nil
            var layout = par.ch_layout
            result.channels = layout.nb_channels > 0 ? Int(layout.nb_channels) : nil
            if layout.order != AV_CHANNEL_ORDER_UNSPEC {
                var buffer = [CChar](repeating: 0, count: 128)
                if av_channel_layout_describe(&layout, &buffer, buffer.count) > 0 {
                    result.channelLayout = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
        default:
            break
        }
        return result
    }

    static func rational(_ q: AVRational) -> String { "\(q.num)/\(q.den)" }

    static func tagString(_ tag: UInt32) -> String? {
        guard tag != 0 else { return nil }
        var text = ""
        for shift in stride(from: 0, to: 32, by: 8) {
            let byte = UInt8(truncatingIfNeeded: tag >> UInt32(shift))
            if (0x20..<0x7f).contains(byte) { text.append(Character(UnicodeScalar(byte))) } else { text += "[\(byte)]" }
        }
        return text
    }

    static func fieldOrder(_ order: AVFieldOrder) -> String? {
        switch order {
        case AV_FIELD_PROGRESSIVE: "progressive"
        case AV_FIELD_TT: "tt"
        case AV_FIELD_BB: "bb"
        case AV_FIELD_TB: "tb"
        case AV_FIELD_BT: "bt"
        default: nil
        }
    }

    static func tags(_ dictionary: OpaquePointer?) -> [String: String] {
        var tags: [String: String] = [:]
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let next = av_dict_get(dictionary, "", entry, AV_DICT_IGNORE_SUFFIX) {
            let key = String(cString: next.pointee.key)
            let value = String(cString: next.pointee.value)
            tags[key] = value
            entry = next
        }
        return tags
    }
}
