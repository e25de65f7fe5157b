import Exhibit
import ExhibitModel
import ExhibitPolicies
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes

/// Cuts off clients too slow to be anything but a waste of a connection (`connections` in Policies/storage.yaml):
///
/// - a request whose headers are not complete within `header_timeout` of the connection opening or of the
///   previous response ending (slowloris, or an idle keep-alive connection);
/// - a request body whose next bytes do not arrive within `body_stall_timeout` while the server waits for them;
/// - a request body averaging less than `min_body_rate` bytes per second over the time the server waited for it.
///
/// Only time the server spends *waiting for the client* counts: the handler sees the server's own read requests
/// (`read()` travels through it), and while the server holds back reading (backpressure from a slow disk or
/// object store) no read is outstanding and no clock runs against the client.
final class SlowClientGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let cutOff = Counter(label: "exhibit_slow_clients_cut_total")

    private let policy: StoragePolicy.ConnectionPolicy
    private let logger: Logger
    private var timer: RepeatedTask?

    /// Waiting for a request head since this instant (nil while a request is read or answered).
    private var headSince: NIODeadline?
    /// Reading a request body.
    private var readingBody = false
    /// A read the server asked for that the client has not answered yet, since this instant.
    private var readPendingSince: NIODeadline?
    /// Time spent waiting for this request's body bytes, and the bytes that came.
    private var waited: TimeAmount = .zero
    private var bodyBytes: Int64 = 0
    private var requestsInProgress = 0

    init(policy: StoragePolicy.ConnectionPolicy, logger: Logger) {
        self.policy = policy
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        headSince = .now()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            let (handler, context) = loopBound.value
            handler.check(context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        if let since = readPendingSince {
            if readingBody { waited = waited + (now - since) }
            readPendingSince = nil
        }
        switch unwrapInboundIn(data) {
        case .head:
            headSince = nil
            readingBody = true
            requestsInProgress += 1
            waited = .zero
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += Int64(buffer.readableBytes)
        case .end:
            readingBody = false
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if readPendingSince == nil { readPendingSince = .now() }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            requestsInProgress = max(0, requestsInProgress - 1)
            if requestsInProgress == 0 && !readingBody { headSince = .now() }
        }
        context.write(data, promise: promise)
    }

    private func check(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if let since = headSince, now - since > TimeAmount(policy.headerTimeout) {
            cut(context, "no complete request headers within \(policy.headerTimeout)")
            return
        }
        guard readingBody else { return }
        var waitedNow = waited
        if let since = readPendingSince {
            if now - since > TimeAmount(policy.bodyStallTimeout) {
                cut(context, "no request body bytes for \(policy.bodyStallTimeout)")
                return
            }
            waitedNow = waitedNow + (now - since)
        }
        let grace = TimeAmount(policy.rateGrace)
        if policy.minBodyRate > 0, waitedNow > grace {
            let seconds = Double(waitedNow.nanoseconds) / 1e9
            if Double(bodyBytes) / seconds < Double(policy.minBodyRate) {
                cut(context, "request body slower than \(policy.minBodyRate) bytes/s (\(bodyBytes) bytes in \(Int(seconds)) s of waiting)")
            }
        }
    }

    private func cut(_ context: ChannelHandlerContext, _ reason: String) {
        timer?.cancel()
        timer = nil
        Self.cutOff.increment()
        logger.info("slow client cut off", metadata: ["reason": .string(reason), "peer": .string(context.remoteAddress?.description ?? "?")])
        context.close(promise: nil)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
