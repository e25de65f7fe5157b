import Exhibit
public import ExhibitModel
import ExhibitPolicies
import HTTPTypes
public import Hummingbird
import HummingbirdCore
import Foundation
import NIOCore

/// The per-request context: who is acting (set by `Authenticator`) and from where.
public struct ExhibitRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user; `nil` only on the routes that need no token.
    public var actor: Actor?
    /// The peer's IP address.
    public let remoteAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Small JSON bodies only: uploads stream and never collect.
    public var maxUploadSize: Int { 64 << 10 }

    func requireActor() throws -> Actor {
        guard let actor else { throw Problem(.unauthorized, "a bearer token is required") }
        return actor
    }
}

/// `http:<address> <user agent>`, the client recorded in custody events (the agent cut to 200 printable chars).
func clientDescription(_ request: Request, _ context: ExhibitRequestContext) -> String {
    let agent = request.headers[.userAgent].map { text in
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.map(Character.init).prefix(200))
    } ?? "-"
    return "http:\(context.remoteAddress) \(agent)"
}

extension Parameters {
    /// A path parameter, percent-decoded (case references like `2017%2FMPS%2F0421` carry slashes).
    func decoded(_ name: String) throws -> String {
        guard let raw = self.get(name) else { throw Problem(.badRequest, "missing path parameter \(name)") }
        guard let value = raw.removingPercentEncoding, !value.isEmpty else {
            throw Problem(.badRequest, "path parameter \(name) is not valid percent-encoding")
        }
        return value
    }
}
