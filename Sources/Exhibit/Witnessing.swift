public import Custody
import ExhibitCatalog
import ExhibitModel
import ExhibitPolicies
public import Foundation
import Logging

/// Sends a C2SP tlog-witness `add-checkpoint` request; the deployment provides the HTTP one.
public protocol WitnessTransport: Sendable {
    /// POSTs `body` to `<url>/add-checkpoint`; returns the status, the body and its content type.
    func addCheckpoint(url: URL, body: String) async throws -> (status: Int, body: String, contentType: String?)
}

/// What the witnesses said about a checkpoint.
public struct Witnessing: Sendable {
    public var checkpoint: Checkpoint
    public var cosigned: [String] = []
    public var refusals: [String] = []
}

extension EvidenceStore {
    /// Sends a newly signed checkpoint to every witness of the policy, with the consistency proof from the last
    /// checkpoint each cosigned, and keeps the cosignatures they return beside it. A witness that is down or
    /// refuses is reported, never fatal here (a court bundle checks its quorum itself).
    func witnessed(_ checkpoint: Checkpoint) async -> Witnessing {
        var result = Witnessing(checkpoint: checkpoint)
        let witnesses = policies.custody.witnesses
        guard !witnesses.isEmpty, let transport = witnessTransport, let note = checkpoint.note,
              let head = checkpoint.treeHead
        else { return result }
        guard let stored = try? await catalog.treeCheckpoint(size: checkpoint.seq) else { return result }
        for witness in witnesses {
            guard let key = try? NoteVerifierKey(parsing: witness.vkey), key.type == NoteVerifierKey.cosignatureV1 else {
                result.refusals.append("\(witness.vkey.prefix(60)): not a cosignature verifier key")
                continue
            }
            do {
                var old = try await catalog.lastCosignedSize(witness: key.name) ?? 0
                var answer: (status: Int, body: String, contentType: String?) = (0, "", nil)
                for _ in 0..<2 {
                    let proof = old > 0 && old < head.size ? try await catalog.consistencyProof(from: old, to: head.size) : []
                    answer = try await transport.addCheckpoint(url: witness.url, body: WitnessCore.request(old: old, proof: proof, checkpoint: note))
                    // 409: the witness last cosigned another size than we recorded; try once from its size.
                    guard answer.status == 409, let size = Int64(answer.body.trimmingCharacters(in: .whitespacesAndNewlines)),
                          size >= 0, size <= head.size, size != old
                    else { break }
                    old = size
                }
                guard answer.status == 200 else {
                    result.refusals.append("\(key.name) refused the checkpoint of \(head.size) events (\(answer.status)): \(answer.body.prefix(300))")
                    continue
                }
                // Keep only a line that is this witness's valid cosignature of this very checkpoint.
                let lines = answer.body.split(separator: "\n").map { String($0) + "\n" }
                guard let line = lines.first(where: { line in
                    (try? SignedNote(parsing: note + line))?.signatures.last.map { key.verifies($0, text: head.text) } ?? false
                }) else {
                    result.refusals.append("\(key.name) answered without a valid cosignature of the checkpoint")
                    continue
                }
                try await catalog.addCosignature(checkpoint: stored.id, witness: key.name, line: line)
                result.cosigned.append(key.name)
            } catch {
                result.refusals.append("\(key.name) could not be reached: \(error)")
            }
        }
        if let updated = try? await catalog.treeCheckpoint(size: checkpoint.seq) { result.checkpoint = updated.checkpoint }
        for refusal in result.refusals { Logger(label: "exhibit.witness").warning("\(refusal)") }
        return result
    }
}
