import Custody
import ExhibitTesting
import Foundation
import Testing

/// The README renders as written (markdown-it-py, a CommonMark parser: Tests/Tools/readme_check.py): every fenced
/// block closes where it seems to, and the headings rendered are the headings written. A fence once left open
/// ("``` Both targets…") swallowed the whole "Using the HTTP API" section into a code block.
@Suite struct ReadmeRenderTests {
    static var python: String { TestPaths.packageRoot + "/.build/py-venv/bin/python" }

    @Test func theReadmeRendersAsWritten() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "the test virtualenv is missing: run `make deps`")
        let script = TestPaths.packageRoot + "/Tests/Tools/readme_check.py"
        let result = try await Subprocess.run(Self.python, [script, TestPaths.packageRoot + "/README.md"])
        #expect(result.status == 0, "the README does not render as written:\n\(result.out)\(result.err)")
        // The sections a newcomer looks for are there, as headings.
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        for section in ["Quick start", "Using the HTTP API", "Using the command line", "Security", "Design", "Status"] {
            #expect(readme.contains("\n## \(section)\n"), "no section \(section)")
        }
        // The checker itself finds the fault it is for.
        let broken = try TemporaryDirectory("readme-broken")
        try "# T\n\n```\ncode\n``` and text\n\n## Lost\n\ntext\n\n```\nmore\n```\n".write(toFile: broken.appending("R.md"), atomically: true, encoding: .utf8)
        let caught = try await Subprocess.run(Self.python, [script, broken.appending("R.md")])
        #expect(caught.status == 1, "\(caught.out)")
        #expect(caught.out.contains("not a closing fence"), "\(caught.out)")
        #expect(caught.out.contains("Lost"), "\(caught.out)")
    }

    /// The README's module map (in "Design") is `Package.swift` as it is: the same modules, each with its imports.
    @Test func theDesignMapMatchesThePackage() async throws {
        let script = TestPaths.packageRoot + "/Tests/Tools/design_map_check.py"
        let readme = TestPaths.packageRoot + "/README.md", package = TestPaths.packageRoot + "/Package.swift"
        let result = try await Subprocess.run("/usr/bin/python3", [script, readme, package])
        #expect(result.status == 0, "the README's module map differs from Package.swift:\n\(result.out)\(result.err)")
        // The checker finds a row that leaves an import out.
        let text = try String(contentsOfFile: readme, encoding: .utf8)
        let wrong = text.replacingOccurrences(of: "| `ExhibitCrypto`, `CLinux` |", with: "| `ExhibitCrypto` |")
        #expect(wrong != text, "the BlobStore row to alter is not in the README")
        let folder = try TemporaryDirectory("design-map")
        try wrong.write(toFile: folder.appending("README.md"), atomically: true, encoding: .utf8)
        let caught = try await Subprocess.run("/usr/bin/python3", [script, folder.appending("README.md"), package])
        #expect(caught.status == 1, "the checker missed an import left out of the map: \(caught.out)")
        #expect(caught.out.contains("BlobStore"), "the checker missed an import left out of the map: \(caught.out)")
    }

    /// The README's table of custody actions names every action the code can record, and no other.
    @Test func theReadmeListsEveryCustodyAction() throws {
        let text = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        let start = try #require(text.range(of: "| action | recorded when |"), "the README has no table of custody actions")
        let rows = text[start.upperBound...].split(separator: "\n").dropFirst().prefix { $0.hasPrefix("|") }
        var listed: [String] = []
        for row in rows {
            let first = row.split(separator: "|", omittingEmptySubsequences: true).first ?? ""
            listed += first.matches(of: /`([a-z.-]+)`/).map { String($0.1) }
        }
        let known = CustodyAction.allCases.map(\.rawValue)
        #expect(Set(known).subtracting(listed).isEmpty, "actions missing from the README: \(Set(known).subtracting(listed).sorted())")
        #expect(Set(listed).subtracting(known).isEmpty, "README actions the code never records: \(Set(listed).subtracting(known).sorted())")
        #expect(listed.count == Set(listed).count, "an action listed twice: \(listed)")
    }
}
