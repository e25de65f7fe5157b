public import Exhibit
public import ExhibitModel
import ExhibitPolicies
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Makes working copies in the background: after uploads, and at start for masters still waiting (or
/// interrupted by the last shutdown). At most `jobs` copies at once (Policies/storage.yaml). On graceful
/// shutdown the copy in progress is cancelled (its master is marked `interrupted` and resumed at the next start).
public final class WorkingCopyService: Service, Sendable {
    let store: EvidenceStore
    let logger: Logger
    private let queue: AsyncStream<Request>
    private let continuation: AsyncStream<Request>.Continuation
    private let stopping = Atomic<Bool>(false)

    struct Request: Sendable {
        let exhibitID: ExhibitID
        let requestedBy: String
    }

    public init(store: EvidenceStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (queue, continuation) = AsyncStream<Request>.makeStream()
    }

    /// Queues a master for its copy (`requestedBy` goes into the lineage and the custody record).
    public func enqueue(_ exhibitID: ExhibitID, requestedBy: String) {
        continuation.yield(Request(exhibitID: exhibitID, requestedBy: requestedBy))
    }

    public func run() async throws {
        do {
            for master in try await store.mastersAwaitingWorkingCopies() {
                enqueue(master.id, requestedBy: "resumed at server start")
            }
        } catch {
            logger.error("cannot list masters awaiting working copies: \(error)")
        }
        let jobs = store.policies.storage.workingCopies.jobs
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                var iterator = queue.makeAsyncIterator()
                while let request = await iterator.next() {
                    if running == jobs {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { await self.work(request) }
                    running += 1
                }
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
            self.continuation.finish()
        }
    }

    func work(_ request: Request) async {
        guard !stopping.load(ordering: .relaxed) else { return }
        do {
            guard let master = try await store.exhibitRecord(id: request.exhibitID) else { return }
            let actor = Actor.system(client: "server:working-copies (\(request.requestedBy))")
            // One server at a time makes a master's copy; another that asks later finds it made.
            guard let outcome = try await store.exclusiveJob("working-copy:" + master.id.rawValue, {
                try await self.store.derive(master, by: actor) { self.stopping.load(ordering: .relaxed) }
            }) else {
                logger.info("the working copy of \(master.reference) is being made by another server")
                return
            }
            switch outcome {
            case .created(let copy): logger.info("working copy \(copy.reference) of \(master.reference) made")
            case .failed(let reason): logger.warning("no working copy of \(master.reference): \(reason)")
            case .existing, .notNeeded: break
            }
        } catch {
            logger.error("working copy of \(request.exhibitID) failed: \(error)")
        }
    }
}
