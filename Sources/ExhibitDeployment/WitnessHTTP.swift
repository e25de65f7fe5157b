import AsyncHTTPClient
import Exhibit
import Foundation
import NIOCore
import NIOHTTP1

/// The witnesses' `add-checkpoint` over HTTP (C2SP tlog-witness), with a bounded answer and a deadline: a witness
/// that hangs never holds a checkpoint, an export or a bundle for long.
struct WitnessHTTP: WitnessTransport {
    let timeout: TimeAmount = .seconds(10)

    func addCheckpoint(url: URL, body: String) async throws -> (status: Int, body: String, contentType: String?) {
        let base = url.absoluteString.hasSuffix("/") ? String(url.absoluteString.dropLast()) : url.absoluteString
        var request = HTTPClientRequest(url: base + "/add-checkpoint")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let answer = try await response.body.collect(upTo: 64 << 10)
        return (Int(response.status.code), String(buffer: answer), response.headers.first(name: "Content-Type"))
    }
}
