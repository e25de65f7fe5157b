import Foundation

/// Where the package, its build products and its fixtures are, seen from a running test.
public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The folder holding the built executables of this build (the test runner's own folder).
    public static let productsDirectory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // An XCTest bundle on Darwin or an .xctest folder: climb out of it.
        while url.path.contains(".xctest") { url.deleteLastPathComponent() }
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("exhibit").path) {
            return url.path
        }
        return packageRoot + "/.build/debug"
    }()

    /// The `exhibit` executable built alongside the tests.
    public static var exhibitExecutable: String { productsDirectory + "/exhibit" }

    /// Committed test videos.
    public static var fixtures: String { packageRoot + "/Tests/Fixtures" }

    /// The committed policy files.
    public static var policies: String { packageRoot + "/Policies" }
}
