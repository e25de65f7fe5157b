public import Foundation

/// Reads a zip whose entries are stored (not compressed), as court bundles are written: the central directory
/// (ZIP64 too) gives each entry's name, size and where its bytes start, so a checker reads a bundle in place,
/// unpacked or not. A compressed entry, an entry that runs past the file, or a name with `..` is refused.
public struct StoredZip: Sendable {
    public struct Entry: Sendable {
        public let offset: UInt64
        public let size: UInt64
    }

    public let path: String
    public let entries: [String: Entry]

    public init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else { throw NoteError("cannot read \(path)") }
        defer { try? handle.close() }
        let fileSize = try handle.seekToEnd()
        let tailSize = min(fileSize, 65_557 + 20 + 56)
        try handle.seek(toOffset: fileSize - tailSize)
        let tail = [UInt8](try handle.read(upToCount: Int(tailSize)) ?? Data())
        func u16(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(b[i]) | UInt64(b[i + 1]) << 8 }
        func u32(_ b: [UInt8], _ i: Int) -> UInt64 { u16(b, i) | u16(b, i + 2) << 16 }
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { u32(b, i) | u32(b, i + 4) << 32 }
        guard tail.count >= 22, let end = (0...(tail.count - 22)).reversed().first(where: { u32(tail, $0) == 0x0605_4B50 }) else {
            throw NoteError("\(path) is not a zip")
        }
        var count = u16(tail, end + 10)
        var directorySize = u32(tail, end + 12)
        var directoryStart = u32(tail, end + 16)
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryStart == 0xFFFF_FFFF {
            guard end >= 20, u32(tail, end - 20) == 0x0706_4B50 else { throw NoteError("\(path): a ZIP64 zip without its locator") }
            let record = u64(tail, end - 12)
            try handle.seek(toOffset: record)
            let zip64 = [UInt8](try handle.read(upToCount: 56) ?? Data())
            guard zip64.count == 56, u32(zip64, 0) == 0x0606_4B50 else { throw NoteError("\(path): its ZIP64 end record is damaged") }
            count = u64(zip64, 32)
            directorySize = u64(zip64, 40)
            directoryStart = u64(zip64, 48)
        }
        guard directoryStart + directorySize <= fileSize, directorySize <= 256 << 20 else { throw NoteError("\(path): its directory runs past the file") }
        try handle.seek(toOffset: directoryStart)
        let directory = [UInt8](try handle.read(upToCount: Int(directorySize)) ?? Data())
        var entries: [String: Entry] = [:]
        var i = 0
        for _ in 0..<count {
            guard i + 46 <= directory.count, u32(directory, i) == 0x0201_4B50 else { throw NoteError("\(path): its directory is damaged") }
            let method = u16(directory, i + 10)
            var size = u32(directory, i + 24)
            let nameLength = Int(u16(directory, i + 28)), extraLength = Int(u16(directory, i + 30)), commentLength = Int(u16(directory, i + 32))
            var local = u32(directory, i + 42)
            guard i + 46 + nameLength + extraLength + commentLength <= directory.count else { throw NoteError("\(path): its directory is damaged") }
            let name = String(decoding: directory[(i + 46)..<(i + 46 + nameLength)], as: UTF8.self)
            var e = i + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(directory, e), length = Int(u16(directory, e + 2))
                if id == 1 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF, f + 16 <= e + 4 + length { size = u64(directory, f); f += 16 }
                    if local == 0xFFFF_FFFF, f + 8 <= e + 4 + length { local = u64(directory, f) }
                }
                e += 4 + length
            }
            i = extraEnd + commentLength
            if name.hasSuffix("/") { continue }
            guard method == 0 else { throw NoteError("\(name) is compressed in \(path): unzip it first, then check the folder") }
            guard !name.split(separator: "/").contains(".."), !name.hasPrefix("/") else { throw NoteError("\(path) holds an entry outside its folder: \(name)") }
            // The bytes start after the entry's local header, whose name and extra lengths may differ.
            try handle.seek(toOffset: local)
            let header = [UInt8](try handle.read(upToCount: 30) ?? Data())
            guard header.count == 30, u32(header, 0) == 0x0403_4B50 else { throw NoteError("\(path): the local header of \(name) is damaged") }
            let start = local + 30 + u16(header, 26) + u16(header, 28)
            guard start + size <= fileSize else { throw NoteError("\(path): \(name) runs past the end of the file") }
            entries[name] = Entry(offset: start, size: size)
        }
        self.entries = entries
    }

    /// The single top folder every entry is under (a bundle's name), if there is one.
    public var folder: String? {
        let tops = Set(entries.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
        return tops.count == 1 ? tops.first : nil
    }

    /// Streams an entry's bytes through `body`, a MiB at a time; false when there is no such entry.
    public func read(_ name: String, _ body: (Data) throws -> Void) throws -> Bool {
        guard let entry = entries[name], let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        try handle.seek(toOffset: entry.offset)
        var left = entry.size
        while left > 0 {
            guard let block = try handle.read(upToCount: Int(min(left, 1 << 20))), !block.isEmpty else { throw NoteError("\(path): \(name) is cut short") }
            try body(block)
            left -= UInt64(block.count)
        }
        return true
    }
}
