import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// A group spanning three nodes, one of them reached only through another.
final class GroupTests: XCTestCase {
    /// Collects (and acknowledges) what arrives until `done` holds for what came so far, or
    /// the timeout; never waits longer than it must.
    func collect(_ client: Client, timeoutMs: Int = 10_000, until done: ([ReceivedMessage]) -> Bool) throws -> [ReceivedMessage] {
        try client.attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while !done(out), Clock.monotonicNs() < deadline {
            guard let event = try client.next(timeoutMs: 50) else { continue }
            if case .message(let m) = event, !out.contains(where: { $0.id == m.id }) {
                out.append(m)
                try client.ack(m.seq)
            }
        }
        try client.flush()
        return out
    }

    /// Proves that nothing else is on its way to `client` from `sender`'s node: a marker sent
    /// after it travels the same stream, so whatever was sent earlier arrives before it.
    func collectUntilMarker(_ client: Client, from sender: Client, to address: String) throws -> [ReceivedMessage] {
        let marker = try sender.sendText(to: Address(address)!, text: "marker")
        let got = try collect(client) { $0.contains { $0.id == marker } }
        XCTAssertTrue(got.contains { $0.id == marker }, "the marker arrives")
        return got.filter { $0.id != marker }
    }

    func testGroupAcrossThreeNodesWithMembershipChanges() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { alice.close(); bob.close(); wu.close(); zhao.close(); withExtendedLifetime(nodes) {} }

        let ops = Address("ops@hq")!
        try alice.groupOp(.create, group: ops, members: ["wu@traffic", "zhao@district"])
        let created = try XCTUnwrap(try alice.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent)
        XCTAssertEqual(created.opName, "create")
        XCTAssertEqual(created.members.map(\.address), ["alice@hq", "wu@traffic", "zhao@district"])
        XCTAssertEqual(created.members.map(\.admin), [true, false, false])
        let members = created.members.map(\.address)

        // Every member hears of the group, on every node.
        for (who, client) in [("wu", wu), ("zhao", zhao)] {
            let got = try collect(client) { $0.contains { $0.kind == .groupEvent && $0.group == "ops@hq" } }
            XCTAssertTrue(got.contains { $0.kind == .groupEvent && $0.group == "ops@hq" }, who)
        }

        // Posts from the home node and from a node two hops away reach everyone else once.
        let first = try alice.sendGroupText(group: ops, members: members, text: "briefing at 9")
        let second = try zhao.sendGroupText(group: ops, members: members, text: "on my way")
        let atWu = try collect(wu) { got in [first, second].allSatisfy { id in got.contains { $0.id == id } } }
            .filter { $0.group == "ops@hq" && $0.kind == .text }
        XCTAssertEqual(Set(atWu.map(\.id)), [first, second])
        XCTAssertEqual(Set(atWu.map(\.text)), ["briefing at 9", "on my way"])
        // alice's own post, had it come back, would be in her mailbox before zhao's.
        let atAlice = try collect(alice) { $0.contains { $0.id == second } }.filter { $0.kind == .text }
        XCTAssertEqual(atAlice.map(\.id), [second], "the sender does not get its own post back")
        XCTAssertEqual(atAlice.first?.from, "zhao@district")
        XCTAssertEqual(atWu.count, 2, "once each")

        // Only admins change membership; a removed member gets nothing after removal.
        try wu.groupOp(.remove, group: ops, members: ["zhao@district"])
        XCTAssertEqual(try wu.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent?.opName, "refused")
        try alice.groupOp(.remove, group: ops, members: ["zhao@district"])
        let removed = try XCTUnwrap(try alice.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent)
        XCTAssertEqual(removed.members.map(\.address), ["alice@hq", "wu@traffic"])
        let zhaoEvents = try collect(zhao) { $0.contains { $0.groupEvent?.opName == "remove" } }.filter { $0.kind == .groupEvent }
        XCTAssertEqual(zhaoEvents.last?.groupEvent?.opName, "remove", "the removed member is told")
        let after = try alice.sendGroupText(group: ops, members: removed.members.map(\.address), text: "after the change")
        XCTAssertEqual(try collect(wu) { $0.contains { $0.id == after } }.filter { $0.kind == .text }.map(\.id), [after])
        XCTAssertTrue(try collectUntilMarker(zhao, from: alice, to: "zhao@district").filter { $0.kind == .text }.isEmpty,
                      "nothing after removal")

        // A non-member cannot post.
        _ = try bob.sendGroupText(group: ops, members: removed.members.map(\.address), text: "let me in")
        let refused = try collect(bob) { $0.contains { $0.groupEvent?.opName == "refused" } }.filter { $0.kind == .groupEvent }
        XCTAssertEqual(refused.last?.groupEvent?.opName, "refused")
        XCTAssertTrue(try collectUntilMarker(wu, from: bob, to: "wu@traffic").filter { $0.kind == .text }.isEmpty)
    }

    func testGroupReminderRemindsEveryMemberOnEveryNodeAndTheSender() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic"), district = try TestNode("district")
        for n in [hq, traffic, district] { try n.start() }
        try hq.peer(with: traffic)
        try traffic.peer(with: district)
        let alice = try Client(profile: try hq.join("alice"))
        let wu = try Client(profile: try traffic.join("wu"))
        let zhao = try Client(profile: try district.join("zhao"))
        defer { alice.close(); wu.close(); zhao.close() }
        try waitUntilKnown(alice, "zhao@district")
        try waitUntilKnown(zhao, "alice@hq")
        try waitUntilKnown(wu, "alice@hq")
        let ops = Address("ops@hq")!
        try alice.groupOp(.create, group: ops, members: ["wu@traffic", "zhao@district"])
        let members = try XCTUnwrap(try alice.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent).members.map(\.address)
        let due = Clock.nowMs() + 2000
        let id = try alice.remindGroup(group: ops, members: members, at: due, text: "shift change")
        for (who, client) in [("wu", wu), ("zhao", zhao), ("alice", alice)] {
            let got = try collect(client) { $0.contains { $0.kind == .reminderDue } }
            if who != "alice" {
                let reminder = got.first { $0.kind == .reminder }
                XCTAssertEqual(reminder?.text, "shift change", who)
                XCTAssertEqual(reminder?.group, "ops@hq", who)
            }
            let notice = got.first { $0.kind == .reminderDue }
            XCTAssertEqual(notice?.reminder?.id, id, "\(who) is reminded")
            if let fired = notice?.reminder?.firedAt { XCTAssertLessThan(fired - due, 1000, who) }
        }
    }
}
