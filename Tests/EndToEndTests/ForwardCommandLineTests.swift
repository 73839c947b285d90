import Foundation
import XCTest

/// Forwarding as people use it: `send --no-forward`/`--forward unit`, `inbox` showing the
/// chain, `forward ID TO... --note`, `show ID --chain`, and refusals with their reasons.
final class ForwardCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-e2e-forward" }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    }

    func testForwardShowAndRefusals() throws {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        XCTAssertEqual(try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                         "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"]).status, 0)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        defer { _ = node.stop() }
        var profiles: [String: String] = [:]
        for user in ["li", "bob", "chen", "gao"] {
            profiles[user] = root + "/" + user
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", profiles[user]!]).status, 0)
        }
        func sealpost(_ args: [String], as user: String) throws -> Harness.Result {
            try Harness.run("sealpost", args + ["--profile", profiles[user]!])
        }

        let sent = try sealpost(["send", "bob@hq", "the duty roster", "--max-hops", "2", "--json"], as: "li")
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let original = try XCTUnwrap(try json(sent.stdout)["id"] as? String)
        let closed = try sealpost(["send", "bob@hq", "eyes only", "--no-forward", "--json"], as: "li")
        let closedId = try XCTUnwrap(try json(closed.stdout)["id"] as? String)
        let inbox = try sealpost(["inbox", "--json"], as: "bob")
        XCTAssertEqual(inbox.lines.count, 2, inbox.stdout)
        XCTAssertEqual(try json(inbox.lines[0])["forwardable"] as? Bool, true)

        // Forwarded with a note to chen, who sees the chain's line.
        let fwd = try sealpost(["forward", String(original.prefix(8)), "chen@hq", "--note", "FYI"], as: "bob")
        XCTAssertEqual(fwd.status, 0, fwd.stderr)
        XCTAssertTrue(fwd.stdout.hasPrefix("forwarded \(original) to chen@hq (forward 1 of li@hq's message"), fwd.stdout)
        let seen = try sealpost(["inbox"], as: "chen")
        XCTAssertTrue(seen.stdout.contains("bob@hq: [forwarded from bob@hq — originally by li@hq at "), seen.stdout)
        XCTAssertTrue(seen.stdout.contains(", 1 hop] (note: FYI) the duty roster"), seen.stdout)

        // chen's copy, in JSON, and its chain.
        let again = try sealpost(["send", "chen@hq", "ping"], as: "li")
        XCTAssertEqual(again.status, 0)
        _ = try sealpost(["inbox"], as: "chen")
        let second = try sealpost(["forward", original, "chen@hq"], as: "bob")
        XCTAssertEqual(second.status, 0, second.stderr)
        let jsonInbox = try sealpost(["inbox", "--json"], as: "chen")
        let m = try json(try XCTUnwrap(jsonInbox.lines.first))
        let chain = try XCTUnwrap(m["forward"] as? [String: Any])
        XCTAssertEqual(chain["status"] as? String, "verified")
        XCTAssertEqual(chain["hops"] as? Int, 1)
        XCTAssertEqual((chain["origin"] as? [String: Any])?["sender"] as? String, "li@hq")
        let id = try XCTUnwrap(m["id"] as? String)
        let show = try sealpost(["show", id, "--chain"], as: "chen")
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("origin  li@hq (unit hq)"), show.stdout)
        XCTAssertTrue(show.stdout.contains("at most 2 hops"), show.stdout)
        XCTAssertTrue(show.stdout.contains("hop 1   bob@hq at "), show.stdout)
        XCTAssertTrue(show.stdout.contains("chain verified"), show.stdout)
        let showJSON = try json(try sealpost(["show", id, "--json"], as: "chen").stdout)
        XCTAssertEqual((showJSON["chain"] as? [[String: Any]])?.count, 2)

        // Refusals, with the reason, nothing sent.
        let no = try sealpost(["forward", closedId, "chen@hq"], as: "bob")
        XCTAssertNotEqual(no.status, 0)
        XCTAssertTrue(no.stderr.contains("error: not forwarded: li@hq's message \(closedId) may not be forwarded (its sender chose --no-forward)"), no.stderr)
        let fanout = try sealpost(["forward", original, "chen@hq", "gao@hq", "li@hq", "x1@hq", "x2@hq", "x3@hq"], as: "bob")
        XCTAssertTrue(fanout.stderr.contains("at most 5 recipients at once"), fanout.stderr)
        let unknown = try sealpost(["forward", "ffff", "chen@hq"], as: "bob")
        XCTAssertTrue(unknown.stderr.contains("no received message ffff that can be forwarded"), unknown.stderr)
        let policyOptions = try sealpost(["send", "bob@hq", "x", "--no-forward", "--max-hops", "3"], as: "li")
        XCTAssertTrue(policyOptions.stderr.contains("--no-forward goes alone"), policyOptions.stderr)
        XCTAssertTrue(try sealpost(["inbox"], as: "gao").stdout.contains("no new messages"))
        let status = try Harness.run("sealpost-node", ["status", "--data", data])
        XCTAssertTrue(status.stdout.contains("forwards  2 accepted, 0 refused"), status.stdout)
    }
}
