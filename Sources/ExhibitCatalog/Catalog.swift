public import Custody
import ExhibitCrypto
public import ExhibitModel
public import Foundation

/// The catalog and the custody ledger, written once for every database (README, "Design").
///
/// Each method that changes state is one write transaction that also appends its custody event(s), so a record
/// never exists without its event and the reverse. Appends are serialised by the database (SQLite's single
/// writer; PostgreSQL's write lock, taken by the driver at the start of every write transaction), so several
/// writers never fork the chain. The statements are the same text in both databases (SQLite 3.40 takes
/// `ON CONFLICT DO NOTHING` and a quoted `"user"`); what truly differs is `SQLDialect`.
public final class Catalog: Sendable {
    public let database: any CatalogDatabase
    let now: @Sendable () -> Date
    let sealKey: [UInt8]

    public init(database: any CatalogDatabase, sealKey: [UInt8], now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.sealKey = sealKey
        self.now = now
    }

    var timestamp: String { CustodyTime.string(now()) }

    func read<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T {
        try await database.read(body)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any CatalogSession) throws -> T) async throws -> T {
        try await database.write(body)
    }

    // MARK: Users

    public func insertUser(_ user: User, tokenSHA256: String, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try db.exists("SELECT 1 FROM users WHERE name = ?", [user.name]) {
                throw ExhibitError(.conflict, "a user named \(user.name) already exists")
            }
            if let holder = try db.scalar(String.self, "SELECT name FROM users WHERE initials = ?", [user.initials]) {
                throw ExhibitError(.conflict, "the initials \(user.initials) are \(holder)'s", field: "initials")
            }
            try db.execute(CatalogRows.insertUser, CatalogRows.insertUserArguments(user, tokenSHA256))
            return try self.append(event, in: db)
        }
    }

    /// Disables or enables a user, or replaces their token, with its custody event, in one transaction.
    public func updateUser(_ name: String, _ update: UserUpdate, event: CustodyEvent.Draft) async throws -> User {
        try await write { db in
            let (sql, arguments) = update.statement(name)
            guard try db.execute(sql, arguments.map { $0 as any SQLValueConvertible }) == 1, let row = try db.fetchOne("SELECT * FROM users WHERE name = ?", [name]) else {
                throw ExhibitError(.notFound, "no user \(name.prefix(40))")
            }
            _ = try self.append(event, in: db)
            return CatalogRows.user(row)
        }
    }

    public func user(named name: String) async throws -> User? {
        try await read { db in try db.fetchOne("SELECT * FROM users WHERE name = ?", [name]).map(CatalogRows.user) }
    }

    /// The user holding a token, by its hash (compared again in constant time: the lookup is by index).
    public func user(tokenSHA256: String) async throws -> User? {
        try await read { db in
            try db.fetchOne("SELECT * FROM users WHERE token_sha256 = ?", [tokenSHA256]).flatMap { row in
                ConstantTime.equals(Array((row["token_sha256"] as String).utf8), Array(tokenSHA256.utf8)) ? CatalogRows.user(row) : nil
            }
        }
    }

    public func users() async throws -> [User] {
        try await read { db in try db.fetchAll("SELECT * FROM users ORDER BY name").map(CatalogRows.user) }
    }

    // MARK: Cases

    public func insertCase(_ record: CaseRecord, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try db.exists("SELECT 1 FROM cases WHERE reference = ?", [record.reference]) {
                throw ExhibitError(.conflict, "the case reference \(record.reference) is already taken (references are unique across the force): if it is your case, ask a supervisor to add you to it")
            }
            try db.execute(
                "INSERT INTO cases (id, reference, title, created_by, created_at, status) VALUES (?, ?, ?, ?, ?, ?)",
                [record.id, record.reference, record.title, record.createdBy, record.createdAt, record.status])
            if record.createdBy != Actor.systemName {
                try db.execute(
                    "INSERT INTO case_members (case_id, \"user\", added_by, added_at) VALUES (?, ?, ?, ?)",
                    [record.id, record.createdBy, record.createdBy, record.createdAt])
            }
            return try self.append(event, in: db)
        }
    }

    /// The case of an id.
    public func caseRecord(_ id: CaseID) async throws -> CaseRecord? { try await caseRecord(id.rawValue) }

    public func caseRecord(_ idOrReference: String) async throws -> CaseRecord? {
        try await read { db in
            try db.fetchOne("SELECT * FROM cases WHERE id = ? OR reference = ?", [idOrReference, idOrReference]).map(CatalogRows.caseRecord)
        }
    }

    public func cases() async throws -> [CaseRecord] {
        try await read { db in try db.fetchAll("SELECT * FROM cases ORDER BY created_at, reference").map(CatalogRows.caseRecord) }
    }

    public func members(of caseID: CaseID) async throws -> [String] {
        try await read { db in
            try db.fetchAll("SELECT \"user\" FROM case_members WHERE case_id = ? ORDER BY \"user\"", [caseID]).map { $0[0] as String }
        }
    }

    public func isMember(_ user: String, of caseID: CaseID) async throws -> Bool {
        try await read { db in try db.exists("SELECT 1 FROM case_members WHERE case_id = ? AND \"user\" = ?", [caseID, user]) }
    }

    public func insertMember(caseID: CaseID, user: String, addedBy: String, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            if try db.exists("SELECT 1 FROM case_members WHERE case_id = ? AND \"user\" = ?", [caseID, user]) {
                throw ExhibitError(.conflict, "\(user) is already a member of this case")
            }
            try db.execute(
                "INSERT INTO case_members (case_id, \"user\", added_by, added_at) VALUES (?, ?, ?, ?)", [caseID, user, addedBy, self.timestamp])
            return try self.append(event, in: db)
        }
    }
}
