public import NIOCore

/// Where chunks and manifests live: the one seam between the blob store and a storage engine.
///
/// Objects are immutable and named by their content; an implementation never replaces a present object with
/// other bytes (`repair` aside, which the caller uses only with bytes it has hashed). Writes go through a
/// `batch`: what a batch stored becomes durable and visible under its name together, when `commit` returns.
/// A local folder uses that to overlap many writes with the disk and sync them at once; object storage has its
/// objects durable as soon as each PUT returns, and commits trivially.
public protocol ObjectBackend: Sendable {
    /// Starts a group of writes that `commit` makes durable and visible.
    func batch() -> any ObjectBatch

    /// Reads `length` bytes from `offset` of an object (fewer only at its end).
    func read(_ key: ObjectKey, offset: Int64, length: Int) async throws -> ByteBuffer

    /// The object's size, or `nil` when it is not there.
    func size(of key: ObjectKey) async throws -> Int64?

    /// Removes an object; no error when it is already gone.
    func delete(_ key: ObjectKey) async throws

    /// Every key of one kind, in no particular order.
    func keys(_ kind: ObjectKey.Kind) -> AsyncThrowingStream<ObjectKey, any Error>

    /// Replaces a present object whose bytes are known to be wrong with `parts`, whose digest the caller checked.
    func repair(_ key: ObjectKey, parts: [ByteBuffer], length: Int) async throws

    /// Fails with a clear error when the backend cannot be used (unreachable, refused keys, no bucket).
    func checkAvailable() async throws

    /// How many pieces a reader keeps in flight ahead of the one it hands out (1 for a local disk; more where
    /// each read is a network round trip).
    var readAhead: Int { get }
}

extension ObjectBackend {
    public func checkAvailable() async throws {}
    public var readAhead: Int { 1 }
}

/// Writes that become durable and visible together.
public protocol ObjectBatch: Sendable {
    /// Writes `parts` (concatenated) under `key`, unless an object of that name and `length` is present
    /// (then nothing is written and it returns `false`).
    func store(_ key: ObjectKey, parts: [ByteBuffer], length: Int) async throws -> Bool

    /// Makes every object this batch stored or found durable under its name. Returns the keys this batch
    /// created (an object another writer created first is not among them).
    func commit() async throws -> Set<ObjectKey>

    /// Removes whatever was written and not committed.
    func abort() async
}
