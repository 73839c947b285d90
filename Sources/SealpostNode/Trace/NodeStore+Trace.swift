import SQLite
import SealpostCore

/// A person the operator made a security officer of this node (they may trace).
public struct OfficerRecord: Sendable, Equatable {
    public var user: String
    /// Seconds since the epoch.
    public var grantedAt: UInt64
    public var grantedBy: String
}

/// A viewer code this node issued (protocol/SPEC.md 11.7.4).
public struct ViewerCodeRecord: Sendable, Equatable {
    public var code: String
    /// The local user who viewed.
    public var viewer: String
    /// The message (or file) whose content was viewed, as the viewer's client named it.
    public var message: MessageID
    /// Milliseconds since the epoch.
    public var issuedAt: UInt64
}

/// Security officers and viewer codes.
extension NodeStore {
    func migrateTo16() throws {
        try db.transaction {
            try db.execute("""
                -- Users who may trace (sealpost-node users officer grant).
                CREATE TABLE IF NOT EXISTS officers(
                    user TEXT PRIMARY KEY, granted_at INTEGER NOT NULL, granted_by TEXT NOT NULL) WITHOUT ROWID;
                -- The viewer codes this node issued, to resolve a code read off a leaked picture.
                -- Which audit records belong to the forward tree of which origin message (an index for
                -- trace answers; the records themselves are in the hash chain, this is not).
                CREATE TABLE IF NOT EXISTS trace_index(
                    origin BLOB NOT NULL, position INTEGER NOT NULL, PRIMARY KEY(origin, position)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS viewer_codes(
                    code TEXT PRIMARY KEY, viewer TEXT NOT NULL, message BLOB NOT NULL, issued_at INTEGER NOT NULL) WITHOUT ROWID;
                PRAGMA user_version = 16;
                """)
        }
    }

    public func officers() throws -> [OfficerRecord] {
        try db.query("SELECT user, granted_at, granted_by FROM officers ORDER BY user") {
            OfficerRecord(user: $0.text(0), grantedAt: UInt64($0.int(1)), grantedBy: $0.text(2))
        }
    }

    /// Makes `user` an officer; false when they already are one.
    @discardableResult
    public func grantOfficer(_ user: String, at: UInt64, by: String) throws -> Bool {
        try db.run("INSERT OR IGNORE INTO officers(user, granted_at, granted_by) VALUES(?,?,?)",
                   .text(user), .int(Int64(at)), .text(by)) == 1
    }

    /// Takes the role from `user`; false when they did not have it.
    @discardableResult
    public func revokeOfficer(_ user: String) throws -> Bool {
        try db.run("DELETE FROM officers WHERE user = ?", .text(user)) == 1
    }

    /// Notes that audit record `position` belongs to the forward tree of `origin`.
    func indexTrace(origin: MessageID, position: UInt64) throws {
        try db.run("INSERT OR IGNORE INTO trace_index(origin, position) VALUES(?,?)", .blob(origin.bytes), .int(Int64(position)))
    }

    /// The positions of the audit records of `origin`'s forward tree, in order.
    func traceIndex(origin: MessageID) throws -> [UInt64] {
        try db.query("SELECT position FROM trace_index WHERE origin = ? ORDER BY position", .blob(origin.bytes)) { UInt64(max(0, $0.int(0))) }
    }

    /// Stores a code; false when this node issued the same code before (draw another).
    func insertViewerCode(_ r: ViewerCodeRecord) throws -> Bool {
        try db.run("INSERT OR IGNORE INTO viewer_codes(code, viewer, message, issued_at) VALUES(?,?,?,?)",
                   .text(r.code), .text(r.viewer), .blob(r.message.bytes), .int(Int64(r.issuedAt))) == 1
    }

    func viewerCode(_ code: String) throws -> ViewerCodeRecord? {
        try db.first("SELECT code, viewer, message, issued_at FROM viewer_codes WHERE code = ?", .text(code)) {
            ViewerCodeRecord(code: $0.text(0), viewer: $0.text(1), message: MessageID(bytes: $0.blob(2)) ?? .zero,
                             issuedAt: UInt64($0.int(3)))
        }
    }
}
