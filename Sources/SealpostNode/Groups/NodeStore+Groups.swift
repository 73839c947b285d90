import SQLite
import SealpostCore

/// A group whose home is this node.
struct GroupState {
    var name: String
    var createdBy: String
    /// Members in the order they joined, with their admin flag.
    var members: [(address: String, admin: Bool)]
    /// The group's label (nil: the node's default); its posts are at most that (SPEC 7.11.8).
    var label: UInt8? = nil

    func isMember(_ a: String) -> Bool { members.contains { $0.address == a } }
    func isAdmin(_ a: String) -> Bool { members.contains { $0.address == a && $0.admin } }
}

extension NodeStore {
    func groups() throws -> [String: GroupState] {
        var out: [String: GroupState] = [:]
        for (name, by) in try db.query("SELECT name, created_by FROM groups", map: { ($0.text(0), $0.text(1)) }) {
            out[name] = GroupState(name: name, createdBy: by, members: [])
        }
        for (g, m, admin) in try db.query("SELECT grp, member, admin FROM group_members ORDER BY added_at, member",
                                          map: { ($0.text(0), $0.text(1), $0.int(2) != 0) }) {
            out[g]?.members.append((m, admin))
        }
        for (g, label) in try groupLabels() { out[g]?.label = label }
        return out
    }

    func createGroup(name: String, by: String, at: UInt64) throws {
        try db.run("INSERT INTO groups(name, created_by, created_at) VALUES(?,?,?)", .text(name), .text(by), .int(Int64(at)))
    }

    func setMember(group: String, member: String, admin: Bool, at: UInt64) throws {
        try db.run("""
            INSERT INTO group_members(grp, member, admin, added_at) VALUES(?,?,?,?)
            ON CONFLICT(grp, member) DO UPDATE SET admin = excluded.admin
            """, .text(group), .text(member), .int(admin ? 1 : 0), .int(Int64(at)))
    }

    func removeMember(group: String, member: String) throws {
        try db.run("DELETE FROM group_members WHERE grp = ? AND member = ?", .text(group), .text(member))
    }
}
