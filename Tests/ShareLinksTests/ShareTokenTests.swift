import ExhibitCrypto
import ExhibitTesting
import Foundation
import ShareLinks
import Testing

@Suite struct ShareTokenTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let key = LinkKey.generate(now: Date(timeIntervalSince1970: 1_700_000_000))
    var ring: LinkKeyRing { LinkKeyRing(keys: [key]) }

    func token(_ share: ShareID = .random(), expires: Int64 = 1_800_086_400) -> (ShareToken, String) {
        let token = ShareToken(keyID: key.id, shareID: share, expiresAt: expires)
        return (token, token.signed(with: key))
    }

    @Test func aValidTokenVerifiesAndSaysWhichShare() throws {
        let (token, text) = token()
        #expect(text.count < 100)
        #expect(text.split(separator: ".").count == 2)
        #expect(try ShareToken.verify(text, keys: ring, now: now).get() == token)
        #expect(ShareID(token.shareID.description) == token.shareID)
    }

    @Test func expiryIsJudgedByTheClockItIsGiven() throws {
        let (token, text) = token(expires: 1_800_000_100)
        #expect(try ShareToken.verify(text, keys: ring, now: Date(timeIntervalSince1970: 1_800_000_099)).get() == token)
        #expect(ShareToken.verify(text, keys: ring, now: Date(timeIntervalSince1970: 1_800_000_100)) == .failure(.expired(token)))
        #expect(ShareToken.verify(text, keys: ring, now: Date(timeIntervalSince1970: 1_900_000_000)) == .failure(.expired(token)))
    }

    @Test func rotationKeepsOldLinksValidAndSignsNewOnesWithTheNewKey() throws {
        let (_, old) = token()
        let newer = LinkKey.generate(now: Date(timeIntervalSince1970: 1_750_000_000))
        let rotated = LinkKeyRing(keys: [newer, key])
        #expect(rotated.current.id == newer.id)
        #expect(throws: Never.self) { try ShareToken.verify(old, keys: rotated, now: now).get() }
        let fresh = ShareToken(keyID: newer.id, shareID: .random(), expiresAt: 1_800_086_400).signed(with: newer)
        #expect(throws: Never.self) { try ShareToken.verify(fresh, keys: rotated, now: now).get() }
        // Once the old key is dropped from the ring, its links stop working.
        #expect(ShareToken.verify(old, keys: LinkKeyRing(keys: [newer]), now: now) == .failure(.invalid))
    }

    /// 10,000 mutated tokens: bit flips, truncations, extensions, swapped payloads and MACs between two links,
    /// another key, base64 padding and alphabet games, random garbage. Every one is refused.
    @Test func tenThousandMutationsAreAllRefused() throws {
        var random = DeterministicRandom(seed: 7007)
        let (_, a) = token()
        let (_, b) = token()
        let other = LinkKey.generate(now: now)
        let foreign = ShareToken(keyID: other.id, shareID: .random(), expiresAt: 1_800_086_400).signed(with: other)
        let forgedKeyID = ShareToken(keyID: key.id, shareID: .random(), expiresAt: 1_800_086_400).signed(with: LinkKey(id: key.id, secret: SecureRandom.bytes(count: 32), createdAt: now))
        var mutants: Set<String> = [
            foreign, forgedKeyID,
            a.split(separator: ".")[0] + "." + b.split(separator: ".")[1],
            b.split(separator: ".")[0] + "." + a.split(separator: ".")[1],
            a + "=", a + "==", a.replacingOccurrences(of: ".", with: "=."), a.replacingOccurrences(of: "-", with: "+"),
            a.replacingOccurrences(of: "_", with: "/"), a + ".", "." + a, a + "." + a, "", ".", "..", String(a.reversed()),
            a.uppercased(), a.lowercased(), a.split(separator: ".")[0] + ".", "." + a.split(separator: ".")[1],
        ]
        // Some of these leave the token unchanged (no '-' to replace, say): those are not mutations.
        mutants.remove(a)
        let chars = Array(a.utf8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %\u{0}".utf8)
        while mutants.count < 10_000 {
            var bytes = chars
            switch random.next() % 6 {
            case 0:  // flip one bit of one character
                let i = Int(random.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(1 << (random.next() % 7))
            case 1:  // truncate
                bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
            case 2:  // replace a character with another from the alphabet (or a padding/standard base64 one)
                let i = Int(random.next() % UInt64(bytes.count))
                bytes[i] = alphabet[Int(random.next() % UInt64(alphabet.count))]
            case 3:  // insert a character
                let i = Int(random.next() % UInt64(bytes.count + 1))
                bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: i)
            case 4:  // delete a character
                bytes.remove(at: Int(random.next() % UInt64(bytes.count)))
            default:  // random garbage of a plausible length
                bytes = (0..<Int(20 + random.next() % 100)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if text != a { mutants.insert(text) }
        }
        var accepted: [String] = []
        for mutant in mutants {
            if case .success = ShareToken.verify(mutant, keys: ring, now: now) { accepted.append(mutant) }
        }
        #expect(accepted.isEmpty, "original \(a) accepted \(accepted.prefix(3))")
        #expect(mutants.count >= 10_000)
    }

    /// A share link and a footage request's link are signed under different domains and versions: neither is
    /// ever taken for the other, even with the same key, id and expiry.
    @Test func aShareTokenIsNeverARequestTokenNorTheReverse() throws {
        let id = LinkID.random()
        let share = SignedLink(kind: .share, keyID: key.id, id: id, expiresAt: 1_800_086_400).signed(with: key)
        let request = SignedLink(kind: .request, keyID: key.id, id: id, expiresAt: 1_800_086_400).signed(with: key)
        #expect(share != request, "the two kinds signed the same text")
        #expect(SignedLink.verify(share, kind: .request, keys: ring, now: now) == .failure(.invalid), "a share token verified as a request")
        #expect(SignedLink.verify(request, kind: .share, keys: ring, now: now) == .failure(.invalid), "a request token verified as a share")
        #expect(ShareToken.verify(request, keys: ring, now: now) == .failure(.invalid), "ShareToken took a request token")
        let verified = try SignedLink.verify(request, kind: .request, keys: ring, now: now).get()
        #expect(verified.id == id && verified.kind == .request, "the request token did not say which request")
        #expect(LinkID(id.text(.request), kind: .request) == id, "a request id did not read back")
        #expect(LinkID(id.text(.request), kind: .share) == nil, "a request id read as a share id")
        // The share token's bytes are those of version 1 links: links made before requests existed still verify.
        let old = ShareToken(keyID: key.id, shareID: ShareID(bytes: id.bytes), expiresAt: 1_800_086_400).signed(with: key)
        #expect(old == share, "share links changed their format")
    }
}
