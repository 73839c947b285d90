extension StoredFile {
    /// Who may fetch a file this node holds: one of its users (a recipient, or the uploader),
    /// or a neighbour node pulling it on the way to its own users.
    enum Reader: Hashable, Comparable, CustomStringConvertible {
        case user(String)
        case node(String)

        /// Its form in the `file_readers` table: `user:NAME` or `node:NAME`.
        var stored: String {
            switch self {
            case .user(let name): return "user:" + name
            case .node(let name): return "node:" + name
            }
        }

        /// A reader as stored; nil for any other text.
        init?(stored: String) {
            if stored.hasPrefix("user:") {
                self = .user(String(stored.dropFirst(5)))
            } else if stored.hasPrefix("node:") {
                self = .node(String(stored.dropFirst(5)))
            } else {
                return nil
            }
        }

        var description: String { stored }

        /// In the order of their stored form (nodes, then users, each by name), as receipts go out.
        static func < (lhs: Reader, rhs: Reader) -> Bool { lhs.stored < rhs.stored }
    }
}
