import BlobStore
import ExhibitCatalog
import ExhibitModel
import ExhibitPolicies
public import ExhibitCrypto
public import Foundation
import Custody
public import ShareLinks
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The store's secret keys, in `<storage>/keys/`, each file mode 0600 and made on first use:
/// - `custody-ed25519.pem`: signs ledger checkpoints (its public half is published by `exhibit custody pubkey`);
/// - `ledger-seal.key`: 32 random bytes for the per-event seals;
/// - `link-<key id>.key`: the share-link HMAC keys (text: key id, creation time, 32 bytes in hex); the newest
///   signs new links, all verify; `exhibit keys rotate-link-key` adds one.
public struct KeyRing: Sendable {
    public let custodyKey: Ed25519PrivateKey
    public let sealKey: [UInt8]
    public let folder: String
    /// The link keys as last read, and the folder's change stamp then (rotation by any process changes it).
    let linkCache = LinkKeyCache()

    public var custodyPublicKey: Ed25519PublicKey { custodyKey.publicKey }

    public static func load(folder: String) throws -> KeyRing {
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
        let ring = KeyRing(custodyKey: custodyKey, sealKey: seal, folder: folder)
        if try ring.linkKeys().isEmpty { _ = try ring.addLinkKey(now: Date()) }
        return ring
    }

    /// Every share-link key in the folder (read each time, so a rotation by another process is seen).
    public func linkKeys() throws -> [LinkKey] {
        var keys: [LinkKey] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasPrefix("link-") && name.hasSuffix(".key") {
            guard let bytes = try Self.readSecret(folder + "/" + name) else { continue }
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            guard lines.count == 4, lines[0] == "exhibit-link-key 1", let id = LinkKeyID(hex: String(lines[1])),
                  let created = Double(lines[2]), lines[3].count == 64,
                  let secret = Self.hexBytes(String(lines[3])), secret.count == 32
            else { throw ExhibitError(.storage, "\(folder)/\(name) is not a link key") }
            keys.append(LinkKey(id: id, secret: secret, createdAt: Date(timeIntervalSince1970: created)))
        }
        return keys
    }

    /// The link keys, read again only when the folder changed (a key added or removed, by any process).
    public func linkKeyRing() throws -> LinkKeyRing {
        var info = stat()
        guard stat(folder, &info) == 0 else { throw ExhibitError(.storage, "cannot read \(folder): \(String(cString: strerror(errno)))") }
        let stamp = [Int64(info.st_ino), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec), Int64(info.st_ctim.tv_nsec)]
        if let ring = linkCache.ring(for: stamp) { return ring }
        let keys = try linkKeys()
        guard !keys.isEmpty else { throw ExhibitError(.storage, "no share-link key in \(folder)") }
        let ring = LinkKeyRing(keys: keys)
        linkCache.store(ring, stamp: stamp)
        return ring
    }

    /// Makes a new link key (mode 0600), which signs new links from now on.
    public func addLinkKey(now: Date) throws -> LinkKey {
        let key = LinkKey.generate(now: now)
        let text = "exhibit-link-key 1\n\(key.id)\n\(Int64(now.timeIntervalSince1970))\n\(Hex.encode(key.secretBytes))\n"
        _ = try Self.writeSecret(folder + "/link-\(key.id).key", Array(text.utf8))
        return key
    }

    /// Removes link keys retired longer ago than `maxLifetime` (no link they signed can still be valid).
    public func pruneLinkKeys(now: Date, maxLifetime: Duration) throws -> [LinkKeyID] {
        let keys = try linkKeys().sorted { $0.createdAt < $1.createdAt }
        var removed: [LinkKeyID] = []
        for (index, key) in keys.enumerated() where index < keys.count - 1 {
            // A key was retired when the next one was made.
            let retired = keys[index + 1].createdAt
            if now.timeIntervalSince(retired) > Double(maxLifetime.components.seconds) {
                unlink(folder + "/link-\(key.id).key")
                removed.append(key.id)
            }
        }
        return removed
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = hexValue(high), let l = hexValue(low) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The key folder's secret files (the custody key, the seal key, the link keys) as one document, to be sealed
    /// under a passphrase in a backup.
    public func archive() throws -> [UInt8] {
        var files: [String: JSONValue] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where Self.isKeyFile(name) {
            guard let bytes = try Self.readSecret(folder + "/" + name) else { continue }
            files[name] = .string(Data(bytes).base64EncodedString())
        }
        return Array(JSONValue.object(["format": "exhibit-keys 1", "files": .object(files)]).canonical.utf8)
    }

    /// Writes the keys of an `archive` into `folder` (made mode 0700; each file 0600, never over one that exists).
    public static func unarchive(_ bytes: [UInt8], into folder: String) throws {
        guard case .object(let document)? = JSONValue.parse(String(decoding: bytes, as: UTF8.self)),
              document["format"] == .string("exhibit-keys 1"), case .object(let files)? = document["files"]
        else { throw ExhibitError(.damaged, "the sealed keys are not an Exhibit key folder") }
        try FileManager.default.createDirectory(atPath: (folder as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try makeFolder(folder)
        for (name, value) in files {
            guard isKeyFile(name), case .string(let text) = value, let data = Data(base64Encoded: text) else {
                throw ExhibitError(.damaged, "the sealed keys hold an unexpected entry \(name.prefix(60))")
            }
            guard try writeSecret(folder + "/" + name, [UInt8](data)) else {
                throw ExhibitError(.conflict, "\(folder)/\(name) exists already: keys are never overwritten")
            }
        }
    }

    static func isKeyFile(_ name: String) -> Bool {
        name == "custody-ed25519.pem" || name == "ledger-seal.key"
            || (name.hasPrefix("link-") && name.hasSuffix(".key") && !name.contains("/") && name.count < 64)
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
        try DurableFile.create(path, with: Data(bytes), mode: 0o600)
    }
}

/// The last link key ring read and the key folder's stamp (inode, mtime, ctime) when it was read.
final class LinkKeyCache: Sendable {
    private let cached = Mutex<(stamp: [Int64], ring: LinkKeyRing)?>(nil)

    func ring(for stamp: [Int64]) -> LinkKeyRing? {
        cached.withLock { $0?.stamp == stamp ? $0?.ring : nil }
    }

    func store(_ ring: LinkKeyRing, stamp: [Int64]) {
        cached.withLock { $0 = (stamp, ring) }
    }
}
