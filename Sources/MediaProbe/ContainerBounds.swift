/// Where a container says its data ends, read from its own structure: a file shorter than that was cut. The
/// demuxers drop a partial last unit silently (a Matroska block, an MPEG-PS pack), so the scan alone cannot see
/// that the last frames are gone.
///
/// - MP4/MOV: the top-level boxes (`ftyp`, `moov`, `mdat`, …) chained by their sizes must end at the file's end.
/// - Matroska/WebM: the Segment's declared size (unless "unknown", as live recorders write it).
/// - MPEG-PS: the packs, system headers and PES packets chained by their lengths.
/// - MPEG-TS: whole 188-byte packets (192 for M2TS, 204 with FEC).
///
/// - AVI: each RIFF chunk's `movi` list, which holds every frame (its index, `idx1`, comes after it: a file cut
///   inside the index has lost no footage).
enum ContainerBounds {
    /// A sentence saying where the file stops inside its container, or nil when it ends where the container does
    /// (or the container gives no way to know).
    static func truncation(_ source: any ByteSource, formatName: String) -> String? {
        let reader = Reader(source: source)
        switch formatName {
        case "mov,mp4,m4a,3gp,3g2,mj2": return mp4(reader)
        case "avi": return avi(reader)
        case "matroska,webm": return matroska(reader)
        case "mpeg", "vob", "mpegvideo_ps": return programStream(reader)
        case "mpegts":
            let size = source.size
            guard size % 188 != 0 && size % 192 != 0 && size % 204 != 0 else { return nil }
            return "the file ends inside a transport-stream packet (\(size % 188) of 188 bytes present): it was cut"
        default: return nil
        }
    }

    static func mp4(_ reader: Reader) -> String? {
        var offset: Int64 = 0
        var boxes = 0
        while offset < reader.size, boxes < 100_000 {
            guard let header = reader.bytes(at: offset, count: 16), header.count >= 8 else {
                return "the file ends inside a box header at byte \(offset)"
            }
            var size = Int64(reader.uint32(header, 0))
            let type = String(decoding: header[4..<8].map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            if size == 1 {
                guard header.count >= 16 else { return "the file ends inside the header of its '\(type)' box" }
                size = Int64(bitPattern: (UInt64(reader.uint32(header, 8)) << 32) | UInt64(reader.uint32(header, 12)))
            } else if size == 0 {
                return nil  // the last box runs to the end of the file
            }
            guard size >= 8 else { return nil }  // not a box structure we can follow: no claim
            if offset + size > reader.size {
                return "the file ends inside its '\(type)' box: \(reader.size - offset) of its \(size) bytes are present"
            }
            offset += size
            boxes += 1
        }
        return nil
    }

    static func avi(_ reader: Reader) -> String? {
        var offset: Int64 = 0
        var riffs = 0
        // RIFF 'AVI ' then, past 1 GiB (OpenDML), RIFF 'AVIX' chunks, each with a LIST 'movi'.
        while offset + 12 <= reader.size, riffs < 10_000 {
            guard let head = reader.bytes(at: offset, count: 12), head.count == 12, head[0..<4] == [0x52, 0x49, 0x46, 0x46] else { return nil }
            let riffEnd = offset + 8 + Int64(reader.uint32le(head, 4))
            var chunk = offset + 12
            while chunk + 12 <= min(riffEnd, reader.size) {
                guard let header = reader.bytes(at: chunk, count: 12), header.count == 12 else { break }
                let size = Int64(reader.uint32le(header, 4))
                if header[0..<4] == [0x4C, 0x49, 0x53, 0x54], header[8..<12] == [0x6D, 0x6F, 0x76, 0x69] {  // LIST movi
                    let end = chunk + 8 + size
                    if end > reader.size {
                        return "the file ends inside its frames (the AVI 'movi' list): \(reader.size - chunk) of its \(size + 8) bytes are present"
                    }
                }
                chunk += 8 + size + (size & 1)
            }
            offset = riffEnd + (riffEnd & 1)
            riffs += 1
        }
        return nil
    }

    static func matroska(_ reader: Reader) -> String? {
        var offset: Int64 = 0
        // The EBML header, then the Segment.
        guard let ebml = reader.element(at: offset), ebml.id == 0x1A45_DFA3, let ebmlSize = ebml.size else { return nil }
        offset = ebml.dataStart + ebmlSize
        guard let segment = reader.element(at: offset), segment.id == 0x1853_8067 else { return nil }
        guard let size = segment.size else { return nil }  // unknown size: a live recording, no claim
        let end = segment.dataStart + size
        guard end > reader.size else { return nil }
        return "the file ends \(end - reader.size) bytes before its Matroska segment does (\(reader.size) of \(end) bytes present)"
    }

    static func programStream(_ reader: Reader) -> String? {
        var offset: Int64 = 0
        var units = 0
        while offset + 4 <= reader.size, units < 10_000_000 {
            guard let head = reader.bytes(at: offset, count: 14), head.count >= 4 else { break }
            guard head[0] == 0, head[1] == 0, head[2] == 1 else {
                // Not at a start code: find the next one (padding, or bytes a recorder wrote between packs).
                guard let next = reader.nextStartCode(from: offset + 1) else { return nil }
                offset = next
                continue
            }
            let code = head[3]
            var length: Int64
            switch code {
            case 0xB9:
                return nil  // MPEG_program_end_code: the stream says it ends here
            case 0xBA:
                guard head.count >= 14 else { return "the file ends inside a pack header at byte \(offset)" }
                length = (head[4] & 0xC0) == 0x40 ? 14 + Int64(head[13] & 0x07) : 12  // MPEG-2 or MPEG-1 pack header
            case 0xBB...0xFF:
                guard head.count >= 6 else { return "the file ends inside a packet header at byte \(offset)" }
                length = 6 + (Int64(head[4]) << 8 | Int64(head[5]))
            default:
                guard let next = reader.nextStartCode(from: offset + 4) else { return nil }
                offset = next
                continue
            }
            if offset + length > reader.size {
                return "the file ends inside a program-stream packet: \(reader.size - offset) of its \(length) bytes are present"
            }
            offset += length
            units += 1
        }
        return nil
    }

    /// Reads through a byte source, reporting nothing past its end.
    struct Reader {
        let source: any ByteSource
        var size: Int64 { source.size }

        func bytes(at offset: Int64, count: Int) -> [UInt8]? {
            guard offset >= 0, offset < size else { return nil }
            let wanted = Int(min(Int64(count), size - offset))
            var buffer = [UInt8](repeating: 0, count: wanted)
            let read = (try? buffer.withUnsafeMutableBytes { try source.read(at: offset, into: $0) }) ?? 0
            return read > 0 ? Array(buffer.prefix(read)) : nil
        }

        func uint32le(_ bytes: [UInt8], _ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }

        func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }

        /// An EBML element's id, where its data starts and its size (nil: unknown size).
        func element(at offset: Int64) -> (id: UInt32, dataStart: Int64, size: Int64?)? {
            guard let head = bytes(at: offset, count: 12), let first = head.first, first != 0 else { return nil }
            let idLength = first.leadingZeroBitCount + 1
            guard idLength <= 4, head.count > idLength else { return nil }
            var id: UInt32 = 0
            for i in 0..<idLength { id = id << 8 | UInt32(head[i]) }
            let sizeByte = head[idLength]
            guard sizeByte != 0 else { return nil }
            let sizeLength = sizeByte.leadingZeroBitCount + 1
            guard head.count >= idLength + sizeLength else { return nil }
            var value = UInt64(sizeByte & (0xFF >> sizeLength))
            var allOnes = value == UInt64(0xFF >> sizeLength)
            for i in 1..<sizeLength {
                value = value << 8 | UInt64(head[idLength + i])
                allOnes = allOnes && head[idLength + i] == 0xFF
            }
            guard value < UInt64(Int64.max) else { return nil }
            return (id, offset + Int64(idLength + sizeLength), allOnes ? nil : Int64(value))
        }

        /// The offset of the next `00 00 01` at or after `from`, searching at most 1 MiB.
        func nextStartCode(from: Int64) -> Int64? {
            var offset = from
            let limit = min(size, from + (1 << 20))
            while offset < limit {
                guard let chunk = bytes(at: offset, count: 64 << 10), chunk.count >= 3 else { return nil }
                for i in 0..<(chunk.count - 2) where chunk[i] == 0 && chunk[i + 1] == 0 && chunk[i + 2] == 1 {
                    return offset + Int64(i)
                }
                offset += Int64(chunk.count - 2)
            }
            return nil
        }
    }
}
