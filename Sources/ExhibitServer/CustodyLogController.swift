import Custody
import Exhibit
import ExhibitCrypto
import ExhibitModel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore

/// The custody ledger as a transparency log over HTTP: `GET /v1/custody/checkpoint` (the latest signed note),
/// `GET /v1/custody/proof` (inclusion and consistency proofs) and `GET /v1/custody/tile/…` (C2SP tlog-tiles,
/// read-only, for auditors who mirror the log).
struct CustodyLogController: Sendable {
    let store: EvidenceStore

    func checkpoint(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let checkpoint = try await store.latestLogCheckpoint(by: actor)
        return text(checkpoint.note ?? "", type: "text/plain; charset=utf-8")
    }

    /// `?event=SEQ[&size=N]` or `?from=M&to=N`; `format=tlog-proof` gives an inclusion proof as a C2SP tlog-proof.
    func proof(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let uri = request.uri
        if let event = try Self.number(uri, "event") {
            let proof = try await store.proveInclusion(seq: event, size: try Self.number(uri, "size"), by: actor)
            switch uri.queryValue("format") ?? "json" {
            case "tlog-proof":
                return text(proof.tlogProof?.rendered ?? "", type: "text/x.tlog-proof; charset=utf-8")
            case "json":
                return try jsonResponse(InclusionBody(proof))
            default:
                throw Problem(.badRequest, "must be json or tlog-proof", field: "format")
            }
        }
        guard let from = try Self.number(uri, "from"), let to = try Self.number(uri, "to") else {
            throw Problem(.badRequest, "give event (and optionally size) for an inclusion proof, or from and to for a consistency proof", field: "event")
        }
        let (proof, older, newer) = try await store.proveConsistency(from: from, to: to, by: actor)
        return try jsonResponse(ConsistencyBody(
            from: from, to: to, proof: proof.map { Data($0.bytes).base64EncodedString() },
            fromCheckpoint: older.note ?? "", toCheckpoint: newer.note ?? ""))
    }

    func tile(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        guard let path = TilePath(context.parameters.getCatchAll()) else {
            throw Problem(.notFound, "not a tile path: tile/<level>/<N>[.p/<width>] or tile/entries/<N>[.p/<width>], N in groups of three digits (x001/234)")
        }
        let bytes = try await store.tile(path, by: actor)
        // A full tile never changes; a partial one's first W hashes neither.
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", .cacheControl: "private, max-age=31536000, immutable"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func text(_ body: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A positive whole number from the query, or a 400 naming the parameter.
    static func number(_ uri: URI, _ name: String) throws -> Int64? {
        guard let text = uri.queryValue(name) else { return nil }
        guard text.utf8.count <= 19, text.utf8.allSatisfy({ (48...57).contains($0) }), let value = Int64(text), value >= 1 else {
            throw Problem(.badRequest, "'\(text.prefix(30))' is not a whole number of at least 1", field: name)
        }
        return value
    }

    struct InclusionBody: Encodable {
        let event: CustodyEvent
        let leafIndex: Int64
        let leafHash: String
        let treeSize: Int64
        let proof: [String]
        let checkpoint: String
        let tlogProof: String

        init(_ proof: EvidenceStore.InclusionProof) {
            event = proof.event
            leafIndex = proof.event.seq - 1
            leafHash = proof.event.leafHash.hex
            treeSize = proof.treeSize
            self.proof = proof.path.map { Data($0.bytes).base64EncodedString() }
            checkpoint = proof.checkpoint.note ?? ""
            tlogProof = proof.tlogProof?.rendered ?? ""
        }

        enum CodingKeys: String, CodingKey {
            case event, proof, checkpoint
            case leafIndex = "leaf_index"
            case leafHash = "leaf_hash"
            case treeSize = "tree_size"
            case tlogProof = "tlog_proof"
        }
    }

    struct ConsistencyBody: Encodable {
        let from: Int64
        let to: Int64
        let proof: [String]
        let fromCheckpoint: String
        let toCheckpoint: String

        enum CodingKeys: String, CodingKey {
            case from, to, proof
            case fromCheckpoint = "from_checkpoint"
            case toCheckpoint = "to_checkpoint"
        }
    }
}
