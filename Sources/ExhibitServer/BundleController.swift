import BlobStore
import Custody
import Exhibit
import ExhibitModel
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /v1/exhibits/{exhibit}/bundle`: the exhibit's court bundle as a zip, streamed (README, "Auditing").
/// Everything that can refuse (permissions, the witnesses' quorum) happens before the first byte; the bundle is
/// recorded (`bundle.created`) then written straight into the response, memory bounded by a small queue.
extension Controllers {
    func bundle(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        let plan = try await store.prepareBundle(exhibit: record.id.rawValue, case: nil, by: actor)
        let store = self.store
        let name = plan.name
        let body = ResponseBody { writer in
            let channel = BoundedChannel<ByteBuffer>(capacity: 8)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        let sink = ZipBundleSink(prefix: name) { try await channel.send($0) }
                        try await store.writeBundle(plan, into: sink)
                        channel.finish()
                    } catch {
                        channel.close(throwing: error)
                        throw error
                    }
                }
                while let buffer = try await channel.next() { try await writer.write(buffer) }
                try await group.waitForAll()
            }
            try await writer.finish(nil)
        }
        var headers: HTTPFields = [
            .contentType: "application/zip", .cacheControl: "no-store", .contentDisposition: "attachment; filename=\"\(name).zip\"",
        ]
        if let checkpoint = HTTPField.Name("Exhibit-Checkpoint") { headers[checkpoint] = "size=\(plan.checkpoint.seq)" }
        return Response(status: .ok, headers: headers, body: body)
    }
}
