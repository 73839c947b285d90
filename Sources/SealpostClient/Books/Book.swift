import Foundation

/// One of the books kept next to the profile (`PROFILE.contacts`, `.groups`, `.reminders`,
/// `.burns`, `.files`, `.uploads`, `.keys`): one JSON value in a file of mode 0600, read when
/// opened (absent or unreadable: `empty`), written atomically with its keys sorted, and only
/// when an `update` changed it. Each book keeps its own rules (what a received message
/// changes) and leaves the file to this type; without a path the value lives in memory.
public final class Book<Value: Codable & Equatable> {
    public let path: String?
    public private(set) var value: Value
    private var changed = false

    public init(path: String?, empty: Value) {
        self.path = path
        value = path.flatMap { PrivateFile.readJSON(Value.self, from: $0) } ?? empty
    }

    /// Changes the value in place; the next `save` writes it. Callers skip the call when
    /// nothing changes (a book is often asked about every message that arrives).
    @discardableResult
    public func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        changed = true
        return try body(&value)
    }

    /// Writes the file if an update changed the value since the last save (kept pending if the write fails).
    public func save() throws {
        guard changed, let path else { return }
        try PrivateFile.writeJSON(value, to: path)
        changed = false
    }
}

/// The file of a book that keeps what this person sent and what they received, each by
/// message id (hex): the reminder and burn books. The JSON keys are `sent` and `received`.
struct SentAndReceived<Sent: Codable & Equatable, Received: Codable & Equatable>: Codable, Equatable {
    var sent: [String: Sent] = [:]
    var received: [String: Received] = [:]
}
