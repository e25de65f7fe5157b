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

/// Exhibits: their records, lists and ranged content.
extension Controllers {
    func findExhibit(_ request: Request, _ context: ExhibitRequestContext, needing permission: Permission) async throws -> (Actor, ExhibitRecord) {
        let actor = try context.requireActor()
        let client = Actor(name: actor.name, role: actor.role, client: clientDescription(request, context))
        let record = try await store.findExhibit(
            try context.parameters.decoded("exhibit"), case: request.uri.queryValue("case"), for: client, needing: permission)
        return (client, record)
    }

    func showExhibit(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitRead)
        return try jsonResponse(try await detailed(try await store.view(record, by: actor)))
    }

    /// An exhibit with its working copies (for a master) and its playback plan.
    func detailed(_ record: ExhibitRecord) async throws -> ExhibitJSON {
        var json = ExhibitJSON(record)
        if !record.isWorkingCopy {
            json.plan = store.workingCopyPlan(record)
            json.copies = try await store.workingCopies(of: record).map(ExhibitJSON.init)
        }
        return json
    }

    /// `GET`/`HEAD /v1/exhibits/{exhibit}/working-copy`: the bytes of the master's latest working copy.
    func workingCopyContent(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        guard !record.isWorkingCopy else { return try await serve(record, request: request, actor: actor) }
        guard let copy = try await store.workingCopies(of: record).last else {
            let plan = store.workingCopyPlan(record)
            let status = record.workingCopyStatus.map { " (status: \($0)\(record.workingCopyError.map { ": \($0)" } ?? ""))" } ?? ""
            throw Problem(.notFound, "\(record.reference) has no working copy: \(plan.reason)\(status)")
        }
        return try await serve(copy, request: request, actor: actor)
    }

    /// `POST /v1/exhibits/{exhibit}/working-copy`: asks for a copy now (202, made in the background).
    func requestWorkingCopy(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        guard !record.isWorkingCopy else { throw Problem(.badRequest, "\(record.reference) is itself a working copy") }
        let plan = store.workingCopyPlan(record)
        if let copy = try await store.workingCopies(of: record).last {
            return try jsonResponse(["status": "exists", "reference": copy.reference, "id": copy.id.rawValue])
        }
        guard plan.operation == .remux || plan.operation == .transcode else {
            return try jsonResponse(["status": "not-needed", "reason": plan.reason])
        }
        guard let workingCopies else { throw Problem(.unavailable, "this server makes no working copies") }
        try await store.markWorkingCopyPending(record)
        workingCopies.enqueue(record.id, requestedBy: "requested by \(actor.name)")
        return try jsonResponse(["status": "queued", "operation": plan.operation.rawValue, "reason": plan.reason], status: .accepted)
    }

    /// `GET /v1/exhibits?covers=T[&case=…]`: exhibits whose span in true time contains T.
    func findCovering(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        guard let text = request.uri.queryValue("covers") else {
            throw Problem(.badRequest, "say the time with ?covers=<RFC 3339 time>", field: "covers")
        }
        let date = try UTCTime.parse(text, field: "covers")
        let found = try await store.exhibits(covering: date, in: request.uri.queryValue("case"), for: actor)
        return try jsonResponse(found.map(ExhibitJSON.init))
    }

    /// `GET` and `HEAD /v1/exhibits/{exhibit}/content`.
    func content(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, record) = try await findExhibit(request, context, needing: .exhibitDownload)
        return try await serve(record, request: request, actor: actor)
    }

    /// An exhibit's bytes with ranges and conditional requests; a download is recorded before any byte leaves.
    func serve(_ record: ExhibitRecord, request: Request, actor: Actor) async throws -> Response {
        let head = request.method == .head
        var headers = ContentResponse.headers(for: record)
        let etag = ContentResponse.etag(record)
        if ContentResponse.matches(request.headers[.ifNoneMatch], etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        var rangeRequest = ContentResponse.parse(request.headers[.range], size: record.size)
        if let ifRange = request.headers[.ifRange], !ContentResponse.matches(ifRange, etag: etag) { rangeRequest = .whole }
        switch rangeRequest {
        case .unsatisfiable:
            throw Problem(
                .rangeNotSatisfiable, "the exhibit has \(record.size) bytes; ask for one range such as bytes=0-1023",
                headers: [.contentRange: "bytes */\(record.size)"])
        case .whole:
            if head {
                _ = try await store.view(record, by: actor)
                headers[.contentLength] = String(record.size)
                return Response(status: .ok, headers: headers)
            }
            let contents = try await store.download(record, by: actor)
            return Response(status: .ok, headers: headers, body: ContentResponse.body(contents, metrics: metrics))
        case .range(let range):
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(record.size)"
            if head {
                _ = try await store.view(record, by: actor)
                headers[.contentLength] = String(range.count)
                return Response(status: .partialContent, headers: headers)
            }
            let contents = try await store.download(record, range: range, by: actor)
            return Response(status: .partialContent, headers: headers, body: ContentResponse.body(contents, metrics: metrics))
        }
    }
}
