import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` (RFC 9110 §10.1.1) with `100 Continue` as soon as the request head arrives, so a
/// client that asks before sending a body (curl does for any upload over 1 MiB, as do .NET and many S3 tools)
/// sends it at once instead of waiting out its own timeout (curl waits a second: a third of a 1 GiB upload's time
/// on loopback). A body declared larger than the largest upload gets no 100: the route answers 413 without
/// reading it, and the client need not send it at all.
final class ExpectContinue: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private let maxBodySize: Int64

    init(maxBodySize: Int64) {
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let request) = unwrapInboundIn(data),
           let expect = request.headerFields[.expect], expect.lowercased() == "100-continue",
           request.headerFields[.contentLength].flatMap({ Int64($0) }).map({ $0 <= maxBodySize }) ?? true {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(data)
    }
}
