import ExhibitModel
import GRDB
import Synchronization

/// Group commit: write transactions that wait while another commits are run together, each in a savepoint of
/// one `BEGIN IMMEDIATE` transaction, and made durable by one `COMMIT` (one `fsync`); each caller is answered
/// only after that commit. To every caller it is as if its transaction ran alone, in the order they arrived:
/// a body that throws has its savepoint rolled back and gets its own error, the others are unaffected. A batch
/// whose transaction SQLite itself abandons (a full disk or an I/O error inside a body) fails that body and runs
/// the rest again in the next batch; a failed `COMMIT` fails the whole batch, nothing of it written.
///
/// Alone, a write is one transaction as before; under concurrent requests (every page, upload and link access
/// records its custody event) the disk's flush is shared instead of queued once per request.
final class GroupCommit: Sendable {
    /// One caller's transaction: `run` does its work in the batch's transaction (and may run again if the batch
    /// is abandoned before its commit); `finish` answers the caller once its fate is known.
    struct Write: Sendable {
        let run: @Sendable (Database) throws -> Void
        let finish: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct State {
        var pending: [Write] = []
        var scheduled = false
    }

    private let pool: DatabasePool
    private let state = Mutex(State())
    /// Transactions committed (fewer than the writes they carried when writes shared them).
    private let commits = Atomic<Int>(0)
    var commitCount: Int { commits.load(ordering: .relaxed) }
    /// The most writes in one transaction: bounds how long the first of a batch waits for the last.
    private let batchLimit: Int

    init(pool: DatabasePool, batchLimit: Int = 64) {
        self.pool = pool
        self.batchLimit = batchLimit
    }

    func submit(_ write: Write) {
        let schedule = state.withLock { state in
            state.pending.append(write)
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { scheduleBatch() }
    }

    /// One batch per turn on the writer's queue, so that other users of the writer (snapshots, migrations) are
    /// not held off by a steady stream of writes.
    private func scheduleBatch() {
        pool.asyncWriteWithoutTransaction { db in
            let batch = self.state.withLock { state in
                let batch = Array(state.pending.prefix(self.batchLimit))
                state.pending.removeFirst(batch.count)
                return batch
            }
            let retry = Self.commit(batch, in: db) { self.commits.add(1, ordering: .relaxed) }
            let more = self.state.withLock { state in
                state.pending.insert(contentsOf: retry, at: 0)
                state.scheduled = !state.pending.isEmpty
                return state.scheduled
            }
            if more { self.scheduleBatch() }
        }
    }

    /// Runs `batch` in one transaction and answers each write whose fate is settled; returns those to run again.
    static func commit(_ batch: [Write], in db: Database, committed: () -> Void) -> [Write] {
        guard !batch.isEmpty else { return [] }
        do {
            try db.execute(sql: "BEGIN IMMEDIATE")
        } catch {
            for write in batch { write.finish(.failure(error)) }
            return []
        }
        var done: [Write] = []
        var failures: [(Write, any Error)] = []
        // A transaction that could be neither partly nor wholly rolled back: never committed.
        var poisoned = false
        for (index, write) in batch.enumerated() {
            do {
                try db.execute(sql: "SAVEPOINT exhibit_write")
                do {
                    try write.run(db)
                    try db.execute(sql: "RELEASE exhibit_write")
                    done.append(write)
                } catch {
                    failures.append((write, error))
                    if db.isInsideTransaction {
                        do {
                            try db.execute(sql: "ROLLBACK TO exhibit_write")
                            try db.execute(sql: "RELEASE exhibit_write")
                        } catch {
                            // The failed write's changes cannot be undone alone: nothing of the batch is kept.
                            do { try db.execute(sql: "ROLLBACK") } catch { poisoned = true }
                        }
                    }
                }
            } catch {
                failures.append((write, error))
            }
            if !db.isInsideTransaction || poisoned {
                // SQLite abandoned the transaction (and with it every write done so far in this batch): the write
                // that broke it has its answer; the others are run again, as if they had come later.
                for (write, error) in failures { write.finish(.failure(error)) }
                return done + batch[(index + 1)...]
            }
        }
        do {
            try db.execute(sql: "COMMIT")
        } catch {
            if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
            for write in done { write.finish(.failure(error)) }
            for (write, own) in failures { write.finish(.failure(own)) }
            return []
        }
        committed()
        for write in done { write.finish(.success(())) }
        for (write, error) in failures { write.finish(.failure(error)) }
        return []
    }
}

/// A write's value, set on the writer's thread by `run` and read there by `finish`, never at once.
final class WriteResult<T>: @unchecked Sendable {
    var value: T?
}
