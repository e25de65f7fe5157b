public import BlobStore
public import Custody
public import ExhibitCatalog
import ExhibitPolicies
public import ExhibitCrypto
public import ExhibitModel
import Foundation
import NIOCore

/// Where a court bundle's files go: a folder, or a zip streamed to a file or an HTTP response.
public protocol BundleSink: AnyObject, Sendable {
    /// Adds a small file.
    func add(_ path: String, _ bytes: [UInt8]) async throws
    /// Adds a file streamed from `contents` (`size` bytes); returns its SHA-256 as written.
    func add(_ path: String, size: Int64, contents: BlobContents) async throws -> SHA256Digest
    /// Ends the bundle (a folder is moved into place, a zip gets its directory).
    func finish() async throws
}

/// A bundle decided and recorded, not written yet (`prepareBundle`).
public struct BundlePlan: Sendable {
    public let actor: Actor
    public let exhibits: [ExhibitRecord]
    public let events: Catalog.BundleEvents
    public let checkpoint: Checkpoint

    /// A file name for it: `<case>-<reference>-bundle` (or `<case>-bundle`), made safe.
    public var name: String {
        let base = events.created.exhibit == nil ? exhibits[0].caseReference : exhibits[0].caseReference + "-" + exhibits[0].reference
        return String(base.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }) + "-bundle"
    }
}

/// What `makeBundle` made.
public struct BundleSummary: Sendable {
    public let exhibits: [ExhibitRecord]
    public let events: Int
    public let checkpoint: Checkpoint
    public let bundleEvent: CustodyEvent
    public let bytes: Int64
}

extension EvidenceStore {
    /// Makes the court bundle of an exhibit (its master and working copies) or of a whole case, into `sink`:
    /// the footage, every custody event of it with its inclusion proof against one signed checkpoint, the
    /// log's key, a report, the verifiers (README, "Auditing"). Recorded as `bundle.created`, whose details bind
    /// the bundle's footage and events; the checkpoint is signed right after it.
    @discardableResult
    public func makeBundle(exhibit: String?, case caseName: String?, by actor: Actor, into sink: some BundleSink) async throws -> BundleSummary {
        try await writeBundle(try await prepareBundle(exhibit: exhibit, case: caseName, by: actor), into: sink)
    }

    /// The first half of `makeBundle`, everything that can refuse: what goes in, the `bundle.created` event, the
    /// signed and witnessed checkpoint. (An HTTP response starts only after it succeeds.)
    public func prepareBundle(exhibit: String?, case caseName: String?, by actor: Actor) async throws -> BundlePlan {
        // What goes in: live footage the actor may download.
        var exhibits: [ExhibitRecord] = []
        var caseReference: String?
        if let exhibit {
            var record = try await findExhibit(exhibit, case: caseName, for: actor, needing: .exhibitDownload)
            if let master = record.masterID { record = try await findExhibit(master.rawValue, for: actor, needing: .exhibitDownload) }
            try requireFootage(record)
            exhibits = [record] + (try await catalog.workingCopies(of: record.id)).filter(\.isLive)
        } else if let caseName {
            let record = try await findCase(caseName, for: actor, needing: .exhibitDownload)
            try await authorize(actor, .exhibitDownload, case: record)
            caseReference = record.reference
            exhibits = try await catalog.exhibits(caseID: record.id).filter(\.isLive)
            guard !exhibits.isEmpty else { throw ExhibitError(.notFound, "case \(record.reference) holds no footage to bundle") }
        } else {
            throw ExhibitError(.badRequest, "name an exhibit or a case")
        }
        try await authorize(actor, .custodyRead, orAnyOf: [.exhibitDownload])
        exhibits.sort { ($0.isWorkingCopy ? 1 : 0, $0.reference, $0.id) < ($1.isWorkingCopy ? 1 : 0, $1.reference, $1.id) }

        // The events and the bundle.created event, decided and signed in one transaction.
        let described: [JSONValue] = exhibits.map { record in
            var fields: [String: JSONValue] = [
                "id": .string(record.id), "reference": .string(record.reference), "sha256": .string(record.sha256.hex),
                "size": .int(record.size), "filename": .string(record.filename), "derived": .bool(record.isWorkingCopy),
            ]
            if let master = record.masterID { fields["master"] = .string(master) }
            return .object(fields)
        }
        let scope: JSONValue = caseReference == nil ? "exhibit" : "case"
        let firstCase = exhibits[0].caseReference
        let bundleExhibit: ExhibitID? = caseReference == nil ? exhibits[0].id : nil
        let bundled = try await catalog.appendBundleCreated(
            exhibitIDs: exhibits.map(\.id), caseReference: bundleExhibit == nil ? firstCase : nil,
            draft: { count, digest, through in
                actor.event(
                    .bundleCreated, exhibit: bundleExhibit, caseReference: firstCase,
                    details: [
                        "scope": scope, "exhibits": .array(described),
                        "events": ["count": .int(Int64(count)), "leaves_sha256": .string(digest), "through_seq": .int(through)],
                    ])
            },
            sign: checkpointSigner)
        // The witnesses' cosignatures: the policy's quorum of them, or no bundle.
        let witnessing = await witnessed(bundled.checkpoint)
        let quorum = policies.custody.quorum
        guard witnessing.cosigned.count >= quorum else {
            throw ExhibitError(
                .unavailable,
                "the bundle's checkpoint has \(witnessing.cosigned.count) of the \(quorum) witness cosignature(s) Policies/custody.yaml asks for: "
                    + witnessing.refusals.joined(separator: "; "))
        }
        guard witnessing.checkpoint.signedNote != nil else { throw ExhibitError(.storage, "the bundle's checkpoint has no signed note") }
        return BundlePlan(actor: actor, exhibits: exhibits, events: bundled, checkpoint: witnessing.checkpoint)
    }

    /// The second half of `makeBundle`: writes the planned bundle into `sink`, file by file.
    @discardableResult
    public func writeBundle(_ plan: BundlePlan, into sink: some BundleSink) async throws -> BundleSummary {
        let (actor, exhibits, bundled, checkpoint) = (plan.actor, plan.exhibits, plan.events, plan.checkpoint)
        let paths = Self.bundlePaths(exhibits)
        guard let note = checkpoint.signedNote else { throw ExhibitError(.storage, "the bundle's checkpoint has no signed note") }
        let size = checkpoint.seq

        // The events, each with its proof, a page at a time.
        var events: [CustodyEvent] = []
        let seqs = bundled.seqs + [bundled.created.seq]
        var index = 0
        while index < seqs.count {
            let page = Array(seqs[index..<min(seqs.count, index + 512)])
            let fetched = try await catalog.events(seqs: page[0]...page[page.count - 1])
            let wanted = Set(page)
            for event in fetched where wanted.contains(event.seq) {
                let path = try await catalog.inclusionProof(seq: event.seq, size: size)
                try await sink.add(CourtBundle.eventPath(event.seq), Array(event.canonical.utf8))
                try await sink.add(CourtBundle.proofPath(event.seq), Array(TlogProof(index: event.seq - 1, path: path, checkpoint: note).rendered.utf8))
                events.append(event)
            }
            index += page.count
        }
        // Proofs that every earlier signed checkpoint is a prefix of this one (the last 1,000).
        let earlier = Array(bundled.earlierCheckpoints.suffix(1000))
        for old in earlier {
            let proof = try await catalog.consistencyProof(from: old, to: size)
            try await sink.add(CourtBundle.consistencyPath(old), Array((["old \(old)"] + proof.map { Data($0.bytes).base64EncodedString() }).joined(separator: "\n").appending("\n").utf8))
        }

        // The footage, re-hashed as it is written (every chunk is checked against its name on the way out).
        var bytes: Int64 = 0
        for record in exhibits {
            let written = try await sink.add(paths[record.id] ?? record.id.rawValue, size: record.size, contents: try await blobs.contents(of: record.sha256))
            guard written == record.sha256 else {
                throw ExhibitError(.damaged, "exhibit \(record.reference) read back as \(written.hex), not \(record.sha256.hex): run `exhibit verify`")
            }
            bytes += record.size
        }

        let vkey = try custodyVerifierKey
        let manifest = CourtBundle.Manifest(
            createdAt: bundled.created.at, createdBy: actor.name, origin: custodyOrigin, logVkey: vkey.vkey, treeSize: size,
            bundleEvent: bundled.created.seq, quorum: policies.custody.quorum, witnesses: policies.custody.witnesses.map(\.vkey),
            exhibits: exhibits.map {
                .init(id: $0.id.rawValue, reference: $0.reference, path: paths[$0.id] ?? $0.id.rawValue, sha256: $0.sha256.hex, size: $0.size, derived: $0.isWorkingCopy)
            },
            events: events.map(\.seq), consistency: earlier)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try await sink.add("manifest.json", Array(try encoder.encode(manifest)) + [0x0A])
        try await sink.add("checkpoint", Array((checkpoint.note ?? "").utf8))
        try await sink.add("log.vkey", Array((vkey.vkey + "\n").utf8))
        try await sink.add("custody.pub.pem", Array(keys.custodyPublicKey.pem.utf8))
        try await sink.add("verify_bundle.py", Array(BundleTools.python.utf8))
        try await sink.add("verify_bundle.go", Array(BundleTools.go.utf8))
        try await sink.add("VERIFY.txt", Array(Self.verifyText(vkey: vkey.vkey).utf8))
        let users = Dictionary(try await catalog.users().map { ($0.name, $0.fullName ?? $0.name) }, uniquingKeysWith: { a, _ in a })
        let report = BundleReport(
            exhibits: exhibits, paths: paths, events: events, checkpoint: checkpoint, head: try TreeHead(parsing: note.text),
            vkey: vkey.vkey, madeBy: actor.name, users: users, created: bundled.created, witnesses: policies.custody.witnesses.count)
        try await sink.add("report.html", Array(report.html.utf8))
        try await sink.finish()
        return BundleSummary(exhibits: exhibits, events: events.count, checkpoint: checkpoint, bundleEvent: bundled.created, bytes: bytes)
    }

    /// Each exhibit's path in the bundle: `footage/<reference>/<file name>` for masters, `derived/…` for working
    /// copies; references and names made safe for any file system (no separators, no control characters).
    static func bundlePaths(_ exhibits: [ExhibitRecord]) -> [ExhibitID: String] {
        func safe(_ text: String) -> String {
            let cleaned = String(text.unicodeScalars.map { scalar -> Character in
                scalar.value < 0x20 || scalar.value == 0x7F || "/\\:*?\"<>|".unicodeScalars.contains(scalar)
                    || scalar.properties.isBidiControl ? "_" : Character(scalar)
            })
            let trimmed = cleaned.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            return String((trimmed.isEmpty ? "file" : trimmed).prefix(120))
        }
        var paths: [ExhibitID: String] = [:]
        var used = Set<String>()
        for record in exhibits {
            var path = (record.isWorkingCopy ? "derived/" : "footage/") + safe(record.reference) + "/" + safe(record.filename)
            if used.contains(path) { path = (record.isWorkingCopy ? "derived/" : "footage/") + record.id.rawValue + "/" + safe(record.filename) }
            used.insert(path)
            paths[record.id] = path
        }
        return paths
    }

    static func verifyText(vkey: String) -> String {
        """
        This is a court bundle made by Exhibit, a digital evidence store. Every file of footage in it, and every
        custody event about that footage, can be checked without Exhibit, on any machine, offline. The log key the
        force publishes is below; check that it is the one the force gave you, then run any of these three checks
        in this folder (each prints what it proved and exits 0, or names every failure and exits 1):

        1. With Exhibit:
             exhibit bundle verify . --vkey '\(vkey)'

        2. With Python (Debian: apt-get install python3 python3-cryptography):
             python3 verify_bundle.py . --vkey '\(vkey)'

        3. With the Go team's transparency-log code (Debian: apt-get install golang-go golang-golang-x-mod-dev):
             GO111MODULE=off GOPATH=/usr/share/gocode go run verify_bundle.go . --vkey '\(vkey)'

        Holding an earlier checkpoint of the same log (from an earlier bundle, or from a witness)? Add
        --previous FILE to check that this bundle's log extends it: that nothing was rewritten in between.

        The log key:
          \(vkey)

        report.html is the same information for people: print it. SHA256SUMS lists every file's SHA-256
        (sha256sum -c SHA256SUMS), but only the checks above prove where the footage and the events come from.

        """
    }
}

/// A directory sink: the files go into `<path>.partial-…` and the folder is renamed to `path` only when complete,
/// so a bundle that exists is whole. `SHA256SUMS` is written last.
public final class DirectoryBundleSink: BundleSink, @unchecked Sendable {
    let path: String
    let staging: String
    private var sums: [(String, SHA256Digest)] = []

    public init(path: String) throws {
        let path = URL(fileURLWithPath: path).standardizedFileURL.path
        guard !FileManager.default.fileExists(atPath: path) else {
            throw ExhibitError(.conflict, "\(path) exists already: a bundle is written to a new folder")
        }
        self.path = path
        staging = path + ".partial-" + Base64URL.encode(SecureRandom.bytes(count: 6))
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    }

    func prepare(_ relative: String) throws -> String {
        let full = staging + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return full
    }

    public func add(_ relative: String, _ bytes: [UInt8]) async throws {
        let full = try prepare(relative)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw ExhibitError(.storage, "cannot write \(full)")
        }
        sums.append((relative, SHA256.hash(bytes)))
    }

    public func add(_ relative: String, size: Int64, contents: BlobContents) async throws -> SHA256Digest {
        let full = try prepare(relative)
        guard FileManager.default.createFile(atPath: full, contents: nil), let handle = FileHandle(forWritingAtPath: full) else {
            throw ExhibitError(.storage, "cannot write \(full)")
        }
        defer { try? handle.close() }
        // The whole-file hash runs beside the writing, on the other core, a few pieces behind at most.
        let digest = try await BundleHashing.hashing(contents) { piece in
            try piece.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
        }.sha256
        try handle.synchronize()
        sums.append((relative, digest))
        return digest
    }

    public func finish() async throws {
        try await add("SHA256SUMS", BundleHashing.sums(sums))
        try FileManager.default.moveItem(atPath: staging, toPath: path)
    }

    /// Removes a bundle that did not finish.
    public func abandon() {
        try? FileManager.default.removeItem(atPath: staging)
    }
}

/// Streams footage to a writer while its SHA-256 (and, for a zip, its CRC-32) is computed in a task of its own:
/// a bounded queue of pieces between the two, so hashing and writing overlap on two cores and memory stays a few
/// pieces whatever the size.
enum BundleHashing {
    struct Sums {
        let sha256: SHA256Digest
        let crc32: UInt32
        let bytes: Int64
    }

    /// `SHA256SUMS`: each file's digest and path as `sha256sum` writes them, sorted by path.
    static func sums(_ files: [(String, SHA256Digest)]) -> [UInt8] {
        Array(files.sorted { $0.0 < $1.0 }.map { "\($0.1.hex)  \($0.0)\n" }.joined().utf8)
    }

    static func hashing(
        _ contents: BlobContents, crc: Bool = false, write: (ByteBuffer) async throws -> Void
    ) async throws -> Sums {
        let channel = BoundedChannel<ByteBuffer>(capacity: 4)
        async let sums: Sums = {
            var hasher = SHA256()
            var checksum = CRC32()
            var bytes: Int64 = 0
            while let piece = try await channel.next() {
                piece.withUnsafeReadableBytes { raw in
                    hasher.update(raw)
                    if crc { checksum.update(raw) }
                }
                bytes += Int64(piece.readableBytes)
            }
            return Sums(sha256: hasher.finalize(), crc32: checksum.value, bytes: bytes)
        }()
        do {
            for try await piece in contents {
                try await channel.send(piece)
                try await write(piece)
            }
            channel.finish()
        } catch {
            channel.close(throwing: error)
            _ = try? await sums
            throw error
        }
        return try await sums
    }
}
