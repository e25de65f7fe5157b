internal import COpenSSL
public import Foundation

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// `true` when both hold the same bytes. The lengths are not secret: unequal lengths return at once.
    public static func equals(_ lhs: some ContiguousBytes, _ rhs: some ContiguousBytes) -> Bool {
        lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in
                guard a.count == b.count else { return false }
                guard a.count > 0 else { return true }
                return CRYPTO_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
    }
}
