import Custody
import Exhibit
import ExhibitCatalog
import CatalogSQLite
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation

/// Issue 4: durable custody appends per second and verification rate, each beside Python's sqlite3 + hashlib
/// doing the same hash-chained work on the same machine in the same run.
struct LedgerBench {
    let benchDir: String
    let appends: Int
    let verifyEvents: Int

    /// Python's hash-chained append, one event per transaction. With `whole` as its third argument it also does
    /// what each of Exhibit's appends does besides: the event's seal (HMAC-SHA256 under a key) and its Merkle leaf
    /// with every subtree it completes (RFC 9162 hashes, Go's stored-hash order), the left siblings read back from
    /// the table, all in the event's transaction.
    static let pythonAppend = #"""
import hashlib, hmac, json, os, sqlite3, sys, time
path, n = sys.argv[1], int(sys.argv[2])
whole = sys.argv[3:] == ["whole"]
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(path + suffix): os.remove(path + suffix)
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE custody_events (seq INTEGER PRIMARY KEY, at TEXT, actor TEXT, role TEXT, action TEXT, exhibit TEXT, \"case\" TEXT, details TEXT, client TEXT, prev_hash TEXT, hash TEXT" + (", seal TEXT)" if whole else ")"))
if whole: db.execute("CREATE TABLE custody_tree (n INTEGER PRIMARY KEY, hash BLOB NOT NULL)")
key = os.urandom(32)
def stored(level, i):
    for _ in range(level): i = 2 * i + 1
    total = 0
    while i > 0: total += i; i >>= 1
    return total + level
start = time.perf_counter()
for i in range(n):
    db.execute("BEGIN IMMEDIATE")
    row = db.execute("SELECT seq, hash FROM custody_events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (row[0] + 1, row[1]) if row else (1, "0" * 64)
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    details = {"note": "bench %d" % i}
    e = {"action": "custody.note", "actor": "bench", "at": at, "case": None, "client": "bench", "details": details, "exhibit": None, "role": "auditor", "seq": seq}
    canonical = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    h = hashlib.sha256((prev + canonical).encode()).hexdigest()
    values = (seq, at, "bench", "auditor", "custody.note", None, None, json.dumps(details, sort_keys=True, separators=(",", ":")), "bench", prev, h)
    if not whole:
        db.execute("INSERT INTO custody_events VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)
        db.execute("COMMIT")
        continue
    db.execute("INSERT INTO custody_events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values + (hmac.new(key, h.encode(), hashlib.sha256).hexdigest(),))
    leaf, index, levels = hashlib.sha256(b"\0" + canonical.encode()).digest(), seq - 1, 0
    while (index >> levels) & 1: levels += 1
    lefts = [stored(l, (index >> l) - 1) for l in range(levels)]
    found = dict(db.execute("SELECT n, hash FROM custody_tree WHERE n IN (%s)" % ",".join("?" * len(lefts)), lefts).fetchall()) if lefts else {}
    rows, current = [(stored(0, index), leaf)], leaf
    for l in range(levels):
        current = hashlib.sha256(b"\1" + found[lefts[l]] + current).digest()
        rows.append((stored(l + 1, index >> (l + 1)), current))
    db.executemany("INSERT INTO custody_tree VALUES (?, ?)", rows)
    db.execute("COMMIT")
print(n / (time.perf_counter() - start))
"""#

    static let pythonVerify = #"""
import hashlib, json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
start = time.perf_counter()
prev, n = "0" * 64, 0
for seq, at, actor, role, action, exhibit, case, details, client, prev_hash, h in db.execute(
        'SELECT seq, at, actor, role, action, exhibit, "case", details, client, prev_hash, hash FROM custody_events ORDER BY seq'):
    e = {"action": action, "actor": actor, "at": at, "case": case, "client": client, "details": json.loads(details), "exhibit": exhibit, "role": role, "seq": seq}
    assert prev_hash == prev and hashlib.sha256((prev + json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=True)).encode()).hexdigest() == h
    prev, n = h, n + 1
print(n / (time.perf_counter() - start))
"""#

    func run() async throws -> Table {
        var table = Table(
            title: "Custody ledger: durable appends (one event per transaction, WAL, synchronous=FULL) and verification",
            header: ["what", "events/s", "Exhibit ÷ Python"])
        let folder = benchDir + "/ledger"
        Measure.shell("rm -rf '\(folder)' && mkdir -p '\(folder)'")
        try Self.pythonAppend.write(toFile: folder + "/append.py", atomically: true, encoding: .utf8)
        try Self.pythonVerify.write(toFile: folder + "/verify.py", atomically: true, encoding: .utf8)

        // Exhibit: durable appends through the catalog, one writer.
        let catalog = Catalog(database: try SQLiteDatabase(path: folder + "/exhibit.sqlite"), sealKey: SecureRandom.bytes(count: 32))
        let ours = try await appendRate(catalog, writers: 1)
        // The same appends through the same catalog code, but each transaction run on the calling thread instead of
        // hopping to the database's writer thread and back: what the hop costs, and nothing else. (The server must
        // not do this: a slow disk would hold one of the two cooperative threads. Here nothing else runs.)
        let inlineRate = try await appendRate(
            Catalog(database: InlineWrites(try SQLiteDatabase(path: folder + "/inline.sqlite")), sealKey: SecureRandom.bytes(count: 32)), writers: 1)
        // The server's case: many requests each appending its event at once (16 at a time here), each acknowledged
        // only once durable.
        let concurrentRate = try await appendRate(
            Catalog(database: try SQLiteDatabase(path: folder + "/concurrent.sqlite"), sealKey: SecureRandom.bytes(count: 32)), writers: 16)
        let pythonAppends = python(["append.py", folder + "/python.sqlite", String(appends)], in: folder)
        let pythonSameWork = python(["append.py", folder + "/python-same.sqlite", String(appends), "whole"], in: folder)

        // Verification of a large ledger (loaded in bulk), by both.
        var drafts: [CustodyEvent.Draft] = []
        for i in 0..<(verifyEvents - appends) {
            drafts.append(.init(actor: "bench", role: "auditor", action: "custody.note", exhibit: "ex_bench", caseReference: "2024/BENCH/1",
                                details: ["note": .string("bulk \(i)"), "n": .int(Int64(i))], client: "cli:bench@host"))
            if drafts.count == 10_000 {
                try await catalog.appendBatch(drafts)
                drafts.removeAll()
            }
        }
        try await catalog.appendBatch(drafts)
        var verifier = LedgerVerifier(checkpointSeqs: [], sealsAfter: .max)
        let verifyStart = DispatchTime.now()
        verifier = try await catalog.feed(verifier)
        let report = verifier.finish(latest: nil, publicKey: nil, sealKey: nil)
        let verifySeconds = Double(DispatchTime.now().uptimeNanoseconds - verifyStart.uptimeNanoseconds) / 1e9
        let ourVerify = Double(report.eventsChecked) / verifySeconds
        let pythonVerify = python(["verify.py", folder + "/exhibit.sqlite"], in: folder)
        if !report.isIntact { table.notes.append("VERIFY FAILED: \(report.problems.first!)") }

        table.rows = [
            ["Exhibit append (`Catalog.append` on SQLite)", fmt(ours, 0), pythonAppends.map { fmt(ours / $0) + "×" } ?? "n/a"],
            ["Exhibit append, the transaction on the calling thread (bench only: no hop to the writer thread)", fmt(inlineRate, 0),
             pythonSameWork.map { "Exhibit ÷ Python's whole append: " + fmt(inlineRate / $0) + "×" } ?? "n/a"],
            ["Exhibit append, 16 appending at once (each acknowledged when durable)", fmt(concurrentRate, 0),
             pythonSameWork.map { "Exhibit ÷ Python's whole append: " + fmt(concurrentRate / $0) + "×" } ?? "n/a"],
            ["Python sqlite3 + hashlib append", pythonAppends.map { fmt($0, 0) } ?? "failed", "1.00×"],
            ["Python doing Exhibit's whole append (+ seal, + Merkle leaf and subtrees)", pythonSameWork.map { fmt($0, 0) } ?? "failed",
             pythonSameWork.map { "Exhibit ÷ it: " + fmt(ours / $0) + "×" } ?? "n/a"],
            ["Exhibit verify (\(report.eventsChecked) events)", fmt(ourVerify, 0), pythonVerify.map { fmt(ourVerify / $0) + "×" } ?? "n/a"],
            ["Python verify (same database)", pythonVerify.map { fmt($0, 0) } ?? "failed", "1.00×"],
        ]
        table.notes.append(
            "Verdicts: one writer ÷ Python's bare append \(verdict(pythonAppends.map { ours / $0 }, atLeast: 0.8)) (issue 4, goal 0.8×); "
                + "16 at once ÷ Python doing the same work \(verdict(pythonSameWork.map { concurrentRate / $0 }, atLeast: 1.0)) (issue 20, goal 1.0×); "
                + "one writer ÷ Python doing the same work \(verdict(pythonSameWork.map { ours / $0 }, atLeast: 1.0)) (issue 20, one writer alone); "
                + "verification \(verdict(pythonVerify.map { ourVerify / $0 }, atLeast: 1.0)) (goal 1.0×).")
        table.notes.append(
            "Goals: appends ≥ 0.8× Python's (issue 4), ≥ 1.0× (issue 20: met by concurrent appends, which share commits; one writer "
                + "alone pays the hop to the writer thread, which the calling-thread row measures); verification ≥ 1× Python's. The second "
                + "Python row does what each of Exhibit's appends does beyond the first (a seal, the Merkle leaf and the subtrees it "
                + "completes, read and written in the same transaction). The scripts are written to \(folder).")
        return table
    }

    /// Durable appends per second: `appends` events, `writers` of them appending at once, each waiting for its own.
    func appendRate(_ catalog: Catalog, writers: Int) async throws -> Double {
        let appends = self.appends
        let start = DispatchTime.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for i in stride(from: writer, to: appends, by: writers) {
                        _ = try await catalog.append(.init(actor: "bench", role: "auditor", action: "custody.note", details: ["note": .string("bench \(i)")], client: "bench"))
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(appends) / (Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
    }

    func python(_ arguments: [String], in folder: String) -> Double? {
        let out = folder + "/python.out"
        let run = Measure.spawn(["python3"] + arguments.enumerated().map { $0 == 0 ? folder + "/" + $1 : $1 }, stdout: out)
        guard run.status == 0 else { return nil }
        return Double(((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A SQLite catalog whose write transactions run on the calling thread (GRDB's synchronous write), for the bench
/// row that isolates what the hop to the writer's thread costs an append. Reads go the usual way.
struct InlineWrites: CatalogDatabase {
    let database: SQLiteDatabase
    init(_ database: SQLiteDatabase) { self.database = database }
    var dialect: SQLDialect { database.dialect }
    func read<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T { try await database.read(body) }
    func write<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T { try database.writeNow(body) }
    func check() async throws { try await database.check() }
}
