internal import CFFmpeg
import Foundation

/// Demuxes every packet of an open file and judges whether the footage is all there.
///
/// Three kinds of finding, kept apart:
/// - **damage** (`damaged`): corrupt packets, read errors and, for raw elementary streams, frames that do not
///   decode, anywhere before the last good packet;
/// - **truncation** (`truncated`): the file ends before the length its container announces (its header's
///   duration, each stream's duration, or its frame count at its frame rate), inside a packet, or with unreadable
///   data after the last good packet; a header whose streams have no packet at all;
/// - **recording gaps** (notes, never problems): timestamps jump while the packets around the jump read and
///   decode; motion-triggered and low-frame-rate CCTV records this way.
struct IntegrityScan {
    let gapFrames: Int

    /// Demuxers of raw elementary streams: no header, so what they read is decoded to be judged.
    static let rawStreams: Set<String> = [
        "h264", "hevc", "vvc", "mpegvideo", "m4v", "h263", "h261", "cavsvideo", "avs2", "avs3", "vc1", "mjpeg",
        "dirac", "rawvideo",
    ]

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
        /// Damage since this stream's previous packet (a read error, or that packet was corrupt): a timestamp jump
        /// right after it is footage lost to the damage, not a recording gap.
        var damagedSinceLast = false
        /// The sequence number of this stream's previous packet.
        var lastSequence = 0

        var typicalInterval: Double? {
            nominalInterval ?? (intervalCount >= 3 ? intervalSum / Double(intervalCount) : nil)
        }
    }

    /// A timestamp jump, between the packets numbered `before` and `after`: a recording gap unless damage was found
    /// next to it.
    private struct Jump {
        let stream: Int
        let gap: Int
        let before: Int
        let after: Int
        let damaged: Bool
    }

    /// Something wrong found at packet number `sequence` (counting good and bad packets of checked streams).
    private struct Finding {
        let sequence: Int
        let text: String
    }

    func run(_ format: FormatContext, info: MediaInfo, collector: LogCollector) -> IntegrityReport {
        guard let context = format.context else {
            return .notMedia("the file could not be opened", size: format.ioState.source.size, messages: [])
        }
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
        // A raw elementary stream is decoded: its demuxer turns any bytes into packets.
        let raw = Self.rawStreams.contains(info.format.formatName)
        var decoders: [Int: StreamDecoder] = [:]
        if raw {
            for stream in info.streams where stream.isVideo {
                if let parameters = context.pointee.streams[stream.index]?.pointee.codecpar,
                   let decoder = StreamDecoder(parameters) {
                    decoders[stream.index] = decoder
                }
            }
        }
        var readErrors: [IntegrityReport.ReadError] = []
        var findings: [Finding] = []
        var jumps: [Jump] = []
        var readErrorCount = 0
        var errorsSinceLastPacket = 0
        var sequence = 0
        var lastGoodSequence = -1
        var lastGoodTime: Double?
        var timedOut = false

        // The packets of each video stream since its last key frame, kept to decode the last group of pictures at
        // the end: a file cut inside its last frame (a transport stream cut at a packet boundary) shows nowhere
        // else. Bounded: a stream whose group grows past the bounds is not checked this way.
        var lastGroup: [Int: LastGroup] = [:]
        for stream in info.streams where stream.isVideo { lastGroup[stream.index] = LastGroup() }
        defer { for i in lastGroup.keys { lastGroup[i]?.clear() } }

        // Streams read front to back without an index (MPEG-TS, MPEG-PS): bytes the demuxer skipped between two
        // packets (beyond the container's own overhead) are data it could not read.
        let linear = ["mpegts", "mpeg", "vob"].contains(info.format.formatName)
        var consumed: Int64 = 0
        var lastOverhead: Int64?

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
                for i in states.indices { states[i].damagedSinceLast = true }
                sequence += 1
                // A demuxer that cannot get past an error returns it forever: stop after a run of them.
                if errorsSinceLastPacket >= 64 { break }
                continue
            }
            defer { av_packet_unref(packet) }
            errorsSinceLastPacket = 0
            if linear {
                consumed += Int64(packet.pointee.size)
                let overhead = format.position - consumed
                if let last = lastOverhead, overhead - last > 32 << 10 {
                    findings.append(Finding(sequence: sequence, text: "\(overhead - last) bytes unreadable before byte \(format.position)"))
                    sequence += 1
                    for i in states.indices { states[i].damagedSinceLast = true }
                }
                lastOverhead = overhead
            }
            let index = Int(packet.pointee.stream_index)
            guard index >= 0, index < states.count else { continue }
            var state = states[index]
            state.scan.packets += 1
            if packet.pointee.flags & AV_PKT_FLAG_KEY != 0 { state.scan.keyFrames += 1 }
            let pts = packet.pointee.pts == noValue ? nil : Double(packet.pointee.pts) * state.timeBase
            let dts = packet.pointee.dts == noValue ? nil : Double(packet.pointee.dts) * state.timeBase
            let position: Int64? = packet.pointee.pos >= 0 ? packet.pointee.pos : nil
            var corrupt = packet.pointee.flags & AV_PKT_FLAG_CORRUPT != 0
            if let decoder = decoders[index] {
                // Once the whole file has been read, the packets left may be the last: record what each decodes to.
                decoder.armed = format.ioState.position >= format.ioState.source.size
                if decoder.decode(packet) > 0 { corrupt = true }
            }
            lastGroup[index]?.keep(packet)
            if corrupt {
                state.scan.corruptPackets += 1
                if state.checked {
                    let when = (pts ?? dts).map { clock($0 - start) } ?? "packet \(state.scan.packets)"
                    let what = decoders[index] != nil ? "does not decode" : "corrupt packet"
                    findings.append(Finding(sequence: sequence, text: "\(state.scan.codecType) stream \(index): \(what) at \(when)\(position.map { " (byte \($0))" } ?? "")"))
                }
            }
            if state.checked, let typical = state.typicalInterval, typical > 0 {
                if let t = pts ?? dts, let latest = state.latest, t - latest > Double(gapFrames) * typical {
                    let gap = IntegrityReport.Gap(kind: .jump, at: latest - start, length: t - latest, bytePosition: position)
                    state.scan.gaps.append(gap)
                    jumps.append(Jump(stream: index, gap: state.scan.gaps.count - 1, before: state.lastSequence, after: sequence,
                                      damaged: state.damagedSinceLast || corrupt))
                }
                if let dts, let last = state.lastDTS, dts < last - typical {
                    state.scan.gaps.append(IntegrityReport.Gap(kind: .backwards, at: last - start, length: dts - last, bytePosition: position))
                }
            }
            if let dts { state.lastDTS = max(state.lastDTS ?? dts, dts) }
            if let t = pts ?? dts {
                if let latest = state.latest, t > latest, t - latest < 1 {
                    state.intervalSum += t - latest
                    state.intervalCount += 1
                }
                state.scan.firstTime = min(state.scan.firstTime ?? t, t)
                state.latest = max(state.latest ?? t, t)
                state.scan.lastTime = state.latest
                if !corrupt {
                    let duration = packet.pointee.duration > 0 ? Double(packet.pointee.duration) * state.timeBase : (state.typicalInterval ?? 0)
                    state.scan.endTime = max(state.scan.endTime ?? t + duration, t + duration)
                }
            }
            state.damagedSinceLast = corrupt
            state.lastSequence = sequence
            if state.checked {
                if !corrupt {
                    lastGoodSequence = sequence
                    if let t = pts ?? dts { lastGoodTime = max(lastGoodTime ?? t, t) }
                }
                sequence += 1
            }
            states[index] = state
        }
        // What the decoders still hold: an error here is the ragged end of the stream.
        for (index, decoder) in decoders.sorted(by: { $0.key < $1.key }) where decoder.decode(nil) > 0 {
            findings.append(Finding(sequence: sequence, text: "video stream \(index): the last frame does not decode"))
            sequence += 1
        }
        // The last group of pictures of each video stream, decoded: its last frame must decode whole.
        if !timedOut {
            for (index, group) in lastGroup.sorted(by: { $0.key < $1.key }) where group.usable && !group.packets.isEmpty {
                guard let parameters = context.pointee.streams[index]?.pointee.codecpar, let last = group.packets.last else { continue }
                // The leading pictures of an open group refer to the group before (HEVC skips them when decoding
                // starts at the group's key frame; H.264 conceals them). They follow the key frame within the
                // reorder depth (at most 16 pictures): when the last group is that short, they may be among the
                // last pictures out, so decoding starts a group earlier and the last packet decodes to the same
                // pictures as when the whole file is played.
                let hevc = parameters.pointee.codec_id == AV_CODEC_ID_HEVC
                let packets = group.packets.count <= 18 ? group.bothGroups : group.packets
                // What the last packet decodes to as read: a raw stream's decoder has decoded every packet, the
                // last ones armed; otherwise the packets are decoded here.
                var asRead = raw && !hevc ? decoders[index] : nil
                if asRead == nil, let decoder = StreamDecoder(parameters) {
                    for packet in packets.dropLast() { decoder.decode(packet) }
                    decoder.armed = true
                    if decoder.decode(last) + decoder.decode(nil) > 0 && !raw {
                        findings.append(Finding(
                            sequence: sequence,
                            text: "video stream \(index): the last frame does not decode (the file was cut inside it)"))
                        sequence += 1
                        continue
                    }
                    asRead = decoder
                }
                guard let asRead, asRead.armed, LastSliceCheck.applies(to: parameters, lastPacket: last) else { continue }
                if let problem = LastSliceCheck.trailingProblem(last, parameters: parameters) {
                    findings.append(Finding(sequence: sequence, text: "video stream \(index): \(problem)"))
                    sequence += 1
                } else if LastSliceCheck.lastSliceIsCut(packets, parameters: parameters, asRead: asRead) == true {
                    findings.append(Finding(
                        sequence: sequence,
                        text: "video stream \(index): the last frame is cut short (the file ends inside its last slice)"))
                    sequence += 1
                }
            }
        }

        // A jump next to damage (a corrupt packet or unreadable bytes just before or after it) is footage lost to
        // the damage; the others are recording gaps.
        for jump in jumps {
            let near = jump.damaged || findings.contains { $0.sequence >= jump.before - 2 && $0.sequence <= jump.after + 8 }
            guard near else { continue }
            states[jump.stream].scan.gaps[jump.gap].kind = .missing
            let gap = states[jump.stream].scan.gaps[jump.gap]
            let state = states[jump.stream]
            findings.append(Finding(
                sequence: jump.after,
                text: "\(state.scan.codecType) stream \(jump.stream): \(describe(seconds: gap.length)) missing after \(clock(gap.at))\(gap.bytePosition.map { " (byte \($0))" } ?? "")"))
        }
        findings.sort { $0.sequence < $1.sequence }

        // What went wrong before the last good packet is damage in the middle; what came after it is the
        // ragged end of a cut file.
        let middle = findings.filter { $0.sequence < lastGoodSequence }.map(\.text)
        let tail = findings.filter { $0.sequence > lastGoodSequence }.map(\.text)
        // A raw stream is judged by decoding it: one whose decoder would not even open (its parameter sets are
        // cut short, or there is no decoder for it here) decoded nothing.
        let decoded = raw ? decoders.values.reduce(0) { $0 + $1.framesDecoded } : nil
        return judge(
            info: info, streams: states.map(\.scan), checked: states.map(\.checked), readErrors: readErrors,
            readErrorCount: readErrorCount, middle: middle, tail: tail, timedOut: timedOut, framesDecoded: decoded,
            format: format, collector: collector)
    }

    private func judge(
        info: MediaInfo, streams: [IntegrityReport.StreamScan], checked: [Bool],
        readErrors: [IntegrityReport.ReadError], readErrorCount: Int, middle: [String], tail: [String],
        timedOut: Bool, framesDecoded: Int?, format: FormatContext, collector: LogCollector
    ) -> IntegrityReport {
        let start = info.format.startTime ?? 0
        let media = zip(streams, checked).filter { $0.1 }.map(\.0)
        let size = format.ioState.source.size
        let messages = collector.messages.map(\.text)
        let packets = media.reduce(0) { $0 + $1.packets - $1.corruptPackets }
        let announced = Self.announcedLength(info, format: format)
        guard !media.isEmpty else {
            return .notMedia("no audio or video stream in this \(info.format.formatName) file", size: size, messages: messages)
        }
        if framesDecoded == 0 {
            // A raw stream demuxer (chosen by the file's name, or by a weak guess) found nothing that decodes.
            return .notMedia(
                "not media: no frame of the \(info.format.formatName) stream decodes (\(media.first?.packets ?? 0) packet(s) of data that is not video)",
                size: size, messages: messages)
        }
        guard packets > 0 else {
            // The container's header was read, but no packet of its streams is in the file: the index without
            // the footage (a MOV whose mdat was cut off, an export that stopped after its header).
            if (info.format.probeScore ?? 0) > 50 && !Self.rawStreams.contains(info.format.formatName) {
                let what = Self.describeStreams(info)
                let length = announced.map { "\(describe(seconds: $0.seconds)) of " } ?? ""
                let problem = "truncated: the container announces \(length)\(what); no packet of it is present in the file"
                return IntegrityReport(
                    judgement: .problems(.init(.truncated, problem)), summary: problem, expectedDuration: announced?.seconds,
                    readableDuration: 0, missingDuration: announced?.seconds, streams: streams, readErrors: readErrors,
                    readErrorCount: readErrorCount, bytesRead: format.ioState.bytesRead, size: size,
                    demuxerMessages: Array(messages.prefix(20)), decode: nil)
            }
            return .notMedia("no audio or video packet could be read", size: size, messages: messages)
        }

        // How much of the announced length the packets cover.
        let readableEnd = media.compactMap(\.endTime).max()
        let readable = readableEnd.map { $0 - start }
        var missing: Double?
        let frame = media.compactMap { s -> Double? in
            guard let first = s.firstTime, let last = s.lastTime, s.packets > 1 else { return nil }
            return (last - first) / Double(s.packets - 1)
        }.max() ?? 0.04
        if let expected = announced?.seconds, let readable {
            let tolerance = max(0.25, 2 * min(frame, 1))
            if expected - readable > tolerance { missing = expected - readable }
        }

        var report = IntegrityReport(
            judgement: .complete, summary: "", expectedDuration: announced?.seconds, readableDuration: readable,
            missingDuration: missing, streams: streams, readErrors: readErrors, readErrorCount: readErrorCount,
            bytesRead: format.ioState.bytesRead, size: size, demuxerMessages: Array(messages.prefix(20)), decode: nil)

        // Damage: what went wrong before the last good packet, or a scan that could not finish.
        for problem in middle.prefix(50) { report.add(problem, as: .damaged) }
        if middle.count > 50 { report.add("… and \(middle.count - 50) more", as: .damaged) }
        if timedOut {
            report.add("the scan stopped at the time limit after \(format.ioState.bytesRead) of \(size) bytes", as: .damaged)
        }
        // Truncation: the footage ends before its announced length, inside a packet, or in unreadable data.
        if let missing, let announced {
            let frames = announced.frames.map { frames -> String in
                let readableFrames = media.first { $0.codecType == "video" }?.packets ?? 0
                return " (\(frames.count) frames at \(fmt(frames.rate)) fps); \(readableFrames) frames readable"
            } ?? ""
            report.add(
                "the container announces \(describe(seconds: announced.seconds))\(frames): the last \(describe(seconds: missing)) are missing (the file ends before the footage its header announces)",
                as: .truncated)
        }
        if let partial = ContainerBounds.truncation(format.ioState.source, formatName: info.format.formatName) {
            report.add(partial, as: .truncated)
        }
        if !tail.isEmpty {
            report.add(
                "the file ends in unreadable data: \(tail.count) packet(s) or error(s) after the last good one, reading stopped at byte \(format.position) of \(size) (\(tail.first ?? ""))",
                as: .truncated)
        }

        // Recording gaps: notes, with the time they leave without footage.
        let gaps = (media.first { $0.codecType == "video" } ?? media[0]).gaps.filter { $0.kind == .jump }
        if let longest = gaps.max(by: { $0.length < $1.length }) {
            let found = IntegrityReport.RecordingGaps(
                count: gaps.count, total: gaps.reduce(0) { $0 + $1.length }, longest: longest.length, longestAt: longest.at)
            report.recordingGaps = found
            report.notes.append(found.sentence + " (timestamps jump; the packets around each gap read whole)")
        }
        for gap in (media.first { $0.codecType == "video" } ?? media[0]).gaps where gap.kind == .backwards {
            report.notes.append("timestamps jump back \(describe(seconds: gap.length)) at \(clock(gap.at)) (a recorder clock change?)")
        }

        switch report.judgement {
        case .complete:
            let counts = media.map { "\($0.packets) \($0.codecType)" }.joined(separator: ", ")
            report.summary = "complete: all packets read (\(counts))"
                + (readable.map { "; \(describe(seconds: $0)) of footage" } ?? "")
                + (report.recordingGaps.map { "; " + $0.sentence } ?? "")
        case .problems(let problems):
            switch problems.verdict {
            case .damaged:
                report.summary = timedOut
                    ? "could not be read to its end within the time limit; \(problems.first)"
                    : "damaged: " + problems.all.filter { !$0.hasPrefix("the container announces") }.prefix(3).joined(separator: "; ")
            case .truncated:
                if let missing, let announced {
                    var frames = ""
                    if let count = announced.frames?.count, let readableFrames = media.first(where: { $0.codecType == "video" })?.packets {
                        frames = "\(readableFrames) of \(count) frames readable; "
                    }
                    report.summary = "truncated: \(frames)the last \(describe(seconds: missing)) of \(describe(seconds: announced.seconds)) are missing"
                } else {
                    report.summary = "truncated: " + problems.first
                }
            case .notMedia:
                report.summary = problems.first
            }
        }
        return report
    }

    /// The length the container announces: the longest of its header's duration (when not guessed from the bit
    /// rate), each audio or video stream's duration, and each video stream's frame count at its frame rate (AVI's
    /// `dwLength`, MP4's sample count), with the frame count behind the longest when it gave it.
    struct Announced {
        var seconds: Double
        var frames: (count: Int64, rate: Double)?
    }

    static func announcedLength(_ info: MediaInfo, format: FormatContext) -> Announced? {
        var best: Announced?
        func consider(_ seconds: Double?, frames: (Int64, Double)? = nil) {
            guard let seconds, seconds.isFinite, seconds > 0, seconds < 1e7 else { return }
            if seconds > (best?.seconds ?? 0) + 1e-6 { best = Announced(seconds: seconds, frames: frames) }
        }
        if !format.durationGuessedFromBitRate { consider(info.format.duration) }
        for stream in info.streams where stream.isVideo || stream.isAudio {
            consider(stream.duration)
            if stream.isVideo, let count = stream.nbFrames, count > 1, let fps = stream.framesPerSecond, fps > 0, fps < 1000 {
                consider(Double(count) / fps, frames: (count, fps))
            }
        }
        return best
    }

    /// `MJPEG 320×240 video and PCM audio`.
    static func describeStreams(_ info: MediaInfo) -> String {
        let parts = info.streams.filter { $0.isVideo || $0.isAudio }.map { stream -> String in
            let codec = stream.codecName.uppercased().replacingOccurrences(of: "PCM_", with: "PCM ")
            if stream.isVideo, let width = stream.width, let height = stream.height {
                return "\(codec) \(width)×\(height) video"
            }
            return "\(codec) \(stream.codecType)"
        }
        switch parts.count {
        case 0: return "no audio or video"
        case 1: return parts[0]
        default: return parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1]
        }
    }
}

func fmt(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
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
