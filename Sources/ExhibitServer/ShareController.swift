import CheckedInput
import BlobStore
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MediaProbe
import NIOCore
import Synchronization

/// Share links: the API that makes and revokes them, and `/s/{token}`, which anyone holding a link may open.
///
/// A download (`?download=master|copy`) counts against the share's limit only when the server has sent the
/// file's last byte of that response. So that the limit is exact when many downloads run at once, a response
/// that would send the last byte first reserves one of the downloads left (and gives it back if it is cut
/// short). Playback (`?play=…&view=…`) never counts: the page gives each load a view id, and all the range
/// requests of one view are one `share.accessed` event.
struct ShareController: Sendable {
    let store: EvidenceStore
    let controllers: Controllers
    let reservations = DownloadReservations()
    let views: LinkViewCounters
    let publicURL: PublicURL
    let logger: Logger

    // MARK: API

    struct NewShare: Decodable {
        let expiresIn: ExpiresIn?
        let maxDownloads: Int?
        let recipient: String?
        let note: String?
        enum CodingKeys: String, CodingKey {
            case expiresIn = "expires_in"
            case maxDownloads = "max_downloads"
            case recipient, note
        }
    }

    /// `expires_in` as seconds (a number) or a duration text (`72h`, `14d`).
    struct ExpiresIn: Decodable {
        let duration: Duration
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Int64.self) {
                duration = .seconds(try InputDuration.seconds(seconds, field: "expires_in"))
            } else if let text = try? container.decode(String.self) {
                duration = try InputDuration.parse(text, field: "expires_in")
            } else {
                throw InputError(field: "expires_in", "must be a number of seconds or a duration such as 72h")
            }
        }
    }

    struct ShareJSON: Encodable {
        let share: ShareRecord
        let url: String?
        let reference: String
        /// Downloads of this link being sent now (by this process): each holds one of the downloads left.
        var inProgress = 0
        enum CodingKeys: String, CodingKey {
            case id, exhibitID = "exhibit_id", reference, createdBy = "created_by", createdAt = "created_at"
            case expiresAt = "expires_at", maxDownloads = "max_downloads", downloads, downloadsLeft = "downloads_left"
            case downloadsInProgress = "downloads_in_progress"
            case revokedAt = "revoked_at", revokedReason = "revoked_reason", recipient, note, url
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(share.id, forKey: .id)
            try c.encode(share.exhibitID, forKey: .exhibitID)
            try c.encode(reference, forKey: .reference)
            try c.encode(share.createdBy, forKey: .createdBy)
            try c.encode(share.createdAt, forKey: .createdAt)
            try c.encode(share.expiresAt, forKey: .expiresAt)
            try c.encodeIfPresent(share.maxDownloads, forKey: .maxDownloads)
            try c.encode(share.downloads, forKey: .downloads)
            try c.encode(inProgress, forKey: .downloadsInProgress)
            try c.encodeIfPresent(share.downloadsLeft.map { max(0, $0 - inProgress) }, forKey: .downloadsLeft)
            try c.encodeIfPresent(share.revokedAt, forKey: .revokedAt)
            try c.encodeIfPresent(share.revokedReason, forKey: .revokedReason)
            try c.encodeIfPresent(share.recipient, forKey: .recipient)
            try c.encodeIfPresent(share.note, forKey: .note)
            try c.encodeIfPresent(url, forKey: .url)
        }
    }

    func create(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let input = try await decodeJSON(NewShare.self, from: request, context: context)
        let (actor, exhibit) = try await controllers.findExhibit(request, context, needing: .exhibitRead)
        let created = try await store.createShare(
            exhibit, expiresIn: input.expiresIn?.duration, maxDownloads: input.maxDownloads, recipient: input.recipient,
            note: input.note, by: actor)
        return try jsonResponse(
            ShareJSON(share: created.share, url: publicURL.current + created.path, reference: exhibit.reference), status: .created,
            headers: [.location: "/v1/exhibits/\(exhibit.id)/shares"])
    }

    func list(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let (actor, exhibit) = try await controllers.findExhibit(request, context, needing: .exhibitRead)
        // A link is a bearer credential to the footage: shown only to someone who may download it themselves.
        let base = store.maySeeLinks(of: exhibit, for: actor) ? publicURL.current : nil
        let shares = try await store.shares(of: exhibit, for: actor).map { share in
            ShareJSON(
                share: share, url: try base.flatMap { base in try store.token(for: share).map { base + "/s/" + $0 } }, reference: exhibit.reference,
                inProgress: reservations.inProgress(share.id, counted: share.downloads))
        }
        return try jsonResponse(shares)
    }

    func revoke(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let actor = try context.requireActor()
        let client = Actor(name: actor.name, role: actor.role, client: clientDescription(request, context))
        let share = try await store.revokeShare(try context.parameters.decoded("share"), by: client)
        return try jsonResponse(ShareJSON(share: share, url: nil, reference: (try? await store.exhibitRecord(id: share.exhibitID))?.reference ?? ""))
    }

    // MARK: Links

    static func html(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func sharedBy(_ share: ShareRecord) async -> String {
        await store.displayName(ofUser: share.createdBy)
    }

    /// `GET`/`HEAD /s/{token}`: the page, `?play=master|copy&view=…` (streams for the player) or
    /// `?download=master|copy` (downloads).
    func link(_ request: Request, _ context: ExhibitRequestContext) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        let client = clientDescription(request, context)
        // The query, parsed once.
        let query = request.uri.queryParameters
        let (playParameter, downloadParameter, viewParameter) = (query.get("play"), query.get("download"), query.get("view"))
        // A player's ranges reuse the share row read a moment ago (see `resolveLinkForPlayback`).
        let playing = playParameter != nil && downloadParameter == nil
        switch try await (playing ? store.resolveLinkForPlayback(token) : store.resolveLink(token)) {
        case .invalid:
            return Self.html(SharePage.notFound, status: .notFound)
        case .expired(let share, let exhibit):
            try await store.recordLinkRefusal(share, exhibit, reason: "expired", client: client)
            return Self.html(SharePage.gone(reason: "This link expired on \(share.expiresAt).", share: share, sharedBy: await sharedBy(share)), status: .gone)
        case .revoked(let share, let exhibit):
            let purged = share.revokedReason == "purged" || exhibit?.isPurged == true || exhibit == nil
            try await store.recordLinkRefusal(share, exhibit, reason: purged ? "exhibit deleted" : "revoked", client: client)
            let reason = purged
                ? "The exhibit was deleted under the force's retention policy\(share.revokedAt.map { " on \($0)" } ?? "") and is no longer held."
                : "This link was withdrawn on \(share.revokedAt ?? "?")."
            return Self.html(SharePage.gone(reason: reason, share: share, sharedBy: await sharedBy(share)), status: .gone)
        case .valid(let share, let exhibit):
            // The working copy is looked up only when it is asked for (or for the page).
            func copy(if which: String) async throws -> ExhibitRecord? {
                which == "copy" ? try await store.workingCopies(of: exhibit).last : nil
            }
            if downloadParameter != nil && playParameter != nil {
                throw Problem(.badRequest, "ask for play or download, not both")
            }
            if let which = playParameter, which != "master" && which != "copy" {
                throw Problem(.badRequest, "play takes master or copy")
            }
            if let which = downloadParameter {
                return try await download(which, share: share, exhibit: exhibit, copy: try await copy(if: which), request: request, client: client)
            }
            if let which = playParameter {
                let view = viewParameter.flatMap { $0.count <= 40 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } ? $0 : nil }
                    ?? Identifier.random()
                return try await play(which, view: view, share: share, exhibit: exhibit, copy: try await copy(if: which), request: request, client: client)
            }
            // The page shows the exhibit as it is now (its integrity report grows when a copy is made).
            let exhibit = try await store.exhibitRecord(id: exhibit.id) ?? exhibit
            let copy = try await store.workingCopies(of: exhibit).last
            let plan = store.workingCopyPlan(exhibit)
            let playbackLeft = playbackLeft(share, exhibit, copy: copy)
            if share.downloadsLeft == 0 && playbackLeft == 0 {
                try await store.recordLinkRefusal(share, exhibit, reason: "no downloads or playback left", client: client)
                return Self.html(SharePage.gone(
                    reason: "This link's downloads have all been used, and so has its playback allowance.",
                    share: share, sharedBy: await sharedBy(share)), status: .gone)
            }
            let view = Identifier.random()
            try await store.recordLinkAccess(share, exhibit, viewID: view, kind: request.method == .head ? "head" : "page", client: client)
            let page = SharePage.page(
                share: share, exhibit: exhibit, copy: copy, plan: plan, token: token, viewID: view, sharedBy: await sharedBy(share),
                playbackLeft: playbackLeft)
            return Self.html(page, status: .ok)
        }
    }

    func file(_ which: String, exhibit: ExhibitRecord, copy: ExhibitRecord?) throws -> ExhibitRecord {
        switch which {
        case "master", "1", "": return exhibit
        case "copy":
            guard let copy else { throw Problem(.notFound, "\(exhibit.reference) has no working copy") }
            return copy
        default: throw Problem(.badRequest, "ask for master or copy")
        }
    }

    /// The most one playback response sends: a player asks again for what it needs next, and no single response
    /// (not even `bytes=0-`) hands over a large file whole.
    static let playbackPiece: Int64 = 4 << 20

    /// The bytes a share's link may serve through playback in all (`playback_budget` times the footage's size).
    func playbackBudget(_ exhibit: ExhibitRecord, _ target: ExhibitRecord) -> Int64 {
        let (budget, overflow) = Int64(store.policies.sharing.playbackBudget).multipliedReportingOverflow(by: max(exhibit.size, target.size))
        return overflow ? .max : budget
    }

    /// What a share has left for playback, as the page says it (catalog counts plus this server's unwritten ones).
    func playbackLeft(_ share: ShareRecord, _ exhibit: ExhibitRecord, copy: ExhibitRecord?) -> Int64 {
        max(0, playbackBudget(exhibit, copy ?? exhibit) - share.playedBytes - views.unwrittenPlayback(share.id))
    }

    /// `?play=master|copy`: ranges for the page's player, each at most `playbackPiece` bytes and all of them
    /// within the link's playback budget. A request without `Range` (a player always sends one) is refused:
    /// whole files go through `?download=`, which counts downloads.
    func play(
        _ which: String, view: String, share: ShareRecord, exhibit: ExhibitRecord, copy: ExhibitRecord?, request: Request, client: String
    ) async throws -> Response {
        let target = try file(which, exhibit: exhibit, copy: copy)
        var headers = ContentResponse.cachedHeaders(for: target, kind: "inline")
        let key = LinkViewCounters.Key(share: share.id, view: view, kind: "play")
        guard request.headers[.range] != nil || request.method == .head else {
            throw Problem(.badRequest,
                "playback is served in byte ranges, as a video player asks for it (send Range: bytes=0-); to download the file use ?download=\(which)",
                field: "Range")
        }
        if views.isOpen(key) {
            views.count(key, requests: 1, at: store.now())
        } else {
            try await store.recordLinkAccess(share, exhibit, viewID: view, kind: "play", client: client, details: ["file": .string(target.reference)])
            views.opened(key)
        }
        var (status, range) = try rangeFor(request, target, &headers)
        if request.method == .head { return Response(status: status, headers: headers) }
        let wanted = min(Int64(range.count), Self.playbackPiece)
        let granted = views.reservePlayback(
            share: share.id, wanted: wanted, written: share.playedBytes, budget: playbackBudget(exhibit, target))
        guard granted > 0 else {
            try await store.recordLinkRefusal(share, exhibit, reason: "playback allowance used", client: client)
            return Self.html(SharePage.gone(
                reason: "This link's playback allowance is used up\(share.downloadsLeft == 0 ? " and it has no downloads left" : ""): it served the footage through the player \(store.policies.sharing.playbackBudget) times over.",
                share: share, sharedBy: await sharedBy(share)), status: .gone)
        }
        if granted < Int64(range.count) {
            range = range.lowerBound..<(range.lowerBound + granted)
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(target.size)"
            headers[.contentLength] = String(range.count)
        }
        let contents: BlobContents
        do {
            contents = try await store.linkContents(target, range: range)
        } catch {
            views.endPlayback(key, granted: granted, sent: 0, at: store.now())
            throw error
        }
        let (views, now) = (self.views, store.now)
        let body = ContentResponse.body(contents, metrics: controllers.metrics).observed { bytes, _ in
            views.endPlayback(key, granted: granted, sent: bytes, at: now())
        }
        return Response(status: status, headers: headers, body: body)
    }

    func download(
        _ which: String, share: ShareRecord, exhibit: ExhibitRecord, copy: ExhibitRecord?, request: Request, client: String
    ) async throws -> Response {
        let target = try file(which, exhibit: exhibit, copy: copy)
        if let left = share.downloadsLeft, left <= 0 {
            try await store.recordLinkRefusal(share, exhibit, reason: "no downloads left", client: client)
            return Self.html(SharePage.gone(reason: "This link's downloads have all been used.", share: share, sharedBy: await sharedBy(share)), status: .gone)
        }
        var headers = ContentResponse.headers(for: target)
        let (status, range) = try rangeFor(request, target, &headers)
        // Only a response that sends the file's last byte can complete a download: it reserves one first, before
        // its access is recorded, so that a download refused here is recorded as refused and nothing else.
        let completes = request.method != .head && range.upperBound == target.size
        if completes {
            guard reservations.reserve(share.id, completed: share.downloads, limit: share.maxDownloads) else {
                try await store.recordLinkRefusal(share, exhibit, reason: "no downloads left (the last in progress)", client: client)
                return Self.html(SharePage.gone(reason: "This link's downloads have all been used (or are in progress).", share: share, sharedBy: await sharedBy(share)), status: .gone)
            }
        }
        let view = Identifier.random()
        do {
            try await store.recordLinkAccess(
                share, exhibit, viewID: view, kind: request.method == .head ? "head" : "download", client: client,
                details: ["file": .string(target.reference), "range": .string("\(range.lowerBound)-\(range.upperBound - 1)")])
        } catch {
            if completes { reservations.finish(share.id, counted: false) }
            throw error
        }
        if request.method == .head { return Response(status: status, headers: headers) }
        let contents: BlobContents
        do {
            contents = try await store.linkContents(target, range: range)
        } catch {
            if completes { reservations.finish(share.id, counted: false) }
            throw error
        }
        let store = self.store
        let reservations = self.reservations
        let logger = self.logger
        let body = ContentResponse.body(contents, metrics: controllers.metrics).observed { bytes, finished in
            // A task of its own, not the request's: that one is cancelled when the client goes, and the end of the
            // download (its custody event, the download count) must be written all the same.
            Task {
                var counted = false
                do {
                    counted = try await store.endLinkDownload(
                        share, exhibit, file: target, viewID: view, bytes: bytes, complete: completes && finished, client: client)
                } catch {
                    logger.error("cannot record the end of a download through \(share.id): \(error)")
                }
                if completes { reservations.finish(share.id, counted: counted) }
            }
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// The status and byte range for a request's `Range` header (416 when it cannot be served).
    func rangeFor(_ request: Request, _ target: ExhibitRecord, _ headers: inout HTTPFields) throws -> (HTTPResponse.Status, Range<Int64>) {
        var wanted = ContentResponse.parse(request.headers[.range], size: target.size)
        if let ifRange = request.headers[.ifRange], !ContentResponse.matches(ifRange, etag: ContentResponse.etag(target)) { wanted = .whole }
        switch wanted {
        case .unsatisfiable:
            throw Problem(.rangeNotSatisfiable, "the file has \(target.size) bytes", headers: [.contentRange: "bytes */\(target.size)"])
        case .whole:
            headers[.contentLength] = String(target.size)
            return (.ok, 0..<target.size)
        case .range(let range):
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(target.size)"
            headers[.contentLength] = String(range.count)
            return (.partialContent, range)
        }
    }
}

/// Downloads in progress (and completed) per share in this process, so that a share's limit holds exactly
/// under concurrent downloads: a download is only started when completed + running is below the limit, and
/// the completed count is never behind what the database said when the request was resolved.
final class DownloadReservations: Sendable {
    private struct State {
        var running = 0
        var completed = 0
    }
    private let shares = Mutex<[String: State]>([:])

    /// Takes one of the downloads left; false when none is left.
    func reserve(_ share: String, completed: Int, limit: Int?) -> Bool {
        shares.withLock { map in
            var state = map[share, default: State()]
            state.completed = max(state.completed, completed)
            if let limit, state.completed + state.running >= limit { return false }
            state.running += 1
            map[share] = state
            return true
        }
    }

    /// Downloads of a share being sent now, given the count the database gave: a download the database has
    /// already counted but whose reservation is not yet finished is not counted twice.
    func inProgress(_ share: String, counted: Int) -> Int {
        shares.withLock { map in
            guard let state = map[share] else { return 0 }
            return max(0, state.running - max(0, counted - state.completed))
        }
    }

    /// Ends a reserved download; `counted` when its last byte was sent and the database counted it.
    func finish(_ share: String, counted: Bool) {
        shares.withLock { map in
            var state = map[share, default: State()]
            state.running = max(0, state.running - 1)
            if counted { state.completed += 1 }
            map[share] = state
        }
    }
}
