import CatalogSQLite
import Custody
import ExhibitCatalog
import ExhibitModel
import ExhibitTesting
import Foundation
import Synchronization
import Testing

/// Group commit on SQLite (README, "Performance"): writes that wait while another commits share one transaction and
/// one fsync, yet each behaves as if it ran alone: its own result, its own error, nothing of a failed one kept.
struct GroupCommitTests {
    struct Refused: Error, Equatable { let n: Int }

    final class Flag: Sendable {
        let value = Atomic(false)
        var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    }

    static func outcome(_ body: () async throws -> Int) async -> Result<Int, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// A write that holds the writer's thread (not Swift's cooperative pool) long enough for the others to queue;
    /// `started` is set once it holds it.
    static func slowWrite(_ database: SQLiteDatabase, started: Flag) async throws {
        try await database.write { db in
            started.value.store(true, ordering: .sequentiallyConsistent)
            usleep(600_000)
            try db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        }
    }

    /// Waits (asynchronously) until the slow write holds the writer.
    static func holding(_ started: Flag) async throws {
        for _ in 0..<500 where !started.isSet {
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(started.isSet, "the slow write never started")
    }

    @Test func queuedWritesShareACommitAndEachKeepsItsOwnOutcome() async throws {
        let folder = try TemporaryDirectory("group-commit")
        let database = try SQLiteDatabase(path: folder.appending("catalog.sqlite"))
        let started = Flag()
        async let slow: Void = Self.slowWrite(database, started: started)
        try await Self.holding(started)
        let before = database.commitCount
        // 40 writes queue behind the slow one; every fifth inserts its row and then throws.
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for n in 0..<40 {
                group.addTask {
                    let result = await Self.outcome {
                        try await database.write { db -> Int in
                            try db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
                            try db.execute("INSERT INTO t (n, v) VALUES (?, ?)", [Int64(n), "row \(n)"])
                            if n % 5 == 0 { throw Refused(n: n) }
                            return n * 2
                        }
                    }
                    return (n, result)
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (n, result) in group { all[n] = result }
            return all
        }
        try await slow
        for n in 0..<40 {
            switch outcomes[n] {
            case .success(let value)?: #expect(n % 5 != 0 && value == n * 2, "write \(n) returned \(value)")
            case .failure(let error)?: #expect(n % 5 == 0 && (error as? Refused) == Refused(n: n), "write \(n) failed with \(error)")
            case nil: Issue.record("write \(n) never answered")
            }
        }
        let rows = try await database.read { db in try db.fetchAll("SELECT n FROM t ORDER BY n").map { $0[0] as Int64 } }
        #expect(rows == (0..<40).filter { $0 % 5 != 0 }.map(Int64.init), "only the writes that did not throw are kept")
        let commits = database.commitCount - before
        #expect(commits >= 1 && commits <= 4, "40 queued writes took \(commits) commits, not one each")
    }

    /// A write that ends the transaction under the others (as SQLite does on a full disk or an I/O error) fails
    /// alone; the writes of its batch run again and commit.
    @Test func aWriteThatBreaksTheTransactionFailsAloneAndTheOthersAreRunAgain() async throws {
        let folder = try TemporaryDirectory("group-commit-broken")
        let database = try SQLiteDatabase(path: folder.appending("catalog.sqlite"))
        let started = Flag()
        async let slow: Void = Self.slowWrite(database, started: started)
        try await Self.holding(started)
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for n in 0..<20 {
                group.addTask {
                    let result = await Self.outcome {
                        try await database.write { db -> Int in
                            try db.execute("INSERT INTO t (n, v) VALUES (?, ?)", [Int64(n), "row \(n)"])
                            if n == 10 { try db.execute("ROLLBACK") }
                            return n
                        }
                    }
                    return (n, result)
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (n, result) in group { all[n] = result }
            return all
        }
        try await slow
        for n in 0..<20 {
            switch outcomes[n] {
            case .success(let value)?: #expect(n != 10 && value == n, "write \(n) returned \(value)")
            case .failure(let error)?: #expect(n == 10, "write \(n) failed with \(error)")
            case nil: Issue.record("write \(n) never answered")
            }
        }
        let rows = try await database.read { db in try db.fetchAll("SELECT n FROM t ORDER BY n").map { $0[0] as Int64 } }
        #expect(rows == (0..<20).filter { $0 != 10 }.map(Int64.init), "every write but the one that broke the transaction is kept")
    }

    /// The ledger under concurrent appends, some inside writes that then fail: one unbroken chain, no gap.
    @Test func concurrentAppendsKeepOneChain() async throws {
        let folder = try TemporaryDirectory("group-commit-ledger")
        let catalog = Catalog(database: try SQLiteDatabase(path: folder.appending("catalog.sqlite")), sealKey: [UInt8](repeating: 3, count: 32))
        let results = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<120 {
                group.addTask {
                    do {
                        _ = try await catalog.append(.init(actor: "test", role: "auditor", action: "custody.note", details: ["n": .int(Int64(n))], client: "test"))
                        return true
                    } catch {
                        return false
                    }
                }
            }
            var ok = 0
            for await success in group where success { ok += 1 }
            return ok
        }
        #expect(results == 120, "every append acknowledged")
        var verifier = try await catalog.feed(LedgerVerifier(checkpointSeqs: [], sealsAfter: .max))
        let report = verifier.finish(latest: nil, publicKey: nil, sealKey: nil)
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.eventsChecked == 120, "\(report.eventsChecked) events in the ledger")
    }
}
