import Custody
import ExhibitCrypto
import ExhibitModel
import Foundation
import MediaProbe

/// `report.html` of a court bundle: what a person reads and prints. No script, no remote resource: one page
/// with its own styles, every value escaped.
struct BundleReport {
    let exhibits: [ExhibitRecord]
    let paths: [ExhibitID: String]
    let events: [CustodyEvent]
    let checkpoint: Checkpoint
    let head: TreeHead
    let vkey: String
    let madeBy: String
    let users: [String: String]
    let created: CustodyEvent
    let witnesses: Int

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    func person(_ name: String) -> String {
        let full = users[name]
        return Self.escape(full.map { $0 == name ? name : "\($0) (\(name))" } ?? name)
    }

    /// The ingest event of an exhibit: who produced it, when, from where.
    func ingested(_ record: ExhibitRecord) -> CustodyEvent? {
        events.first { $0.exhibit == record.id.rawValue && $0.action == CustodyAction.exhibitIngested.rawValue }
            ?? events.first { $0.exhibit == record.id.rawValue && $0.action == CustodyAction.workingCopyCreated.rawValue }
    }

    func summary(_ event: CustodyEvent) -> String {
        guard case .object(let details) = event.details else { return "" }
        let shown = details.keys.sorted().filter { !["exhibits", "events"].contains($0) }.prefix(6).map { key -> String in
            let value: String = switch details[key] {
            case .string(let text)?: text
            case .int(let number)?: String(number)
            case .bool(let flag)?: flag ? "yes" : "no"
            default: "…"
            }
            return "\(key): \(value.prefix(120))"
        }
        return Self.escape(shown.joined(separator: "; "))
    }

    var html: String {
        let caseReference = exhibits.first?.caseReference ?? ""
        // A bundle of one exhibit records it on its bundle.created event; a case's bundle does not.
        let title = created.exhibit != nil ? "Exhibit \(exhibits.first?.reference ?? "")" : "Case \(caseReference)"
        var page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>Court bundle: \(Self.escape(title)), case \(Self.escape(caseReference))</title>
            <style>
            body { font: 11pt/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
            h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #999; }
            table { border-collapse: collapse; width: 100%; margin: .5rem 0; } th, td { text-align: left; vertical-align: top; padding: .2rem .4rem; border-bottom: 1px solid #ddd; }
            th { width: 14rem; font-weight: 600; } code { font: 9pt ui-monospace, monospace; word-break: break-all; }
            .events td, .events th { font-size: 9pt; width: auto; } .derived { color: #555; }
            @media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } tr { page-break-inside: avoid; } }
            </style></head><body>
            <h1>Court bundle: \(Self.escape(title))</h1>
            <p>Case <strong>\(Self.escape(caseReference))</strong>. Made by \(person(madeBy)) at \(Self.escape(created.at)) (UTC),
            recorded as custody event \(created.seq). It holds \(exhibits.count) file(s) of footage and \(events.count) custody events,
            each proven to be in the store's signed custody log.</p>

            """
        for record in exhibits {
            let origin = ingested(record)
            page += """
                <h2\(record.isWorkingCopy ? " class=\"derived\"" : "")>\(record.isWorkingCopy ? "Working copy" : "Exhibit") \(Self.escape(record.reference))</h2>
                <table>
                <tr><th>File in this bundle</th><td><code>\(Self.escape(paths[record.id] ?? ""))</code></td></tr>
                <tr><th>Original file name</th><td>\(Self.escape(record.filename))</td></tr>
                <tr><th>SHA-256</th><td><code>\(record.sha256.hex)</code></td></tr>
                <tr><th>Size</th><td>\(record.size) bytes</td></tr>
                <tr><th>Produced by</th><td>\(person(record.uploadedBy))\(record.submittedThrough.map { " through footage request \(Self.escape($0.requestReference)) answered by \(Self.escape($0.owner))" } ?? "")</td></tr>
                <tr><th>Received</th><td>\(Self.escape(record.uploadedAt)) (UTC)\(origin?.client.map { ", from " + Self.escape($0) } ?? "")</td></tr>
                <tr><th>Integrity verdict</th><td>\(Self.escape(record.verdict))</td></tr>
                <tr><th>Time coverage</th><td>\(Self.escape(record.coverage?.summary ?? "not known"))</td></tr>
                \(record.isWorkingCopy ? "<tr><th>Derived from</th><td>the master \(Self.escape(record.masterID?.rawValue ?? "")): a playable copy, not the evidence itself</td></tr>" : "")
                </table>

                """
        }
        let accesses: Set<String> = [
            CustodyAction.exhibitViewed.rawValue, CustodyAction.exhibitDownloaded.rawValue, CustodyAction.shareCreated.rawValue,
            CustodyAction.shareRevoked.rawValue, CustodyAction.shareAccessed.rawValue, CustodyAction.shareServed.rawValue,
            CustodyAction.shareDownloaded.rawValue, CustodyAction.shareRefused.rawValue,
        ]
        let accessed = events.filter { accesses.contains($0.action) }
        page += "<h2>Every access and share</h2>\n"
        page += accessed.isEmpty ? "<p>None recorded.</p>\n" : table(accessed)
        page += "<h2>The whole custody record</h2>\n" + table(events)
        page += """
            <h2>What the proofs show</h2>
            <ul>
            <li>The checkpoint in this bundle states that the custody log held \(head.size) events with Merkle root
            <code>\(head.root.hex)</code>; it is signed by the log key <code>\(Self.escape(vkey))</code>\(witnesses > 0 ? " and cosigned by the witnesses named in it" : "").</li>
            <li>Each custody event above is, byte for byte, an entry of that log (an RFC 9162 inclusion proof each), so none was
            altered or slipped in afterwards.</li>
            <li>The bundle's own creation event (\(created.seq)), also in the log, names each file's SHA-256 and commits to the exact set of
            events: a file changed by one byte, or an event removed, fails the check.</li>
            </ul>
            <h2>What they cannot show</h2>
            <ul>
            \(CourtBundle.limits.map { "<li>" + Self.escape($0) + "</li>" }.joined(separator: "\n"))
            </ul>
            <h2>How to check this bundle</h2>
            <p>See <code>VERIFY.txt</code>: three independent checks (Exhibit, Python, the Go team's transparency-log code), each run offline.</p>
            </body></html>

            """
        return page
    }

    func table(_ rows: [CustodyEvent]) -> String {
        var out = "<table class=\"events\"><tr><th>#</th><th>When (UTC)</th><th>What</th><th>Who</th><th>From</th><th>Details</th></tr>\n"
        for event in rows {
            out += "<tr><td>\(event.seq)</td><td>\(Self.escape(event.at))</td><td>\(Self.escape(event.action))</td>"
                + "<td>\(person(event.actor))\(event.role.map { " (" + Self.escape($0) + ")" } ?? "")</td>"
                + "<td>\(Self.escape(event.client ?? ""))</td><td>\(summary(event))</td></tr>\n"
        }
        return out + "</table>\n"
    }
}
