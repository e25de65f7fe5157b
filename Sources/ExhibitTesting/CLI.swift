public import Foundation

/// Runs the built `exhibit` executable, optionally as an unprivileged user (for permission tests run as root).
public enum ExhibitCLI {
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], asNobody: Bool = false, stdin: Data? = nil
    ) async throws -> Subprocess.Result {
        if asNobody && geteuid() == 0 {
            return try await Subprocess.run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", "--", TestPaths.exhibitExecutable] + arguments,
                environment: environment, stdin: stdin)
        }
        return try await Subprocess.run(TestPaths.exhibitExecutable, arguments, environment: environment, stdin: stdin)
    }

    /// Decodes each line of standard output as a JSON object.
    public static func jsonLines(_ result: Subprocess.Result) throws -> [[String: Any]] {
        try result.out.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw TestSupportError("not a JSON object: \(line)")
            }
            return object
        }
    }
}
