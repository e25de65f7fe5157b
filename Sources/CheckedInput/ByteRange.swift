/// One byte range as written in an HTTP `Range` header (`bytes=A-B`, `A-`, `-N`; RFC 9110 §14.1) or on the
/// command line (`A-B`, `A-`, `-N`), resolved against a size.
public enum ByteRangeSpec: Sendable, Equatable {
    /// `A-B` (inclusive) or `A-` (to the end).
    case from(Int64, through: Int64?)
    /// `-N`: the last N bytes.
    case suffix(Int64)

    /// Parses `A-B`, `A-` or `-N` (digits only, no spaces); `nil` when malformed or reversed.
    public init?(_ text: some StringProtocol) {
        guard let dash = text.firstIndex(of: "-") else { return nil }
        let first = text[..<dash]
        let last = text[text.index(after: dash)...]
        func number(_ s: Substring) -> Int64? {
            guard !s.isEmpty, s.count <= 18, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int64(s)
        }
        if first.isEmpty {
            guard let n = number(Substring(last)) else { return nil }
            self = .suffix(n)
        } else {
            guard let a = number(Substring(first)) else { return nil }
            if last.isEmpty {
                self = .from(a, through: nil)
            } else {
                guard let b = number(Substring(last)), b >= a else { return nil }
                self = .from(a, through: b)
            }
        }
    }

    /// The bytes selected in a representation of `size` bytes, or `nil` when none can be (unsatisfiable).
    public func resolve(size: Int64) -> Range<Int64>? {
        switch self {
        case .from(let a, let b):
            guard a < size else { return nil }
            let end = min(b.map { $0 + 1 } ?? size, size)
            return a..<end
        case .suffix(let n):
            guard n > 0, size > 0 else { return nil }
            return max(0, size - n)..<size
        }
    }
}
