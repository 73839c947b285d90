/// Names of users, groups and nodes: 1–32 characters of `a-z 0-9 . _ -`, starting
/// with a letter or digit. Lowercase only, so `Wu@HQ` and `wu@hq` cannot be two people.
public enum Name {
    public static let maxLength = 32

    public static func isValid(_ name: String) -> Bool {
        isValid(name.utf8[...])
    }

    /// Byte-level check, without allocating (it runs for every envelope a node reads).
    static func isValid(_ u: Substring.UTF8View) -> Bool {
        var count = 0
        for c in u {
            let alnum = (97...122).contains(c) || (48...57).contains(c)
            if count == 0 && !alnum { return false }
            if !alnum && c != 46 && c != 95 && c != 45 { return false }
            count += 1
            if count > maxLength { return false }
        }
        return count > 0
    }

    /// Explains why `name` is not valid, for error messages.
    public static let rule = "1-32 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
}

/// `local@node`: a person or a group on a node.
public struct Address: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let local: String
    public let node: String

    public init?(_ text: String) {
        guard Self.isValid(text) else { return nil }
        let at = text.utf8.firstIndex(of: 64)!
        local = String(Substring(text.utf8[..<at]))
        node = String(Substring(text.utf8[text.utf8.index(after: at)...]))
    }

    /// Whether `text` is `local@node` with two valid names, without allocating.
    public static func isValid(_ text: String) -> Bool {
        let u = text.utf8
        guard let at = u.firstIndex(of: 64) else { return false } // "@"
        // Byte indices, not Characters: a combining mark after "@" must not hide inside its cluster.
        return Name.isValid(Substring(text).utf8[..<at]) && Name.isValid(Substring(text).utf8[u.index(after: at)...])
    }

    public init?(local: String, node: String) {
        guard Name.isValid(local), Name.isValid(node) else { return nil }
        self.local = local
        self.node = node
    }

    public var description: String { "\(local)@\(node)" }

    public static func < (a: Address, b: Address) -> Bool { a.description < b.description }
}
