/// Names of users, groups and nodes: 1–32 characters of `a-z 0-9 . _ -`, starting
/// with a letter or digit. Lowercase only, so `Wu@HQ` and `wu@hq` cannot be two people.
public enum Name {
    public static let maxLength = 32

    public static func isValid(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard (1...maxLength).contains(u.count) else { return false }
        func ok(_ c: UInt8) -> Bool { (97...122).contains(c) || (48...57).contains(c) || c == 46 || c == 95 || c == 45 }
        func alnum(_ c: UInt8) -> Bool { (97...122).contains(c) || (48...57).contains(c) }
        return alnum(u[0]) && u.allSatisfy(ok)
    }

    /// Explains why `name` is not valid, for error messages.
    public static let rule = "1-32 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
}

/// `local@node`: a person or a group on a node.
public struct Address: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let local: String
    public let node: String

    public init?(_ text: String) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        self.init(local: String(parts[0]), node: String(parts[1]))
    }

    public init?(local: String, node: String) {
        guard Name.isValid(local), Name.isValid(node) else { return nil }
        self.local = local
        self.node = node
    }

    public var description: String { "\(local)@\(node)" }

    public static func < (a: Address, b: Address) -> Bool { a.description < b.description }
}
