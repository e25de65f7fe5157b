internal import ExhibitCrypto

/// FastCDC content-defined chunking with normalized chunking (Xia et al., USENIX ATC 2016 / TOS 2020).
///
/// The chunker is a state machine fed with the stream in pieces of any size; the cut points depend only on the
/// bytes, never on how they were split into pieces. For each chunk:
/// - the first `minSize` bytes are skipped (never a cut inside them);
/// - from there the gear fingerprint `fp = (fp << 1) + GEAR[byte]` (64-bit, wrapping) starts at 0;
/// - before `averageSize` bytes a cut needs the top `log2(avg) + 2` bits of `fp` to be zero (`maskS`),
///   from `averageSize` on the top `log2(avg) - 2` bits (`maskL`);
/// - a chunk ends after the byte where the mask test passes, or at `maxSize` bytes.
///
/// `GEAR[i]` is the first 8 bytes, big-endian, of SHA-256 of the ASCII string `exhibit-fastcdc-gear-v1`
/// followed by the single byte `i` (Storage/README.md).
public struct Chunker: Sendable {
    public let parameters: ChunkingParameters
    private let maskS: UInt64
    private let maskL: UInt64
    /// Bytes of the current chunk seen so far.
    private var position = 0
    private var fingerprint: UInt64 = 0

    public init(parameters: ChunkingParameters = .default) {
        self.parameters = parameters
        let bits = parameters.averageSize.trailingZeroBitCount
        self.maskS = Self.topBits(bits + 2)
        self.maskL = Self.topBits(bits - 2)
    }

    static func topBits(_ count: Int) -> UInt64 {
        count <= 0 ? 0 : ~UInt64(0) << UInt64(64 - min(count, 64))
    }

    /// Bytes received since the last cut.
    public var pendingLength: Int { position }

    /// Scans the next piece of the stream and appends to `cuts` every offset in `bytes` at which a chunk ends
    /// (one past its last byte), in increasing order.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, cuts: inout [Int]) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let input = base.assumingMemoryBound(to: UInt8.self)
        let count = bytes.count
        let minSize = parameters.minSize
        let averageSize = parameters.averageSize
        let maxSize = parameters.maxSize
        var i = 0
        var position = self.position
        var fp = self.fingerprint
        while i < count {
            if position < minSize {
                let skip = Swift.min(minSize - position, count - i)
                position += skip
                i += skip
                fp = 0
                continue
            }
            let normal = position < averageSize
            let limit = normal ? averageSize : maxSize
            let end = i + Swift.min(limit - position, count - i)
            let (stop, found, newFingerprint) = Self.search(
                input, from: i, to: end, fingerprint: fp, mask: normal ? maskS : maskL)
            fp = newFingerprint
            position += stop - i
            i = stop
            if found || position == maxSize {
                cuts.append(i)
                position = 0
                fp = 0
            }
        }
        self.position = position
        self.fingerprint = fp
    }

    /// Rolls the gear fingerprint over `input[from..<to]` and stops after the first byte where `fp & mask == 0`.
    /// Returns the offset after the last byte rolled, whether the test passed there, and the fingerprint.
    ///
    /// Two bytes per step (FastCDC 2020's "rolling two bytes"): `fp2 = (fp << 2) + (GEAR[a] << 1) + GEAR[b]`
    /// keeps one shift and one add per two bytes on the dependency chain; the fingerprint after the first byte
    /// is computed beside it only to test the mask.
    @inline(__always)
    private static func search(
        _ input: UnsafePointer<UInt8>, from: Int, to: Int, fingerprint: UInt64, mask: UInt64
    ) -> (Int, Bool, UInt64) {
        let gear = Gear.table
        let gearShifted = Gear.shiftedTable
        var fp = fingerprint
        var j = from
        while j &+ 2 <= to {
            let a = Int(input[j])
            let b = Int(input[j &+ 1])
            let first = (fp &<< 1) &+ gear[a]
            let second = (fp &<< 2) &+ (gearShifted[a] &+ gear[b])
            if (first & mask == 0) || (second & mask == 0) {
                if first & mask == 0 { return (j &+ 1, true, first) }
                return (j &+ 2, true, second)
            }
            fp = second
            j &+= 2
        }
        if j < to {
            fp = (fp &<< 1) &+ gear[Int(input[j])]
            j &+= 1
            if fp & mask == 0 { return (j, true, fp) }
        }
        return (j, false, fp)
    }

    /// Ends the stream; returns the length of the last chunk (bytes since the last cut, possibly 0) and resets.
    public mutating func finish() -> Int {
        defer {
            position = 0
            fingerprint = 0
        }
        return position
    }

    /// Cut offsets of a whole buffer in one go (for tests and tools).
    public static func cuts(of bytes: UnsafeRawBufferPointer, parameters: ChunkingParameters = .default) -> [Int] {
        var chunker = Chunker(parameters: parameters)
        var cuts: [Int] = []
        chunker.scan(bytes, cuts: &cuts)
        if chunker.finish() > 0 { cuts.append(bytes.count) }
        return cuts
    }
}

/// The fixed gear table (see `Chunker`).
enum Gear {
    // Written once here, before any reader can see it, and never again: sharing the pointer is safe.
    nonisolated(unsafe) static let table: UnsafePointer<UInt64> = {
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        for i in 0..<256 {
            var message = Array("exhibit-fastcdc-gear-v1".utf8)
            message.append(UInt8(i))
            let digest = SHA256.hash(message).bytes
            var value: UInt64 = 0
            for byte in digest[0..<8] { value = value << 8 | UInt64(byte) }
            table[i] = value
        }
        return UnsafePointer(table)
    }()

    /// `GEAR[i] << 1`, for rolling two bytes per step.
    nonisolated(unsafe) static let shiftedTable: UnsafePointer<UInt64> = {
        let shifted = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        for i in 0..<256 { shifted[i] = table[i] &<< 1 }
        return UnsafePointer(shifted)
    }()

    /// The table as values, for documentation and tests.
    static var values: [UInt64] { (0..<256).map { table[$0] } }
}

extension Chunker {
    /// `GEAR[i]`, as documented in Storage/README.md.
    public static func gearValue(_ i: Int) -> UInt64 { Gear.table[i] }
}
