public import Custody
public import ExhibitModel

/// Footage requests (README, "Footage requests"): the request, what came through it, and its receipts. Every change
/// is one transaction with its custody event.
extension Catalog {
    static let requestSelect = """
        SELECT r.*, c.reference AS case_reference,
               (SELECT CAST(COUNT(*) AS BIGINT) FROM exhibits e WHERE e.request_id = r.id AND e.master_id IS NULL) AS files_received,
               (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM exhibits e JOIN blobs b ON b.sha256 = e.blob
                WHERE e.request_id = r.id AND e.master_id IS NULL) AS bytes_received,
               (SELECT CAST(COUNT(*) AS BIGINT) FROM uploads u WHERE u.request_id = r.id AND u.state = 'open') AS uploads_open
        FROM footage_requests r JOIN cases c ON c.id = r.case_id
        """

    static func request(_ row: any CatalogRow) -> FootageRequest {
        var request = FootageRequest(
            id: row["id"], reference: row["reference"], caseID: row["case_id"], caseReference: row["case_reference"],
            createdBy: row["created_by"], createdAt: row["created_at"], expiresAt: row["expires_at"], keyID: row["key_id"],
            windowFrom: row["window_from"], windowTo: row["window_to"], location: row["location"], camera: row["camera"],
            ownerName: row["owner_name"], ownerContact: row["owner_contact"], note: row["note"], prefix: row["prefix"],
            limits: RequestLimits(
                files: row["max_files"], fileSize: row["max_file_size"], totalSize: row["max_total_size"],
                submissions: row["max_submissions"]),
            submissions: row["submissions"], opens: row["opens"], firstOpenedAt: row["first_opened_at"],
            lastOpenedAt: row["last_opened_at"], clockOffset: row["clock_offset"], clockCheckedAt: row["clock_checked_at"],
            revokedAt: row["revoked_at"], revokedBy: row["revoked_by"], revokedReason: row["revoked_reason"],
            expiryRecorded: row["expiry_recorded"])
        request.filesReceived = Int(row["files_received"] as Int64)
        request.bytesReceived = row["bytes_received"]
        request.uploadsOpen = Int(row["uploads_open"] as Int64)
        return request
    }

    public func insertRequest(_ request: FootageRequest, event: CustodyEvent.Draft) async throws -> CustodyEvent {
        try await write { db in
            try db.execute(
                """
                INSERT INTO footage_requests (id, reference, case_id, created_by, created_at, expires_at, key_id, window_from, window_to,
                    location, camera, owner_name, owner_contact, note, prefix, max_files, max_file_size, max_total_size, max_submissions)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [request.id, request.reference, request.caseID, request.createdBy, request.createdAt, request.expiresAt, request.keyID,
                 request.windowFrom, request.windowTo, request.location, request.camera, request.ownerName, request.ownerContact,
                 request.note, request.prefix, request.limits.files, request.limits.fileSize, request.limits.totalSize,
                 request.limits.submissions])
            return try self.append(event, in: db)
        }
    }

    public func request(id: RequestID) async throws -> FootageRequest? {
        try await read { db in try db.fetchOne(Self.requestSelect + " WHERE r.id = ? OR r.reference = ?", [id, id]).map(Self.request) }
    }

    public func requests(caseID: CaseID) async throws -> [FootageRequest] {
        try await read { db in
            try db.fetchAll(Self.requestSelect + " WHERE r.case_id = ? ORDER BY r.created_at, r.id", [caseID]).map(Self.request)
        }
    }

    /// Counts a visit of the owner's page, with its `request.opened` event.
    public func recordRequestOpened(id: RequestID, event: CustodyEvent.Draft) async throws {
        try await write { db in
            let at = self.timestamp
            try db.execute(
                "UPDATE footage_requests SET opens = opens + 1, first_opened_at = COALESCE(first_opened_at, ?), last_opened_at = ? WHERE id = ?",
                [at, at, id])
            _ = try self.append(event, in: db)
        }
    }

    /// Records the owner's clock check (recorder time minus true time, in seconds).
    public func setRequestClock(id: RequestID, offset: Int64, event: CustodyEvent.Draft) async throws {
        try await write { db in
            try db.execute("UPDATE footage_requests SET clock_offset = ?, clock_checked_at = ? WHERE id = ?", [offset, self.timestamp, id])
            _ = try self.append(event, in: db)
        }
    }

    public func revokeRequest(id: RequestID, by user: String, reason: String?, event: CustodyEvent.Draft) async throws -> FootageRequest {
        try await write { db in
            let changed = try db.execute(
                "UPDATE footage_requests SET revoked_at = ?, revoked_by = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
                [self.timestamp, user, reason, id])
            guard changed == 1 else { throw ExhibitError(.conflict, "the request is already revoked") }
            _ = try self.append(event, in: db)
            guard let row = try db.fetchOne(Self.requestSelect + " WHERE r.id = ?", [id]) else { throw ExhibitError(.notFound, "no request \(id)") }
            return Self.request(row)
        }
    }

    /// Adds an upload through a request, unless the request's limits would be passed by it: files (received and
    /// still arriving), bytes in one file, bytes in all (the declared lengths of what is arriving count). Checked
    /// and inserted in one transaction, so two uploads started at once cannot both take the last place.
    public func insertRequestUpload(
        _ upload: UploadRecord, request: FootageRequest, openLimits: OpenUploadLimits, event: CustodyEvent.Draft
    ) async throws {
        try await write { db in
            let limits = request.limits
            guard upload.length <= limits.fileSize else {
                throw ExhibitError(.tooLarge, "the file is \(upload.length) bytes; this request takes files of at most \(limits.fileSize) bytes", field: "Upload-Length")
            }
            let (files, bytes) = try Self.requestUsage(request.id, excluding: nil, in: db)
            guard files < limits.files else {
                throw ExhibitError(.conflict, "this request takes at most \(limits.files) file\(limits.files == 1 ? "" : "s"), and has them")
            }
            guard bytes + upload.length <= limits.totalSize else {
                throw ExhibitError(
                    .tooLarge, "this request takes at most \(limits.totalSize) bytes in all; \(bytes) are received or arriving, and this file is \(upload.length)",
                    field: "Upload-Length")
            }
            try self.insertUpload(upload, limits: openLimits, in: db)
            _ = try self.append(event, in: db)
        }
    }

    /// Files and bytes a request has received or has arriving (open uploads count at their declared length).
    static func requestUsage(_ requestID: RequestID, excluding uploadID: UploadID?, in db: any CatalogSession) throws -> (files: Int, bytes: Int64) {
        let row = try db.fetchOne(
            """
            SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(length), 0) AS BIGINT) FROM uploads
            WHERE request_id = ? AND state IN ('open', 'completed') AND id <> ?
            """,
            [requestID, uploadID ?? ""])
        return (Int(row.map { $0[0] as Int64 } ?? 0), row.map { $0[1] as Int64 } ?? 0)
    }

    /// What a request has received and has arriving, apart from `uploadID` (the end-of-upload check).
    public func requestUsage(_ requestID: RequestID, excluding uploadID: UploadID) async throws -> (files: Int, bytes: Int64) {
        try await read { db in try Self.requestUsage(requestID, excluding: uploadID, in: db) }
    }

    /// The exhibits (masters) that came through a request, oldest first.
    public func exhibits(requestID: RequestID) async throws -> [ExhibitRecord] {
        try await read { db in
            try db.fetchAll(
                CatalogRows.exhibitSelect + " WHERE e.request_id = ? AND e.master_id IS NULL ORDER BY e.uploaded_at, e.id", [requestID]
            ).map(CatalogRows.exhibit)
        }
    }

    /// Exhibit ids of a request by submission number (nil: received, not yet submitted).
    public func requestSubmissions(requestID: RequestID) async throws -> [String: Int] {
        try await read { db in
            var out: [String: Int] = [:]
            try db.forEach("SELECT id, submission FROM exhibits WHERE request_id = ? AND submission IS NOT NULL", [requestID]) { row in
                out[row[0] as String] = Int(row[1] as Int64)
            }
            return out
        }
    }

    /// Ends a submission: the files received since the last one become submission `number`, and its receipt (made
    /// by `receipt` from them) is stored with the `request.submitted` event, in one transaction. Refused when the
    /// request's submissions are used up, or when nothing arrived since the last one.
    public func submitRequest(
        _ request: FootageRequest,
        receipt: @escaping @Sendable (_ number: Int, _ at: String, _ files: [ExhibitRecord]) throws -> (json: String, event: CustodyEvent.Draft)
    ) async throws -> RequestReceipt {
        try await write { db in
            guard let row = try db.fetchOne(Self.requestSelect + " WHERE r.id = ?", [request.id]) else {
                throw ExhibitError(.notFound, "no request \(request.reference)")
            }
            let current = Self.request(row)
            guard current.revokedAt == nil else { throw ExhibitError(.gone, "the request was revoked") }
            guard current.submissions < current.limits.submissions else {
                throw ExhibitError(.gone, "this request has been answered: it takes no more submissions")
            }
            if try db.exists("SELECT 1 FROM uploads WHERE request_id = ? AND state = 'open' AND expires_at > ?", [request.id, self.timestamp]) {
                throw ExhibitError(.conflict, "a file is still arriving: wait until every file is received, or cancel it")
            }
            let files = try db.fetchAll(
                CatalogRows.exhibitSelect + " WHERE e.request_id = ? AND e.master_id IS NULL AND e.submission IS NULL ORDER BY e.uploaded_at, e.id",
                [request.id]
            ).map(CatalogRows.exhibit)
            guard !files.isEmpty else { throw ExhibitError(.conflict, "no file has been received since the last receipt: send the footage first") }
            let number = current.submissions + 1
            let at = self.timestamp
            let (json, event) = try receipt(number, at, files)
            try db.execute(
                "UPDATE exhibits SET submission = ? WHERE request_id = ? AND master_id IS NULL AND submission IS NULL", [number, request.id])
            try db.execute("UPDATE footage_requests SET submissions = ? WHERE id = ?", [number, request.id])
            try db.execute(
                "INSERT INTO request_receipts (request_id, number, submitted_at, receipt) VALUES (?, ?, ?, ?)", [request.id, number, at, json])
            _ = try self.append(event, in: db)
            return RequestReceipt(requestID: request.id, number: number, submittedAt: at, json: json)
        }
    }

    public func receipts(requestID: RequestID) async throws -> [RequestReceipt] {
        try await read { db in
            try db.fetchAll("SELECT * FROM request_receipts WHERE request_id = ? ORDER BY number", [requestID]).map { row in
                RequestReceipt(requestID: row["request_id"], number: Int(row["number"] as Int64), submittedAt: row["submitted_at"], json: row["receipt"])
            }
        }
    }

    /// Records `request.expired` once for each request past its expiry (not revoked, not used up).
    @discardableResult
    public func recordExpiredRequests(
        now: String, event: @escaping @Sendable (FootageRequest) -> CustodyEvent.Draft
    ) async throws -> [FootageRequest] {
        try await write { db in
            let rows = try db.fetchAll(
                Self.requestSelect + " WHERE r.expires_at <= ? AND r.expiry_recorded = 0 AND r.revoked_at IS NULL ORDER BY r.expires_at",
                [now])
            var expired: [FootageRequest] = []
            for request in rows.map(Self.request) {
                try db.execute("UPDATE footage_requests SET expiry_recorded = 1 WHERE id = ?", [request.id])
                if request.submissions < request.limits.submissions {
                    _ = try self.append(event(request), in: db)
                    expired.append(request)
                }
            }
            return expired
        }
    }
}
