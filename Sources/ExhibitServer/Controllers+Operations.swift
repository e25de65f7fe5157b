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
    func health(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try await store.checkCatalogAnswers()
        return try jsonResponse(["status": "ok"])
    }

    func openAPIDocument(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
    }
}
