import CheckedInput
import Exhibit
import ExhibitModel
import ExhibitPolicies
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Case outcomes, legal holds and the retention plan over HTTP (README, "Retention").
struct RetentionController: Sendable {
    let store: EvidenceStore

    struct NewStatus: Decodable {
        let status: String
        let at: String?
        let releaseDate: String?
        /// A class of the case's own; `null` removes it; absent leaves it.
        let retentionClass: String??

        enum CodingKeys: String, CodingKey {
            case status, at
            case releaseDate = "release_date"
            case retentionClass = "class"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decode(String.self, forKey: .status)
            at = try c.decodeIfPresent(String.self, forKey: .at)
            releaseDate = try c.decodeIfPresent(String.self, forKey: .releaseDate)
            retentionClass = c.contains(.retentionClass) ? .some(try c.decodeIfPresent(String.self, forKey: .retentionClass)) : .none
        }
    }

    static func time(_ text: String?, _ field: String) throws -> Date? {
        guard let text else { return nil }
        return try UTCTime.parse(text, field: field)
    }

    /// `PUT /v1/cases/{case}/status`.
    func setStatus(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewStatus.self, from: request, context: context)
        let change: ClassChange = input.retentionClass.map { .set($0) } ?? .keep
        let record = try await store.setCaseStatus(
            try context.parameters.decoded("case"), status: input.status, at: try Self.time(input.at, "at"),
            releaseDate: try Self.time(input.releaseDate, "release_date"), retentionClass: change, by: try context.requireActor())
        return try jsonResponse(record)
    }

    struct HoldInput: Decodable {
        let reason: String?
    }

    /// The optional JSON body of a hold request (`{"reason": …}`).
    func holdInput(_ request: Request, _ context: ExhibitRequestContext, required: Bool) async throws -> HoldInput {
        let buffer = try await request.body.collect(upTo: 64 << 10)
        if buffer.readableBytes == 0 {
            if required { throw Problem(.badRequest, "a JSON body with a reason is required: {\"reason\": \"…\"}") }
            return HoldInput(reason: nil)
        }
        do {
            return try JSONDecoder().decode(HoldInput.self, from: Data(buffer.readableBytesView))
        } catch let error as InputError {
            throw error
        } catch {
            throw Problem(.badRequest, "the JSON body is not valid: \(describeDecodingError(error))")
        }
    }

    /// `POST /v1/cases/{case}/hold` and `POST /v1/exhibits/{exhibit}/hold`.
    func setHold(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await holdInput(request, context, required: true)
        let hold = try await store.setHold(
            case: try context.parameters.get("case").map { _ in try context.parameters.decoded("case") },
            exhibit: try context.parameters.get("exhibit").map { _ in try context.parameters.decoded("exhibit") }, reason: input.reason ?? "",
            by: try context.requireActor())
        return try jsonResponse(hold, status: .created)
    }

    /// `DELETE /v1/cases/{case}/hold` and `DELETE /v1/exhibits/{exhibit}/hold`.
    func releaseHold(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        // The reason is required: the store refuses its absence after checking who may lift the hold.
        let input = try await holdInput(request, context, required: false)
        let hold = try await store.releaseHold(
            case: try context.parameters.get("case").map { _ in try context.parameters.decoded("case") },
            exhibit: try context.parameters.get("exhibit").map { _ in try context.parameters.decoded("exhibit") }, reason: input.reason,
            by: try context.requireActor())
        return try jsonResponse(hold)
    }

    /// `GET /v1/retention/plan[?as_of=T]`.
    func plan(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let asOf = try Self.time(request.uri.queryValue("as_of"), "as_of")
        return try jsonResponse(try await store.retentionPlan(asOf: asOf, for: try context.requireActor()))
    }

    /// `GET /v1/holds`: standing holds on the cases the caller can see.
    func holds(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        try jsonResponse(try await store.standingHolds(for: try context.requireActor()))
    }
}

/// Writes the retention plan every `plan_every` (Policies/retention.yaml) and applies it when the policy says
/// `auto_apply: true`. The first run comes at start when the last plan is older than `plan_every`.
struct RetentionService: Service {
    let store: EvidenceStore
    let logger: Logger

    func run() async throws {
        let every = store.policies.retention.planEvery
        await cancelWhenGracefulShutdown {
            var wait = Duration.zero
            if let info = try? FileManager.default.attributesOfItem(atPath: store.retentionPlanPath),
               let written = info[.modificationDate] as? Date {
                let age = Date().timeIntervalSince(written)
                wait = .seconds(max(0, Double(every.components.seconds) - age))
            }
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    return
                }
                do {
                    // Several servers share the catalog: one of them plans (and applies) each time.
                    guard let (plan, applied) = try await store.exclusiveJob("retention", { try await store.runScheduledRetention() }) else {
                        logger.info("retention is being planned by another server")
                        wait = every
                        continue
                    }
                    let counts = plan.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                    logger.info("retention plan written: \(counts.isEmpty ? "nothing is due" : counts)")
                    if let applied {
                        logger.notice("retention applied: \(applied.scheduled.count) scheduled, \(applied.purged.count) purged, \(applied.restored.count) restored")
                    }
                } catch {
                    logger.error("retention plan failed: \(error)")
                }
                wait = every
            }
        }
    }
}
