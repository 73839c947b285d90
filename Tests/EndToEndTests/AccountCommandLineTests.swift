import Foundation
import SealpostTestSupport
import XCTest

/// Issue 10, item 6, as an operator and people meet it: two node processes, the
/// `sealpost-node users` and `invite` commands, and "key changed" in `sealpost inbox`.
final class AccountCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-accounts" }

    struct Unit {
        let name: String
        let data: String
        let router: String
        let publish: String
        var key = ""
    }

    func makeUnit(_ name: String) throws -> Unit {
        var unit = Unit(name: name, data: root + "/" + name, router: "tcp://127.0.0.1:\(Harness.freePort())",
                        publish: "tcp://127.0.0.1:\(Harness.freePort())")
        let r = try Harness.run("sealpost-node", ["init", "--data", unit.data, "--name", name, "--listen", unit.router,
                                                  "--publish", unit.publish, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        unit.key = try XCTUnwrap(try json(r.stdout)["public_key"] as? String)
        return unit
    }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.trimmingCharacters(in: .whitespacesAndNewlines).utf8)) as? [String: Any], line)
    }

    func node(_ args: [String]) throws -> Harness.Result { try Harness.run("sealpost-node", args) }
    func person(_ args: [String]) throws -> Harness.Result { try Harness.run("sealpost", args) }

    func join(_ code: String, _ profile: String) throws {
        let r = try person(["join", code.trimmingCharacters(in: .whitespacesAndNewlines), "--profile", profile])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// `inbox` on `profile` fails at once with the node's refusal of its key (not after the timeout).
    func assertRefused(_ profile: String, _ why: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try person(["inbox", "--profile", profile, "--timeout", "5"])
        XCTAssertNotEqual(r.status, 0, why, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: node 'hq' at tcp://") && r.stderr.contains("refused this profile's key"), "\(why): \(r.stderr)", file: file, line: line)
    }

    /// Runs `step` until it returns true or `timeout` passes.
    func eventually(_ what: String, timeout: Double = 30, _ step: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var pause = PollPause(upTo: 0.3)
        while Date() < deadline {
            if try step() { return }
            pause.sleep()
        }
        XCTFail("timed out: \(what)")
    }

    func testOperatorDisablesRevokesAndReKeysAcrossTwoUnits() throws {
        let hq = try makeUnit("hq"), traffic = try makeUnit("traffic")
        for (x, y) in [(hq, traffic), (traffic, hq)] {
            let r = try node(["peer", "add", "--data", x.data, "--", y.name, y.router, y.publish, y.key])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let nodes = [try NodeProcess(data: hq.data), try NodeProcess(data: traffic.data)]
        for n in nodes { try n.waitUntilListening() }
        defer { for n in nodes { _ = n.stop() } }

        let li = root + "/li", wu = root + "/wu"
        try join(try node(["invite", "--data", hq.data, "li"]).stdout, li)
        try join(try node(["invite", "--data", traffic.data, "wu"]).stdout, wu)
        try eventually("wu@traffic in hq's directory") { try person(["send", "wu@traffic", "hello from li", "--profile", li]).status == 0 }
        try eventually("wu reads li's message") { try person(["inbox", "--profile", wu]).stdout.contains("hello from li") }
        let oldPrint = try XCTUnwrap(try json(try person(["whoami", "--profile", li, "--json"]).stdout)["fingerprint"] as? String)

        // invite list / revoke: a revoked code no longer gets through the handshake.
        let carol = try node(["invite", "--data", hq.data, "carol"]).stdout
        let listed = try node(["invite", "list", "--data", hq.data, "--json"])
        XCTAssertEqual(try listed.lines.map { try json($0)["address"] as? String }, ["carol@hq"])
        XCTAssertEqual(try json(listed.lines[0])["state"] as? String, "outstanding")
        let revoked = try node(["invite", "revoke", "--data", hq.data, "carol"])
        XCTAssertEqual(revoked.status, 0, revoked.stderr)
        XCTAssertTrue(try node(["invite", "list", "--data", hq.data]).stdout.contains("no outstanding invites"))
        let refusedJoin = try person(["join", carol.trimmingCharacters(in: .whitespacesAndNewlines), "--profile", root + "/carol", "--timeout", "5"])
        XCTAssertNotEqual(refusedJoin.status, 0)
        XCTAssertTrue(refusedJoin.stderr.contains("refused this invite code"), refusedJoin.stderr)

        // disable: li's key is refused; the directory of the other unit drops li; enable restores.
        let disabled = try json(try node(["users", "disable", "--data", hq.data, "li", "--json"]).stdout)
        XCTAssertEqual(disabled["state"] as? String, "disabled")
        XCTAssertEqual(disabled["node_running"] as? Bool, true)
        XCTAssertEqual(try node(["users", "--data", hq.data, "--json"]).lines.map { try json($0)["state"] as? String }, ["disabled"])
        try assertRefused(li)
        try eventually("traffic to drop li@hq") { try person(["send", "li@hq", "are you there", "--profile", wu]).status != 0 }
        XCTAssertEqual(try node(["users", "enable", "--data", hq.data, "li"]).status, 0)
        XCTAssertEqual(try person(["inbox", "--profile", li]).status, 0)

        // remove needs --yes.
        let unconfirmed = try node(["users", "remove", "--data", hq.data, "li"])
        XCTAssertNotEqual(unconfirmed.status, 0)
        XCTAssertTrue(unconfirmed.stderr.contains("--yes"), unconfirmed.stderr)

        // rekey: the old laptop is refused at once; the new device joins as li@hq with new keys.
        let rekey = try json(try node(["users", "rekey", "--data", hq.data, "li", "--json"]).stdout)
        XCTAssertEqual(rekey["state"] as? String, "rekeying")
        let code = try XCTUnwrap(rekey["code"] as? String)
        try assertRefused(li)
        XCTAssertEqual(try node(["users", "--data", hq.data, "--json"]).lines.map { try json($0)["state"] as? String }, ["rekeying"])
        let li2 = root + "/li-new"
        try join(code, li2)
        XCTAssertEqual(try json(try person(["whoami", "--profile", li2, "--json"]).stdout)["address"] as? String, "li@hq")
        let newPrint = try XCTUnwrap(try json(try person(["whoami", "--profile", li2, "--json"]).stdout)["fingerprint"] as? String)
        XCTAssertNotEqual(oldPrint, newPrint)
        try assertRefused(li, "the old key stays refused")
        XCTAssertEqual(try person(["send", "wu@traffic", "from my new laptop", "--profile", li2]).status, 0)

        // wu's client pinned li's old key: it says the key changed, and the message opens.
        var lines: [String] = []
        try eventually("wu reads the message from li's new keys") {
            lines += try person(["inbox", "--profile", wu, "--json"]).lines
            return lines.contains { $0.contains("from my new laptop") }
        }
        let changed = try lines.map(json).filter { $0["kind"] as? String == "key_changed" }
        XCTAssertEqual(changed.count, 1, "\(lines)")
        XCTAssertEqual(changed.first?["address"] as? String, "li@hq")
        XCTAssertEqual(changed.first?["was"] as? String, oldPrint)
        XCTAssertEqual(changed.first?["now"] as? String, newPrint)
        // Text output says it too, once: the pin is now the new key.
        XCTAssertEqual(try person(["send", "li@hq", "got it", "--profile", wu]).stdout.contains("key changed"), false)
        try eventually("li's new device reads wu's answer") { try person(["inbox", "--profile", li2]).stdout.contains("got it") }

        // remove: the other unit withdraws li@hq.
        let removed = try json(try node(["users", "remove", "--data", hq.data, "li", "--yes", "--json"]).stdout)
        XCTAssertEqual(removed["state"] as? String, "removed")
        try eventually("traffic to withdraw li@hq") {
            let r = try person(["send", "li@hq", "still there?", "--profile", wu])
            return r.status != 0 && r.stderr.contains("no user 'li'")
        }
        XCTAssertTrue(try node(["users", "--data", hq.data]).stdout.contains("no users enrolled"))
    }
}
