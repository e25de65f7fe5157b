public import Foundation

/// A fresh directory under the system temp folder, removed when the value is released.
public final class TemporaryDirectory: Sendable {
    public let path: String
    public var url: URL { URL(fileURLWithPath: path) }

    public init(_ label: String = "exhibit-test") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? NSTemporaryDirectory()
        let path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    public func appending(_ component: String) -> String {
        (path as NSString).appendingPathComponent(component)
    }

    deinit { remove() }

    /// Removes the directory and everything in it now (also what `deinit` does; a value kept in a static, such
    /// as a server shared by a whole test process, is never released, so its exit handler calls this).
    public func remove() {
        // Best effort: chunk files and folders may be read-only, so make them writable again before removing
        // (in process: a deinit cannot wait for a `chmod -R`).
        chmod(path, 0o700)
        if let walker = FileManager.default.enumerator(atPath: path) {
            for case let relative as String in walker { chmod(path + "/" + relative, 0o700) }
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}
