public import BlobStore

/// `Policies/storage.yaml`: how uploads are cut into chunks and how large they may be.
public struct StoragePolicy: Sendable, Equatable {
    public var chunking: ChunkingParameters
    /// The largest upload accepted, in bytes.
    public var maxUploadSize: Int64

    public static let `default` = StoragePolicy(chunking: .default, maxUploadSize: 1 << 40)

    public init(chunking: ChunkingParameters, maxUploadSize: Int64) {
        self.chunking = chunking
        self.maxUploadSize = maxUploadSize
    }

    static func load(_ path: String) throws(PolicyError) -> StoragePolicy {
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        var chunkingMap = try top.mapping("chunking")
        let minSize = try chunkingMap.size("min_size")
        let avgSize = try chunkingMap.size("avg_size")
        let maxSize = try chunkingMap.size("max_size")
        func check(_ ok: Bool, _ key: String, _ message: String) throws(PolicyError) {
            if !ok { throw document.error(chunkingMap.valueNode(key), "chunking.\(key): \(message)") }
        }
        let smallest = Int64(ChunkingParameters.smallestAllowed)
        let largest = Int64(ChunkingParameters.largestAllowed)
        try check(minSize >= smallest, "min_size", "\(ByteSize.format(minSize)) is below the smallest allowed chunk size (4KiB)")
        try check(maxSize <= largest, "max_size", "\(ByteSize.format(maxSize)) is above the largest allowed chunk size (16MiB)")
        try check(avgSize.nonzeroBitCount == 1, "avg_size", "\(ByteSize.format(avgSize)) is not a power of two")
        try check(minSize < avgSize, "min_size", "must be smaller than avg_size")
        try check(avgSize < maxSize, "max_size", "must be larger than avg_size")
        try chunkingMap.rejectUnknownKeys()
        let chunking: ChunkingParameters
        do {
            chunking = try ChunkingParameters(minSize: Int(minSize), averageSize: Int(avgSize), maxSize: Int(maxSize))
        } catch {
            throw document.error(chunkingMap.node, error.message)
        }
        var uploads = try top.mapping("uploads")
        let maxUpload = try uploads.size("max_size")
        guard maxUpload > 0 else { throw document.error(uploads.node, "uploads.max_size must be above 0") }
        try uploads.rejectUnknownKeys()
        try top.rejectUnknownKeys()
        return StoragePolicy(chunking: chunking, maxUploadSize: maxUpload)
    }
}
