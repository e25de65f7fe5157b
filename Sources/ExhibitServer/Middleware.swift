import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore

/// Turns every error into an RFC 9457 problem response (outermost, so router errors are covered too).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = ExhibitRequestContext
    let logger: Logger

    static let routes = RouteTable(openAPI: ExhibitHTTPServer.openAPIDocument)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var problem = Problem.from(error)
            // A path the API has, asked with a method it does not take: 405 and what it takes.
            if problem.kind == .notFound, problem.detail == Problem.noSuchRoute, let methods = Self.routes.methods(for: request.uri.path),
               !methods.contains(request.method.rawValue) {
                problem = Problem(.methodNotAllowed, "\(request.uri.path) takes \(methods.joined(separator: ", ")), not \(request.method.rawValue)")
                problem.headers[.allow] = methods.joined(separator: ", ")
            } else if problem.kind == .notFound, problem.detail == Problem.noSuchRoute,
                      let hint = Self.routes.slashHint(for: request.uri.path) {
                problem = Problem(.notFound, hint)
            }
            if problem.kind == .internalError {
                logger.error("internal error on \(request.method) \(redactedPath(request.uri.path)): \(String(reflecting: error))")
            }
            return try problem.response(from: request, context: context)
        }
    }
}

/// One log line per request: method, path (share tokens redacted), status, bytes sent, duration.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = ExhibitRequestContext
    let logger: Logger
    /// Where the lines go in batches (a running server's); nil: through the logger, a line at a time.
    var accessLog: AccessLog? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // With the request log off (LOG_LEVEL above info), a request costs nothing here: no clock, no wrapper.
        guard logger.logLevel <= .info else { return try await next(request, context) }
        let start = ContinuousClock.now
        let path = redactedPath(request.uri.path)
        var response = try await next(request, context)
        let status = response.status.code
        let method = request.method
        let remote = context.remoteAddress
        let logger = self.logger
        if let accessLog {
            let started = RequestMetrics.now()
            response.body = response.body.observed { bytes, finished in
                accessLog.record(
                    method: method, path: path, status: status, bytes: bytes, finished: finished,
                    nanoseconds: RequestMetrics.now() &- started, client: remote)
            }
            return response
        }
        response.body = response.body.observed { bytes, finished in
            let elapsed = ContinuousClock.now - start
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            let cut = finished ? "" : " (cut short)"
            logger.info("\(method) \(path) \(status) \(bytes)B\(cut) \(String(format: "%.1f", milliseconds))ms \(remote)")
        }
        return response
    }
}

/// Share links and footage requests' links carry a secret in their path: never log it (a request link's path
/// keeps what follows the token: `/r/[redacted]/uploads/up_…`).
func redactedPath(_ path: String) -> String {
    if path.hasPrefix("/s/") { return "/s/[redacted]" }
    if path.hasPrefix("/r/") {
        let rest = path.dropFirst(3)
        return "/r/[redacted]" + (rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "")
    }
    return path
}

final class ByteCounter: @unchecked Sendable {
    // Updated from the response body writer, which writes one buffer at a time, then read once it is done.
    private(set) var value = 0
    var finished = false
    func add(_ count: Int) { value += count }
}

/// Passes writes through, counting bytes and noting whether the body was finished.
struct CountingWriter: ResponseBodyWriter {
    var parent: any ResponseBodyWriter
    let counter: ByteCounter

    mutating func write(_ buffer: ByteBuffer) async throws {
        try await parent.write(buffer)
        counter.add(buffer.readableBytes)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await parent.finish(trailingHeaders)
        counter.finished = true
    }
}

extension ResponseBody {
    /// The same body, calling `done(bytes written, finished)` once writing ends, completely or not (a client
    /// that goes away cuts it short).
    func observed(_ done: @escaping @Sendable (Int, Bool) -> Void) -> ResponseBody {
        let original = self
        return ResponseBody(contentLength: contentLength) { writer in
            let counter = ByteCounter()
            defer { done(counter.value, counter.finished) }
            try await original.write(CountingWriter(parent: writer, counter: counter))
        }
    }
}

/// Requires `Authorization: Bearer <token>`; a missing or unknown token is 401 with no hint which. A request with
/// no `Authorization` but the web app's session cookie is the signed-in user's (the pages' scripts call the same
/// API); when it changes something (any method but GET, HEAD and OPTIONS) it must also carry the session's CSRF
/// token in `X-CSRF-Token`, which a page on another site cannot read or send.
struct Authenticator: RouterMiddleware {
    typealias Context = ExhibitRequestContext
    let store: EvidenceStore
    /// Paths served without a token.
    let open: Set<String>
    /// Path prefixes served without a token (share links carry their own credential).
    let openPrefixes: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if open.contains(path) || openPrefixes.contains(where: { path.hasPrefix($0) }) { return try await next(request, context) }
        let challenge: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"exhibit\""]
        if request.headers[.authorization] == nil, let session = request.cookies[WebApp.sessionCookie]?.value, !session.isEmpty {
            guard let actor = try await store.actor(forSession: session, client: clientDescription(request, context)) else {
                throw Problem(.unauthorized, "the session has ended: sign in again", headers: challenge)
            }
            if ![.get, .head, .options].contains(request.method) {
                guard let name = HTTPField.Name("X-CSRF-Token"),
                      EvidenceStore.checkCSRF(request.headers[name], session: session) else {
                    throw Problem(.forbidden, "a request with the session cookie must carry the session's X-CSRF-Token")
                }
            }
            var context = context
            context.actor = actor
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.count > 7,
              header.prefix(7).lowercased() == "bearer "
        else { throw Problem(.unauthorized, "send Authorization: Bearer <token>", headers: challenge) }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let actor = try await store.authenticate(token: token, client: clientDescription(request, context)) else {
            throw Problem(.unauthorized, "the token is not valid", headers: challenge)
        }
        var context = context
        context.actor = actor
        return try await next(request, context)
    }
}

/// Counters exported at /metrics (with Hummingbird's request counts and durations).
struct ExhibitMetrics: Sendable {
    let uploads = Counter(label: "exhibit_uploads_total")
    let uploadFailures = Counter(label: "exhibit_upload_failures_total")
    let bytesIn = Counter(label: "exhibit_upload_bytes_total")
    let bytesOut = Counter(label: "exhibit_download_bytes_total")
    let verifyFailures = Counter(label: "exhibit_verify_failures_total")
}
