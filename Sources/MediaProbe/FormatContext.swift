internal import CFFmpeg
import Foundation

/// An open demuxer over a `ByteSource`: owns the `AVFormatContext`, the custom `AVIOContext` and its buffer,
/// and frees each exactly once.
final class FormatContext {
    private(set) var context: UnsafeMutablePointer<AVFormatContext>?
    private var io: UnsafeMutablePointer<AVIOContext>?
    private let state: IOState

    /// What the I/O callbacks see through `opaque`.
    final class IOState {
        let source: any ByteSource
        var position: Int64 = 0
        var bytesRead: Int64 = 0
        var readError: String?
        /// Opening and probing stop at `deadline`; the scan sets a later one for itself.
        var deadline: ContinuousClock.Instant
        var deadlineForScan: ContinuousClock.Instant {
            get { deadline }
            set { deadline = newValue }
        }
        var timedOut = false

        init(source: any ByteSource, deadline: ContinuousClock.Instant) {
            self.source = source
            self.deadline = deadline
        }
    }

    struct OpenError: Error {
        let code: Int32
        let message: String
        /// False when no demuxer recognised the bytes at all (libavformat's own probe found nothing), so there is
        /// no container to call damaged: the caller need not probe them again.
        var recognised = true
    }

    static let ioBufferSize = 64 << 10

    /// Opens `source`, using `filename` (if any) as the extension hint, as ffprobe does with a path.
    init(source: any ByteSource, filename: String?, probeSize: Int64, analyzeDuration: Duration,
         deadline: ContinuousClock.Instant) throws {
        _ = FFmpegLog.installed
        state = IOState(source: source, deadline: deadline)
        guard let buffer = av_malloc(Self.ioBufferSize) else { throw OpenError(code: -12, message: "out of memory") }
        let opaque = Unmanaged.passUnretained(state).toOpaque()
        guard let io = avio_alloc_context(
            buffer.assumingMemoryBound(to: UInt8.self), Int32(Self.ioBufferSize), 0, opaque,
            { opaque, target, size in
                let state = Unmanaged<FormatContext.IOState>.fromOpaque(opaque!).takeUnretainedValue()
                // libavformat checks interrupt_callback only inside its own protocols, never for a custom
                // I/O context: the deadline is enforced here, on every read.
                if ContinuousClock.now > state.deadline {
                    state.timedOut = true
                    return exhibit_averror_exit()
                }
                guard state.position < state.source.size else { return exhibit_averror_eof() }
                do {
                    let n = try state.source.read(
                        at: state.position, into: UnsafeMutableRawBufferPointer(start: target, count: Int(size)))
                    if n == 0 { return exhibit_averror_eof() }
                    state.position += Int64(n)
                    state.bytesRead += Int64(n)
                    return Int32(n)
                } catch {
                    state.readError = "\(error)"
                    return exhibit_averror(EIO)
                }
            },
            nil,
            { opaque, offset, whence in
                let state = Unmanaged<FormatContext.IOState>.fromOpaque(opaque!).takeUnretainedValue()
                let size = state.source.size
                if whence & exhibit_avseek_size() != 0 { return size }
                let target: Int64
                switch whence & ~exhibit_avseek_force() {
                case SEEK_SET: target = offset
                case SEEK_CUR: target = state.position + offset
                case SEEK_END: target = size + offset
                default: return Int64(exhibit_averror(EINVAL))
                }
                guard target >= 0 else { return Int64(exhibit_averror(EINVAL)) }
                state.position = target
                return target
            })
        else {
            av_free(buffer)
            throw OpenError(code: -12, message: "out of memory")
        }
        self.io = io
        guard let context = avformat_alloc_context() else {
            throw OpenError(code: -12, message: "out of memory")
        }
        context.pointee.pb = io
        context.pointee.probesize = probeSize
        context.pointee.max_analyze_duration = analyzeDuration.microseconds
        context.pointee.interrupt_callback = AVIOInterruptCB(
            callback: { opaque in
                let state = Unmanaged<FormatContext.IOState>.fromOpaque(opaque!).takeUnretainedValue()
                if ContinuousClock.now > state.deadline {
                    state.timedOut = true
                    return 1
                }
                return 0
            }, opaque: opaque)
        // The probe avformat_open_input would make (the same function, limit and hint), made first so that bytes
        // no demuxer recognises are known as such: they are not probed a second time to tell `damaged` from
        // `not-media` (half the CPU of judging a file that is not media). Recognised bytes are opened as before, by
        // avformat_open_input's own probe rather than with the format found (which would leave the context's
        // probe_score at 0 for the demuxers that read it): that probe reads the data kept in the I/O buffer and
        // stops once confident, for footage at its first 2 KiB (the fixtures' probe time is unchanged).
        var recognised: UnsafePointer<AVInputFormat>?
        let probe = avformat_probe(io, &recognised, filename ?? "", context)
        guard probe >= 0 else {
            avformat_free_context(context)
            if let readError = state.readError { throw ByteSourceError(readError) }
            throw OpenError(code: probe, message: Self.errorString(probe), recognised: false)
        }
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        let result = avformat_open_input(&opened, filename ?? "", nil, nil)
        guard result >= 0 else {
            // avformat_open_input frees the context on failure; the custom I/O stays ours (freed in deinit).
            // A failing source is a storage problem, not a property of the footage.
            if let readError = state.readError { throw ByteSourceError(readError) }
            throw OpenError(code: result, message: Self.errorString(result))
        }
        self.context = opened
    }

    deinit {
        if context != nil { avformat_close_input(&context) }
        if io != nil {
            // FFmpeg may have replaced the buffer it was given: free whatever it holds now.
            av_freep(&io!.pointee.buffer)
            avio_context_free(&io)
        }
    }

    var ioState: IOState { state }

    /// Whether libavformat guessed the file's duration from its size and bit rate (no container length to trust).
    var durationGuessedFromBitRate: Bool {
        context.map { $0.pointee.duration_estimation_method == AVFMT_DURATION_FROM_BITRATE } ?? true
    }

    /// The byte position of the I/O context (where the demuxer is reading).
    var position: Int64 { io.map { avio_tell($0) } ?? 0 }

    /// `av_probe_input_buffer2` with avformat_open_input's default limit (`format_probesize`, 1 MiB).
    private func avformat_probe(
        _ io: UnsafeMutablePointer<AVIOContext>, _ format: inout UnsafePointer<AVInputFormat>?, _ url: String,
        _ context: UnsafeMutablePointer<AVFormatContext>
    ) -> Int32 {
        av_probe_input_buffer2(io, &format, url, context, 0, UInt32(clamping: context.pointee.format_probesize))
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        av_strerror(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Duration {
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
