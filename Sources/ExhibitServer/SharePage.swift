import CheckedInput
import Custody
import Exhibit
import ExhibitModel
import ExhibitPolicies
import ExhibitCrypto
import Foundation
import MediaProbe

/// The HTML a link holder sees: small, accessible, self-contained (no script, font or style from elsewhere).
enum SharePage {
    /// Escapes text for HTML element content and attribute values.
    /// Bidirectional controls (and other control characters) are neutralised, so no name reads as another.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in DisplayText.neutralised(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21;line-height:1.5}
        main{max-width:960px;margin:0 auto;padding:1.5rem}
        h1{font-size:1.5rem;margin:.2rem 0 1rem}
        .card{background:#fff;border:1px solid #d5d8dd;border-radius:8px;padding:1rem 1.25rem;margin:0 0 1rem}
        video{width:100%;max-height:70vh;background:#000;border-radius:6px}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}
        dt{font-weight:600;color:#444}
        dd{margin:0;overflow-wrap:anywhere}
        code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;overflow-wrap:anywhere}
        a.button{display:inline-block;background:#0b57d0;color:#fff;text-decoration:none;padding:.6rem 1rem;border-radius:6px;font-weight:600;margin:.25rem 0}
        a.button:focus,a.button:hover{background:#0842a0;outline:3px solid #f9ab00}
        .label{display:inline-block;font-size:.8rem;font-weight:700;padding:.1rem .5rem;border-radius:4px;background:#e8f0fe;color:#0b57d0}
        .warn{background:#fff4e5;border-color:#f9ab00}
        .muted{color:#555;font-size:.9rem}
        """

    static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <meta name="robots" content="noindex, nofollow">
        <title>\(escape(title))</title>
        <style>\(style)</style>
        </head>
        <body><main>
        \(body)
        </main></body>
        </html>
        """
    }

    /// `4 Dec 2026, 14:05 UTC` from a stored time: readable, and it wraps between words on a phone.
    static func when(_ stored: String?) -> String {
        guard let stored, let date = CustodyTime.parse(stored) else { return stored ?? "" }
        return when(date)
    }

    static func when(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let month = months[max(0, min(11, (c.month ?? 1) - 1))]
        return String(format: "%d %@ %d, %02d:%02d:%02d UTC", c.day ?? 1, month, c.year ?? 1970, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    static func size(_ bytes: Int64) -> String {
        bytes < 1024 ? ByteSize.human(bytes, byteUnit: "bytes") : "\(ByteSize.human(bytes)) (\(bytes) bytes)"
    }

    /// The page for a valid link.
    static func page(
        share: ShareRecord, exhibit: ExhibitRecord, copy: ExhibitRecord?, plan: WorkingCopyPlan, token: String,
        viewID: String, sharedBy: String, playbackLeft: Int64
    ) -> String {
        let base = "/s/" + token
        let playable = plan.operation == .playable
        let downloadsLeft = share.downloadsLeft ?? 1
        var player: String
        if playbackLeft == 0 && (playable || copy != nil) {
            player = """
                <section class="card warn"><p>This link's playback allowance is used up: it has served the footage through
                the player as many times over as the force allows. \(downloadsLeft > 0 ? "Download it below." : "")</p></section>
                """
        } else if playable || copy != nil {
            let which = playable ? "master" : "copy"
            let label = playable
                ? "<span class=\"label\">Master</span> The original file, as it was uploaded."
                : "<span class=\"label\">Working copy \(escape(copy!.reference))</span> The original does not play in a browser "
                    + "(\(escape(plan.reason))). This is a copy made for viewing; the master is below."
            player = """
                <section class="card" aria-labelledby="player">
                <h2 id="player" class="muted">Player</h2>
                <video controls preload="metadata" playsinline src="\(base)?play=\(which)&amp;view=\(viewID)">
                Your browser cannot play this video here: download it below.</video>
                <p>\(label)</p>
                </section>
                """
        } else if plan.operation == .none {
            let verdict = exhibit.integrity?.verdict ?? .notMedia
            player = verdict == .truncated || verdict == .damaged
                ? """
                <section class="card warn"><p><strong>Nothing in this file can be played</strong>: it is \(verdict.rawValue)
                (\(escape(exhibit.integrity?.summary ?? ""))). The master is below as it was received; ask the footage owner
                for a fresh export.</p></section>
                """
                : """
                <section class="card warn"><p>This exhibit has no video to play in a browser (\(escape(plan.reason))).
                Download it below.</p></section>
                """
        } else {
            player = """
                <section class="card warn"><p><strong>This footage does not play in a browser</strong> (\(escape(plan.reason))),
                and its working copy is not ready yet. Download the master below and open it with a video player such as
                VLC, or reload this page later.</p></section>
                """
        }
        var span = ""
        if let start = exhibit.coverage?.trueStart, let end = exhibit.coverage?.trueEnd {
            span = "\(when(start)) to \(when(end)) (true time)"
        } else if let start = exhibit.media?.recordedStart {
            span = "\(when(start)) to \(when(exhibit.media?.recordedEnd)) (recorder clock)"
        }
        let left = share.downloadsLeft.map { "\($0) of \(share.maxDownloads!)" } ?? "unlimited"
        func download(_ file: ExhibitRecord, which: String, title: String, note: String) -> String {
            """
            <div class="card">
            <h3>\(title)</h3>
            <dl>
            <dt>File</dt><dd>\(escape(file.filename))</dd>
            <dt>Size</dt><dd>\(size(file.size))</dd>
            <dt>SHA-256</dt><dd><code>\(file.sha256.hex)</code></dd>
            </dl>
            <p class="muted">\(note)</p>
            <a class="button" href="\(base)?download=\(which)" download>Download \(title.lowercased())</a>
            </div>
            """
        }
        var downloads = download(exhibit, which: "master", title: "Master", note: "The original file, bit for bit as it was uploaded.")
        if let copy {
            downloads += download(copy, which: "copy", title: "Working copy", note: "Made for viewing from the master (\(escape(copy.lineage?.operation ?? "copy"))); not the evidence itself.")
        }
        if downloadsLeft == 0 {
            downloads = """
                <div class="card warn"><p>This link's downloads have all been used. \(playbackLeft > 0 ? "The footage can still be watched above." : "")
                Ask \(escape(sharedBy)), who shared it, for a new link to download it again.</p></div>
                """
        }
        // On a phone the player, then what can be downloaded and how to check it, come first; the details after.
        let coverage = exhibit.coverage.map { "<dt>Coverage</dt><dd>\(escape($0.summary))</dd>" } ?? ""
        let body = """
            <header>
            <p class="muted">Shared evidence</p>
            <h1>Exhibit \(escape(exhibit.reference)) — case \(escape(exhibit.caseReference))</h1>
            <p class="label">\(escape(exhibit.integrity?.verdict.rawValue ?? "not checked"))</p>
            </header>
            \(player)
            <section aria-labelledby="downloads">
            <h2 id="downloads">Download</h2>
            \(downloads)
            <p class="muted">To check a download, run <code>sha256sum FILE</code> (macOS: <code>shasum -a 256 FILE</code>;
            Windows: <code>certutil -hashfile FILE SHA256</code>): it must print exactly the SHA-256 shown for that file,
            or the file is not the one Exhibit holds.</p>
            </section>
            <section class="card" aria-labelledby="details">
            <h2 id="details">Details</h2>
            <dl>
            <dt>Case</dt><dd>\(escape(exhibit.caseReference))</dd>
            <dt>Exhibit</dt><dd>\(escape(exhibit.reference))</dd>
            <dt>File name</dt><dd>\(escape(exhibit.filename))</dd>
            <dt>Size</dt><dd>\(size(exhibit.size))</dd>
            <dt>SHA-256</dt><dd><code>\(exhibit.sha256.hex)</code></dd>
            <dt>Recorded</dt><dd>\(escape(span.isEmpty ? "not known" : span))</dd>
            \(coverage)
            <dt>Integrity</dt><dd>\(escape(exhibit.integrity?.summary ?? "not checked"))</dd>
            <dt>Shared by</dt><dd>\(escape(sharedBy))</dd>
            \(share.recipient.map { "<dt>Shared with</dt><dd>\(escape($0))</dd>" } ?? "")
            <dt>Link expires</dt><dd>\(escape(when(share.expiresAt)))</dd>
            <dt>Downloads left</dt><dd>\(escape(left))</dd>
            <dt>Playback left</dt><dd>\(escape(ByteSize.human(playbackLeft))) of footage</dd>
            </dl>
            </section>
            <p class="muted">Every visit and download through this link is recorded in the chain-of-custody log.</p>
            """
        return document(title: "Exhibit \(exhibit.reference) — case \(exhibit.caseReference)", body: body)
    }

    /// For a malformed or forged link (404), always the same page.
    static let notFound = document(
        title: "No shared exhibit here",
        body: """
            <h1>Nothing is shared at this address</h1>
            <section class="card"><p>This link is not valid. Check that it was copied whole (links are long), or ask the
            person who sent it for a new one.</p></section>
            """)

    /// For an expired or revoked link (410), saying whom to ask.
    static func gone(reason: String, share: ShareRecord, sharedBy: String) -> String {
        document(
            title: "This link no longer works",
            body: """
                <h1>This link no longer works</h1>
                <section class="card warn"><p>\(escape(reason))</p>
                <p>Ask \(escape(sharedBy)), who shared it, for a new link.</p></section>
                """)
    }
}
