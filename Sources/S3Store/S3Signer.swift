import ExhibitCrypto
import Foundation

/// AWS Signature Version 4 for S3 requests (header authentication).
///
/// The payload is always signed by its SHA-256 (`x-amz-content-sha256`), never `UNSIGNED-PAYLOAD`, so the store
/// checks the bytes it receives against the hash the writer computed.
struct S3Signer: Sendable {
    let accessKey: String
    let secretKey: String
    let region: String

    /// Characters left as they are in a URI component (RFC 3986 unreserved).
    static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256` and `Authorization`. `headers`
    /// are the request's other headers to sign (lowercase names), `path` is already URI-encoded.
    func sign(
        method: String, host: String, path: String, query: [(String, String)], headers: [String: String],
        payloadSHA256: String, date: Date = Date()
    ) -> [String: String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: date)
        let day = String(amzDate.prefix(8))
        var signed = headers
        signed["host"] = host
        signed["x-amz-date"] = amzDate
        signed["x-amz-content-sha256"] = payloadSHA256
        let names = signed.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(signed[$0]!.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        var pairs: [(name: String, value: String)] = []
        for (name, value) in query { pairs.append((Self.encode(name, keepSlash: false), Self.encode(value, keepSlash: false))) }
        pairs.sort { (a: (name: String, value: String), b: (name: String, value: String)) -> Bool in
            a.name == b.name ? a.value < b.value : a.name < b.name
        }
        let canonicalQuery = pairs.map { (pair: (name: String, value: String)) -> String in pair.name + "=" + pair.value }
            .joined(separator: "&")
        let canonicalRequest = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadSHA256].joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256.hash(canonicalRequest).hex].joined(separator: "\n")
        var key = HMACSHA256.mac(key: Array(("AWS4" + secretKey).utf8), message: Array(day.utf8))
        for part in [region, "s3", "aws4_request"] { key = HMACSHA256.mac(key: key, message: Array(part.utf8)) }
        let signature = Self.hex(HMACSHA256.mac(key: key, message: Array(stringToSign.utf8)))
        return [
            "x-amz-date": amzDate, "x-amz-content-sha256": payloadSHA256,
            "Authorization": "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
        ]
    }
}
