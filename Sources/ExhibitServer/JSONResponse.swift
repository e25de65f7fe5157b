import CheckedInput
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// A JSON response with sorted keys (stable for clients and tests).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var headers = headers
    headers[.contentType] = "application/json"
    headers[.cacheControl] = headers[.cacheControl] ?? "no-store"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// Decodes a small JSON body, with clear problems for the ways it can be wrong.
func decodeJSON<T: Decodable>(_ type: T.Type, from request: Request, context: ExhibitRequestContext) async throws -> T {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: context.maxUploadSize)
    } catch {
        throw Problem(.tooLarge, "the JSON body must be under \(context.maxUploadSize / 1024) KiB")
    }
    guard buffer.readableBytes > 0 else { throw Problem(.badRequest, "a JSON body is required") }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let error as InputError {
        throw error
    } catch {
        throw Problem(.badRequest, "the JSON body is not valid: \(describeDecodingError(error))")
    }
}

extension URI {
    /// A query parameter's decoded value.
    func queryValue(_ name: String) -> String? {
        queryParameters.get(name).map { String($0) }
    }
}
