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

/// Cases and their members (`/v1/cases`).
extension Controllers {
    struct NewCase: Decodable {
        let reference: String
        let title: String?
    }

    func createCase(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewCase.self, from: request, context: context)
        let record = try await store.createCase(reference: input.reference, title: input.title, by: try context.requireActor())
        return try jsonResponse(record, status: .created, headers: [.location: "/v1/cases/\(record.id)"])
    }

    func cases(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.cases(for: try context.requireActor()))
    }

    struct CaseDetail: Encodable {
        let `case`: CaseRecord
        let members: [String]
        let statuses: [CaseStatusChange]
    }

    func showCase(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let record = try await store.describe(try await store.findCase(try context.parameters.decoded("case"), for: actor))
        return try jsonResponse(CaseDetail(
            case: record, members: try await store.members(of: record, for: actor),
            statuses: try await store.statusHistory(of: record, for: actor)))
    }

    struct NewMember: Decodable {
        let user: String
    }

    func addMember(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewMember.self, from: request, context: context)
        let caseName = try context.parameters.decoded("case")
        try await store.addMember(input.user, to: caseName, by: try context.requireActor())
        return try jsonResponse(["case": caseName, "user": input.user], status: .created)
    }

    /// `GET /v1/cases/{case}/exhibits[?sha256=HEX]`: the case's exhibits, or those holding exactly these bytes
    /// (`exhibit upload` asks before sending a file the case may already hold).
    func caseExhibits(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        var exhibits = try await store.exhibits(in: try context.parameters.decoded("case"), for: try context.requireActor())
        if let text = request.uri.queryValue("sha256") {
            guard let digest = SHA256Digest(hex: text.lowercased()) else {
                throw Problem(.badRequest, "sha256 must be 64 hexadecimal digits", field: "sha256")
            }
            exhibits = exhibits.filter { $0.sha256 == digest }
        }
        return try jsonResponse(exhibits.map(ExhibitJSON.init))
    }
}
