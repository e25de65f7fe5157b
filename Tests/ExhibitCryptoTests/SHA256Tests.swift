import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

@Suite struct SHA256Tests {
    /// FIPS 180-2 / NIST CSRC example vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func nistVectors(message: String, expected: String) {
        #expect(SHA256.hash(message).hex == expected)
        var hasher = SHA256()
        for byte in message.utf8 { hasher.update([byte]) }
        #expect(hasher.finalize().hex == expected)
    }

    @Test func millionAs() {
        var hasher = SHA256()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(piece) }
        #expect(hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingMatchesOneShotWhateverTheSplits() {
        var random = DeterministicRandom(seed: 7)
        let data = random.bytes(3 << 20)
        let expected = SHA256.hash(data)
        for _ in 0..<20 {
            var hasher = SHA256()
            var offset = 0
            while offset < data.count {
                let n = min(Int(random.next() % 300_000), data.count - offset)
                data.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
                offset += n
            }
            #expect(hasher.finalize() == expected)
        }
    }

    @Test(arguments: [0, 1, 63, 64, 65, 1_048_593, 5_000_000])
    func matchesSha256sumOfRealFiles(size: Int) async throws {
        let folder = try TemporaryDirectory()
        let path = folder.appending("file.bin")
        var random = DeterministicRandom(seed: UInt64(size))
        try random.writeFile(at: path, size: size)
        let result = try await Subprocess.run("/usr/bin/sha256sum", [path])
        #expect(result.status == 0)
        let expected = String(result.out.prefix(64))
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(SHA256.hash(data).hex == expected)
    }

    @Test func digestTextForms() throws {
        let digest = SHA256.hash("abc")
        #expect(SHA256Digest(hex: digest.hex) == digest)
        #expect(SHA256Digest(hex: digest.hex.uppercased()) == digest)
        #expect(SHA256Digest(prefixedHex: "sha256:" + digest.hex) == digest)
        #expect(SHA256Digest(hex: String(digest.hex.dropLast())) == nil)
        #expect(SHA256Digest(hex: String(digest.hex.dropLast()) + "g") == nil)
        #expect(digest.base64 == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        #expect(SHA256Digest(bytes: digest.bytes) == digest)
        let json = try JSONEncoder().encode([digest])
        #expect(try JSONDecoder().decode([SHA256Digest].self, from: json) == [digest])
    }
}

@Suite struct HMACTests {
    /// RFC 4231 test cases 1, 2 and 6.
    @Test func rfc4231() {
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        #expect(hex(HMACSHA256.mac(key: key1, message: Array("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(hex(HMACSHA256.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let key6 = [UInt8](repeating: 0xaa, count: 131)
        #expect(hex(HMACSHA256.mac(key: key6, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func validationIsExact() {
        let key = SecureRandom.bytes(count: 32)
        let message = Array("exhibit".utf8)
        var mac = HMACSHA256.mac(key: key, message: message)
        #expect(HMACSHA256.isValid(mac: mac, key: key, message: message))
        mac[31] ^= 1
        #expect(!HMACSHA256.isValid(mac: mac, key: key, message: message))
        #expect(!HMACSHA256.isValid(mac: Array(mac.dropLast()), key: key, message: message))
        #expect(HMACSHA256.mac(key: [UInt8](), message: [UInt8]()).count == 32)
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

@Suite struct PrimitivesTests {
    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
    }

    @Test func randomBytes() {
        let a = SecureRandom.bytes(count: 32)
        let b = SecureRandom.bytes(count: 32)
        #expect(a.count == 32)
        #expect(b.count == 32)
        #expect(a != b)
        #expect(SecureRandom.bytes(count: 0).isEmpty)
        // 64 KiB of output uses every byte value.
        #expect(Set(SecureRandom.bytes(count: 65536)).count == 256)
    }

    @Test func base64URLIsStrict() {
        for count in 0..<40 {
            let bytes = SecureRandom.bytes(count: count)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("="))
            #expect(!text.contains("+"))
            #expect(!text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
            // The same text as Foundation's base64 with the URL alphabet and no padding.
            let reference = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(text == reference)
        }
        #expect(Base64URL.decode("AQ==") == nil)  // padding
        #expect(Base64URL.decode("A+8") == nil)  // standard alphabet
        #expect(Base64URL.decode("AR") == nil)  // non-canonical trailing bits (AQ is canonical)
        #expect(Base64URL.decode("AQ") == [1])
        #expect(Base64URL.decode("A") == nil)
    }
}
