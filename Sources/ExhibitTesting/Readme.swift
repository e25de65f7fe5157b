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
}
