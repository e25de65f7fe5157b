public import ExhibitCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The store's secret keys, in `<storage>/keys/`, each file mode 0600 and made on first use:
/// - `custody-ed25519.pem`: signs ledger checkpoints (its public half is published by `exhibit custody pubkey`);
/// - `ledger-seal.key`: 32 random bytes for the per-event seals.
public struct KeyRing: Sendable {
    public let custodyKey: Ed25519PrivateKey
    public let sealKey: [UInt8]

    public var custodyPublicKey: Ed25519PublicKey { custodyKey.publicKey }

    static func load(folder: String) throws -> KeyRing {
        try makeFolder(folder)
        let custodyPath = folder + "/custody-ed25519.pem"
        let custodyKey: Ed25519PrivateKey
        if let pem = try readSecret(custodyPath) {
            custodyKey = try Ed25519PrivateKey(pem: String(decoding: pem, as: UTF8.self))
        } else {
            let key = try Ed25519PrivateKey.generate()
            custodyKey = try writeSecret(custodyPath, Array(key.pem.utf8)) ? key
                : Ed25519PrivateKey(pem: String(decoding: try readSecret(custodyPath)!, as: UTF8.self))
        }
        let sealPath = folder + "/ledger-seal.key"
        var seal = try readSecret(sealPath)
        if seal == nil {
            _ = try writeSecret(sealPath, SecureRandom.bytes(count: 32))
            seal = try readSecret(sealPath)
        }
        guard let seal, seal.count == 32 else { throw ExhibitError(.storage, "\(sealPath) must hold exactly 32 bytes") }
        return KeyRing(custodyKey: custodyKey, sealKey: seal)
    }

    static func makeFolder(_ folder: String) throws {
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw ExhibitError(.storage, "cannot create \(folder): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a key file, refusing one that others could read.
    static func readSecret(_ path: String) throws -> [UInt8]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        guard info.st_mode & 0o077 == 0 else {
            throw ExhibitError(.storage, "\(path) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))): run chmod 600 on it")
        }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Creates a key file with mode 0600 unless it exists (another process won the race): `false` then.
    static func writeSecret(_ path: String, _ bytes: [UInt8]) throws -> Bool {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ExhibitError(.storage, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        defer { unlink(temporary) }
        guard written == bytes.count, synced else { throw ExhibitError(.storage, "cannot write \(path)") }
        if link(temporary, path) != 0 {
            if errno == EEXIST { return false }
            throw ExhibitError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
        return true
    }
}
