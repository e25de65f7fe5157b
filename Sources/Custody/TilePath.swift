/// A C2SP tlog-tiles path below `tile/`: `<L>/<N>[.p/<W>]` for hashes, `entries/<N>[.p/<W>]` for the entries.
/// N is written in zero-padded groups of three digits, all but the last prefixed with `x` (1234067 →
/// `x001/x234/067`); W, the width of a partial tile, is 1–255.
public struct TilePath: Sendable, Equatable, CustomStringConvertible {
    public static let width = 256

    /// The tile level (0–63), nil for an entry bundle.
    public let level: Int?
    public let index: Int64
    /// Set for a partial tile.
    public let partialWidth: Int?

    public init(level: Int?, index: Int64, partialWidth: Int? = nil) {
        self.level = level
        self.index = index
        self.partialWidth = partialWidth
    }

    /// How many hashes (or entries) the tile holds.
    public var count: Int { partialWidth ?? Self.width }

    public var description: String {
        var groups: [String] = []
        var n = index
        repeat {
            groups.insert(String(n % 1000).leftPadded(to: 3), at: 0)
            n /= 1000
        } while n > 0
        let path = groups.dropLast().map { "x" + $0 } + [groups[groups.count - 1]]
        return (level.map(String.init) ?? "entries") + "/" + path.joined(separator: "/") + (partialWidth.map { ".p/\($0)" } ?? "")
    }

    /// Parses the path elements after `tile/`; nil for anything that is not exactly a tile's path.
    public init?(_ elements: [Substring]) {
        guard elements.count >= 2, elements.count <= 10 else { return nil }
        var rest = elements[...]
        let first = rest.removeFirst()
        if first == "entries" {
            level = nil
        } else {
            guard let level = Int(first), (0...63).contains(level), String(level) == first else { return nil }
            self.level = level
        }
        var width: Int?
        if rest.count >= 2, rest[rest.endIndex - 2].hasSuffix(".p") {
            let last = rest[rest.endIndex - 1]
            guard let w = Int(last), (1...255).contains(w), String(w) == last else { return nil }
            width = w
            rest = rest.dropLast()
        }
        var index: Int64 = 0
        for (i, element) in rest.enumerated() {
            var digits = element
            let isLast = i == rest.count - 1
            if isLast {
                if width != nil { digits = digits.dropLast(2) }
            } else {
                guard digits.first == "x" else { return nil }
                digits = digits.dropFirst()
            }
            guard digits.count == 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let group = Int64(digits) else { return nil }
            guard index <= (Int64.max - group) / 1000 else { return nil }
            index = index * 1000 + group
        }
        guard !rest.isEmpty else { return nil }
        self.index = index
        self.partialWidth = width
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
