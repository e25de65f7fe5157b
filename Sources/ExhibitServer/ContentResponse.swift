import CheckedInput
import BlobStore
import CoreMetrics
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import MediaProbe
import NIOCore
import Synchronization

/// Serving an exhibit's bytes: one RFC 9110 byte range at most, strong ETag (the SHA-256), `Repr-Digest`
/// (RFC 9530), `Content-Disposition` with the reference and original filename, conditional requests.
enum ContentResponse {
    /// What a `Range` header asks for.
    enum RangeRequest: Equatable {
        case whole
        case range(Range<Int64>)
        case unsatisfiable
    }

    /// Parses `Range` for a representation of `size` bytes (RFC 9110 §14.1.2). Several ranges are answered
    /// with the whole representation (allowed by the RFC); anything malformed or reversed is unsatisfiable.
    static func parse(_ header: String?, size: Int64) -> RangeRequest {
        guard let header else { return .whole }
        // The common form (`bytes=A-B`, `bytes=A-`, `bytes=-N`) without the general parsing below.
        if header.hasPrefix("bytes="), !header.utf8.contains(UInt8(ascii: ",")), !header.utf8.contains(UInt8(ascii: " ")) {
            guard let spec = ByteRangeSpec(header.dropFirst(6)), let range = spec.resolve(size: size) else { return .unsatisfiable }
            return .range(range)
        }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .unsatisfiable }
        let specs = trimmed.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard specs.count == 1 else {
            // Multiple ranges: valid syntax is served whole; junk is refused.
            return specs.allSatisfy { ByteRangeSpec($0) != nil } ? .whole : .unsatisfiable
        }
        guard let spec = ByteRangeSpec(specs[0]), let range = spec.resolve(size: size) else { return .unsatisfiable }
        return .range(range)
    }

    static func etag(_ exhibit: ExhibitRecord) -> String { "\"\(exhibit.sha256.hex)\"" }

    /// `headers(for:)` with `Content-Disposition: <kind>`, remembered per exhibit (these fields never change),
    /// for the many requests of a player.
    static func cachedHeaders(for exhibit: ExhibitRecord, kind: String) -> HTTPFields {
        let key = exhibit.id.rawValue + "\u{0}" + kind
        if let fields = headerCache.withLock({ $0[key] }) { return fields }
        var fields = headers(for: exhibit)
        fields[.contentDisposition] = disposition(exhibit, kind: kind)
        headerCache.withLock { cache in
            if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
            cache[key] = fields
        }
        return fields
    }

    static let headerCache = Mutex<[String: HTTPFields]>([:])

    static func headers(for exhibit: ExhibitRecord) -> HTTPFields {
        var headers: HTTPFields = [:]
        headers[.contentType] = mediaType(exhibit)
        headers[.eTag] = etag(exhibit)
        headers[HTTPField.Name("Repr-Digest")!] = "sha-256=:\(exhibit.sha256.base64):"
        headers[.acceptRanges] = "bytes"
        headers[.contentDisposition] = disposition(exhibit)
        headers[.cacheControl] = "private, no-cache"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        if let date = CustodyTime.parse(exhibit.uploadedAt) {
            headers[.lastModified] = httpDate(date)
        }
        return headers
    }

    /// `attachment; filename="JS-1_cam1.mp4"; filename*=UTF-8''JS-1_cam%C3%A91.mp4`.
    static func disposition(_ exhibit: ExhibitRecord, kind: String = "attachment") -> String {
        // Bidirectional controls are neutralised: a name `é\u{202E}gpm.exe` must not be saved as what reads `éexe.mpg`.
        let name = exhibit.reference.replacingOccurrences(of: "/", with: "-") + "_" + DisplayText.neutralised(exhibit.filename)
        let ascii = String(name.unicodeScalars.map { scalar -> Character in
            (scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7f && scalar != "\"" && scalar != "\\" && scalar != ";")
                ? Character(scalar) : "_"
        })
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? ascii
        return "\(kind); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    /// The media type from the probe: what a browser needs to play it, else generic bytes.
    static func mediaType(_ exhibit: ExhibitRecord) -> String {
        guard let media = exhibit.media else { return "application/octet-stream" }
        let format = media.format.formatName
        let hasVideo = !media.videoStreams.isEmpty
        let codecs = Set(media.streams.map(\.codecName))
        switch format {
        case "mov,mp4,m4a,3gp,3g2,mj2":
            if media.format.tags["major_brand"]?.hasPrefix("qt") == true { return "video/quicktime" }
            return hasVideo ? "video/mp4" : "audio/mp4"
        case "matroska,webm":
            let webm = codecs.isSubset(of: ["vp8", "vp9", "av1", "opus", "vorbis"])
            return webm ? (hasVideo ? "video/webm" : "audio/webm") : (hasVideo ? "video/x-matroska" : "audio/x-matroska")
        case "avi": return "video/x-msvideo"
        case "mpegts": return "video/mp2t"
        case "mpeg", "vob": return "video/mpeg"
        case "h264": return "video/h264"
        case "hevc": return "video/h265"
        case "mp3": return "audio/mpeg"
        case "flv": return "video/x-flv"
        case "asf": return "video/x-ms-asf"
        case "ogg": return hasVideo ? "video/ogg" : "audio/ogg"
        case "wav": return "audio/wav"
        default: return "application/octet-stream"
        }
    }

    /// An HTTP date (RFC 9110 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, from the custody time form.
    static func httpDate(_ date: Date) -> String {
        let text = CustodyTime.string(date)  // YYYY-MM-DDTHH:MM:SS.mmmZ
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = Array(text.utf8)
        func slice(_ from: Int, _ to: Int) -> String { String(decoding: parts[from..<to], as: UTF8.self) }
        let month = months[(Int(slice(5, 7)) ?? 1) - 1]
        return "\(weekday), \(slice(8, 10)) \(month) \(slice(0, 4)) \(slice(11, 19)) GMT"
    }

    /// Whether an `If-None-Match` or `If-Range` value names this ETag (weak comparison for If-None-Match).
    static func matches(_ header: String?, etag: String) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { item in
            let tag = item.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }

    /// Streams `contents` as a response body of known length.
    static func body(_ contents: BlobContents, metrics: ExhibitMetrics) -> ResponseBody {
        ResponseBody(contentLength: Int(contents.count)) { writer in
            for try await piece in contents {
                metrics.bytesOut.increment(by: piece.readableBytes)
                try await writer.write(piece)
            }
            try await writer.finish(nil)
        }
    }
}
