@testable import SealpostNode
import SealpostCore
import XCTest

/// The home node's decisions on group operations, with plain values: who may do what,
/// which rows each accepted operation writes, who is told, and the undo of a rollback.
final class GroupHomeTests: XCTestCase {
    var known: Set<String> = ["li@hq", "wang@hq", "zhao@city", "chen@city"]
    var uncleared: Set<String> = []

    var facts: GroupHome.Facts {
        let known = known, uncleared = uncleared
        return GroupHome.Facts(me: "hq", defaultRank: 1, isPerson: { $0 == "li" }, knowsAddress: { known.contains($0) },
                               carryRefusal: { $0 > 3 ? "this node carries at most rank 3" : nil },
                               membersRefusal: { members, rank, group in
                                   let out = members.filter { uncleared.contains($0) }
                                   return out.isEmpty ? nil : "\(group) is \(rank): \(out.joined(separator: ", ")) not cleared"
                               })
    }

    /// `team@hq`: li (admin), wang, zhao.
    func home() -> GroupHome {
        GroupHome(groups: ["team": GroupState(name: "team", createdBy: "li@hq",
                                              members: [("li@hq", true), ("wang@hq", false), ("zhao@city", false)], label: 1)])
    }

    func decide(_ home: GroupHome, _ op: Group.Op, _ targets: [String], label: UInt8? = nil, group: String = "team",
                by actor: String = "li@hq") -> GroupHome.Outcome {
        home.decide(op, targets: targets, label: label, group: group, address: "\(group)@hq", actor: actor, facts: facts)
    }

    func refusal(_ outcome: GroupHome.Outcome) -> String? {
        if case .refuse(let reason) = outcome { return reason }
        return nil
    }

    func change(_ outcome: GroupHome.Outcome, file: StaticString = #filePath, line: UInt = #line) -> GroupHome.Change? {
        if case .accept(let change) = outcome { return change }
        XCTFail("refused: \(refusal(outcome) ?? "")", file: file, line: line)
        return nil
    }

    func testCreateWritesTheGroupItsLabelAndEveryMember() throws {
        let c = try XCTUnwrap(change(decide(GroupHome(), .create, ["wang@hq", "zhao@city", "wang@hq"], group: "new", by: "li@hq")))
        XCTAssertEqual(c.writes, [.create(by: "li@hq"), .setLabel(1), .setMember("li@hq", admin: true),
                                  .setMember("wang@hq", admin: false), .setMember("zhao@city", admin: false)])
        XCTAssertEqual(c.group.members.map(\.address), ["li@hq", "wang@hq", "zhao@city"], "the creator first, named once each")
        XCTAssertTrue(c.group.isAdmin("li@hq"))
    }

    func testCreateRefusals() {
        XCTAssertEqual(refusal(decide(home(), .create, [])), "team@hq already exists")
        XCTAssertEqual(refusal(decide(GroupHome(), .create, [], group: "li")), "li@hq is a person's address")
        XCTAssertEqual(refusal(decide(GroupHome(), .create, [], group: "new", by: "zhao@city")), "a group is created on its creator's own node")
        XCTAssertEqual(refusal(decide(GroupHome(), .create, ["ghost@hq"], group: "new")), "no user ghost@hq in this federation")
        XCTAssertEqual(refusal(decide(GroupHome(), .create, [], label: 4, group: "new")), "this node carries at most rank 3")
        uncleared = ["zhao@city"]
        XCTAssertEqual(refusal(decide(GroupHome(), .create, ["zhao@city"], label: 2, group: "new")), "new@hq is 2: zhao@city not cleared")
        let many = (0..<Group.maxMembers).map { "u\($0)@hq" }
        XCTAssertEqual(refusal(decide(GroupHome(), .create, many, group: "new")), "a group has at most \(Group.maxMembers) members")
    }

    func testOnlyAdminsChangeMembersAndARefusedRequestChangesNothing() throws {
        XCTAssertEqual(refusal(decide(home(), .add, ["chen@city"], by: "wang@hq")), "only admins of team@hq may add members")
        XCTAssertEqual(refusal(decide(home(), .add, ["chen@city", "ghost@hq"])), "no user ghost@hq in this federation",
                       "one unknown name refuses the whole request")
        XCTAssertEqual(refusal(decide(home(), .admin, ["chen@city"])), "chen@city is not a member of team@hq")
        XCTAssertEqual(refusal(decide(home(), .add, [], group: "none")), "there is no group none@hq")
        uncleared = ["chen@city"]
        XCTAssertEqual(refusal(decide(home(), .add, ["chen@city"])), "team@hq is 1: chen@city not cleared")
        uncleared = []
        let add = try XCTUnwrap(change(decide(home(), .add, ["chen@city", "wang@hq"])))
        XCTAssertEqual(add.writes, [.setMember("chen@city", admin: false)], "a member already in is skipped")
        XCTAssertEqual(add.group.members.map(\.address), ["li@hq", "wang@hq", "zhao@city", "chen@city"])
    }

    func testRemoveTellsTheRemovedAndKeepsAnAdmin() throws {
        let c = try XCTUnwrap(change(decide(home(), .remove, ["wang@hq", "ghost@hq"])))
        XCTAssertEqual(c.writes, [.removeMember("wang@hq")])
        XCTAssertEqual(c.notify, ["wang@hq"])
        XCTAssertEqual(c.group.members.map(\.address), ["li@hq", "zhao@city"])
        XCTAssertEqual(refusal(decide(home(), .remove, ["li@hq"])),
                       "that would leave team@hq without an admin; name another admin first")
        let all = try XCTUnwrap(change(decide(home(), .remove, ["li@hq", "wang@hq", "zhao@city"])), "removing everyone is allowed")
        XCTAssertTrue(all.group.members.isEmpty)
    }

    func testAdminAndLabel() throws {
        let admin = try XCTUnwrap(change(decide(home(), .admin, ["zhao@city"])))
        XCTAssertEqual(admin.writes, [.setMember("zhao@city", admin: true)])
        XCTAssertTrue(admin.group.isAdmin("zhao@city"))
        XCTAssertEqual(refusal(decide(home(), .label, [])), "name the label")
        XCTAssertEqual(refusal(decide(home(), .label, [], label: 2, by: "wang@hq")), "only admins of team@hq may change its label")
        uncleared = ["zhao@city"]
        XCTAssertEqual(refusal(decide(home(), .label, [], label: 2)), "team@hq is 2: zhao@city not cleared", "raising checks every member")
        let lower = try XCTUnwrap(change(decide(home(), .label, [], label: 0)), "lowering does not")
        XCTAssertEqual(lower.writes, [.setLabel(0)])
        XCTAssertEqual(lower.label?.from, 1)
        XCTAssertEqual(lower.label?.to, 0)
    }

    func testTheLastAdminLeavingMakesTheFirstMemberAdmin() throws {
        let c = try XCTUnwrap(change(decide(home(), .leave, [], by: "li@hq")))
        XCTAssertEqual(c.writes, [.removeMember("li@hq"), .setMember("wang@hq", admin: true)])
        XCTAssertTrue(c.group.isAdmin("wang@hq"))
        XCTAssertEqual(c.notify, ["li@hq"])
        XCTAssertEqual(refusal(decide(home(), .leave, [], by: "chen@city")), "you are not a member of team@hq")
    }

    func testARolledBackChangeIsUndone() throws {
        var home = home()
        let c = try XCTUnwrap(change(decide(home, .remove, ["wang@hq"])))
        let previous = home.applied(c.group)
        XCTAssertEqual(home.groups["team"]?.members.count, 2)
        home.rolledBack("team", to: previous)
        XCTAssertEqual(home.groups["team"]?.members.map(\.address), ["li@hq", "wang@hq", "zhao@city"])
        let created = try XCTUnwrap(change(decide(home, .create, [], group: "new")))
        let none = home.applied(created.group)
        XCTAssertNil(none)
        home.rolledBack("new", to: none)
        XCTAssertNil(home.groups["new"], "a created group rolled back is gone")
    }
}
