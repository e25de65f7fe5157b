internal import CFFmpeg
import Foundation
import Logging
import Synchronization

/// Routes FFmpeg's process-global `av_log` into swift-log (at debug level: FFmpeg is chatty about damaged
/// input, and damaged input is an expected case here), and hands each message to the collector of the thread
/// that is calling into FFmpeg, so a probe can quote what the demuxer said.
enum FFmpegLog {
    static let logger = Logger(label: "exhibit.ffmpeg")

    /// Installed once per process; `av_log_set_callback` is global.
    static let installed: Bool = {
        av_log_set_level(AV_LOG_WARNING)
        av_log_set_callback { avcl, level, format, arguments in
            guard level <= AV_LOG_WARNING, let format, let arguments else { return }
            var line = [CChar](repeating: 0, count: 1024)
            let count = line.withUnsafeMutableBufferPointer {
                exhibit_format_log_line(avcl, level, format, arguments, $0.baseAddress, Int32($0.count))
            }
            guard count > 0 else { return }
            let text = FFmpegLog.clean(String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            // FFmpeg sometimes logs one line in pieces; a lone fragment says nothing.
            guard text.count > 2 else { return }
            LogCollector.current?.append(text, isError: level <= AV_LOG_ERROR)
            FFmpegLog.logger.debug("\(text)")
        }
        return true
    }()
}

extension FFmpegLog {
    /// Drops the object address from FFmpeg's `[mov,mp4 @ 0x55d…]` prefix: it differs on every run and means
    /// nothing to a reader.
    static func clean(_ line: String) -> String {
        var text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        while let at = text.range(of: " @ 0x") {
            var end = at.upperBound
            while end < text.endIndex, text[end].isHexDigit { end = text.index(after: end) }
            text.removeSubrange(at.lowerBound..<end)
        }
        return text
    }
}

/// Messages FFmpeg logged while one probe ran on this thread.
final class LogCollector: @unchecked Sendable {
    // Only touched by the thread that installed it as `current` (FFmpeg calls back synchronously on it).
    private(set) var messages: [(text: String, isError: Bool)] = []
    private let limit = 200

    func append(_ text: String, isError: Bool) {
        if messages.count < limit { messages.append((text, isError)) }
    }

    /// Runs `body` with this collector receiving the thread's FFmpeg messages.
    func collect<T>(_ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(Self.key)
        pthread_setspecific(Self.key, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.key, previous) }
        return try body()
    }

    static var current: LogCollector? {
        guard let pointer = pthread_getspecific(key) else { return nil }
        return Unmanaged<LogCollector>.fromOpaque(pointer).takeUnretainedValue()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}
