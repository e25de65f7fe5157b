import CheckedInput
import BlobStore
import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation
public import HTTPTypes
public import Hummingbird
import HummingbirdCore
import MediaProbe

/// An RFC 9457 problem document (`application/problem+json`) with a stable `type` per kind of error.
public struct Problem: Error, HTTPResponseError, Sendable {
    public enum Kind: String, Sendable {
        case badRequest = "bad-request"
        case unauthorized
        case forbidden
        case notFound = "not-found"
        case methodNotAllowed = "method-not-allowed"
        case conflict
        case gone
        case tooLarge = "too-large"
        case digestMismatch = "digest-mismatch"
        case checksumMismatch = "checksum-mismatch"
        case locked
        case unsupportedMediaType = "unsupported-media-type"
        case preconditionFailed = "precondition-failed"
        case rangeNotSatisfiable = "range-not-satisfiable"
        case headersTooLarge = "headers-too-large"
        case insufficientStorage = "insufficient-storage"
        case internalError = "internal-error"
        case unavailable
        case tooManyRequests = "too-many-requests"

        var status: HTTPResponse.Status {
            switch self {
            case .badRequest, .digestMismatch: .badRequest
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .conflict: .conflict
            case .checksumMismatch: .init(code: 460, reasonPhrase: "Checksum Mismatch")
            case .locked: .init(code: 423, reasonPhrase: "Locked")
            case .unsupportedMediaType: .unsupportedMediaType
            case .preconditionFailed: .preconditionFailed
            case .gone: .gone
            case .tooLarge: .contentTooLarge
            case .rangeNotSatisfiable: .rangeNotSatisfiable
            case .headersTooLarge: .init(code: 431, reasonPhrase: "Request Header Fields Too Large")
            case .insufficientStorage: .init(code: 507, reasonPhrase: "Insufficient Storage")
            case .internalError: .internalServerError
            case .unavailable: .serviceUnavailable
            case .tooManyRequests: .tooManyRequests
            }
        }

        var title: String {
            switch self {
            case .badRequest: "The request is not valid"
            case .unauthorized: "Authentication required"
            case .forbidden: "Not allowed"
            case .notFound: "Not found"
            case .methodNotAllowed: "Method not allowed"
            case .conflict: "Conflict"
            case .checksumMismatch: "The request's bytes do not match its Upload-Checksum"
            case .locked: "Another request is writing to this upload"
            case .unsupportedMediaType: "Unsupported media type"
            case .preconditionFailed: "Unsupported protocol version"
            case .gone: "Gone"
            case .tooLarge: "Too large"
            case .digestMismatch: "The body does not match its digest"
            case .rangeNotSatisfiable: "Range not satisfiable"
            case .headersTooLarge: "Request headers too large"
            case .insufficientStorage: "Not enough storage"
            case .internalError: "Internal error"
            case .unavailable: "Service unavailable"
            case .tooManyRequests: "Too many requests"
            }
        }
    }

    public let kind: Kind
    public let detail: String
    public var headers: HTTPFields = [:]
    /// The request value the problem is about (a query parameter, a JSON field, a header), sent as RFC 9457's
    /// `invalid-params` extension so a client can point at it.
    public var field: String?
    /// What is wrong with `field`, without its name (the detail by default).
    public var fieldReason: String?

    /// The detail of the router's 404 (no route has the path with this method).
    static let noSuchRoute = "no such route"

    /// 503 for a backing service (the chunk store, the catalog database) that cannot be reached, with a
    /// `Retry-After`: nothing of the request was kept.
    static func unavailable(_ what: String) -> Problem {
        var problem = Problem(.unavailable, what + "; nothing of this request was kept, try again shortly")
        problem.headers[.retryAfter] = "5"
        return problem
    }

    public init(_ kind: Kind, _ detail: String, headers: HTTPFields = [:], field: String? = nil) {
        self.kind = kind
        self.detail = detail
        self.headers = headers
        self.field = field
    }

    public var status: HTTPResponse.Status { kind.status }

    /// `urn:exhibit:problem:<kind>`: stable, and never a link to a host that could change.
    public var type: String { "urn:exhibit:problem:\(kind.rawValue)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: JSONScalar] = [
            "type": .string(type), "title": .string(kind.title), "status": .int(Int(status.code)),
            "detail": .string(detail), "instance": .string(request.uri.path),
        ]
        if let field { body["invalid-params"] = .params([["name": field, "reason": fieldReason ?? detail]]) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(body))))
    }

    /// Maps any error from the application to a problem; unknown errors are internal errors (details logged,
    /// not sent).
    static func from(_ error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as InputError:
            var problem = Problem(.badRequest, error.description, field: error.field)
            problem.fieldReason = error.reason
            return problem
        case let error as ExhibitError:
            switch error.code {
            case .badRequest: return Problem(.badRequest, error.message, field: error.field)
            case .notFound, .fileNotFound: return Problem(.notFound, error.message)
            case .unauthorized: return Problem(.unauthorized, error.message)
            case .forbidden, .permissionDenied: return Problem(.forbidden, error.message)
            case .conflict: return Problem(.conflict, error.message)
            case .tooLarge: return Problem(.tooLarge, error.message)
            case .digestMismatch: return Problem(.digestMismatch, error.message)
            case .invalidRange: return Problem(.rangeNotSatisfiable, error.message)
            case .noSpace: return Problem(.insufficientStorage, error.message)
            case .gone: return Problem(.gone, error.message)
            case .checksumMismatch: return Problem(.checksumMismatch, error.message)
            case .locked: return Problem(.locked, error.message)
            case .unavailable: return .unavailable(error.message)
            case .tooMany: return Problem(.tooManyRequests, error.message, headers: [.retryAfter: "60"])
            default: return Problem(.internalError, "the store could not complete the request")
            }
        case let error as BlobStoreError:
            switch error.code {
            case .tooLarge: return Problem(.tooLarge, error.message)
            case .digestMismatch: return Problem(.digestMismatch, error.message)
            case .noSpace: return Problem(.insufficientStorage, "the store's disk is full; nothing of this upload was kept")
            case .blobNotFound: return Problem(.notFound, "the exhibit's bytes are not in the store")
            case .invalidRange: return Problem(.rangeNotSatisfiable, error.message)
            case .unavailable: return .unavailable("the chunk store is unavailable")
            default: return Problem(.internalError, "the store could not read or write the bytes")
            }
        case let error as HTTPError:
            switch error.status {
            case .notFound: return Problem(.notFound, Problem.noSuchRoute)
            case .methodNotAllowed: return Problem(.methodNotAllowed, "the route does not take this method")
            case .contentTooLarge: return Problem(.tooLarge, error.body ?? "the body is too large")
            case .unauthorized: return Problem(.unauthorized, error.body ?? "a bearer token is required")
            default:
                if error.status.code >= 400 && error.status.code < 500 {
                    return Problem(.badRequest, error.body ?? error.status.reasonPhrase)
                }
                return Problem(.internalError, "the request failed")
            }
        case is DecodingError:
            return Problem(.badRequest, "the JSON body is not valid: \(describeDecodingError(error))")
        case let error as PolicyError:
            return Problem(.internalError, "policy error: \(error.description)")
        default:
            return Problem(.internalError, "the request failed")
        }
    }
}

enum JSONScalar: Encodable {
    case string(String)
    case int(Int)
    case params([[String: String]])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .params(let value): try container.encode(value)
        }
    }
}

func describeDecodingError(_ error: any Error) -> String {
    switch error as? DecodingError {
    case .keyNotFound(let key, _): return "'\(key.stringValue)' is missing"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
    case .dataCorrupted(let context): return context.debugDescription
    default: return "\(error)"
    }
}
