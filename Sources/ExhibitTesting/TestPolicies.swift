import Foundation

/// A policy folder derived from the project's `Policies/`, with text replaced in named files. Every replacement
/// must apply: a pattern that is not in the file (the policy changed under the test) is an error, never a test
/// that quietly runs on the defaults.
public enum TestPolicies {
    /// Copies `Policies/` into `folder/Policies` with `replacing[file]` pairs (pattern, replacement) applied;
    /// returns the new folder's path.
    public static func copy(into folder: TemporaryDirectory, replacing: [String: [(String, String)]] = [:]) throws -> String {
        let target = folder.appending("Policies")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        var pending = Set(replacing.keys)
        for name in try FileManager.default.contentsOfDirectory(atPath: TestPaths.policies) {
            var text = try String(contentsOfFile: TestPaths.policies + "/" + name, encoding: .utf8)
            for (pattern, replacement) in replacing[name] ?? [] {
                guard text.contains(pattern) else {
                    throw TestSupportError("Policies/\(name) has no '\(pattern)' to replace: the test's policy would not apply")
                }
                text = text.replacingOccurrences(of: pattern, with: replacement)
            }
            pending.remove(name)
            try text.write(toFile: target + "/" + name, atomically: true, encoding: .utf8)
        }
        guard pending.isEmpty else { throw TestSupportError("no policy file \(pending.sorted().joined(separator: ", ")) in Policies/") }
        return target
    }
}
