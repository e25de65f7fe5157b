internal import CFFmpeg
import Foundation

/// How far a probe and a scan may go: hostile or endless input stops within these bounds.
public struct ProbeLimits: Sendable, Equatable {
    /// Bytes libavformat may read to recognise the container and its streams (`probesize`).
    public var probeSize: Int64
    /// Media time it may analyse to find stream parameters (`analyzeduration`).
    public var analyzeDuration: Duration
    /// Wall-clock limit for opening and probing.
    public var probeTimeLimit: Duration
    /// Wall-clock limit for the full integrity scan.
    public var scanTimeLimit: Duration
    /// A timestamp jump larger than this many frame (or packet) durations is a gap.
    public var gapFrames: Int

    /// ffprobe's own probe defaults (5 MB, 5 s), 30 s to probe, 30 min to scan, gaps over 10 frames.
    public static let `default` = ProbeLimits(
        probeSize: 5_000_000, analyzeDuration: .seconds(5), probeTimeLimit: .seconds(30),
        scanTimeLimit: .seconds(1800), gapFrames: 10)

    public init(probeSize: Int64, analyzeDuration: Duration, probeTimeLimit: Duration, scanTimeLimit: Duration, gapFrames: Int) {
        self.probeSize = probeSize
        self.analyzeDuration = analyzeDuration
        self.probeTimeLimit = probeTimeLimit
        self.scanTimeLimit = scanTimeLimit
        self.gapFrames = gapFrames
    }
}

/// What a file is (`media`) and whether it is all there (`integrity`).
public struct MediaReport: Codable, Sendable, Equatable {
    /// `nil` when no demuxer could open the file.
    public var media: MediaInfo?
    public var integrity: IntegrityReport

    public var isMedia: Bool { integrity.verdict != .notMedia }
}

/// Media metadata and footage integrity with libavformat.
///
///     let report = try MediaProbe.examine(path: "cam1.mp4")
///     report.media?.streams.first?.codecName   // "h264"
///     report.integrity.verdict                   // .complete
public enum MediaProbe {
    /// Probes a file and scans it to its end.
    public static func examine(path: String, limits: ProbeLimits = .default, scan: Bool = true) throws -> MediaReport {
        let source = try FileByteSource(path: path)
        return try examine(source, filename: (path as NSString).lastPathComponent, limits: limits, scan: scan)
    }

    /// Probes any seekable byte source; `filename` is used as a hint, as ffprobe uses a path's extension.
    /// Throws only when the source itself cannot be read (a storage failure, not a property of the footage).
    public static func examine(
        _ source: any ByteSource, filename: String?, limits: ProbeLimits = .default, scan: Bool = true
    ) throws -> MediaReport {
        let collector = LogCollector()
        return try collector.collect {
            try examine(source, filename: filename, limits: limits, scan: scan, collector: collector)
        }
    }

    private static func examine(
        _ source: any ByteSource, filename: String?, limits: ProbeLimits, scan: Bool, collector: LogCollector
    ) throws -> MediaReport {
        let size = source.size
        if size == 0 {
            return MediaReport(media: nil, integrity: .notMedia("the file is empty (0 bytes)", size: 0, messages: []))
        }
        let format: FormatContext
        do {
            format = try FormatContext(
                source: source, filename: sanitizedHint(filename), probeSize: limits.probeSize,
                analyzeDuration: limits.analyzeDuration, deadline: .now + limits.probeTimeLimit)
        } catch let error as FormatContext.OpenError {
            return MediaReport(media: nil, integrity: openFailure(error, source: source, filename: filename, collector: collector))
        }
        if let readError = format.ioState.readError { throw ByteSourceError(readError) }
        let context = format.context!
        let found = avformat_find_stream_info(context, nil)
        if let readError = format.ioState.readError { throw ByteSourceError(readError) }
        var info = MediaInfo(context: context, size: size)
        if found < 0 && info.streams.isEmpty {
            return MediaReport(
                media: info,
                integrity: .notMedia(
                    "no streams could be found (\(FormatContext.errorString(found)))", size: size,
                    messages: collector.messages.map(\.text)))
        }
        guard scan else {
            return MediaReport(media: info, integrity: .notMedia("not scanned", size: size, messages: []))
        }
        format.ioState.deadlineForScan = .now + limits.scanTimeLimit
        let integrity = IntegrityScan(gapFrames: limits.gapFrames).run(format, info: info, collector: collector)
        if let readError = format.ioState.readError { throw ByteSourceError(readError) }
        if let created = info.format.tags["creation_time"] ?? info.videoStreams.first?.tags["creation_time"],
           let start = Timestamp.parse(created), integrity.verdict != .notMedia
        {
            info.recordedStart = Timestamp.format(start)
            if let readable = integrity.readableDuration {
                info.recordedEnd = Timestamp.format(start.addingTimeInterval(readable))
            }
        }
        // What the container announces is reported whenever a demuxer opened the file and found streams, even when
        // no packet can be read (a header without its footage): `not-media` alone has no media block.
        if integrity.verdict != .notMedia { info.measure(integrity) }
        return MediaReport(media: integrity.verdict == .notMedia ? nil : info, integrity: integrity)
    }

    /// Only the extension matters to libavformat; never hand it a path or a protocol prefix from input.
    static func sanitizedHint(_ filename: String?) -> String? {
        guard let filename else { return nil }
        let ext = (filename as NSString).pathExtension.lowercased()
        guard !ext.isEmpty, ext.count <= 8, ext.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            return nil
        }
        return "input." + ext
    }

    /// Judges a file no demuxer could open: a known container that breaks (truncated or damaged), or not media.
    static func openFailure(
        _ error: FormatContext.OpenError, source: any ByteSource, filename: String?, collector: LogCollector
    ) -> IntegrityReport {
        let messages = collector.messages.map(\.text)
        let size = source.size
        var report: IntegrityReport
        if messages.contains(where: { $0.contains("moov atom not found") }) {
            let summary = "truncated: moov atom missing — the MP4/MOV index was never written (recording not "
                + "finalised, or the file was cut); the footage cannot be played from this file"
            report = .unopened(.truncated, summary, size: size, messages: messages)
        } else if error.recognised, let container = recognisedContainer(source, filename: filename) {
            let summary = "damaged: recognised as \(container) but it cannot be opened (\(error.message))"
            report = .unopened(.damaged, summary, size: size, messages: messages)
        } else {
            return .notMedia("not media: no demuxer recognises this file (\(error.message))", size: size, messages: messages)
        }
        return report
    }

    /// The container libavformat is confident about from the first bytes, if any.
    static func recognisedContainer(_ source: any ByteSource, filename: String?) -> String? {
        let length = Int(min(source.size, 1 << 20))
        var buffer = [UInt8](repeating: 0, count: length + Int(AVPROBE_PADDING_SIZE))
        guard let n = try? buffer.withUnsafeMutableBytes({ try source.read(at: 0, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length])) }),
              n > 0 else { return nil }
        return buffer.withUnsafeMutableBufferPointer { bytes -> String? in
            var data = AVProbeData()
            data.buf = bytes.baseAddress
            data.buf_size = Int32(n)
            var score: Int32 = 0
            return sanitizedHint(filename).withOptionalCString { hint in
                data.filename = hint
                guard let format = av_probe_input_format3(&data, 1, &score), score > AVPROBE_SCORE_EXTENSION else {
                    return nil
                }
                return String(cString: format.pointee.name)
            }
        }
    }

    /// The libavformat, libavcodec and libavutil versions in use (`major.minor.micro`).
    public static var libraryVersions: [String: String] {
        func text(_ version: UInt32) -> String { "\(version >> 16).\((version >> 8) & 0xff).\(version & 0xff)" }
        return [
            "libavformat": text(avformat_version()), "libavcodec": text(avcodec_version()),
            "libavutil": text(avutil_version()),
        ]
    }
}

extension Optional where Wrapped == String {
    func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let text): text.withCString { body($0) }
        case .none: body(nil)
        }
    }
}
