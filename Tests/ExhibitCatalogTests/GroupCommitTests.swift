import CatalogSQLite
import Custody
import ExhibitCatalog
import ExhibitModel
import ExhibitTesting
import Foundation
import Testing

/// Group commit on SQLite (README, "Performance"): writes that wait while another commits share one transaction and
/// one fsync, yet each behaves as if it ran alone: its own result, its own error, nothing of a failed one kept.
struct GroupCommitTests {
    struct Refused: Error, Equatable { let n: Int }

    /// Another process (the `sqlite3` shell) holding the database's write lock until `release`: the writer's
    /// `BEGIN IMMEDIATE` waits for it in SQLite's busy handler, on the writer's own thread, and the writes sent
    /// meanwhile queue behind it. Nothing here blocks Swift's cooperative pool.
    final class LockHolder: @unchecked Sendable {
        let process = Process()
        let input = Pipe()

        init(_ path: String, in folder: TemporaryDirectory) async throws {
            let marker = folder.appending("locked")
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            process.arguments = [path]
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            try input.fileHandleForWriting.write(contentsOf: Data("BEGIN IMMEDIATE;\n.shell touch '\(marker)'\n".utf8))
            for _ in 0..<500 where !FileManager.default.fileExists(atPath: marker) {
                try await Task.sleep(for: .milliseconds(10))
            }
            try #require(FileManager.default.fileExists(atPath: marker), "sqlite3 never took the write lock")
        }

        /// A test that failed before `release` must not leave the lock held (sqlite3 rolls back when it is ended).
        deinit { if process.isRunning { process.terminate() } }

        func release() async throws {
            try input.fileHandleForWriting.write(contentsOf: Data("COMMIT;\n.quit\n".utf8))
            try input.fileHandleForWriting.close()
            #expect(await process.exited() == 0, "sqlite3 failed to release the lock")
        }
    }

    /// Sends `count` writes while another process holds the write lock, releases it half a second later, and
    /// returns each write's outcome by its number.
    static func queuedWrites(
        _ database: SQLiteDatabase, _ count: Int, in folder: TemporaryDirectory,
        _ body: @escaping @Sendable (Int, any CatalogSession) throws -> Int
    ) async throws -> [Int: Result<Int, any Error>] {
        let lock = try await LockHolder(database.path, in: folder)
        return try await withThrowingTaskGroup(of: (Int, Result<Int, any Error>)?.self) { group in
            for n in 0..<count {
                group.addTask {
                    do { return (n, .success(try await database.write { db in try body(n, db) })) } catch { return (n, .failure(error)) }
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(500))
                try await lock.release()
                return nil
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for try await case let (n, result)? in group { all[n] = result }
            return all
        }
    }

    static func rows(_ database: SQLiteDatabase) async throws -> [Int64] {
        try await database.read { db in try db.fetchAll("SELECT n FROM t ORDER BY n").map { $0[0] as Int64 } }
    }

    static func withTable(_ name: String) async throws -> (TemporaryDirectory, SQLiteDatabase) {
        let folder = try TemporaryDirectory(name)
        let database = try SQLiteDatabase(path: folder.appending("catalog.sqlite"))
        try await database.write { db in try db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT NOT NULL)") }
        return (folder, database)
    }

    @Test func queuedWritesShareACommitAndEachKeepsItsOwnOutcome() async throws {
        let (folder, database) = try await Self.withTable("group-commit")
        let before = database.commitCount
        // 40 writes queue behind the lock; every fifth inserts its row and then throws.
        let outcomes = try await Self.queuedWrites(database, 40, in: folder) { n, db in
            try db.execute("INSERT INTO t (n, v) VALUES (?, ?)", [Int64(n), "row \(n)"])
            if n % 5 == 0 { throw Refused(n: n) }
            return n * 2
        }
        for n in 0..<40 {
            switch outcomes[n] {
            case .success(let value)?: #expect(n % 5 != 0 && value == n * 2, "write \(n) returned \(value)")
            case .failure(let error)?: #expect(n % 5 == 0 && (error as? Refused) == Refused(n: n), "write \(n) failed with \(error)")
            case nil: Issue.record("write \(n) never answered")
            }
        }
        #expect(try await Self.rows(database) == (0..<40).filter { $0 % 5 != 0 }.map(Int64.init), "only the writes that did not throw are kept")
        let commits = database.commitCount - before
        #expect(commits >= 1 && commits <= 4, "40 queued writes took \(commits) commits, not one each")
    }

    /// A write that ends the transaction under the others (as SQLite does on a full disk or an I/O error) fails
    /// alone; the writes of its batch run again and commit.
    @Test func aWriteThatBreaksTheTransactionFailsAloneAndTheOthersAreRunAgain() async throws {
        let (folder, database) = try await Self.withTable("group-commit-broken")
        let outcomes = try await Self.queuedWrites(database, 20, in: folder) { n, db in
            try db.execute("INSERT INTO t (n, v) VALUES (?, ?)", [Int64(n), "row \(n)"])
            if n == 10 { try db.execute("ROLLBACK") }
            return n
        }
        for n in 0..<20 {
            switch outcomes[n] {
            case .success(let value)?: #expect(n != 10 && value == n, "write \(n) returned \(value)")
            case .failure(let error)?: #expect(n == 10, "write \(n) failed with \(error)")
            case nil: Issue.record("write \(n) never answered")
            }
        }
        #expect(try await Self.rows(database) == (0..<20).filter { $0 != 10 }.map(Int64.init), "every write but the one that broke the transaction is kept")
    }

    /// The ledger under 120 concurrent appends: one unbroken chain, no gap.
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
