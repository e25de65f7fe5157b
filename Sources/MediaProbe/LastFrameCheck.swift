internal import CFFmpeg

/// The packets of a video stream's last two groups of pictures (a group: from a key frame to the next), kept as
/// references and freed as the groups pass. Two, because the pictures at the start of an open group (HEVC's
/// RASL, H.264 after a recovery point) refer to the group before it and are skipped when decoding starts at its
/// key frame.
struct LastGroup {
    /// The group before the last one: empty when there was none or it outgrew the bounds.
    private(set) var previous: [UnsafeMutablePointer<AVPacket>] = []
    /// The last group, from its key frame.
    private(set) var packets: [UnsafeMutablePointer<AVPacket>] = []
    private var bytes = 0
    /// False once the last group outgrew its bounds (or the stream had no key frame to start from).
    private(set) var usable = false

    static let maximumPackets = 1200
    static let maximumBytes = 64 << 20

    /// Both groups, for a decoder that must reach every picture of the last one.
    var bothGroups: [UnsafeMutablePointer<AVPacket>] { previous + packets }

    mutating func keep(_ packet: UnsafeMutablePointer<AVPacket>) {
        if packet.pointee.flags & AV_PKT_FLAG_KEY != 0 {
            Self.free(&previous)
            if usable {
                previous = packets
                packets = []
            } else {
                Self.free(&packets)
            }
            bytes = previous.reduce(0) { $0 + Int($1.pointee.size) }
            usable = true
        }
        guard usable else { return }
        let size = Int(packet.pointee.size)
        if previous.count + packets.count >= Self.maximumPackets || bytes + size > Self.maximumBytes {
            // The group before goes first; the last group alone must fit.
            bytes -= previous.reduce(0) { $0 + Int($1.pointee.size) }
            Self.free(&previous)
        }
        guard packets.count < Self.maximumPackets, bytes + size <= Self.maximumBytes,
              let copy = av_packet_clone(packet)
        else {
            clear()
            return
        }
        packets.append(copy)
        bytes += size
    }

    mutating func clear() {
        Self.free(&previous)
        Self.free(&packets)
        bytes = 0
        usable = false
    }

    private static func free(_ packets: inout [UnsafeMutablePointer<AVPacket>]) {
        for var packet in packets as [UnsafeMutablePointer<AVPacket>?] { av_packet_free(&packet) }
        packets.removeAll()
    }
}

/// Whether an Annex B H.264 or HEVC stream's last frame was cut short inside its last slice.
///
/// The decoders do not notice: a slice cut short is decoded on into the zero bytes that pad every packet, which
/// reads as plausible macroblocks (CABAC decodes zeros as its most probable symbols), with no error and no
/// corruption flag. So the last group of pictures is decoded twice, once as read and once with bytes that are not
/// zero appended to the last packet (both with the loop filter and inverse transform skipped, like every check
/// decode here: the pictures still differ wherever the macroblocks decoded do). A slice that is whole ends on its own end-of-slice flag and never reads past
/// its last byte, so both decodes give the same pictures; a slice cut short reads on into what follows it, and
/// the pictures differ.
enum LastSliceCheck {
    /// Codecs whose slices end by their own syntax, so extra bytes after a whole slice are never read.
    static func applies(to parameters: UnsafePointer<AVCodecParameters>, lastPacket: UnsafeMutablePointer<AVPacket>) -> Bool {
        let codec = parameters.pointee.codec_id
        guard codec == AV_CODEC_ID_H264 || codec == AV_CODEC_ID_HEVC,
              let data = lastPacket.pointee.data, lastPacket.pointee.size >= 4
        else { return false }
        // Annex B (start codes, as in raw streams and MPEG-TS): appending bytes lengthens the last NAL unit. In
        // the length-prefixed form (MP4, Matroska) the container holds each packet's size and a short one is
        // found when it is read.
        return data[0] == 0 && data[1] == 0 && (data[2] == 1 || (data[2] == 0 && data[3] == 1))
    }

    /// What is wrong with how the last packet ends, when the file stops in the next access unit: a start code with
    /// nothing after it, or NAL units after the last picture that can only begin another one (parameter sets,
    /// SEI, an access unit delimiter), or no picture at all. nil when it ends with a picture (and what may follow
    /// one: end of sequence or stream, filler, suffix SEI).
    static func trailingProblem(_ packet: UnsafeMutablePointer<AVPacket>, parameters: UnsafePointer<AVCodecParameters>) -> String? {
        guard let data = packet.pointee.data else { return nil }
        let size = Int(packet.pointee.size)
        let hevc = parameters.pointee.codec_id == AV_CODEC_ID_HEVC
        let headerLength = hevc ? 2 : 1
        // Each NAL unit: where its header starts and where the next start code (or the end) is.
        var units: [(start: Int, end: Int)] = []
        var i = 0
        while i + 2 < size {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                if let open = units.indices.last { units[open].end = i }
                units.append((i + 3, size))
                i += 3
            } else {
                i += 1
            }
        }
        guard let lastUnit = units.last else { return nil }
        if lastUnit.end - lastUnit.start < headerLength {
            return "the file ends inside the start of a NAL unit (\(lastUnit.end - lastUnit.start) byte(s) after its start code)"
        }
        func type(_ unit: (start: Int, end: Int)) -> Int {
            hevc ? Int(data[unit.start] >> 1) & 0x3F : Int(data[unit.start]) & 0x1F
        }
        func isPicture(_ type: Int) -> Bool { hevc ? type < 32 : (1...5).contains(type) || type == 20 || type == 21 }
        // What may follow the last picture of a stream.
        let mayFollow: Set<Int> = hevc ? [36, 37, 38, 40] : [10, 11, 12, 19]
        let unspecified = hevc ? 41..<64 : 22..<32
        guard let lastPicture = units.lastIndex(where: { isPicture(type($0)) }) else {
            return "the last access unit holds no picture (the file ends after the first NAL units of the next one)"
        }
        let next = units[(lastPicture + 1)...].map(type).first { !mayFollow.contains($0) && !unspecified.contains($0) }
        return next.map { "the file ends in the next access unit, after its NAL unit of type \($0) (its picture is missing)" }
    }

    /// True when the last packet's pictures change once bytes follow it: its last slice was cut short. `asRead`
    /// decoded the stream up to and including its last packet as read, armed for that packet and flushed (the
    /// scan's own decoder of a raw stream, or one that decoded the last group); the packets here (from a key
    /// frame to the last packet) are decoded again with the last one extended. nil when the check could not run.
    static func lastSliceIsCut(
        _ packets: [UnsafeMutablePointer<AVPacket>], parameters: UnsafePointer<AVCodecParameters>, asRead: StreamDecoder
    ) -> Bool? {
        guard let last = packets.last, let extended = StreamDecoder(parameters), let extendedLast = Self.extend(last)
        else { return nil }
        var longer: UnsafeMutablePointer<AVPacket>? = extendedLast
        defer { av_packet_free(&longer) }
        for packet in packets.dropLast() { extended.decode(packet) }
        extended.armed = true
        extended.decode(extendedLast)
        extended.decode(nil)
        return asRead.lastPacketFrames != extended.lastPacketFrames || asRead.lastPacketErrors != extended.lastPacketErrors
    }

    /// How many bytes follow the packet in the second decode: more than a decoder reads ahead.
    static let appended = 256

    /// A copy of the packet with `appended` bytes of 0xFF after its data (no start code can form in them).
    private static func extend(_ packet: UnsafeMutablePointer<AVPacket>) -> UnsafeMutablePointer<AVPacket>? {
        var copy = av_packet_alloc()
        guard let data = packet.pointee.data, let target = copy else {
            av_packet_free(&copy)
            return nil
        }
        let size = Int(packet.pointee.size)
        guard av_new_packet(target, Int32(size + appended)) >= 0, let bytes = target.pointee.data else {
            av_packet_free(&copy)
            return nil
        }
        bytes.update(from: data, count: size)
        (bytes + size).update(repeating: 0xFF, count: appended)
        target.pointee.pts = packet.pointee.pts
        target.pointee.dts = packet.pointee.dts
        target.pointee.duration = packet.pointee.duration
        target.pointee.flags = packet.pointee.flags
        target.pointee.stream_index = packet.pointee.stream_index
        return target
    }
}
