import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

/// Ed25519 keys read from PEM, as `exhibit custody verify --bundle … --public-key KEY.pem` reads them. The PEM
/// parser once read through a pointer that had escaped `withUnsafeBytes` (freed memory): the right key, byte for
/// byte, was then "not a public key in PEM" at random. `make asan` runs this under AddressSanitizer.
@Suite struct Ed25519Tests {
    @Test func keysReadBackFromTheirPEMEveryTime() throws {
        for round in 0..<200 {
            let key = try Ed25519PrivateKey.generate()
            // A fresh string each time, with allocations in between, so a dangling pointer would see other bytes.
            let publicPEM = String(decoding: Array(key.publicKey.pem.utf8), as: UTF8.self)
            let noise = (0..<8).map { _ in [UInt8](repeating: UInt8(round & 0xFF), count: publicPEM.utf8.count) }
            let read = try Ed25519PublicKey(pem: publicPEM)
            #expect(read == key.publicKey, "round \(round): the public key read back differs")
            let again = try Ed25519PrivateKey(pem: key.pem)
            let message = Array("exhibit-checkpoint-v1\n\(round)\n".utf8)
            let signature = try again.sign(message)
            #expect(read.isValidSignature(signature, for: message), "round \(round): the signature does not verify")
            #expect(!noise.isEmpty)
        }
    }

    @Test func malformedPEMIsAnErrorNotACrash() {
        for text in ["", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", String(repeating: "A", count: 100_000), "\u{0}"] {
            #expect(throws: CryptoError.self, "'\(text.prefix(20))' must be refused") { try Ed25519PublicKey(pem: text) }
        }
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }
}
