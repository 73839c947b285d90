import Foundation
import XCTest

/// Labels from the command line: `users clear`, `send --label` refused naming who is not
/// cleared (and a state secret refused by an unaccredited node), what is allowed shown with its
/// label in `inbox` and `inbox --json`, and `status` counting refusals by reason.
final class LabelCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-e2e-labels" }

    func testClearSendWithLabelInboxAndStatus() throws {
        let (node, data) = try runningNode("hq", users: ["alice", "bob"])
        defer { _ = node.stop() }
        let alice = ["--profile", root + "/alice"], bob = ["--profile", root + "/bob"]

        let refused = try Harness.run("sealpost", ["send", "bob@hq", "for principals", "--label", "敏感"] + alice)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "error: not cleared for 敏感 sensitive: bob@hq (cleared to 内部 internal)\n")
        let secret = try Harness.run("sealpost", ["send", "bob@hq", "state secret", "--label", "机密"] + alice)
        XCTAssertEqual(secret.status, 1)
        XCTAssertTrue(secret.stderr.contains("node hq is not accredited for 机密 confidential"), secret.stderr)

        let cleared = try Harness.run("sealpost-node", ["users", "clear", "--data", data, "bob", "sensitive"])
        XCTAssertEqual(cleared.status, 0, cleared.stderr)
        XCTAssertEqual(cleared.stdout, "bob@hq is cleared to 敏感 sensitive; the signed entry is published now\n")
        let users = try Harness.run("sealpost-node", ["users", "--data", data])
        XCTAssertTrue(users.stdout.contains("敏感 sensitive"), users.stdout)

        let sent = try Harness.run("sealpost", ["send", "bob@hq", "for principals", "--label", "敏感"] + alice)
        XCTAssertEqual(sent.status, 0, sent.stderr)
        XCTAssertTrue(sent.stdout.contains("to bob@hq: stored on your node") && sent.stdout.hasSuffix(" [敏感 sensitive]\n"), sent.stdout)
        XCTAssertEqual(try Harness.run("sealpost", ["send", "bob@hq", "plain"] + alice).status, 0)

        let inbox = try Harness.run("sealpost", ["inbox", "--json"] + bob)
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let messages = try inbox.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(messages.map { $0["text"] as? String }, ["for principals", "plain"])
        XCTAssertEqual(messages.map { $0["label"] as? String }, ["敏感 sensitive", "内部 internal"])
        XCTAssertEqual(messages.map { $0["label_rank"] as? Int }, [2, 1])

        let status = try Harness.run("sealpost-node", ["status", "--data", data])
        XCTAssertTrue(status.stdout.contains("labels    default 内部 internal, ceiling 工作秘密 work-secret, accredited: none"), status.stdout)
        XCTAssertTrue(status.stdout.contains("refused: none"), "the clients refused first: \(status.stdout)")
    }
}
