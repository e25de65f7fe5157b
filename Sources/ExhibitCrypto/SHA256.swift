internal import COpenSSL
public import Foundation

/// Streaming SHA-256 over OpenSSL's EVP interface.
///
/// Feed bytes with `update` in pieces of any size and call `finalize()` once:
///
///     var hasher = SHA256()
///     hasher.update(buffer)
///     let digest = hasher.finalize()
///
/// Non-copyable: the OpenSSL context it owns is freed exactly once.
public struct SHA256: ~Copyable {
    private let context: OpaquePointer

    public init() {
        OpenSSLLibrary.ready()
        guard let context = EVP_MD_CTX_new() else { fatalError("OpenSSL: out of memory for EVP_MD_CTX") }
        guard EVP_DigestInit_ex2(context, FetchedDigests.sha256, nil) == 1 else {
            fatalError("OpenSSL: SHA-256 is not available")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let ok = EVP_DigestUpdate(context, base, bytes.count)
        precondition(ok == 1, "OpenSSL: EVP_DigestUpdate failed")
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// An independent hasher in the same state (to go on from a point, or go back to it).
    public func copy() -> SHA256 {
        let copy = SHA256()
        precondition(EVP_MD_CTX_copy_ex(copy.context, context) == 1, "OpenSSL: EVP_MD_CTX_copy_ex failed")
        return copy
    }

    /// Returns the digest of everything added so far, and ends the hasher.
    public consuming func finalize() -> SHA256Digest {
        // The 32 bytes land on the stack: no array per digest (the ledger makes millions of them).
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { out in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
            precondition(ok == 1 && length == 32, "OpenSSL: EVP_DigestFinal_ex failed")
            return SHA256Digest(bytes: UnsafeRawBufferPointer(out))
        }
    }

    /// The digest of one contiguous piece of memory.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        OpenSSLLibrary.ready()
        return withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { out in
            var length: UInt32 = 0
            let ok = EVP_Digest(
                bytes.baseAddress ?? UnsafeRawPointer(out.baseAddress), bytes.count,
                out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, FetchedDigests.sha256, nil)
            precondition(ok == 1 && length == 32, "OpenSSL: EVP_Digest failed")
            return SHA256Digest(bytes: UnsafeRawBufferPointer(out))
        }
    }

    public static func hash(_ bytes: some ContiguousBytes) -> SHA256Digest {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The digest and size of a file, read a MiB at a time; nil when it cannot be opened.
    public static func file(atPath path: String) throws -> (digest: SHA256Digest, size: Int64)? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: Int64 = 0
        while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty {
            hasher.update(block)
            size += Int64(block.count)
        }
        return (hasher.finalize(), size)
    }

    public static func hash(_ text: String) -> SHA256Digest {
        var text = text
        return text.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}

/// Algorithms fetched once per process: OpenSSL 3's implicit fetch in every `EVP_DigestInit` costs more than
/// hashing a short message, and the ledger hashes many short messages.
enum FetchedDigests {
    // `EVP_MD` objects are immutable and reference-counted by OpenSSL; sharing one across threads is documented as safe.
    nonisolated(unsafe) static let sha256: OpaquePointer = {
        OpenSSLLibrary.ready()
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { fatalError("OpenSSL: SHA256 not available") }
        return md
    }()
}
