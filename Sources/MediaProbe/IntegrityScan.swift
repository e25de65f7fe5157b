internal import CFFmpeg
import Foundation

/// Demuxes every packet of an open file and judges whether the footage is all there.
struct IntegrityScan {
    let gapFrames: Int

    private struct StreamState {
        var scan: IntegrityReport.StreamScan
        let timeBase: Double
        /// Nominal time between packets (frame duration for video), for the gap threshold.
        let nominalInterval: Double?
        /// Video and audio are checked; attachments, subtitles and data streams are only counted.
        let checked: Bool
        var lastDTS: Double?
        /// The latest presentation time so far (B-frames arrive out of presentation order).
        var latest: Double?
        var intervalSum = 0.0
        var intervalCount = 0

        var typicalInterval: Double? {
            nominalInterval ?? (intervalCount >= 3 ? intervalSum / Double(intervalCount) : nil)
        }
    }

    /// Something wrong found at packet number `sequence` (counting good and bad packets of checked streams).
    private struct Finding {
        let sequence: Int
        let text: String
    }

    func run(_ format: FormatContext, info: MediaInfo, collector: LogCollector) -> IntegrityReport {
        let context = format.context!
        let noValue = exhibit_av_nopts_value()
        let start = info.format.startTime ?? 0
        var states: [StreamState] = info.streams.map { stream in
            let pointer = context.pointee.streams[stream.index]!.pointee
            let timeBase = Double(pointer.time_base.num) / Double(max(pointer.time_base.den, 1))
            var interval: Double?
            if stream.isVideo, let fps = stream.framesPerSecond, fps > 0, fps < 1000 { interval = 1 / fps }
            return StreamState(
                scan: .init(index: stream.index, codecType: stream.codecType, packets: 0, keyFrames: 0,
                            corruptPackets: 0, firstTime: nil, lastTime: nil, endTime: nil, gaps: []),
                timeBase: timeBase, nominalInterval: interval, checked: stream.isVideo || stream.isAudio)
        }
        var readErrors: [IntegrityReport.ReadError] = []
        var findings: [Finding] = []
        var readErrorCount = 0
        var errorsSinceLastPacket = 0
        var sequence = 0
        var lastGoodSequence = -1
        var lastGoodTime: Double?
        var timedOut = false

        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let packet else { return .notMedia("out of memory", size: format.ioState.source.size, messages: []) }

        while true {
            let result = av_read_frame(context, packet)
            if result == exhibit_averror_eof() { break }
            if result < 0 {
                if format.ioState.timedOut || result == exhibit_averror_exit() {
                    timedOut = true
                    break
                }
                if format.ioState.readError != nil { break }
                readErrorCount += 1
                errorsSinceLastPacket += 1
                let position = format.position
                if readErrors.count < 20 {
                    readErrors.append(.init(
                        bytePosition: position, after: lastGoodTime.map { $0 - start },
                        message: FormatContext.errorString(result)))
                }
                findings.append(Finding(sequence: sequence, text: "read error at byte \(position): \(FormatContext.errorString(result))"))
                sequence += 1
                // A demuxer that cannot get past an error returns it forever: stop after a run of them.
                if errorsSinceLastPacket >= 64 { break }
                continue
            }
            defer { av_packet_unref(packet) }
            errorsSinceLastPacket = 0
            let index = Int(packet.pointee.stream_index)
            guard index >= 0, index < states.count else { continue }
            var state = states[index]
            state.scan.packets += 1
            if packet.pointee.flags & AV_PKT_FLAG_KEY != 0 { state.scan.keyFrames += 1 }
            let pts = packet.pointee.pts == noValue ? nil : Double(packet.pointee.pts) * state.timeBase
            let dts = packet.pointee.dts == noValue ? nil : Double(packet.pointee.dts) * state.timeBase
            let position: Int64? = packet.pointee.pos >= 0 ? packet.pointee.pos : nil
            let corrupt = packet.pointee.flags & AV_PKT_FLAG_CORRUPT != 0
            if corrupt {
                state.scan.corruptPackets += 1
                if state.checked {
                    let when = (pts ?? dts).map { clock($0 - start) } ?? "unknown time"
                    findings.append(Finding(sequence: sequence, text: "\(state.scan.codecType) stream \(index): corrupt packet at \(when)\(position.map { " (byte \($0))" } ?? "")"))
                }
            }
            if state.checked, let typical = state.typicalInterval, typical > 0 {
                if let t = pts ?? dts, let latest = state.latest, t - latest > Double(gapFrames) * typical {
                    let gap = IntegrityReport.Gap(kind: .jump, at: latest - start, length: t - latest, bytePosition: position)
                    state.scan.gaps.append(gap)
                    findings.append(Finding(sequence: sequence, text: "\(state.scan.codecType) stream \(index): \(describe(seconds: gap.length)) missing after \(clock(gap.at))\(position.map { " (byte \($0))" } ?? "")"))
                }
                if let dts, let last = state.lastDTS, dts < last - typical {
                    let gap = IntegrityReport.Gap(kind: .backwards, at: last - start, length: dts - last, bytePosition: position)
                    state.scan.gaps.append(gap)
                    findings.append(Finding(sequence: sequence, text: "\(state.scan.codecType) stream \(index): timestamps jump back \(describe(seconds: gap.length)) at \(clock(gap.at))\(position.map { " (byte \($0))" } ?? "")"))
                }
            }
            if let dts { state.lastDTS = max(state.lastDTS ?? dts, dts) }
            if let t = pts ?? dts {
                if let latest = state.latest, t > latest, t - latest < 1 {
                    state.intervalSum += t - latest
                    state.intervalCount += 1
                }
                if state.scan.firstTime == nil || t < state.scan.firstTime! { state.scan.firstTime = t }
                state.latest = max(state.latest ?? t, t)
                state.scan.lastTime = state.latest
                if !corrupt {
                    let duration = packet.pointee.duration > 0 ? Double(packet.pointee.duration) * state.timeBase : (state.typicalInterval ?? 0)
                    state.scan.endTime = max(state.scan.endTime ?? t + duration, t + duration)
                }
            }
            if state.checked {
                if !corrupt {
                    lastGoodSequence = sequence
                    if let t = pts ?? dts { lastGoodTime = max(lastGoodTime ?? t, t) }
                }
                sequence += 1
            }
            states[index] = state
        }

        // What went wrong before the last good packet is damage in the middle; what came after it is the
        // ragged end of a cut file.
        let middle = findings.filter { $0.sequence < lastGoodSequence }.map(\.text)
        let tail = findings.filter { $0.sequence > lastGoodSequence }.count
        return judge(
            info: info, streams: states.map(\.scan), checked: states.map(\.checked), readErrors: readErrors,
            readErrorCount: readErrorCount, middle: middle, tailProblems: tail, timedOut: timedOut, format: format,
            collector: collector)
    }

    private func judge(
        info: MediaInfo, streams: [IntegrityReport.StreamScan], checked: [Bool],
        readErrors: [IntegrityReport.ReadError], readErrorCount: Int, middle: [String], tailProblems: Int,
        timedOut: Bool, format: FormatContext, collector: LogCollector
    ) -> IntegrityReport {
        let start = info.format.startTime ?? 0
        let media = zip(streams, checked).filter { $0.1 }.map(\.0)
        let size = format.ioState.source.size
        let messages = collector.messages.map(\.text)
        let packets = media.reduce(0) { $0 + $1.packets - $1.corruptPackets }
        guard !media.isEmpty, packets > 0 else {
            return .notMedia(
                media.isEmpty ? "no audio or video stream in this \(info.format.formatName) file"
                    : "no audio or video packet could be read", size: size, messages: messages)
        }
        var problems = Array(middle.prefix(50))
        if middle.count > 50 { problems.append("… and \(middle.count - 50) more") }
        let damaged = !middle.isEmpty

        // How much of the announced duration the packets cover.
        let expected = info.format.duration
        let readableEnd = media.compactMap(\.endTime).max()
        let readable = readableEnd.map { $0 - start }
        var missing: Double?
        if let expected, let readable {
            let frame = media.compactMap { s -> Double? in
                guard let first = s.firstTime, let last = s.lastTime, s.packets > 1 else { return nil }
                return (last - first) / Double(s.packets - 1)
            }.max() ?? 0.04
            let tolerance = max(0.25, 2 * frame)
            if expected - readable > tolerance { missing = expected - readable }
        }
        if timedOut {
            problems.append("the scan stopped at the time limit after \(format.ioState.bytesRead) of \(size) bytes")
        }
        if tailProblems > 0 {
            problems.append("reading stopped with \(tailProblems) unreadable packet(s) or error(s) at the end, at byte \(format.position) of \(size)")
        }

        let verdict: IntegrityReport.Verdict
        let summary: String
        if damaged || timedOut {
            verdict = .damaged
            summary = timedOut
                ? "could not be read to its end within the time limit; \(problems.first ?? "")"
                : "damaged: " + problems.prefix(3).joined(separator: "; ")
        } else if let missing, let expected {
            verdict = .truncated
            let detail = "last \(describe(seconds: missing)) of \(describe(seconds: expected)) unreadable"
            problems.insert(detail + " (the file ends before the footage its header announces)", at: 0)
            summary = "truncated: " + detail
        } else {
            verdict = .complete
            let counts = media.map { "\($0.packets) \($0.codecType)" }.joined(separator: ", ")
            summary = "complete: all packets read (\(counts))"
                + (readable.map { "; \(describe(seconds: $0)) of footage" } ?? "")
        }
        return IntegrityReport(
            verdict: verdict, summary: summary, problems: problems, expectedDuration: expected,
            readableDuration: readable, missingDuration: missing, streams: streams, readErrors: readErrors,
            readErrorCount: readErrorCount, bytesRead: format.ioState.bytesRead, size: size,
            demuxerMessages: Array(messages.prefix(20)), decode: nil)
    }
}

/// `mm:ss.s` or `h:mm:ss.s` from the start of the footage.
func clock(_ seconds: Double) -> String {
    let total = max(0, seconds)
    let hours = Int(total) / 3600
    let minutes = (Int(total) % 3600) / 60
    let rest = total - Double(hours * 3600 + minutes * 60)
    return hours > 0
        ? String(format: "%d:%02d:%04.1f", hours, minutes, rest)
        : String(format: "%02d:%04.1f", minutes, rest)
}
