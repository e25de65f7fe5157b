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

/// The custody export (`GET /v1/custody`), signed and streamed.
extension Controllers {
    /// `GET /v1/custody?format=jsonl|csv|json&case=&exhibit=&since=&until=`: a signed export, streamed.
    func custody(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let client = Actor(name: actor.name, role: actor.role, client: clientDescription(request, context))
        let formatName = request.uri.queryValue("format") ?? "jsonl"
        guard let format = EvidenceStore.ExportFormat(rawValue: formatName) else {
            throw Problem(.badRequest, "format must be csv, json or jsonl")
        }
        var filter = EventFilter()
        filter.caseReference = request.uri.queryValue("case")
        if let exhibit = request.uri.queryValue("exhibit") {
            filter.exhibitIDs = [try await store.findExhibit(exhibit, case: filter.caseReference, for: client).id.rawValue]
        }
        for (name, keyPath) in [("since", \EventFilter.since), ("until", \EventFilter.until)] {
            if let text = request.uri.queryValue(name) {
                filter[keyPath: keyPath] = CustodyTime.string(try UTCTime.parse(text, field: name))
            }
        }
        // The export is collected in a temporary file first: the custody.exported event and the checkpoint are
        // written before the first byte is sent, and the response has a known length.
        let file = try TemporaryExport()
        let (count, checkpoint) = try await store.exportCustody(filter, format: format, by: client) { try file.write($0) }
        let contentType = switch format {
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        case .jsonl: "application/jsonl"
        }
        let headers: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-store",
            HTTPField.Name("Exhibit-Events")!: String(count),
            HTTPField.Name("Exhibit-Checkpoint")!: "seq=\(checkpoint.seq); hash=\(checkpoint.hash)",
        ]
        return Response(status: .ok, headers: headers, body: try file.responseBody())
    }
}
