import Foundation
import SealpostTestSupport
import XCTest

/// Delivery and read receipts from the command line (protocol/SPEC.md 7.10), across two
/// units: `send` says where a message stands, `inbox --json` gives `receipt` lines, and
/// `receipts ID` the state now (per member for a group); `receipts off` stops read receipts.
final class ReceiptCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-receipts" }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    }

    /// Nodes `names` peered with each other, with `users` joined (profiles at ROOT/USER).
    func federation(_ names: [String], users: [String: [String]]) throws -> [FederatedNode] {
        let units = try startFederation(names)
        for (i, name) in names.enumerated() {
            for user in users[name] ?? [] {
                let code = try Harness.run("sealpost-node", ["invite", "--data", units[i].data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let joined = try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user])
                XCTAssertEqual(joined.status, 0, joined.stderr)
            }
        }
        return units
    }

    /// Sends until the sender's node knows the address (the directory crosses the link first).
    func send(_ to: String, _ text: String, as user: String) throws -> String {
        let deadline = Date().addingTimeInterval(20)
        var last = ""
        var pause = PollPause(upTo: 0.2)
        while Date() < deadline {
            let r = try Harness.run("sealpost", ["send", to, text, "--json", "--profile", root + "/" + user])
            if r.status == 0 { return try XCTUnwrap(try json(r.lines[0])["id"] as? String) }
            last = r.stderr
            pause.sleep()
        }
        throw Harness.Failure("could not send to \(to): \(last)")
    }

    /// Runs `inbox --json` for `user` until `done` holds for the lines seen so far (all kept).
    @discardableResult
    func inbox(_ user: String, into lines: inout [[String: Any]], until done: ([[String: Any]]) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(20)
        var pause = PollPause(upTo: 0.1)
        while Date() < deadline {
            let r = try Harness.run("sealpost", ["inbox", "--json", "--profile", root + "/" + user])
            XCTAssertEqual(r.status, 0, r.stderr)
            lines += try r.lines.map(json)
            if done(lines) { return true }
            pause.sleep()
        }
        return false
    }

    func state(_ id: String, of user: String) throws -> [String: Any] {
        let r = try Harness.run("sealpost", ["receipts", id, "--json", "--profile", root + "/" + user])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try json(r.lines[0])
    }

    static func receipt(_ lines: [[String: Any]], _ kind: String, of id: String) -> [String: Any]? {
        lines.first { $0["kind"] as? String == "receipt" && $0["receipt"] as? String == kind && ($0["ids"] as? [String])?.contains(id) == true }
    }

    func testDeliveredThenSeenAcrossTwoUnitsOneToOneAndInAGroupAndTurnedOff() throws {
        let units = try federation(["hq", "traffic"], users: ["hq": ["alice", "bob"], "traffic": ["wu"]])
        let text = try Harness.run("sealpost", ["send", "bob@hq", "plain", "--profile", root + "/alice"])
        XCTAssertTrue(text.stdout.contains("stored on your node 'hq'"), text.stdout)

        // 1:1 across the link: delivered once traffic stored it, seen once wu was shown it.
        let hello = try send("wu@traffic", "hello wu", as: "alice")
        var alice: [[String: Any]] = []
        XCTAssertTrue(try inbox("alice", into: &alice) { Self.receipt($0, "delivered", of: hello) != nil }, "\(alice)")
        XCTAssertEqual(Self.receipt(alice, "delivered", of: hello)?["by"] as? String, "wu@traffic")
        XCTAssertEqual(try state(hello, of: "alice")["state"] as? String, "delivered")
        XCTAssertFalse(alice.contains { $0["kind"] as? String == "text" }, "receipts are never shown as messages")
        let wu = try Harness.run("sealpost", ["inbox", "--json", "--profile", root + "/wu"])
        XCTAssertTrue(wu.stdout.contains("hello wu"), wu.stdout)
        XCTAssertTrue(try inbox("alice", into: &alice) { Self.receipt($0, "seen", of: hello) != nil }, "\(alice)")
        XCTAssertEqual(try state(hello, of: "alice")["state"] as? String, "seen")
        let plainText = try Harness.run("sealpost", ["receipts", hello, "--profile", root + "/alice"])
        XCTAssertTrue(plainText.stdout.contains(": seen") && plainText.stdout.contains("wu@traffic: seen"), plainText.stdout)

        // A group across both units: counts per member; wu turns read receipts off.
        let created = try Harness.run("sealpost", ["group", "create", "ops", "--members", "bob@hq,wu@traffic", "--profile", root + "/alice"])
        XCTAssertEqual(created.status, 0, created.stderr)
        for user in ["bob", "wu"] {
            var got: [[String: Any]] = []
            XCTAssertTrue(try inbox(user, into: &got) { $0.contains { $0["kind"] as? String == "group_event" } })
        }
        XCTAssertEqual(try Harness.run("sealpost", ["receipts", "off", "--profile", root + "/wu"]).status, 0)
        let status = try Harness.run("sealpost", ["receipts", "status", "--json", "--profile", root + "/wu"])
        XCTAssertEqual(try json(status.lines[0])["read_receipts"] as? Bool, false)
        let team = try send("ops@hq", "hi team", as: "alice")
        XCTAssertTrue(try inbox("alice", into: &alice) { _ in (try? self.state(team, of: "alice")["delivered"] as? Int) == 2 })
        XCTAssertEqual(try state(team, of: "alice")["recipients"] as? Int, 2)
        for user in ["wu", "bob"] {
            var got: [[String: Any]] = []
            XCTAssertTrue(try inbox(user, into: &got) { $0.contains { $0["text"] as? String == "hi team" } }, user)
        }
        // wu's later text is a fence: a read receipt wu sent before it would have come first.
        let fence = try send("alice@hq", "fence", as: "wu")
        XCTAssertTrue(try inbox("alice", into: &alice) { lines in
            Self.receipt(lines, "seen", of: team) != nil && lines.contains { $0["id"] as? String == fence }
        })
        let now = try state(team, of: "alice")
        XCTAssertEqual(now["delivered"] as? Int, 2)
        XCTAssertEqual(now["seen"] as? Int, 1, "bob's only: wu turned read receipts off")
        XCTAssertEqual(now["seen_by"] as? [String], ["bob@hq"])
        let line = try Harness.run("sealpost", ["receipts", team, "--profile", root + "/alice"])
        XCTAssertTrue(line.stdout.contains("delivered 2/2, seen 1/2"), line.stdout)
        // wu, receipts off, still gets others' read receipts: alice reads the fence.
        var wuLines: [[String: Any]] = []
        XCTAssertTrue(try inbox("wu", into: &wuLines) { Self.receipt($0, "seen", of: fence) != nil })
        for unit in units { XCTAssertEqual(unit.process.stop(), 0) }
    }

    /// The sender's client killed while it shows receipts: the next run has every state right
    /// and shows no receipt twice.
    func testReceiptsSurviveAKilledInboxWithoutDuplicates() throws {
        let units = try federation(["hq"], users: ["hq": ["alice", "bob"]])
        var sent: [String] = []
        for i in 0..<12 { sent.append(try send("bob@hq", "m\(i)", as: "alice")) }
        var bob: [[String: Any]] = []
        XCTAssertTrue(try inbox("bob", into: &bob) { $0.filter { $0["kind"] as? String == "text" }.count == 12 })

        var shown: [[String: Any]] = []
        var kills = 0
        for round in 0..<40 {
            let inbox = try BackgroundProcess("sealpost", ["inbox", "--json", "--profile", root + "/alice"])
            let printed = inbox.waitFor { !$0.isEmpty }
            if inbox.process.isRunning && round % 2 == 0 {
                XCTAssertTrue(printed)
                inbox.killHard()
                kills += 1
            } else {
                XCTAssertEqual(inbox.waitForExit(), 0, inbox.stderr)
            }
            let lines = try inbox.lines.map(json)
            shown += lines
            let seen = Set(shown.filter { $0["receipt"] as? String == "seen" }.flatMap { $0["ids"] as? [String] ?? [] })
            if seen.count == sent.count && !inbox.process.isRunning && lines.isEmpty { break }
        }
        XCTAssertGreaterThanOrEqual(kills, 1)
        // Each receipt envelope once: the same (kind, by, ids) never twice.
        let keys = shown.map { "\($0["receipt"] ?? "")|\($0["by"] ?? "")|\(($0["ids"] as? [String] ?? []).joined(separator: ","))" }
        XCTAssertEqual(keys.count, Set(keys).count, "a receipt shown twice: \(keys)")
        for id in sent { XCTAssertEqual(try state(id, of: "alice")["state"] as? String, "seen", id) }
        for unit in units { XCTAssertEqual(unit.process.stop(), 0) }
    }
}
