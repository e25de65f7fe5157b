import Foundation

/// The README's shell blocks, which tests run as printed.
public enum Readme {
    /// The first ```bash block after the text `marker`.
    public static func bashBlock(after marker: String) throws -> String {
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        guard let found = readme.range(of: marker) else { throw TestSupportError("no '\(marker)' in the README") }
        let rest = readme[found.upperBound...]
        guard let open = rest.range(of: "```bash\n"), let close = rest[open.upperBound...].range(of: "```") else {
            throw TestSupportError("no bash block after '\(marker)' in the README")
        }
        return "set -euo pipefail\n" + rest[open.upperBound..<close.lowerBound]
    }

    /// Runs the first ```bash block after `marker` as printed, in `folder`, with the `exhibit` under test first on
    /// the PATH and the storage (and, when given, the running server's URL as `EXHIBIT`) in its environment.
    public static func runBashBlock(after marker: String, storage: String, server: String? = nil, in folder: String) async throws -> Subprocess.Result {
        let script = try bashBlock(after: marker)
        let bin = (TestPaths.exhibitExecutable as NSString).deletingLastPathComponent
        var environment = [
            "EXHIBIT_STORAGE": storage, "EXHIBIT_POLICIES": TestPaths.policies,
            "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
        ]
        if let server { environment["EXHIBIT"] = server }
        return try await Subprocess.run("/bin/bash", ["-c", script], environment: environment, currentDirectory: folder)
    }
}
