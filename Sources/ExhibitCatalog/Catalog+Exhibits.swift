public import Custody
public import ExhibitCrypto
public import ExhibitModel

extension Catalog {
    /// Records an exhibit (allocating its reference, `<initials>/<n>`, in the same transaction) with its blob and
    /// the event `makeEvent(reference)`; completes its resumable upload, once, in the same transaction.
    public func insertExhibit(
        _ exhibit: NewExhibit, makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent) {
        let (id, event) = try await write { db -> (ExhibitID, CustodyEvent) in
            let at = self.timestamp
            try db.execute(
                CatalogRows.upsertBlob,
                [exhibit.blob.hex, exhibit.size, exhibit.chunks, exhibit.media.media, exhibit.media.integrity, exhibit.media.verdict, at])
            let number = (try db.scalar(
                Int.self, "SELECT max(number) FROM exhibits WHERE case_id = ? AND initials = ? AND master_id IS NULL",
                [exhibit.caseID, exhibit.initials]) ?? 0) + 1
            let reference = "\(exhibit.initials)/\(number)"
            try db.execute(
                """
                INSERT INTO exhibits (id, case_id, reference, initials, number, filename, blob, uploaded_by, uploaded_at, coverage,
                                      request_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [exhibit.id, exhibit.caseID, reference, exhibit.initials, number, exhibit.filename, exhibit.blob.hex,
                 exhibit.uploadedBy, at, exhibit.coverage, exhibit.requestID])
            if let uploadID = exhibit.uploadID {
                // The upload becomes this exhibit in the same transaction, once: a second finisher finds it done.
                let changed = try db.execute(
                    "UPDATE uploads SET state = 'completed', exhibit_id = ?, updated_at = ? WHERE id = ? AND state = 'open'",
                    [exhibit.id, at, uploadID])
                guard changed == 1 else { throw ExhibitError(.conflict, "the upload was already completed or ended") }
                try db.execute("DELETE FROM upload_tails WHERE upload_id = ?", [uploadID])
            }
            return (exhibit.id, try self.append(makeEvent(reference), in: db))
        }
        guard let record = try await self.exhibit(id: id) else { throw ExhibitError(.storage, "the exhibit vanished after insert") }
        return (record, event)
    }

    /// Records a working copy of `masterID` (reference `<master>-W<n>`, allocated here) with its lineage, marks the
    /// master's copy as done and adds the decode check to the master's integrity, with the event, in one
    /// transaction.
    public func insertWorkingCopy(
        _ copy: NewExhibit, masterID: ExhibitID, lineage: String, masterIntegrity: MasterIntegrity?,
        makeEvent: @escaping @Sendable (String) -> CustodyEvent.Draft
    ) async throws -> (ExhibitRecord, CustodyEvent) {
        let event = try await write { db -> CustodyEvent in
            let at = self.timestamp
            guard let master = try db.fetchOne("SELECT reference, initials, number, blob FROM exhibits WHERE id = ?", [masterID]) else {
                throw ExhibitError(.notFound, "the master is gone")
            }
            try db.execute(
                CatalogRows.upsertBlob,
                [copy.blob.hex, copy.size, copy.chunks, copy.media.media, copy.media.integrity, copy.media.verdict, at])
            let count = try db.scalar(Int.self, "SELECT count(*) FROM exhibits WHERE master_id = ?", [masterID]) ?? 0
            let reference = "\(master["reference"] as String)-W\(count + 1)"
            try db.execute(
                """
                INSERT INTO exhibits (id, case_id, reference, initials, number, filename, blob, uploaded_by, uploaded_at,
                                      coverage, master_id, lineage)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [copy.id, copy.caseID, reference, master["initials"] as String, master["number"] as Int, copy.filename, copy.blob.hex,
                 copy.uploadedBy, at, copy.coverage, masterID, lineage])
            try db.execute("UPDATE exhibits SET working_copy_status = 'done', working_copy_error = NULL WHERE id = ?", [masterID])
            if let masterIntegrity {
                try db.execute(
                    "UPDATE blobs SET integrity = ?, verdict = ? WHERE sha256 = ?",
                    [masterIntegrity.json, masterIntegrity.verdict, master["blob"] as String])
            }
            return try self.append(makeEvent(reference), in: db)
        }
        guard let record = try await exhibit(id: copy.id) else { throw ExhibitError(.storage, "the working copy vanished after insert") }
        return (record, event)
    }

    /// Sets a master's working-copy status (and error), with an event when given, in one transaction; the master's
    /// integrity report (and verdict) is replaced when `masterIntegrity` is given.
    public func setWorkingCopyStatus(
        masterID: ExhibitID, status: String, error: String?, masterIntegrity: MasterIntegrity?, event: CustodyEvent.Draft?
    ) async throws {
        try await write { db in
            try db.execute("UPDATE exhibits SET working_copy_status = ?, working_copy_error = ? WHERE id = ?", [status, error, masterID])
            if let masterIntegrity {
                try db.execute(
                    "UPDATE blobs SET integrity = ?, verdict = ? WHERE sha256 = (SELECT blob FROM exhibits WHERE id = ?)",
                    [masterIntegrity.json, masterIntegrity.verdict, masterID])
            }
            if let event { _ = try self.append(event, in: db) }
        }
    }

    public func workingCopies(of masterID: ExhibitID) async throws -> [ExhibitRecord] {
        try await read { db in
            try db.fetchAll(CatalogRows.exhibitSelect + " WHERE e.master_id = ? ORDER BY e.uploaded_at", [masterID]).map(CatalogRows.exhibit)
        }
    }

    /// Masters whose working-copy status is one of `statuses` (nil included when `includeUnplanned`).
    public func masters(withWorkingCopyStatus statuses: [String], includeUnplanned: Bool) async throws -> [ExhibitRecord] {
        try await read { db in
            var condition = statuses.isEmpty ? "1 = 0" : "e.working_copy_status IN (\(Self.marks(statuses.count)))"
            if includeUnplanned { condition = "(\(condition) OR e.working_copy_status IS NULL)" }
            return try db.fetchAll(
                CatalogRows.exhibitSelect + " WHERE e.master_id IS NULL AND \(condition) ORDER BY e.uploaded_at", statuses
            ).map(CatalogRows.exhibit)
        }
    }

    public func exhibit(id: ExhibitID) async throws -> ExhibitRecord? {
        try await read { db in try db.fetchOne(CatalogRows.exhibitSelect + " WHERE e.id = ?", [id]).map(CatalogRows.exhibit) }
    }

    public func exhibits(reference: String, caseID: CaseID?) async throws -> [ExhibitRecord] {
        try await read { db in
            if let caseID {
                return try db.fetchAll(CatalogRows.exhibitSelect + " WHERE e.reference = ? AND e.case_id = ?", [reference, caseID])
                    .map(CatalogRows.exhibit)
            }
            return try db.fetchAll(CatalogRows.exhibitSelect + " WHERE e.reference = ?", [reference]).map(CatalogRows.exhibit)
        }
    }

    public func exhibits(blob: SHA256Digest) async throws -> [ExhibitRecord] {
        try await read { db in
            try db.fetchAll(CatalogRows.exhibitSelect + " WHERE e.blob = ? ORDER BY e.uploaded_at", [blob.hex]).map(CatalogRows.exhibit)
        }
    }

    public func exhibits(caseID: CaseID) async throws -> [ExhibitRecord] {
        try await read { db in
            try db.fetchAll(CatalogRows.exhibitSelect + " WHERE e.case_id = ? ORDER BY e.initials, e.number", [caseID]).map(CatalogRows.exhibit)
        }
    }

    public func allExhibits() async throws -> [ExhibitRecord] {
        try await read { db in try db.fetchAll(CatalogRows.exhibitSelect + " ORDER BY e.uploaded_at").map(CatalogRows.exhibit) }
    }

    package static func marks(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }

    /// Texts as statement arguments (to join with others in one list).
    static func values<Value: SQLValueConvertible>(_ values: [Value]) -> [any SQLValueConvertible] { values.map { $0 } }
}
