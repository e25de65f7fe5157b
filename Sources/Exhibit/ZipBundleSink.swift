public import BlobStore
public import ExhibitCrypto
import ExhibitModel
import Foundation
public import NIOCore

/// A court bundle as a zip, streamed: each file stored (no compression: footage does not compress, and a stored
/// entry can be checked with any unzip), its CRC-32 and size in a data descriptor after its bytes, ZIP64 where a
/// size or an offset passes 4 GiB, the central directory at the end. Memory stays bounded whatever the footage's
/// size; the bytes go to `output` (a file, or an HTTP response).
public final class ZipBundleSink: BundleSink, @unchecked Sendable {
    let output: @Sendable (ByteBuffer) async throws -> Void
    /// Where `SHA256SUMS` collects each file's digest; the central directory's entries.
    private var sums: [(String, SHA256Digest)] = []
    private var entries: [Entry] = []
    private var offset: UInt64 = 0
    let prefix: String
    /// Sizes and offsets from which an entry takes ZIP64 fields (4 GiB − 1 by the format; lower only in tests, to
    /// exercise the ZIP64 path without writing 4 GiB), and the entry count from which the end record does.
    let limit: UInt64
    let countLimit: UInt64

    struct Entry {
        let name: [UInt8]
        let crc: UInt32
        let size: UInt64
        let offset: UInt64
        let zip64: Bool
    }

    /// `prefix` is the folder every file is under inside the zip (the bundle's name).
    public convenience init(prefix: String, output: @escaping @Sendable (ByteBuffer) async throws -> Void) {
        self.init(prefix: prefix, zip64From: 0xFFFF_FFFF, countFrom: 0xFFFF, output: output)
    }

    init(prefix: String, zip64From limit: UInt64, countFrom countLimit: UInt64, output: @escaping @Sendable (ByteBuffer) async throws -> Void) {
        self.prefix = prefix
        self.limit = limit
        self.countLimit = countLimit
        self.output = output
    }

    func emit(_ buffer: ByteBuffer) async throws {
        offset += UInt64(buffer.readableBytes)
        try await output(buffer)
    }

    /// 1980-01-01: stored entries need a DOS date; the bundle's times are in its files, not in the zip.
    static let dosTime: UInt16 = 0
    static let dosDate: UInt16 = (0 << 9) | (1 << 5) | 1

    func localHeader(_ name: [UInt8], zip64: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(0x0403_4B50), endianness: .little)
        buffer.writeInteger(UInt16(zip64 ? 45 : 20), endianness: .little)
        buffer.writeInteger(UInt16(0x0808), endianness: .little)  // data descriptor follows; UTF-8 names
        buffer.writeInteger(UInt16(0), endianness: .little)  // stored
        buffer.writeInteger(Self.dosTime, endianness: .little)
        buffer.writeInteger(Self.dosDate, endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)  // CRC-32: in the descriptor
        buffer.writeInteger(zip64 ? UInt32.max : 0, endianness: .little)
        buffer.writeInteger(zip64 ? UInt32.max : 0, endianness: .little)
        buffer.writeInteger(UInt16(name.count), endianness: .little)
        buffer.writeInteger(UInt16(zip64 ? 20 : 0), endianness: .little)
        buffer.writeBytes(name)
        if zip64 {
            buffer.writeInteger(UInt16(0x0001), endianness: .little)
            buffer.writeInteger(UInt16(16), endianness: .little)
            buffer.writeInteger(UInt64(0), endianness: .little)
            buffer.writeInteger(UInt64(0), endianness: .little)
        }
        return buffer
    }

    func descriptor(crc: UInt32, size: UInt64, zip64: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(0x0807_4B50), endianness: .little)
        buffer.writeInteger(crc, endianness: .little)
        if zip64 {
            buffer.writeInteger(size, endianness: .little)
            buffer.writeInteger(size, endianness: .little)
        } else {
            buffer.writeInteger(UInt32(size), endianness: .little)
            buffer.writeInteger(UInt32(size), endianness: .little)
        }
        return buffer
    }

    func entryName(_ path: String) -> [UInt8] { Array((prefix + "/" + path).utf8) }

    public func add(_ path: String, _ bytes: [UInt8]) async throws {
        let name = entryName(path)
        let start = offset
        let zip64 = start >= limit || UInt64(bytes.count) >= limit
        try await emit(localHeader(name, zip64: zip64))
        try await emit(ByteBuffer(bytes: bytes))
        let crc = CRC32.checksum(bytes)
        try await emit(descriptor(crc: crc, size: UInt64(bytes.count), zip64: zip64))
        entries.append(Entry(name: name, crc: crc, size: UInt64(bytes.count), offset: start, zip64: zip64))
        sums.append((path, SHA256.hash(bytes)))
    }

    public func add(_ path: String, size: Int64, contents: BlobContents) async throws -> SHA256Digest {
        let name = entryName(path)
        let start = offset
        let zip64 = start >= limit || UInt64(size) >= limit
        try await emit(localHeader(name, zip64: zip64))
        let computed = try await BundleHashing.hashing(contents, crc: true) { piece in try await self.emit(piece) }
        guard computed.bytes == size else { throw ExhibitError(.damaged, "\(path): \(computed.bytes) bytes read, not \(size)") }
        try await emit(descriptor(crc: computed.crc32, size: UInt64(size), zip64: zip64))
        entries.append(Entry(name: name, crc: computed.crc32, size: UInt64(size), offset: start, zip64: zip64))
        sums.append((path, computed.sha256))
        return computed.sha256
    }

    public func finish() async throws {
        try await add("SHA256SUMS", BundleHashing.sums(sums))
        let directoryStart = offset
        var directory = ByteBuffer()
        for entry in entries {
            let bigSize = entry.zip64 || entry.size >= limit
            let bigOffset = entry.offset >= limit
            var extra = ByteBuffer()
            if bigSize || bigOffset {
                extra.writeInteger(UInt16(0x0001), endianness: .little)
                extra.writeInteger(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)), endianness: .little)
                if bigSize {
                    extra.writeInteger(entry.size, endianness: .little)
                    extra.writeInteger(entry.size, endianness: .little)
                }
                if bigOffset { extra.writeInteger(entry.offset, endianness: .little) }
            }
            directory.writeInteger(UInt32(0x0201_4B50), endianness: .little)
            directory.writeInteger(UInt16(0x0300 | 45), endianness: .little)  // made on Unix, spec 4.5
            directory.writeInteger(UInt16(entry.zip64 || bigSize || bigOffset ? 45 : 20), endianness: .little)
            directory.writeInteger(UInt16(0x0808), endianness: .little)
            directory.writeInteger(UInt16(0), endianness: .little)
            directory.writeInteger(Self.dosTime, endianness: .little)
            directory.writeInteger(Self.dosDate, endianness: .little)
            directory.writeInteger(entry.crc, endianness: .little)
            directory.writeInteger(bigSize ? UInt32.max : UInt32(entry.size), endianness: .little)
            directory.writeInteger(bigSize ? UInt32.max : UInt32(entry.size), endianness: .little)
            directory.writeInteger(UInt16(entry.name.count), endianness: .little)
            directory.writeInteger(UInt16(extra.readableBytes), endianness: .little)
            directory.writeInteger(UInt16(0), endianness: .little)  // comment
            directory.writeInteger(UInt16(0), endianness: .little)  // disk
            directory.writeInteger(UInt16(0), endianness: .little)  // internal attributes
            directory.writeInteger(UInt32(0o100444) << 16, endianness: .little)  // a read-only regular file
            directory.writeInteger(bigOffset ? UInt32.max : UInt32(entry.offset), endianness: .little)
            directory.writeBytes(entry.name)
            directory.writeImmutableBuffer(extra)
            if directory.readableBytes >= 1 << 20 {
                try await emit(directory)
                directory.clear()
            }
        }
        try await emit(directory)
        let directorySize = offset - directoryStart
        let count = UInt64(entries.count)
        var end = ByteBuffer()
        let needs64 = count >= countLimit || directorySize >= limit || directoryStart >= limit
        if needs64 {
            let record = offset
            end.writeInteger(UInt32(0x0606_4B50), endianness: .little)
            end.writeInteger(UInt64(44), endianness: .little)
            end.writeInteger(UInt16(0x0300 | 45), endianness: .little)
            end.writeInteger(UInt16(45), endianness: .little)
            end.writeInteger(UInt32(0), endianness: .little)
            end.writeInteger(UInt32(0), endianness: .little)
            end.writeInteger(count, endianness: .little)
            end.writeInteger(count, endianness: .little)
            end.writeInteger(directorySize, endianness: .little)
            end.writeInteger(directoryStart, endianness: .little)
            end.writeInteger(UInt32(0x0706_4B50), endianness: .little)
            end.writeInteger(UInt32(0), endianness: .little)
            end.writeInteger(record, endianness: .little)
            end.writeInteger(UInt32(1), endianness: .little)
        }
        end.writeInteger(UInt32(0x0605_4B50), endianness: .little)
        end.writeInteger(UInt16(0), endianness: .little)
        end.writeInteger(UInt16(0), endianness: .little)
        end.writeInteger(needs64 ? UInt16.max : UInt16(count), endianness: .little)
        end.writeInteger(needs64 ? UInt16.max : UInt16(count), endianness: .little)
        end.writeInteger(needs64 ? UInt32.max : UInt32(directorySize), endianness: .little)
        end.writeInteger(needs64 ? UInt32.max : UInt32(directoryStart), endianness: .little)
        end.writeInteger(UInt16(0), endianness: .little)
        try await emit(end)
    }
}

/// CRC-32 (IEEE 802.3, the zip and gzip one), slicing by eight: eight table lookups per 8 bytes.
struct CRC32 {
    private(set) var state: UInt32 = 0xFFFF_FFFF
    var value: UInt32 { ~state }

    /// The eight tables, one after the other.
    static let table: [UInt32] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[0][i] = c
        }
        for i in 0..<256 {
            for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xFF)] }
        }
        return tables.flatMap { $0 }
    }()

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32()
        bytes.withUnsafeBytes { crc.update($0) }
        return crc.value
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var c = state
        Self.table.withUnsafeBufferPointer { table in
            var i = 0
            let count = bytes.count
            while i + 8 <= count {
                let low = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                let high = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                i += 8
            }
            while i < count {
                c = table[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        state = c
    }
}
