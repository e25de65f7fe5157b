internal import CFFmpeg

/// Decodes one stream's packets to find what demuxing cannot: data that is not a valid bitstream. Used for raw
/// elementary streams (`.h264`, `.hevc`, `.m2v`…), which have no container header to trust: the demuxer's parser
/// cuts any bytes into "packets", and only decoding says whether they are video. The decoder runs with the loop
/// filter and the inverse transform skipped (entropy decoding still checks every slice), and with
/// `err_recognition` strict, so damaged slices are errors instead of being concealed.
final class StreamDecoder {
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private(set) var framesDecoded = 0
    private(set) var corruptFrames = 0
    private(set) var errors = 0
    /// While armed, each packet's decode records what it gave: the pixels of each frame (`exhibit_frame_hash`)
    /// and the errors, of the latest packet and of the flush after it, to compare two decodes of a last packet.
    /// Off until armed, since hashing every frame of a long stream would cost as much as decoding it.
    var armed = false
    private(set) var lastPacketFrames: [UInt64] = []
    private(set) var lastPacketErrors = 0

    /// nil when there is no decoder for the stream's codec.
    init?(_ parameters: UnsafePointer<AVCodecParameters>) {
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id),
              let context = avcodec_alloc_context3(codec)
        else { return nil }
        self.context = context
        guard avcodec_parameters_to_context(context, parameters) >= 0 else { return nil }
        context.pointee.skip_loop_filter = AVDISCARD_ALL
        context.pointee.skip_idct = AVDISCARD_ALL
        context.pointee.err_recognition = AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_EXPLODE
        context.pointee.thread_count = 1
        guard avcodec_open2(context, codec, nil) >= 0, let frame = av_frame_alloc() else { return nil }
        self.frame = frame
    }

    deinit {
        if frame != nil { av_frame_free(&frame) }
        if context != nil { avcodec_free_context(&context) }
    }

    /// Decodes one packet (nil: the end, flushing what the decoder holds); returns the errors it caused.
    @discardableResult
    func decode(_ packet: UnsafeMutablePointer<AVPacket>?) -> Int {
        guard let context, let frame else { return 0 }
        if armed && packet != nil {
            lastPacketFrames = []
            lastPacketErrors = 0
        }
        var found = 0
        let sent = avcodec_send_packet(context, packet)
        if sent < 0 && sent != exhibit_averror_eof() && sent != exhibit_averror_eagain() { found += 1 }
        while true {
            let received = avcodec_receive_frame(context, frame)
            if received == exhibit_averror_eagain() || received == exhibit_averror_eof() { break }
            if received < 0 {
                found += 1
                // A decoder in error may keep answering it; one packet's worth is enough.
                break
            }
            framesDecoded += 1
            if armed { lastPacketFrames.append(exhibit_frame_hash(frame)) }
            if frame.pointee.decode_error_flags != 0 || frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 { corruptFrames += 1; found += 1 }
            av_frame_unref(frame)
        }
        errors += found
        if armed { lastPacketErrors += found }
        return found
    }
}
