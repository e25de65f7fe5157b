/// Names from outside checked byte by byte against a set of ASCII characters, to the true end of the text: a
/// trailing newline (which `$` in a regular expression lets through) is refused like any other character.
public struct ASCIIPattern: Sendable {
    let first: Set<UInt8>
    let rest: Set<UInt8>
    let lengths: ClosedRange<Int>

    /// `first` and `rest` are written as ranges and single characters: `"a-z"`, `"a-z0-9._-"`.
    public init(first: String, rest: String, lengths: ClosedRange<Int>) {
        self.first = Self.expand(first)
        self.rest = Self.expand(rest)
        self.lengths = lengths
    }

    public func matches(_ text: String) -> Bool {
        let bytes = text.utf8
        guard lengths.contains(bytes.count), let head = bytes.first, first.contains(head) else { return false }
        return bytes.dropFirst().allSatisfy(rest.contains)
    }

    static func expand(_ spec: String) -> Set<UInt8> {
        let bytes = Array(spec.utf8)
        var set = Set<UInt8>()
        var i = 0
        while i < bytes.count {
            if i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "-") {
                for b in bytes[i]...bytes[i + 2] { set.insert(b) }
                i += 3
            } else {
                set.insert(bytes[i])
                i += 1
            }
        }
        return set
    }
}

/// Text shown to people (file names on a link page, in `Content-Disposition`, in a table): the Unicode
/// bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) that make `é‮gpm.exe` read as
/// `éexe.mpg` are replaced by U+FFFD, as are control characters other than tab and line feed. The stored name keeps what was sent.
public enum DisplayText {
    public static func neutralised(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append(isHostile(scalar) ? "\u{FFFD}" : scalar)
        }
        return String(out)
    }

    /// Bidirectional controls and control characters other than tab and line feed.
    public static func isHostile(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A: false
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x200E, 0x200F, 0x061C, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
