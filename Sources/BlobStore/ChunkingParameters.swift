/// Minimum, average and maximum chunk sizes for FastCDC.
///
/// Valid when 4 KiB ≤ min < average < max ≤ 16 MiB and the average is a power of two
/// (the cut masks are made of log2(average) ± 2 bits). The maximum is also a memory bound:
/// a put holds at most a few chunks in flight.
public struct ChunkingParameters: Sendable, Equatable, Codable, CustomStringConvertible {
    public let minSize: Int
    public let averageSize: Int
    public let maxSize: Int

    public static let smallestAllowed = 4 << 10
    public static let largestAllowed = 16 << 20

    /// 256 KiB / 1 MiB / 4 MiB.
    public static let `default` = try! ChunkingParameters(minSize: 256 << 10, averageSize: 1 << 20, maxSize: 4 << 20)

    public init(minSize: Int, averageSize: Int, maxSize: Int) throws(BlobStoreError) {
        func invalid(_ why: String) -> BlobStoreError {
            BlobStoreError(.invalidChunkingParameters, "chunk sizes min \(minSize), avg \(averageSize), max \(maxSize): \(why)")
        }
        guard minSize >= Self.smallestAllowed else { throw invalid("min must be at least 4 KiB") }
        guard maxSize <= Self.largestAllowed else { throw invalid("max must be at most 16 MiB") }
        guard minSize < averageSize, averageSize < maxSize else { throw invalid("need min < avg < max") }
        guard averageSize.nonzeroBitCount == 1 else { throw invalid("avg must be a power of two") }
        self.minSize = minSize
        self.averageSize = averageSize
        self.maxSize = maxSize
    }

    public var description: String { "min \(minSize) avg \(averageSize) max \(maxSize)" }
}
