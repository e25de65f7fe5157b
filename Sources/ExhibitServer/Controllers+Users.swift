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

/// Users and their tokens (`/v1/users`, `/v1/me`).
extension Controllers {
    struct NewUser: Decodable {
        let name: String
        let role: String
        let fullName: String?
        let initials: String?
        enum CodingKeys: String, CodingKey {
            case name, role, initials
            case fullName = "full_name"
        }
    }

    struct CreatedUser: Encodable {
        let user: User
        let token: String
    }

    func addUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewUser.self, from: request, context: context)
        let (user, token) = try await store.addUser(
            name: input.name, role: input.role, fullName: input.fullName, initials: input.initials, by: try context.requireActor())
        return try jsonResponse(CreatedUser(user: user, token: token), status: .created)
    }

    func users(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.users(by: try context.requireActor()))
    }

    struct Disabling: Decodable {
        let reason: String
    }

    /// `POST /v1/users/{name}/disable` (and `DELETE /v1/users/{name}`): the user's token is refused at once.
    func disableUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(Disabling.self, from: request, context: context)
        return try jsonResponse(try await store.disableUser(
            try context.parameters.decoded("name"), reason: input.reason, by: try context.requireActor()))
    }

    func enableUser(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.enableUser(try context.parameters.decoded("name"), by: try context.requireActor()))
    }

    /// `POST /v1/users/{name}/token`: a new token, shown once; `DELETE`: the token revoked, none issued.
    func reissueToken(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let revoke = request.method == .delete
        let (user, token) = try await store.reissueToken(
            try context.parameters.decoded("name"), revokeOnly: revoke, by: try context.requireActor())
        guard let token else { return try jsonResponse(user) }
        return try jsonResponse(CreatedUser(user: user, token: token), status: .created)
    }

    struct Me: Encodable {
        let name: String
        let role: String
        let scope: String
        let permissions: [String]
    }

    func me(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        return try jsonResponse(Me(
            name: actor.name, role: actor.role.name, scope: actor.role.scope.rawValue,
            permissions: actor.role.permissions.map(\.rawValue).sorted()))
    }
}
