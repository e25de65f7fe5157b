public import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation
import HTTPTypes
public import Hummingbird
import HummingbirdCore
import HummingbirdCore
public import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// Where and how the server listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Requests whose headers together exceed this are refused.
    public var maxHeaderSize: Int
    /// The address people reach this server at (`--public-url`), which links start with; nil: `public_url` from
    /// Policies/sharing.yaml, else the address the server listens on.
    public var publicURL: String?

    public init(host: String = "127.0.0.1", port: Int = 8080, maxHeaderSize: Int = 16 << 10, publicURL: String? = nil) {
        self.host = host
        self.port = port
        self.maxHeaderSize = maxHeaderSize
        self.publicURL = publicURL
    }
}

/// The one address every link this server hands out starts with. It is configured (`--public-url`, or
/// `public_url` in the policy) or, failing both, the address the server listens on once it is bound; never taken
/// from a request's `Host` or `X-Forwarded-*` headers, which any client can set.
public final class PublicURL: Sendable {
    private let value: Mutex<String>
    /// Whether the address was configured (else it follows the listening port).
    let configured: Bool

    init(configured: String?, fallback: String) {
        self.configured = configured != nil
        value = Mutex(configured ?? fallback)
    }

    public var current: String { value.withLock { $0 } }

    func listening(on url: String) {
        if !configured { value.withLock { $0 = url } }
    }
}

/// The Exhibit HTTP server: builds the router and the application over an `EvidenceStore`.
public enum ExhibitHTTPServer {
    /// The process-wide Prometheus registry behind /metrics (swift-metrics is bootstrapped once per process).
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// The OpenAPI description served at /openapi.yaml (Sources/ExhibitServer/openapi.yaml).
    public static var openAPIDocument: String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "openapi: 3.1.0\ninfo: {title: Exhibit, version: '1'}\npaths: {}\n" }
        return text
    }

    /// Every route, with the middleware that authenticates all but /healthz and /metrics.
    public static func buildRouter(store: EvidenceStore, logger: Logger, workingCopies: WorkingCopyService? = nil) -> Router<ExhibitRequestContext> {
        buildRouter(
            store: store, logger: logger, workingCopies: workingCopies, linkViews: LinkViewCounters(),
            publicURL: PublicURL(configured: store.policies.sharing.publicURL, fallback: "http://127.0.0.1:8080"), accessLog: nil)
    }

    static func buildRouter(
        store: EvidenceStore, logger: Logger, workingCopies: WorkingCopyService?, linkViews: LinkViewCounters, publicURL: PublicURL,
        accessLog: AccessLog?
    ) -> Router<ExhibitRequestContext> {
        let registry = Self.registry
        let metrics = ExhibitMetrics()
        let controllers = Controllers(store: store, metrics: metrics, openAPI: openAPIDocument, workingCopies: workingCopies)
        let router = Router(context: ExhibitRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger, accessLog: accessLog))
        router.add(middleware: ProblemMiddleware(logger: logger))
        router.add(middleware: TusHeaderMiddleware())
        let requestMetrics = RequestMetrics()
        router.add(middleware: RequestMetricsMiddleware(metrics: requestMetrics))
        // Every path needs a token except these: an unknown path without a token is 401, not 404.
        // The web app's pages (`/`, `/app…`) authenticate by their session cookie, the links by their token.
        router.add(middleware: Authenticator(store: store, open: ["/healthz", "/readyz", "/metrics", "/", "/app"], openPrefixes: ["/s/", "/r/", "/app/"]))

        // Open to anyone: liveness and metrics (no evidence in either).
        router.get("/healthz", use: controllers.health)
        router.get("/readyz", use: controllers.ready)
        router.get("/metrics") { _, _ in
            var buffer = ByteBuffer(bytes: registry.emitToBuffer())
            buffer.writeString(requestMetrics.exposition())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: buffer))
        }

        let api = router
        api.get("/openapi.yaml", use: controllers.openAPIDocument)
        api.get("/v1/me", use: controllers.me)
        api.get("/v1/users", use: controllers.users)
        api.post("/v1/users", use: controllers.addUser)
        api.delete("/v1/users/{name}", use: controllers.disableUser)
        api.post("/v1/users/{name}/disable", use: controllers.disableUser)
        api.post("/v1/users/{name}/enable", use: controllers.enableUser)
        api.post("/v1/users/{name}/token", use: controllers.reissueToken)
        api.delete("/v1/users/{name}/token", use: controllers.reissueToken)
        api.get("/v1/cases", use: controllers.cases)
        api.post("/v1/cases", use: controllers.createCase)
        api.get("/v1/cases/{case}", use: controllers.showCase)
        api.post("/v1/cases/{case}/members", use: controllers.addMember)
        api.get("/v1/cases/{case}/exhibits", use: controllers.caseExhibits)
        api.post("/v1/cases/{case}/exhibits", use: controllers.upload)
        // `curl -T file URL` sends PUT: the same upload.
        api.put("/v1/cases/{case}/exhibits", use: controllers.upload)
        api.get("/v1/exhibits", use: controllers.findCovering)
        api.get("/v1/exhibits/{exhibit}", use: controllers.showExhibit)
        api.get("/v1/exhibits/{exhibit}/content", use: controllers.content)
        api.head("/v1/exhibits/{exhibit}/content", use: controllers.content)
        api.get("/v1/exhibits/{exhibit}/working-copy", use: controllers.workingCopyContent)
        api.head("/v1/exhibits/{exhibit}/working-copy", use: controllers.workingCopyContent)
        api.post("/v1/exhibits/{exhibit}/working-copy", use: controllers.requestWorkingCopy)
        api.get("/v1/exhibits/{exhibit}/bundle", use: controllers.bundle)
        api.get("/v1/custody", use: controllers.custody)
        let custodyLog = CustodyLogController(store: store)
        api.get("/v1/custody/checkpoint", use: custodyLog.checkpoint)
        api.get("/v1/custody/proof", use: custodyLog.proof)
        api.get("/v1/custody/tile/**", use: custodyLog.tile)

        let tus = TusController(store: store, controllers: controllers)
        api.on("/v1/uploads", method: .options, use: tus.options)
        api.post("/v1/uploads", use: tus.create)
        api.head("/v1/uploads/{upload}", use: tus.head)
        api.get("/v1/uploads/{upload}", use: tus.show)
        api.patch("/v1/uploads/{upload}", use: tus.patch)
        api.delete("/v1/uploads/{upload}", use: tus.delete)

        let retention = RetentionController(store: store)
        api.put("/v1/cases/{case}/status", use: retention.setStatus)
        api.post("/v1/cases/{case}/hold", use: retention.setHold)
        api.delete("/v1/cases/{case}/hold", use: retention.releaseHold)
        api.post("/v1/exhibits/{exhibit}/hold", use: retention.setHold)
        api.delete("/v1/exhibits/{exhibit}/hold", use: retention.releaseHold)
        api.get("/v1/holds", use: retention.holds)
        api.get("/v1/retention/plan", use: retention.plan)

        let shares = ShareController(store: store, controllers: controllers, views: linkViews, publicURL: publicURL, logger: logger)
        api.post("/v1/exhibits/{exhibit}/shares", use: shares.create)
        api.get("/v1/exhibits/{exhibit}/shares", use: shares.list)
        api.delete("/v1/shares/{share}", use: shares.revoke)
        // Open to anyone holding a link: the link itself is the credential.
        api.get("/s/{token}", use: shares.link)
        api.head("/s/{token}", use: shares.link)

        let requests = RequestController(store: store, tus: tus, publicURL: publicURL, limiter: RequestUploadLimiter(now: store.now))
        api.post("/v1/cases/{case}/requests", use: requests.create)
        api.get("/v1/cases/{case}/requests", use: requests.list)
        api.get("/v1/requests/{request}", use: requests.show)
        api.delete("/v1/requests/{request}", use: requests.revoke)
        // Open to anyone holding a request's link: it grants upload into its case, within its limits, and nothing else.
        api.on("/r/{token}/uploads", method: .options, use: requests.options)
        api.post("/r/{token}/uploads", use: requests.createUpload)
        api.head("/r/{token}/uploads/{upload}", use: requests.head)
        api.get("/r/{token}/uploads/{upload}", use: requests.showUpload)
        api.patch("/r/{token}/uploads/{upload}", use: requests.patch)
        api.delete("/r/{token}/uploads/{upload}", use: requests.delete)

        WebApp(store: store, publicURL: publicURL, logger: logger).register(on: router)
        return router
    }

    /// The application: router, HTTP/1.1 with bounded headers, slow clients cut off and connections bounded
    /// (`connections` in Policies/storage.yaml), graceful shutdown on SIGINT/SIGTERM through
    /// swift-service-lifecycle.
    public static func buildApplication(
        store: EvidenceStore, configuration: ServerConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let workingCopies = WorkingCopyService(store: store, logger: logger)
        let linkViews = LinkViewCounters()
        let shownHost = configuration.host == "0.0.0.0" || configuration.host == "::" ? "127.0.0.1" : configuration.host
        let publicURL = PublicURL(
            configured: configuration.publicURL ?? store.policies.sharing.publicURL,
            fallback: "http://\(shownHost):\(configuration.port)")
        let accessLog = AccessLog()
        let router = buildRouter(
            store: store, logger: logger, workingCopies: workingCopies, linkViews: linkViews, publicURL: publicURL, accessLog: accessLog)
        let connections = store.policies.storage.connections
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                SlowClientGuard(policy: connections, logger: logger), ExpectContinue(maxBodySize: store.policies.storage.maxUploadSize),
            ],
            idleTimeout: nil,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: configuration.maxHeaderSize, maxHeaderListSize: configuration.maxHeaderSize,
                maxHeaderFieldCount: 200))
        return Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "exhibit",
                availableConnectionsDelegate: MaximumAvailableConnections(connections.maxConnections, logger: logger)),
            services: [
                workingCopies, LinkViewService(store: store, counters: linkViews, logger: logger),
                RetentionService(store: store, logger: logger), UploadExpiryService(store: store, logger: logger),
                AccessLogService(log: accessLog), ScrubService(store: store),
            ],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                publicURL.listening(on: "http://\(shownHost):\(port)")
                do {
                    try store.recordPublicURL(publicURL.current)
                } catch {
                    logger.warning("cannot record the public address in \(store.publicURLPath): \(error)")
                }
                await onServerRunning(port)
            },
            logger: logger)
    }
}
