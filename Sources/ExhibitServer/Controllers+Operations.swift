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
import Logging
import MediaProbe
import NIOCore

/// Health and the OpenAPI document.
extension Controllers {
    /// `GET /healthz`: liveness. The process answers requests; nothing else is read, so a load balancer or a
    /// supervisor polling it costs the server nothing but the request itself.
    func health(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        Response(status: .ok, headers: Self.healthHeaders, body: .init(byteBuffer: Self.healthBody))
    }

    static let healthHeaders: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
    static let healthBody = ByteBuffer(string: #"{"status":"ok"}"#)

    /// `GET /readyz`: readiness. The catalog answers a read (503 when it does not: a database that cannot be
    /// reached), so traffic goes only to servers that can serve it.
    func ready(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try await store.checkCatalogAnswers()
        return try jsonResponse(["status": "ready"])
    }

    func openAPIDocument(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
    }
}
