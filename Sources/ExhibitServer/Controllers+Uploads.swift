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

/// Uploads in one request (`POST /v1/cases/{case}/exhibits`).
extension Controllers {
    /// `POST /v1/cases/{case}/exhibits?filename=…`: the raw body streams through chunking and hashing.
    func upload(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let caseName = try context.parameters.decoded("case")
        guard let filename = request.uri.queryValue("filename"), !filename.isEmpty else {
            throw Problem(.badRequest, "say the file's name with ?filename=…")
        }
        let limit = store.policies.storage.maxUploadSize
        if let length = request.headers[.contentLength].flatMap(Int64.init) {
            guard length > 0 else { throw Problem(.badRequest, "the body is empty: there is nothing to store") }
            guard length <= limit else { throw Problem(.tooLarge, "the body is \(length) bytes; the limit is \(limit)") }
        }
        let expected = try request.headers[HTTPField.Name("Content-Digest")!].flatMap(Self.sha256ContentDigest)
        let time = try Self.timeInputs(request.uri)
        let declared = request.headers[.contentLength].flatMap(Int.init)
        let drainable = DrainableBody(request.body)
        let body = Coalesced(CountedBody(base: drainable, expectedLength: declared, metrics: metrics))
        do {
            let result = try await store.ingest(
                body, filename: filename, into: caseName,
                by: Actor(name: actor.name, role: actor.role, client: clientDescription(request, context)),
                time: time, expectedDigest: expected)
            metrics.uploads.increment()
            let plan = store.workingCopyPlan(result.exhibit)
            let exhibit = try await afterUpload(result.exhibit, by: actor.name)
            var json = ExhibitJSON(exhibit)
            json.plan = plan
            json.chunks = result.chunks
            json.newBytes = try await store.newBytesInCase(result)
            return try jsonResponse(json, status: .created, headers: [.location: "/v1/exhibits/\(result.exhibit.id)"])
        } catch {
            metrics.uploadFailures.increment()
            // A client still sending would see a reset connection instead of this answer: read the rest first.
            await drainable.drain(for: .seconds(30))
            throw error
        }
    }

    /// Queues a working copy of a new exhibit that needs one (when the policy makes them automatically).
    @discardableResult
    func afterUpload(_ exhibit: ExhibitRecord, by user: String) async throws -> ExhibitRecord {
        var exhibit = exhibit
        let plan = store.workingCopyPlan(exhibit)
        if let workingCopies, store.policies.storage.workingCopies.automatic,
           plan.operation == .remux || plan.operation == .transcode {
            try await store.markWorkingCopyPending(exhibit)
            exhibit.workingCopyStatus = .pending
            workingCopies.enqueue(exhibit.id, requestedBy: "after upload by \(user)")
        }
        return exhibit
    }

    /// `Content-Digest: sha-256=:<base64>:` (RFC 9530); other algorithms alone are ignored.
    static func sha256ContentDigest(_ header: String) throws -> SHA256Digest? {
        for member in header.split(separator: ",") {
            let parts = member.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "sha-256" else { continue }
            let value = parts[1]
            guard value.hasPrefix(":"), value.hasSuffix(":"), value.count > 2,
                  let data = Data(base64Encoded: String(value.dropFirst().dropLast())),
                  let digest = SHA256Digest(bytes: data)
            else { throw Problem(.badRequest, "Content-Digest: sha-256 must be :<base64 of 32 bytes>:") }
            return digest
        }
        return nil
    }

    static func timeInputs(_ uri: URI) throws -> TimeCoverage.Inputs {
        try timeInputs { uri.queryValue($0) }
    }

    /// Time-coverage inputs from named values (query parameters, or a tus upload's metadata).
    static func timeInputs(_ value: (String) -> String?) throws -> TimeCoverage.Inputs {
        func time(_ name: String) throws -> Date? {
            guard let text = value(name), !text.isEmpty else { return nil }
            return try UTCTime.parse(text, field: name)
        }
        var inputs = TimeCoverage.Inputs(recordedStart: try time("recorded_start"), requestedFrom: try time("requested_from"), requestedTo: try time("requested_to"))
        if let offset = value("clock_offset"), !offset.isEmpty {
            inputs.clockOffset = try ClockOffset.parse(offset, field: "clock_offset")
        }
        if (inputs.requestedFrom == nil) != (inputs.requestedTo == nil) {
            throw Problem(.badRequest, "give both requested_from and requested_to", field: inputs.requestedFrom == nil ? "requested_from" : "requested_to")
        }
        if let from = inputs.requestedFrom, let to = inputs.requestedTo, to <= from {
            throw Problem(.badRequest, "requested_to must be after requested_from", field: "requested_to")
        }
        return inputs
    }
}
