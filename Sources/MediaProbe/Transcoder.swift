internal import CFFmpeg
import Foundation

/// How working copies are encoded (Policies/storage.yaml, `working_copies:`).
public struct EncoderSettings: Sendable, Equatable, Codable {
    /// libx264 preset and constant rate factor.
    public var preset: String
    public var crf: Int
    /// AAC bit rate, bits per second.
    public var audioBitRate: Int
    /// Wall-clock limit for one copy.
    public var timeLimit: Duration

    public static let `default` = EncoderSettings(preset: "veryfast", crf: 20, audioBitRate: 128_000, timeLimit: .seconds(6 * 3600))

    public init(preset: String, crf: Int, audioBitRate: Int, timeLimit: Duration) {
        self.preset = preset
        self.crf = crf
        self.audioBitRate = audioBitRate
        self.timeLimit = timeLimit
    }

    enum CodingKeys: String, CodingKey {
        case preset, crf
        case audioBitRate = "audio_bit_rate"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(preset: try c.decode(String.self, forKey: .preset), crf: try c.decode(Int.self, forKey: .crf),
                  audioBitRate: try c.decode(Int.self, forKey: .audioBitRate), timeLimit: .seconds(6 * 3600))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(preset, forKey: .preset)
        try c.encode(crf, forKey: .crf)
        try c.encode(audioBitRate, forKey: .audioBitRate)
    }
}

/// What making a copy did, stream by stream: part of the copy's lineage.
public struct TranscodeReport: Codable, Sendable, Equatable {
    public struct Stream: Codable, Sendable, Equatable {
        public var inputIndex: Int
        public var codecType: String
        public var action: WorkingCopyPlan.StreamAction
        public var from: String
        public var to: String
        public var parameters: [String: String]

        enum CodingKeys: String, CodingKey {
            case inputIndex = "input_index"
            case codecType = "codec_type"
            case action, from, to, parameters
        }
    }

    public var streams: [Stream]
    public var container = "mp4 (movflags +faststart)"
    /// Packets the master's decoders refused, and frames they flagged corrupt (a real bitstream can look fine
    /// to the demuxer and still fail to decode).
    public var decodeErrors = 0
    public var corruptFrames = 0
    public var framesDecoded = 0
    public var framesEncoded = 0
    public var packetsCopied = 0
    public var libraries: [String: String]

    enum CodingKeys: String, CodingKey {
        case streams, container
        case decodeErrors = "decode_errors"
        case corruptFrames = "corrupt_frames"
        case framesDecoded = "frames_decoded"
        case framesEncoded = "frames_encoded"
        case packetsCopied = "packets_copied"
        case libraries
    }
}

public struct TranscodeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// Decode errors counted before the failure (reported with the master's integrity).
    public var decodeErrors = 0
    public init(_ description: String, decodeErrors: Int = 0) {
        self.description = description
        self.decodeErrors = decodeErrors
    }
}

/// Makes a browser-playable MP4 from a master, following a `WorkingCopyPlan`.
///
/// Copied streams keep their packets bit for bit; encoded video becomes H.264 `yuv420p` at the master's size
/// (an odd width or height is padded by one black line, never cropped or scaled), its frame rate and its
/// timestamps; encoded audio becomes AAC at the master's sample rate and channel layout. Timestamps are
/// shifted so the copy starts at zero, as the ffmpeg command does. Nothing is burnt into the picture.
public enum Transcoder {
    public static func make(
        from source: any ByteSource, filename: String?, plan: WorkingCopyPlan, to outputPath: String,
        settings: EncoderSettings = .default, probeLimits: ProbeLimits = .default,
        isCancelled: @escaping @Sendable () -> Bool = { false }
    ) throws -> TranscodeReport {
        let collector = LogCollector()
        return try collector.collect {
            let job = try TranscodeJob(
                source: source, filename: filename, plan: plan, output: outputPath, settings: settings, limits: probeLimits)
            do {
                try job.run(isCancelled: isCancelled)
                return job.report
            } catch var error as TranscodeError {
                error.decodeErrors = job.report.decodeErrors
                unlink(outputPath)
                throw error
            } catch {
                unlink(outputPath)
                throw error
            }
        }
    }

    /// Library versions for the lineage (libavformat, libavcodec, libavutil, libswscale, libswresample).
    public static var libraryVersions: [String: String] {
        func text(_ version: UInt32) -> String { "\(version >> 16).\((version >> 8) & 0xff).\(version & 0xff)" }
        var versions = MediaProbe.libraryVersions
        versions["libswscale"] = text(swscale_version())
        versions["libswresample"] = text(swresample_version())
        return versions
    }
}

/// One copy being made: owns every FFmpeg object it creates and frees each once.
final class TranscodeJob {
    let input: FormatContext
    var output: UnsafeMutablePointer<AVFormatContext>?
    var streams: [StreamJob] = []
    var report: TranscodeReport
    let settings: EncoderSettings
    let deadline: ContinuousClock.Instant
    var headerWritten = false
    /// The master's start time, subtracted from every timestamp.
    let startOffset: Int64

    init(source: any ByteSource, filename: String?, plan: WorkingCopyPlan, output path: String,
         settings: EncoderSettings, limits: ProbeLimits) throws {
        _ = FFmpegLog.installed
        self.settings = settings
        self.deadline = .now + settings.timeLimit
        do {
            input = try FormatContext(
                source: source, filename: MediaProbe.sanitizedHint(filename), probeSize: limits.probeSize,
                analyzeDuration: limits.analyzeDuration, deadline: .now + limits.probeTimeLimit)
        } catch let error as FormatContext.OpenError {
            throw TranscodeError("the master cannot be opened: \(error.message)")
        }
        input.ioState.deadline = .now + settings.timeLimit
        let context = input.context!
        guard avformat_find_stream_info(context, nil) >= 0 else { throw TranscodeError("the master's streams cannot be read") }
        let start = context.pointee.start_time
        startOffset = start == exhibit_av_nopts_value() ? 0 : start
        report = TranscodeReport(streams: [], libraries: Transcoder.libraryVersions)

        var out: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_alloc_output_context2(&out, nil, "mp4", path) >= 0, let out else {
            throw TranscodeError("cannot set up the MP4 muxer")
        }
        output = out
        for planned in plan.streams where planned.action != .drop {
            guard let inStream = context.pointee.streams[planned.index] else { continue }
            guard let outStream = avformat_new_stream(out, nil) else { throw TranscodeError("cannot add an output stream") }
            let job = StreamJob(input: inStream, output: outStream, action: planned.action)
            streams.append(job)
            if planned.action == .copy {
                guard avcodec_parameters_copy(outStream.pointee.codecpar, inStream.pointee.codecpar) >= 0 else {
                    throw TranscodeError("cannot copy the parameters of stream \(planned.index)")
                }
                outStream.pointee.codecpar.pointee.codec_tag = 0
                outStream.pointee.time_base = inStream.pointee.time_base
                report.streams.append(.init(
                    inputIndex: planned.index, codecType: planned.codecType, action: .copy, from: planned.codecName,
                    to: planned.codecName, parameters: [:]))
            } else if planned.codecType == "video" {
                try job.openVideo(settings: settings, globalHeader: out.pointee.oformat.pointee.flags & exhibit_fmt_global_header() != 0)
                report.streams.append(.init(
                    inputIndex: planned.index, codecType: "video", action: .encode, from: planned.codecName, to: "h264",
                    parameters: job.parameters))
            } else {
                try job.openAudio(settings: settings, globalHeader: out.pointee.oformat.pointee.flags & exhibit_fmt_global_header() != 0)
                report.streams.append(.init(
                    inputIndex: planned.index, codecType: "audio", action: .encode, from: planned.codecName, to: "aac",
                    parameters: job.parameters))
            }
        }
        guard !streams.isEmpty else { throw TranscodeError("no stream to put in the copy") }
        guard avio_open(&out.pointee.pb, path, AVIO_FLAG_WRITE) >= 0 else { throw TranscodeError("cannot create the copy file") }
        var options: OpaquePointer?
        av_dict_set(&options, "movflags", "+faststart", 0)
        let written = avformat_write_header(out, &options)
        av_dict_free(&options)
        guard written >= 0 else { throw TranscodeError("cannot write the MP4 header: \(FormatContext.errorString(written))") }
        headerWritten = true
    }

    deinit {
        if let output {
            if output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
            avformat_free_context(output)
        }
    }

    func run(isCancelled: () -> Bool) throws {
        let context = input.context!
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let packet else { throw TranscodeError("out of memory") }
        let byInput = Dictionary(uniqueKeysWithValues: streams.map { (Int($0.input.pointee.index), $0) })
        while true {
            if isCancelled() { throw TranscodeError("cancelled") }
            if ContinuousClock.now > deadline { throw TranscodeError("the copy took longer than the time limit") }
            let result = av_read_frame(context, packet)
            if result == exhibit_averror_eof() { break }
            if result < 0 {
                if input.ioState.readError != nil { throw TranscodeError("the master could not be read: \(input.ioState.readError!)") }
                if input.ioState.timedOut { throw TranscodeError("the copy took longer than the time limit") }
                report.decodeErrors += 1
                if report.decodeErrors > 10_000 { throw TranscodeError("too many read errors in the master") }
                continue
            }
            defer { av_packet_unref(packet) }
            guard let job = byInput[Int(packet.pointee.stream_index)] else { continue }
            if job.action == .copy {
                try copy(packet, job)
            } else {
                try decode(packet, job)
            }
        }
        for job in streams where job.action == .encode {
            try decode(nil, job)
            try job.flushAudio(self)
            try encode(nil, job)
        }
        if let video = streams.first(where: { $0.isVideo && $0.action == .encode }), video.framesDecoded == 0 {
            throw TranscodeError("no frame of the master's video could be decoded (\(report.decodeErrors) decode errors)")
        }
        let trailer = av_write_trailer(output)
        guard trailer >= 0 else { throw TranscodeError("cannot finish the MP4: \(FormatContext.errorString(trailer))") }
        avio_closep(&output!.pointee.pb)
        report.framesDecoded = streams.reduce(0) { $0 + $1.framesDecoded }
        report.framesEncoded = streams.reduce(0) { $0 + $1.framesEncoded }
    }

    private func shifted(_ value: Int64, _ timeBase: AVRational) -> Int64 {
        guard value != exhibit_av_nopts_value() else { return value }
        return value - av_rescale_q(startOffset, exhibit_av_time_base_q(), timeBase)
    }

    func copy(_ packet: UnsafeMutablePointer<AVPacket>, _ job: StreamJob) throws {
        let inBase = job.input.pointee.time_base
        packet.pointee.pts = shifted(packet.pointee.pts, inBase)
        packet.pointee.dts = shifted(packet.pointee.dts, inBase)
        av_packet_rescale_ts(packet, inBase, job.output.pointee.time_base)
        packet.pointee.stream_index = job.output.pointee.index
        packet.pointee.pos = -1
        let written = av_interleaved_write_frame(output, packet)
        guard written >= 0 else { throw TranscodeError("cannot write a copied packet: \(FormatContext.errorString(written))") }
        report.packetsCopied += 1
    }

    func decode(_ packet: UnsafeMutablePointer<AVPacket>?, _ job: StreamJob) throws {
        guard let decoder = job.decoder else { return }
        let sent = avcodec_send_packet(decoder, packet)
        if sent < 0 && sent != exhibit_averror_eof() {
            report.decodeErrors += 1
            if sent != exhibit_averror_invaliddata() && sent != exhibit_averror_eagain() && packet == nil { return }
            return
        }
        var frame = av_frame_alloc()
        defer { av_frame_free(&frame) }
        guard let frame else { throw TranscodeError("out of memory") }
        while true {
            let received = avcodec_receive_frame(decoder, frame)
            if received == exhibit_averror_eagain() || received == exhibit_averror_eof() { return }
            if received < 0 {
                report.decodeErrors += 1
                return
            }
            defer { av_frame_unref(frame) }
            job.framesDecoded += 1
            if exhibit_frame_is_corrupt(frame) != 0 { report.corruptFrames += 1 }
            if job.isVideo {
                try job.convertVideo(frame, shift: av_rescale_q(startOffset, exhibit_av_time_base_q(), job.input.pointee.time_base), self)
            } else {
                try job.convertAudio(frame, startOffset: startOffset, self)
            }
        }
    }

    /// Sends one frame (or `nil` to flush) to the stream's encoder and writes what comes out.
    func encode(_ frame: UnsafeMutablePointer<AVFrame>?, _ job: StreamJob) throws {
        guard let encoder = job.encoder else { return }
        let sent = avcodec_send_frame(encoder, frame)
        guard sent >= 0 || sent == exhibit_averror_eof() else {
            throw TranscodeError("the \(job.isVideo ? "H.264" : "AAC") encoder failed: \(FormatContext.errorString(sent))")
        }
        if frame != nil { job.framesEncoded += 1 }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let packet else { throw TranscodeError("out of memory") }
        while true {
            let received = avcodec_receive_packet(encoder, packet)
            if received == exhibit_averror_eagain() || received == exhibit_averror_eof() { return }
            guard received >= 0 else { throw TranscodeError("the encoder failed: \(FormatContext.errorString(received))") }
            av_packet_rescale_ts(packet, encoder.pointee.time_base, job.output.pointee.time_base)
            packet.pointee.stream_index = job.output.pointee.index
            let written = av_interleaved_write_frame(output, packet)
            av_packet_unref(packet)
            guard written >= 0 else { throw TranscodeError("cannot write an encoded packet: \(FormatContext.errorString(written))") }
        }
    }
}

/// One output stream: a copy, or a decoder → converter → encoder chain.
final class StreamJob {
    let input: UnsafeMutablePointer<AVStream>
    let output: UnsafeMutablePointer<AVStream>
    let action: WorkingCopyPlan.StreamAction
    var decoder: UnsafeMutablePointer<AVCodecContext>?
    var encoder: UnsafeMutablePointer<AVCodecContext>?
    var scaler: OpaquePointer?
    var scaled: UnsafeMutablePointer<AVFrame>?
    var resampler: OpaquePointer?
    var fifo: OpaquePointer?
    var parameters: [String: String] = [:]
    var framesDecoded = 0
    var framesEncoded = 0
    var lastPTS = Int64.min
    var frameStep: Int64 = 1
    var nextSample: Int64?

    var isVideo: Bool { input.pointee.codecpar!.pointee.codec_type == AVMEDIA_TYPE_VIDEO }

    init(input: UnsafeMutablePointer<AVStream>, output: UnsafeMutablePointer<AVStream>, action: WorkingCopyPlan.StreamAction) {
        self.input = input
        self.output = output
        self.action = action
    }

    deinit {
        if decoder != nil { avcodec_free_context(&decoder) }
        if encoder != nil { avcodec_free_context(&encoder) }
        if scaler != nil { sws_freeContext(scaler) }
        if scaled != nil { av_frame_free(&scaled) }
        if resampler != nil { swr_free(&resampler) }
        if fifo != nil { av_audio_fifo_free(fifo) }
    }

    func openDecoder() throws {
        let par = input.pointee.codecpar!
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw TranscodeError("no decoder for the master's \(String(cString: avcodec_get_name(par.pointee.codec_id)))")
        }
        decoder = avcodec_alloc_context3(codec)
        guard let decoder, avcodec_parameters_to_context(decoder, par) >= 0 else { throw TranscodeError("cannot set up a decoder") }
        decoder.pointee.pkt_timebase = input.pointee.time_base
        decoder.pointee.thread_count = 0
        let opened = avcodec_open2(decoder, codec, nil)
        guard opened >= 0 else { throw TranscodeError("cannot open the decoder: \(FormatContext.errorString(opened))") }
    }

    func openVideo(settings: EncoderSettings, globalHeader: Bool) throws {
        try openDecoder()
        guard let codec = avcodec_find_encoder_by_name("libx264") else { throw TranscodeError("libx264 is not available") }
        encoder = avcodec_alloc_context3(codec)
        guard let encoder, let decoder else { throw TranscodeError("out of memory") }
        let width = decoder.pointee.width, height = decoder.pointee.height
        guard width > 0, height > 0 else { throw TranscodeError("the master's video has no frame size") }
        encoder.pointee.width = width + width % 2
        encoder.pointee.height = height + height % 2
        encoder.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        var timeBase = input.pointee.time_base
        if timeBase.num <= 0 || timeBase.den <= 0 { timeBase = AVRational(num: 1, den: 90000) }
        encoder.pointee.time_base = timeBase
        var rate = input.pointee.avg_frame_rate
        if rate.num <= 0 || rate.den <= 0 { rate = input.pointee.r_frame_rate }
        if rate.num > 0 && rate.den > 0 {
            encoder.pointee.framerate = rate
            frameStep = max(1, av_rescale_q(1, AVRational(num: rate.den, den: rate.num), timeBase))
        }
        encoder.pointee.sample_aspect_ratio = decoder.pointee.sample_aspect_ratio
        encoder.pointee.thread_count = 0
        if globalHeader { encoder.pointee.flags |= exhibit_codec_flag_global_header() }
        av_opt_set(encoder.pointee.priv_data, "preset", settings.preset, 0)
        av_opt_set(encoder.pointee.priv_data, "crf", String(settings.crf), 0)
        let opened = avcodec_open2(encoder, codec, nil)
        guard opened >= 0 else { throw TranscodeError("cannot open libx264: \(FormatContext.errorString(opened))") }
        guard avcodec_parameters_from_context(output.pointee.codecpar, encoder) >= 0 else { throw TranscodeError("cannot set up the video stream") }
        output.pointee.time_base = encoder.pointee.time_base
        output.pointee.avg_frame_rate = encoder.pointee.framerate
        parameters = [
            "encoder": "libx264", "preset": settings.preset, "crf": String(settings.crf), "pix_fmt": "yuv420p",
            "size": "\(encoder.pointee.width)x\(encoder.pointee.height)",
            "frame_rate": rate.num > 0 ? "\(rate.num)/\(rate.den)" : "from timestamps",
            "time_base": "\(timeBase.num)/\(timeBase.den)",
        ]
        if width % 2 != 0 || height % 2 != 0 {
            parameters["padding"] = "\(width)x\(height) padded to \(encoder.pointee.width)x\(encoder.pointee.height) with black (nothing cropped or scaled)"
        }
        scaled = av_frame_alloc()
        guard let scaled else { throw TranscodeError("out of memory") }
        scaled.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        scaled.pointee.width = encoder.pointee.width
        scaled.pointee.height = encoder.pointee.height
        guard av_frame_get_buffer(scaled, 0) >= 0 else { throw TranscodeError("out of memory") }
    }

    func openAudio(settings: EncoderSettings, globalHeader: Bool) throws {
        try openDecoder()
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_AAC) else { throw TranscodeError("the AAC encoder is not available") }
        encoder = avcodec_alloc_context3(codec)
        guard let encoder, let decoder else { throw TranscodeError("out of memory") }
        let supported: Set<Int32> = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000]
        encoder.pointee.sample_rate = supported.contains(decoder.pointee.sample_rate) ? decoder.pointee.sample_rate : 48000
        if decoder.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || decoder.pointee.ch_layout.nb_channels == 0 {
            av_channel_layout_default(&encoder.pointee.ch_layout, max(1, decoder.pointee.ch_layout.nb_channels))
        } else {
            av_channel_layout_copy(&encoder.pointee.ch_layout, &decoder.pointee.ch_layout)
        }
        encoder.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
        encoder.pointee.bit_rate = Int64(settings.audioBitRate)
        encoder.pointee.time_base = AVRational(num: 1, den: encoder.pointee.sample_rate)
        if globalHeader { encoder.pointee.flags |= exhibit_codec_flag_global_header() }
        let opened = avcodec_open2(encoder, codec, nil)
        guard opened >= 0 else { throw TranscodeError("cannot open the AAC encoder: \(FormatContext.errorString(opened))") }
        guard avcodec_parameters_from_context(output.pointee.codecpar, encoder) >= 0 else { throw TranscodeError("cannot set up the audio stream") }
        output.pointee.time_base = encoder.pointee.time_base
        var inLayout = decoder.pointee.ch_layout
        if inLayout.order == AV_CHANNEL_ORDER_UNSPEC { av_channel_layout_default(&inLayout, max(1, inLayout.nb_channels)) }
        guard swr_alloc_set_opts2(
            &resampler, &encoder.pointee.ch_layout, AV_SAMPLE_FMT_FLTP, encoder.pointee.sample_rate,
            &inLayout, decoder.pointee.sample_fmt, decoder.pointee.sample_rate, 0, nil) >= 0,
            swr_init(resampler) >= 0
        else { throw TranscodeError("cannot set up the audio resampler") }
        fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, encoder.pointee.ch_layout.nb_channels, 1)
        guard fifo != nil else { throw TranscodeError("out of memory") }
        parameters = [
            "encoder": "aac", "bit_rate": String(settings.audioBitRate), "sample_rate": String(encoder.pointee.sample_rate),
            "channels": String(encoder.pointee.ch_layout.nb_channels),
        ]
    }

    /// Converts a decoded picture to padded yuv420p and encodes it with its own timestamp (shifted to start at 0).
    func convertVideo(_ frame: UnsafeMutablePointer<AVFrame>, shift: Int64, _ job: TranscodeJob) throws {
        guard let scaled, let encoder else { return }
        scaler = sws_getCachedContext(
            scaler, frame.pointee.width, frame.pointee.height, AVPixelFormat(frame.pointee.format),
            frame.pointee.width, frame.pointee.height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nil, nil, nil)
        guard scaler != nil else { throw TranscodeError("cannot convert the master's pictures") }
        guard av_frame_make_writable(scaled) >= 0 else { throw TranscodeError("out of memory") }
        if frame.pointee.width != scaled.pointee.width || frame.pointee.height != scaled.pointee.height {
            exhibit_fill_black_yuv420p(scaled)
        }
        guard frame.pointee.width <= scaled.pointee.width, frame.pointee.height <= scaled.pointee.height else {
            throw TranscodeError("the master's frame size changes mid-stream (\(frame.pointee.width)x\(frame.pointee.height))")
        }
        exhibit_sws_scale_into(scaler, frame, scaled)
        var pts = frame.pointee.best_effort_timestamp
        if pts != exhibit_av_nopts_value() { pts -= shift }
        if pts == exhibit_av_nopts_value() || pts <= lastPTS { pts = lastPTS == .min ? 0 : lastPTS + frameStep }
        lastPTS = pts
        scaled.pointee.pts = pts
        _ = encoder
        try job.encode(scaled, self)
    }

    /// Resamples decoded audio to the encoder's format and feeds it in the encoder's frame size.
    func convertAudio(_ frame: UnsafeMutablePointer<AVFrame>, startOffset: Int64, _ job: TranscodeJob) throws {
        guard let encoder, let fifo else { return }
        if nextSample == nil {
            let pts = frame.pointee.best_effort_timestamp
            if pts != exhibit_av_nopts_value() {
                let shifted = pts - av_rescale_q(startOffset, exhibit_av_time_base_q(), input.pointee.time_base)
                nextSample = max(0, av_rescale_q(shifted, input.pointee.time_base, encoder.pointee.time_base))
            } else {
                nextSample = 0
            }
        }
        var out = av_frame_alloc()
        defer { av_frame_free(&out) }
        guard let out else { throw TranscodeError("out of memory") }
        av_channel_layout_copy(&out.pointee.ch_layout, &encoder.pointee.ch_layout)
        out.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
        out.pointee.sample_rate = encoder.pointee.sample_rate
        let converted = swr_convert_frame(resampler, out, frame)
        guard converted >= 0 else { throw TranscodeError("cannot resample the master's audio") }
        if out.pointee.nb_samples > 0 {
            guard exhibit_fifo_write_frame(fifo, out) >= 0 else { throw TranscodeError("out of memory") }
        }
        try drainFifo(job, final: false)
    }

    func drainFifo(_ job: TranscodeJob, final: Bool) throws {
        guard let encoder, let fifo else { return }
        let size = Int32(encoder.pointee.frame_size > 0 ? encoder.pointee.frame_size : 1024)
        while av_audio_fifo_size(fifo) >= size || (final && av_audio_fifo_size(fifo) > 0) {
            let count = min(size, av_audio_fifo_size(fifo))
            var chunk = av_frame_alloc()
            defer { av_frame_free(&chunk) }
            guard let chunk else { throw TranscodeError("out of memory") }
            chunk.pointee.nb_samples = count
            av_channel_layout_copy(&chunk.pointee.ch_layout, &encoder.pointee.ch_layout)
            chunk.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
            chunk.pointee.sample_rate = encoder.pointee.sample_rate
            guard av_frame_get_buffer(chunk, 0) >= 0 else { throw TranscodeError("out of memory") }
            guard exhibit_fifo_read_frame(fifo, chunk, count) == count else { throw TranscodeError("audio buffer error") }
            chunk.pointee.pts = nextSample ?? 0
            nextSample = (nextSample ?? 0) + Int64(count)
            try job.encode(chunk, self)
        }
    }

    /// At the end of the master: what the resampler still holds, then the last short frame.
    func flushAudio(_ job: TranscodeJob) throws {
        guard !isVideo, let encoder, let fifo, resampler != nil else { return }
        var out = av_frame_alloc()
        defer { av_frame_free(&out) }
        if let out {
            av_channel_layout_copy(&out.pointee.ch_layout, &encoder.pointee.ch_layout)
            out.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
            out.pointee.sample_rate = encoder.pointee.sample_rate
            if swr_convert_frame(resampler, out, nil) >= 0, out.pointee.nb_samples > 0 {
                _ = exhibit_fifo_write_frame(fifo, out)
            }
        }
        try drainFifo(job, final: true)
    }
}
