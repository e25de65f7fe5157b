import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Working copies made by the server after uploads, served, and played by a real headless Chromium.
@Suite struct WorkingCopyServerTests {
    static let refused = ["avi_mpeg4.avi", "avi_mjpeg.avi", "ts_h264_aac.ts", "mpegps_mpeg2.mpg", "avi_odd_720x405.avi", "mkv_attachment.mkv"]

    @Test func refusedFootageGetsCopiesThatChromiumPlays() async throws {
        let folder = try TemporaryDirectory("copies")
        let server = try await LiveServer(storage: folder.appending("Storage"))
        let admin = try #require(server.adminToken)
        let token = try await HTTP.postJSON(server.url + "/v1/users", token: admin, ["name": "jsmith", "role": "investigator", "full_name": "John Smith"]).json()["token"] as! String
        #expect(try await HTTP.postJSON(server.url + "/v1/cases", token: token, ["reference": "C/1"]).status == 201)
        var masters: [String: [String: Any]] = [:]
        for name in Self.refused + ["mp4_h264_aac.mp4"] {
            let uploaded = try await HTTP.request("POST", server.url + "/v1/cases/C%2F1/exhibits?filename=\(name)", token: token, upload: TestPaths.fixtures + "/" + name)
            #expect(uploaded.status == 201, "\(name): \(uploaded.text)")
            masters[name] = try uploaded.json()
        }
        #expect((masters["avi_mpeg4.avi"]?["playback"] as? [String: Any])?["operation"] as? String == "transcode")
        #expect((masters["ts_h264_aac.ts"]?["playback"] as? [String: Any])?["operation"] as? String == "remux")
        #expect(masters["avi_mpeg4.avi"]?["working_copy_status"] as? String == "pending")
        #expect((masters["mp4_h264_aac.mp4"]?["playback"] as? [String: Any])?["operation"] as? String == "playable")

        // The background service makes every copy.
        var copies: [String: [String: Any]] = [:]
        let deadline = Date().addingTimeInterval(180)
        while copies.count < Self.refused.count && Date() < deadline {
            for name in Self.refused where copies[name] == nil {
                let id = masters[name]!["id"] as! String
                let shown = try await HTTP.get(server.url + "/v1/exhibits/\(id)", token: token).json()
                if let list = shown["working_copies"] as? [[String: Any]], let copy = list.first { copies[name] = copy }
                #expect(shown["working_copy_status"] as? String != "failed", "\(name): \(shown["working_copy_error"] ?? "")")
            }
            try await Task.sleep(for: .seconds(0.5))
        }
        #expect(copies.count == Self.refused.count, "copies made: \(copies.keys.sorted())")
        for (name, copy) in copies {
            #expect((copy["reference"] as? String)?.hasSuffix("-W1") == true, "\(name)")
            #expect(copy["content_type"] as? String == "video/mp4")
            let lineage = try #require(copy["lineage"] as? [String: Any])
            #expect(lineage["master_sha256"] as? String == masters[name]!["sha256"] as? String)
        }
        // The working copy route serves the copy's bytes, with its own hash.
        let first = masters["avi_mjpeg.avi"]!["id"] as! String
        let served = try await HTTP.get(server.url + "/v1/exhibits/\(first)/working-copy", token: token)
        #expect(served.status == 200)
        #expect(served.header("content-type") == "video/mp4")
        #expect(served.header("etag") == "\"\(copies["avi_mjpeg.avi"]!["sha256"] as! String)\"")
        #expect(SHA256.hash(served.body).hex == copies["avi_mjpeg.avi"]!["sha256"] as? String)
        let none = try await HTTP.get(server.url + "/v1/exhibits/\(masters["mp4_h264_aac.mp4"]!["id"] as! String)/working-copy", token: token)
        #expect(none.status == 404)
        #expect(none.text.contains("plays in browsers"))

        // Chromium plays every copy with a picture (videoWidth > 0), the master's duration, and seeks.
        var paths = Self.refused.map { "/v1/exhibits/\(masters[$0]!["id"] as! String)/working-copy" }
        paths.append("/v1/exhibits/\(masters["mp4_h264_aac.mp4"]!["id"] as! String)/content")
        // Share pages: one for a master that plays, one for a master that plays through its working copy.
        var pages: [String: String] = [:]
        for name in ["mp4_h264_aac.mp4", "avi_mpeg4.avi"] {
            let shared = try await HTTP.postJSON(server.url + "/v1/exhibits/\(masters[name]!["id"] as! String)/shares", token: token, ["recipient": "CPS"])
            #expect(shared.status == 201, "\(shared.text)")
            let url = try #require(try shared.json()["url"] as? String)
            pages[name] = String(url[try #require(url.range(of: "/s/")).lowerBound...])
            let html = try await HTTP.get(url).text
            #expect(html.contains(name == "avi_mpeg4.avi" ? "play=copy" : "play=master"), "\(name): \(html)")
            if name == "avi_mpeg4.avi" {
                #expect(html.contains("Working copy") && html.contains("download=copy") && html.contains(copies[name]!["sha256"] as! String))
            }
        }
        let screenshot = NSTemporaryDirectory() + "exhibit-share-page.png"
        let onPage = try await playInChromium(base: server.url, token: nil, paths: [pages["avi_mpeg4.avi"]!, pages["mp4_h264_aac.mp4"]!], screenshot: screenshot)
        for (name, page) in pages {
            let state = try #require(onPage[page]?["state"] as? [String: Any], "\(name): the share page was not played")
            #expect((state["width"] as? Int ?? 0) > 0, "\(name): \(state)")
            #expect((state["ready"] as? Int ?? 0) >= 2, "\(name): \(state)")
            let expected = (masters[name]!["integrity"] as! [String: Any])["readable_duration"] as? Double ?? 0
            #expect(abs((state["duration"] as? Double ?? 0) - expected) <= max(1, expected) / 25 + 0.05, "\(name): duration \(state)")
            #expect(onPage[page]?["played_from_middle"] as? Bool == true, "\(name): seeking to the middle did not play")
        }
        #expect(FileManager.default.fileExists(atPath: screenshot))

        let played = try await playInChromium(base: server.url, token: token, paths: paths)
        for (name, path) in zip(Self.refused + ["mp4_h264_aac.mp4"], paths) {
            let result = try #require(played[path], "\(name) was not played")
            let state = try #require(result["state"] as? [String: Any], "\(name): \(result)")
            #expect((state["width"] as? Int ?? 0) > 0, "\(name): Chromium shows no picture: \(state)")
            #expect((state["ready"] as? Int ?? 0) >= 2, "\(name): \(state)")
            let media = masters[name]!["integrity"] as! [String: Any]
            let expected = media["readable_duration"] as? Double ?? 0
            let fps = 25.0
            #expect(abs((state["duration"] as? Double ?? 0) - expected) <= max(1, expected) / fps + 0.05, "\(name): duration \(state)")
            #expect(result["played_from_middle"] as? Bool == true, "\(name): seeking to the middle did not play")
        }
    }
}

/// Runs Tests/Browser/play_videos.py in headless Chromium; returns its result per path.
func playInChromium(base: String, token: String?, paths: [String], screenshot: String? = nil) async throws -> [String: [String: Any]] {
    var arguments = [TestPaths.packageRoot + "/Tests/Browser/play_videos.py", "--base", base]
    if let token { arguments += ["--token", token] }
    if let screenshot { arguments += ["--screenshot", screenshot] }
    let result = try await Subprocess.run("/usr/bin/env", ["python3"] + arguments + paths)
    #expect(result.status == 0, "Chromium run failed: \(result.err.suffix(2000))")
    var out: [String: [String: Any]] = [:]
    for line in result.out.split(separator: "\n") {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let path = object["path"] as? String else { continue }
        out[path] = object
    }
    return out
}
