import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// A footage request from both ends in real Chromium (Tests/Browser/footage_request.py): the investigator asks on
/// the case page; the owner, in a fresh profile with no account, checks the recorder's clock, uploads a DVR export
/// folder, reads each verdict and what is missing, adds it, and keeps the signed receipt.
@Suite struct RequestBrowserTests {
    @Test func anOwnerAnswersARequestInChromium() async throws {
        let store = try await TestStore("request-chromium")
        let server = try await LiveServer(storage: store.storage)
        defer { server.terminate() }
        let detail = try await HTTP.get(server.url + "/v1/cases/2017%2FMPS%2F0421", token: store.tokens["jsmith"]).json()
        let caseID = try #require((detail["case"] as? [String: Any])?["id"] as? String, "no case id in \(detail)")
        // The export: two clips the recorder (2 minutes fast) stamped 14:02:00 and 14:02:20, 10 s each (true time
        // 14:00:00–10 and 14:00:20–30 of the window 14:00:00–14:00:30), and an AVI cut short. The clip of 14:00:10–20
        // is missing, and exported afterwards.
        let work = try TemporaryDirectory("request-chromium")
        let export = work.appending("DVR-export")
        try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)
        var digests: [String: String] = [:]
        for (name, start) in [("cam1-140200.mp4", "2026-11-30T14:02:00Z"), ("cam1-140220.mp4", "2026-11-30T14:02:20Z")] {
            let path = try await RequestServerTests.clip(work, name, start: start, seconds: 10)
            try FileManager.default.moveItem(atPath: path, toPath: export + "/" + name)
        }
        try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/truncated_half.avi", toPath: export + "/cam2.avi")
        let missing = try await RequestServerTests.clip(work, "cam1-140210.mp4", start: "2026-11-30T14:02:10Z", seconds: 10)
        for path in try FileManager.default.contentsOfDirectory(atPath: export).map({ export + "/" + $0 }) + [missing] {
            digests[(path as NSString).lastPathComponent] = SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))).hex
        }
        let shots = TestPaths.packageRoot + "/.build/screenshots/web-app"
        let run = try await Subprocess.run("/usr/bin/env", [
            "python3", TestPaths.packageRoot + "/Tests/Browser/footage_request.py", "--base", server.url, "--user", "jsmith",
            "--token", try #require(store.tokens["jsmith"]), "--case-id", caseID, "--folder", export, "--missing", missing,
            "--shots", shots, "--from", "2026-11-30 14:00:00", "--to", "2026-11-30 14:00:30",
        ])
        try #require(run.status == 0, "the Chromium run failed: \(run.err.suffix(3000))")
        let seen = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "no JSON from the run: \(run.out)")

        // The investigator's side.
        let link = try #require(seen["link"] as? String, "no link shown after creating the request")
        #expect(link.hasPrefix(server.url + "/r/"), "the link: \(link)")
        let before = seen["request_rows_before"] as? [[String]] ?? []
        #expect(before.count == 1 && before[0].joined().contains("not opened yet"), "the request's row when made: \(before)")
        // The owner's page: who asks, for what, with no cookie and no account.
        #expect((seen["owner_heading"] as? String)?.hasPrefix("Footage request R-") == true, "\(seen["owner_heading"] ?? "")")
        #expect(seen["owner_brand"] as? String == "Example Constabulary", "the page names the force: \(seen["owner_brand"] ?? "")")
        #expect(seen["owner_case"] as? String == "2017/MPS/0421")
        #expect(seen["owner_window"] as? String == "2026-11-30 14:00:00–14:00:30", "the window in the force's zone: \(seen["owner_window"] ?? "")")
        #expect((seen["owner_cookies"] as? [Any])?.isEmpty == true, "the owner's page set cookies: \(seen["owner_cookies"] ?? "")")
        #expect((seen["clock_result"] as? String)?.contains("2 min ahead of true time") == true, "the clock check: \(seen["clock_result"] ?? "")")
        #expect(seen["send_button"] as? String == "Send 3 files", "\(seen["send_button"] ?? "")")
        // Each file of the folder: its SHA-256, its verdict, the verdict in words.
        let folder = seen["folder_rows"] as? [[String: Any]] ?? []
        #expect(folder.count == 3, "rows for the folder: \(folder)")
        for row in folder {
            let name = String((row["file"] as? String ?? "").split(separator: "/").last ?? "")
            #expect(row["state"] as? String == "done", "\(name): \(row["words"] ?? "")")
            #expect(row["sha256"] as? String == digests[name], "\(name): the SHA-256 shown is not the file's")
            let expected = name.hasSuffix(".avi") ? "truncated" : "complete"
            #expect(row["verdict"] as? String == expected, "\(name): verdict \(row["verdict"] ?? "none")")
            if expected == "truncated" {
                #expect((row["words"] as? String)?.contains("cut short") == true && (row["words"] as? String)?.contains("export it again") == true,
                        "the cut file's words: \(row["words"] ?? "")")
            }
        }
        let afterFolder = seen["coverage_after_folder"] as? String ?? ""
        #expect(afterFolder.hasPrefix("Covers 14:00:00–14:00:10, 14:00:20–14:00:30 of 14:00:00–14:00:30; 10 seconds missing (14:00:10–14:00:20): please export it too"),
                "what the owner is told is missing: \(afterFolder)")
        #expect(afterFolder.contains("One file has no recording time"), "the AVI without a time is not mentioned: \(afterFolder)")
        #expect((seen["coverage_after_missing"] as? String)?.hasPrefix("Covers the whole of 14:00:00–14:00:30") == true,
                "after the missing file: \(seen["coverage_after_missing"] ?? "")")
        #expect((seen["received_rows"] as? [[String]] ?? []).count == 4, "the received list after a reload: \(seen["received_rows"] ?? "")")
        // The receipt: each file's SHA-256 equals the file's, and its signature verifies with the force's key.
        let receiptRows = seen["receipt_rows"] as? [[String]] ?? []
        #expect(receiptRows.count == 4, "receipt rows: \(receiptRows)")
        #expect(Set(receiptRows.compactMap { $0.count > 2 ? $0[2] : nil }) == Set(digests.values), "the receipt's digests are not the files'")
        let receipt = work.appending("receipt.json")
        try Data((seen["receipt_json"] as? String ?? "").utf8).write(to: URL(fileURLWithPath: receipt))
        let pubkey = work.appending("custody.pub.pem")
        try Data(try await store.run(["custody", "pubkey"]).out.utf8).write(to: URL(fileURLWithPath: pubkey))
        let verified = try await ExhibitCLI.run(["request", "verify-receipt", receipt, "--key", pubkey])
        #expect(verified.status == 0, "the receipt from the browser does not verify: \(verified.err)")
        let sums = try await Subprocess.run("/usr/bin/sha256sum", try FileManager.default.contentsOfDirectory(atPath: export).map { export + "/" + $0 } + [missing])
        for line in sums.out.split(separator: "\n") {
            let digest = String(line.prefix(64))
            #expect(verified.out.contains(digest), "sha256sum's \(digest) is not in the verified receipt")
        }
        #expect(seen["answered_heading"] as? String == "This request has been answered", "\(seen["answered_heading"] ?? "")")
        #expect((seen["answered_receipts"] as? [String] ?? []).count == 1, "the answered page's receipts: \(seen["answered_receipts"] ?? "")")
        // The investigator sees the request answered and the footage in the case, under the request's prefix.
        #expect(seen["request_state_after"] as? String == "submitted", "the request's state: \(seen["request_rows_after"] ?? "")")
        let exhibits = seen["exhibit_rows"] as? [[String]] ?? []
        #expect(exhibits.count == 4 && exhibits.allSatisfy { $0.first?.hasPrefix("CS/") == true }, "the case's exhibits: \(exhibits)")
        for key in ["investigator_csp_violations", "owner_csp_violations", "investigator_csp_after"] {
            #expect((seen[key] as? [String])?.isEmpty == true, "\(key): \(seen[key] ?? "")")
        }
        #expect(seen["leaked_words"] == nil, "words from the code on a page: \(seen["leaked_words"] ?? "")")
        for page in ["request-owner", "request-sent", "request-receipt", "request-answered"] {
            #expect(FileManager.default.fileExists(atPath: "\(shots)/\(page)-390.png"), "no phone-width screenshot of \(page)")
        }
        // The exhibits carry the owner's clock offset: the first clip starts at 14:00:00 true time.
        let api = try await HTTP.get(server.url + "/v1/cases/\(caseID)/exhibits", token: store.tokens["jsmith"]).jsonArray()
        let first = try #require(api.first { $0["filename"] as? String == "DVR-export/cam1-140200.mp4" || $0["filename"] as? String == "cam1-140200.mp4" },
                                 "no first clip in \(api.map { $0["filename"] ?? "" })")
        let coverage = first["coverage"] as? [String: Any] ?? [:]
        #expect((coverage["true_start"] as? String)?.hasPrefix("2026-11-30T14:00:00") == true, "the offset applied: \(coverage)")
        #expect((first["submitted_through"] as? [String: Any])?["owner"] as? String == "Corner Shop Ltd", "submitted through: \(first)")
    }
}
