import Custody
import ExhibitCrypto
import ExhibitTesting
import Foundation
import Testing

@Suite struct CanonicalTests {
    /// Our canonical JSON is byte-for-byte Python's `json.dumps(sort_keys=True, separators=(",", ":"),
    /// ensure_ascii=True)` for strings with every kind of awkward character.
    @Test func canonicalJSONMatchesPython() async throws {
        var random = DeterministicRandom(seed: 2026)
        let pool: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init)
            + ["é", "ü", "–", "€", "中", "😀", "𝄞", "\u{2028}", "\u{FEFF}", "\u{7f}"]
        var values: [JSONValue] = []
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<Int(random.next() % 40) { text.unicodeScalars.append(pool[Int(random.next() % UInt64(pool.count))]) }
            values.append(["s": .string(text), "n": .int(Int64(bitPattern: random.next()) >> 8), "b": .bool(random.next() % 2 == 0),
                           "z": .null, "a": [.string(text), 1, [:]], "k\(text.count)": [:]])
        }
        let ours = values.map(\.canonical)
        // Python re-serialises what it reads (JSONEncoder's output) canonically; both lists must agree.
        let input = try JSONEncoder().encode(values)
        let script = "import json,sys\nfor v in json.load(sys.stdin): print(json.dumps(v, sort_keys=True, separators=(',', ':'), ensure_ascii=True))"
        let python = try await Subprocess.run("/usr/bin/env", ["python3", "-c", script], stdin: input)
        #expect(python.status == 0, "\(python.err)")
        let theirs = python.out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(theirs.count == ours.count)
        for (a, b) in zip(ours, theirs) { #expect(a == b) }
        #expect(ours.allSatisfy { $0.allSatisfy(\.isASCII) })
    }

    @Test func eventHashFollowsTheDocumentedFormula() {
        let draft = CustodyEvent.Draft(
            actor: "jsmith", role: "investigator", action: "exhibit.ingested", exhibit: "ex_1", caseReference: "2017/MPS/0421",
            details: ["filename": "cam–1.mp4", "size": 12], client: "cli:root@vm")
        let first = CustodyEvent.chained(draft, after: nil, at: "2026-11-26T09:15:02.123Z")
        let canonical = #"{"action":"exhibit.ingested","actor":"jsmith","at":"2026-11-26T09:15:02.123Z","case":"2017/MPS/0421","client":"cli:root@vm","details":{"filename":"cam\u20131.mp4","size":12},"exhibit":"ex_1","role":"investigator","seq":1}"#
        #expect(first.canonical == canonical)
        #expect(first.prevHash == String(repeating: "0", count: 64))
        #expect(first.hash == SHA256.hash(first.prevHash + canonical).hex)
        let second = CustodyEvent.chained(draft, after: (first.seq, first.hash), at: "2026-11-26T09:15:03.000Z")
        #expect(second.seq == 2)
        #expect(second.prevHash == first.hash)
        #expect(second.expectedHash == second.hash)
        // Decoding an exported event gives back the same canonical bytes.
        let decoded = try! JSONDecoder().decode(CustodyEvent.self, from: JSONEncoder().encode(first))
        #expect(decoded == first)
        #expect(decoded.expectedHash == first.hash)
    }

    @Test func custodyTimesHaveMillisecondsInUTC() {
        #expect(CustodyTime.string(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(CustodyTime.string(milliseconds: 1_709_301_600_123) == "2024-03-01T14:00:00.123Z")
        #expect(CustodyTime.string(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        // Times the store writes are clamped to 1970–9999: nothing it records is earlier, and no year is malformed.
        #expect(CustodyTime.string(milliseconds: -1) == "1970-01-01T00:00:00.000Z")
        #expect(CustodyTime.string(milliseconds: .max) == "9999-12-31T23:59:59.999Z")
        var random = DeterministicRandom(seed: 5)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for _ in 0..<2000 {
            let ms = Int64(random.next() % 8_000_000_000_000)  // up to year 2223
            let date = Date(timeIntervalSince1970: Double(ms) / 1000)
            #expect(CustodyTime.string(milliseconds: ms) == formatter.string(from: date))
            // Parsing is the exact inverse.
            #expect(CustodyTime.milliseconds(CustodyTime.string(milliseconds: ms)) == ms)
        }
        for bad in ["2024-02-30T00:00:00.000Z", "2023-02-29T00:00:00.000Z", "2024-13-01T00:00:00.000Z", "2024-01-01T24:00:00.000Z",
                    "2024-01-01T00:00:00.000", "2024-01-01 00:00:00.000Z", "2024-01-01T00:00:00.0a0Z", "+024-01-01T00:00:00.000Z"] {
            #expect(CustodyTime.milliseconds(bad) == nil, "\(bad)")
        }
        #expect(CustodyTime.milliseconds("2000-02-29T23:59:59.999Z") == 951_868_799_999)
        #expect(CustodyTime.parse("2024-03-01") == Date(timeIntervalSince1970: 1_709_251_200), "date-only still parses for filters")
    }

    @Test func checkpointsSignAndRefuseTampering() throws {
        let key = try Ed25519PrivateKey.generate()
        let checkpoint = try Checkpoint.sign(seq: 42, hash: String(repeating: "ab", count: 32), at: "2026-11-26T09:15:02.123Z", with: key)
        #expect(checkpoint.isValid(for: key.publicKey))
        #expect(checkpoint.message == "exhibit-checkpoint-v1\n42\n\(String(repeating: "ab", count: 32))\n2026-11-26T09:15:02.123Z\n")
        let moved = Checkpoint(seq: 43, hash: checkpoint.hash, at: checkpoint.at, keyID: checkpoint.keyID, signature: checkpoint.signature)
        #expect(!moved.isValid(for: key.publicKey))
        let other = try Ed25519PrivateKey.generate()
        #expect(!checkpoint.isValid(for: other.publicKey))
        // PEM round trips.
        #expect(try Ed25519PublicKey(pem: key.publicKey.pem) == key.publicKey)
        #expect(try Ed25519PrivateKey(pem: key.pem).publicKey == key.publicKey)
        #expect(throws: CryptoError.self) { try Ed25519PublicKey(pem: "not a key") }
    }
}
