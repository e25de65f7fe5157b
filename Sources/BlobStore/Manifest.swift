public import ExhibitCrypto
public import NIOCore

/// The ordered list of chunks that rebuilds a blob.
///
/// Text, one item per line, ASCII, `\n` line ends (Storage/README.md):
///
///     exhibit-manifest 1
///     blob <sha256 hex of the whole blob>
///     size <bytes>
///     chunks <count>
///     <chunk sha256 hex> <length>
///     ...
public struct Manifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let chunk: SHA256Digest
        public let length: Int
        public init(chunk: SHA256Digest, length: Int) {
            self.chunk = chunk
            self.length = length
        }
    }

    public let blob: SHA256Digest
    public let size: Int64
    public let entries: [Entry]
    /// `offsets[i]` is where entry `i` starts in the blob; one extra element holds `size`.
    public let offsets: [Int64]

    public init(blob: SHA256Digest, entries: [Entry]) {
        self.blob = blob
        self.entries = entries
        var offsets = [Int64]()
        offsets.reserveCapacity(entries.count + 1)
        var offset: Int64 = 0
        for entry in entries {
            offsets.append(offset)
            offset += Int64(entry.length)
        }
        offsets.append(offset)
        self.offsets = offsets
        self.size = offset
    }

    /// The index of the entry holding byte `offset` (binary search); `offset` must be in `0..<size`.
    public func entryIndex(containing offset: Int64) -> Int {
        precondition(offset >= 0 && offset < size)
        var low = 0
        var high = entries.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if offsets[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low
    }

    public var encoded: String {
        var text = "exhibit-manifest 1\nblob \(blob.hex)\nsize \(size)\nchunks \(entries.count)\n"
        text.reserveCapacity(text.utf8.count + entries.count * 72)
        for entry in entries {
            text += "\(entry.chunk.hex) \(entry.length)\n"
        }
        return text
    }

    /// Parses the text form strictly; any deviation is a corrupt manifest.
    public init(parsing buffer: ByteBuffer) throws(BlobStoreError) {
        let text = String(buffer: buffer)
        func corrupt(_ why: String) -> BlobStoreError {
            BlobStoreError(.corruptManifest, "manifest is corrupt: \(why)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.last == "" else { throw corrupt("no final newline") }
        lines.removeLast()
        guard lines.count >= 4, lines[0] == "exhibit-manifest 1" else { throw corrupt("bad header") }
        guard lines[1].hasPrefix("blob "), let blob = SHA256Digest(hex: lines[1].dropFirst(5)) else {
            throw corrupt("bad blob line")
        }
        guard lines[2].hasPrefix("size "), let size = Int64(lines[2].dropFirst(5)), size >= 0 else {
            throw corrupt("bad size line")
        }
        guard lines[3].hasPrefix("chunks "), let count = Int(lines[3].dropFirst(7)), count == lines.count - 4 else {
            throw corrupt("bad chunk count")
        }
        var entries = [Entry]()
        entries.reserveCapacity(count)
        for line in lines[4...] {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let chunk = SHA256Digest(hex: parts[0]), let length = Int(parts[1]), length > 0
            else { throw corrupt("bad chunk line '\(line.prefix(80))'") }
            entries.append(Entry(chunk: chunk, length: length))
        }
        self.init(blob: blob, entries: entries)
        guard self.size == size else { throw corrupt("chunk lengths add up to \(self.size), not \(size)") }
    }
}
