public import Foundation

/// Runs blocking work (a subprocess, a pipe read, a wait) on a thread of its own and awaits its result without
/// holding one of Swift's cooperative threads. On 2 cores the pool has two: two tests blocked in `waitUntilExit`
/// would stall every task, including a server running in the test process.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// `offPool` for work that cannot throw.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

extension Process {
    /// Waits for the process to end, off the cooperative pool; returns its exit status.
    @discardableResult
    public func exited() async -> Int32 {
        let process = UnsafeProcess(self)
        return await offPool {
            process.value.waitUntilExit()
            return process.value.terminationStatus
        }
    }
}

/// A Process handed to the thread that waits for it (Process is thread-safe for waiting and reading its status).
struct UnsafeProcess: @unchecked Sendable {
    let value: Process
    init(_ value: Process) { self.value = value }
}
