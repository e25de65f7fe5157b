import ExhibitTesting
import Foundation
import MediaProbe
import Testing

@Suite struct WorkingCopyTests {
    func probe(_ name: String) throws -> MediaReport { try MediaProbe.examine(path: fixture(name)) }

    @Test(arguments: [
        ("mp4_h264.mp4", WorkingCopyPlan.Operation.playable), ("mp4_h264_aac.mp4", .playable), ("webm_vp9.webm", .playable),
        ("mov_h264.mov", .remux), ("ts_h264_aac.ts", .remux), ("mkv_h264_aac.mkv", .remux), ("mkv_attachment.mkv", .remux),
        ("avi_mjpeg.avi", .transcode), ("avi_mpeg4.avi", .transcode), ("mpegps_mpeg2.mpg", .transcode),
        ("avi_odd_720x405.avi", .transcode), ("raw.h264", .transcode),
        ("audio_only.m4a", .none), ("random.bin", .none), ("empty.bin", .none),
    ])
    func plans(name: String, expected: WorkingCopyPlan.Operation) throws {
        let report = try probe(name)
        let plan = WorkingCopyPlan.plan(report.media, verdict: report.integrity.verdict)
        #expect(plan.operation == expected, "\(name): \(plan.reason)")
        #expect(!plan.reason.isEmpty)
    }

    /// Variable-frame-rate and motion-triggered footage: the copy (a remux of VFR H.264 in MKV, a transcode of a
    /// low-frame-rate Cinepak AVI with irregular frames) keeps every frame and every frame's time: the same number
    /// of frames, and its first and last frames at the master's times within one frame.
    @Test(arguments: ["vfr_h264.mkv", "avi_lowfps_gaps.avi"])
    func variableFrameRateCopiesKeepEveryFrameAndItsTime(name: String) throws {
        let master = try probe(name)
        let plan = WorkingCopyPlan.plan(master.media, verdict: master.integrity.verdict)
        #expect(plan.operation == .remux || plan.operation == .transcode, "\(name): \(plan.reason)")
        let folder = try TemporaryDirectory("vfr-copy")
        let output = folder.appending("copy.mp4")
        _ = try Transcoder.make(from: FileByteSource(path: fixture(name)), filename: name, plan: plan, to: output)
        let copy = try MediaProbe.examine(path: output)
        let masterVideo = try #require(master.integrity.streams.first { $0.codecType == "video" })
        let copyVideo = try #require(copy.integrity.streams.first { $0.codecType == "video" })
        #expect(copyVideo.packets == masterVideo.packets, "\(name): \(copyVideo.packets) frames in the copy, \(masterVideo.packets) in the master")
        let masterStart = master.media?.format.startTime ?? 0
        let copyStart = copy.media?.format.startTime ?? 0
        let nominal = 1 / (master.media?.videoStreams.first?.framesPerSecond ?? 25)
        for (ours, theirs, what) in [(copyVideo.firstTime, masterVideo.firstTime, "first"), (copyVideo.lastTime, masterVideo.lastTime, "last")] {
            let copyTime = try #require(ours) - copyStart
            let masterTime = try #require(theirs) - masterStart
            #expect(abs(copyTime - masterTime) <= nominal + 1e-6, "\(name): the \(what) frame is at \(copyTime) s in the copy, \(masterTime) s in the master")
        }
        // The measured frame rate (not the nominal one) is reported, beside the frames read.
        let measured = try #require(master.media?.videoStreams.first?.measuredFrameRate)
        #expect(measured < (master.media?.videoStreams.first?.framesPerSecond ?? 0) * 0.75, "\(name): measured \(measured) fps")
        #expect(master.media?.videoStreams.first?.framesRead == masterVideo.packets)
        #expect(master.integrity.verdict == .complete, "\(name): \(master.integrity.summary)")
        #expect((master.integrity.recordingGaps?.count ?? 0) > 0, "\(name): \(master.integrity.summary)")
    }

    /// Every refused container and codec gives an MP4 copy whose probe matches the master: H.264 yuv420p at an
    /// even size, the same stream count (attachments dropped), duration within one frame per second of footage,
    /// the same number of frames.
    @Test(arguments: ["avi_mjpeg.avi", "avi_mpeg4.avi", "ts_h264_aac.ts", "mpegps_mpeg2.mpg", "avi_odd_720x405.avi",
                      "mkv_attachment.mkv", "mkv_h264_aac.mkv", "mov_h264.mov", "raw.h264"])
    func copiesMatchTheirMaster(name: String) throws {
        let master = try probe(name)
        let plan = WorkingCopyPlan.plan(master.media, verdict: master.integrity.verdict)
        let folder = try TemporaryDirectory("copy")
        let output = folder.appending("copy.mp4")
        let report = try Transcoder.make(from: FileByteSource(path: fixture(name)), filename: name, plan: plan, to: output)
        let copy = try MediaProbe.examine(path: output)
        let copyMedia = try #require(copy.media)
        #expect(copy.integrity.verdict == .complete, "\(name): \(copy.integrity.summary)")
        #expect(copyMedia.format.formatName == "mov,mp4,m4a,3gp,3g2,mj2")
        let masterMedia = try #require(master.media)
        let video = try #require(copyMedia.videoStreams.first)
        #expect(video.codecName == "h264")
        #expect(video.pixFmt == "yuv420p")
        #expect((video.width ?? 1) % 2 == 0)
        #expect((video.height ?? 1) % 2 == 0)
        let masterVideo = try #require(masterMedia.videoStreams.first)
        #expect(video.width == (masterVideo.width ?? 0) + (masterVideo.width ?? 0) % 2)
        #expect(video.height == (masterVideo.height ?? 0) + (masterVideo.height ?? 0) % 2)
        #expect(copyMedia.videoStreams.count == 1)
        #expect(copyMedia.audioStreams.count == min(1, masterMedia.audioStreams.count))
        // Duration and frames: within one frame per second of footage.
        let fps = masterVideo.framesPerSecond ?? 25
        let masterFrames = master.integrity.streams.first { $0.codecType == "video" }?.packets ?? 0
        let copyFrames = copy.integrity.streams.first { $0.codecType == "video" }?.packets ?? 0
        // A raw elementary stream has no timestamps, hence no duration of its own: its frames at its rate.
        let masterDuration = master.integrity.readableDuration ?? Double(masterFrames) / fps
        let copyDuration = try #require(copy.integrity.readableDuration)
        let tolerance = max(1, masterDuration) / fps
        #expect(abs(copyDuration - masterDuration) <= tolerance, "\(name): copy \(copyDuration) s vs master \(masterDuration) s")
        #expect(abs(copyFrames - masterFrames) <= Int(max(1, masterDuration)), "\(name): \(copyFrames) frames vs \(masterFrames)")
        #expect(report.decodeErrors == 0)
        #expect(report.corruptFrames == 0)
        #expect(report.libraries["libavcodec"]?.hasPrefix("59.") == true)
        if plan.operation == .remux { #expect(report.framesEncoded == 0 && report.packetsCopied > 0) }
    }

    @Test func anOddFrameIsPaddedNotCropped() throws {
        let master = try probe("avi_odd_720x405.avi")
        let plan = WorkingCopyPlan.plan(master.media, verdict: master.integrity.verdict)
        let folder = try TemporaryDirectory("odd")
        let report = try Transcoder.make(from: FileByteSource(path: fixture("avi_odd_720x405.avi")), filename: "x.avi", plan: plan, to: folder.appending("c.mp4"))
        let video = try #require(report.streams.first { $0.codecType == "video" })
        #expect(video.parameters["size"] == "720x406")
        #expect(video.parameters["padding"]?.contains("720x405 padded to 720x406") == true)
    }

    @Test func aMasterThatCannotBeDecodedLeavesNoFile() throws {
        // An AVI whose index is intact but whose JPEG frames are zeros.
        let folder = try TemporaryDirectory("undecodable")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("avi_mjpeg.avi"))))
        func find(_ tag: String) -> Int {
            let needle = Array(tag.utf8)
            return (0..<(bytes.count - 4)).first { Array(bytes[$0..<$0 + 4]) == needle }!
        }
        // Every frame's payload zeroed (each "00dc" chunk after its 8-byte header), the index kept.
        let end = find("idx1")
        var at = find("movi") + 4
        while at + 8 < end {
            let size = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            for i in (at + 8)..<min(at + 8 + size, end) { bytes[i] = 0 }
            at += 8 + size + (size & 1)
        }
        let master = try MediaProbe.examine(MemoryByteSource(bytes), filename: "bad.avi")
        let plan = WorkingCopyPlan.plan(master.media, verdict: master.integrity.verdict)
        #expect(plan.operation == .transcode)
        let output = folder.appending("c.mp4")
        #expect(throws: TranscodeError.self) {
            try Transcoder.make(from: MemoryByteSource(bytes), filename: "bad.avi", plan: plan, to: output)
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func aCopyStoppedHalfWayLeavesNoFile() throws {
        let master = try probe("avi_mpeg4.avi")
        let plan = WorkingCopyPlan.plan(master.media, verdict: master.integrity.verdict)
        let folder = try TemporaryDirectory("stopped")
        let output = folder.appending("c.mp4")
        let calls = Counter()
        #expect(throws: TranscodeError.self) {
            try Transcoder.make(from: FileByteSource(path: fixture("avi_mpeg4.avi")), filename: "x.avi", plan: plan, to: output) {
                calls.increment() > 50
            }
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}

final class Counter: @unchecked Sendable {
    // Called from the one transcoding thread.
    private var value = 0
    func increment() -> Int {
        value += 1
        return value
    }
}
