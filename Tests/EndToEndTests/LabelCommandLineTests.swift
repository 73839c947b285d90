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

    /// `sealpost downgrade`: refused (ERROR 453) until node.yaml names the person in
    /// `labels.downgraders` (applied without a restart); then the forward to someone cleared only
    /// for the new label is delivered, `show --chain` prints the downgrade, `inbox --json` the
    /// effective label, and `status` counts it.
    func testDowngradeThenForwardFromTheCommandLine() throws {
        let (node, data) = try runningNode("hq", users: ["alice", "bob", "carol"])
        defer { _ = node.stop() }
        func sealpost(_ args: [String], as user: String) throws -> Harness.Result {
            try Harness.run("sealpost", args + ["--profile", root + "/" + user])
        }
        for user in ["alice", "bob"] {
            XCTAssertEqual(try Harness.run("sealpost-node", ["users", "clear", "--data", data, user, "工作秘密"]).status, 0)
        }
        let sent = try sealpost(["send", "bob@hq", "the draft budget", "--label", "工作秘密", "--json"], as: "alice")
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any])?["id"] as? String)
        XCTAssertEqual(try sealpost(["inbox"], as: "bob").status, 0)

        let refused = try sealpost(["downgrade", id, "--to", "内部", "--reason", "published in the bulletin"], as: "bob")
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("error: your node refused the downgrade: bob@hq may not downgrade messages: not in labels.downgraders"),
                      refused.stderr)
        let yaml = try String(contentsOfFile: data + "/node.yaml", encoding: .utf8)
        try yaml.replacingOccurrences(of: "\nlabels:\n", with: "\nlabels:\n  downgraders: [bob]\n")
            .write(toFile: data + "/node.yaml", atomically: true, encoding: .utf8)
        var downgraded = refused
        let deadline = Date().addingTimeInterval(15)
        while downgraded.status != 0, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2) // the node picks node.yaml up within a second: poll for it
            downgraded = try sealpost(["downgrade", id, "--to", "内部", "--reason", "published in the bulletin", "--json"], as: "bob")
        }
        XCTAssertEqual(downgraded.status, 0, downgraded.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(downgraded.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(record["by"] as? String, "bob@hq")
        XCTAssertEqual(record["from"] as? String, "工作秘密 work-secret")
        XCTAssertEqual(record["to"] as? String, "内部 internal")

        let show = try sealpost(["show", id, "--chain"], as: "bob")
        XCTAssertTrue(show.stdout.contains("downgraded 工作秘密 work-secret → 内部 internal by bob@hq at "), show.stdout)
        XCTAssertTrue(show.stdout.contains("(countersigned by hq): published in the bulletin"), show.stdout)
        let forwarded = try sealpost(["forward", id, "carol@hq"], as: "bob")
        XCTAssertEqual(forwarded.status, 0, forwarded.stderr)
        let inbox = try sealpost(["inbox", "--json"], as: "carol")
        let message = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(inbox.lines.first).utf8)) as? [String: Any])
        XCTAssertEqual(message["text"] as? String, "the draft budget")
        XCTAssertEqual(message["label"] as? String, "内部 internal")
        XCTAssertEqual(message["effective_label"] as? String, "内部 internal")
        XCTAssertEqual(((message["forward"] as? [String: Any])?["downgrade"] as? [String: Any])?["by"] as? String, "bob@hq")
        let status = try Harness.run("sealpost-node", ["status", "--data", data])
        XCTAssertTrue(status.stdout.contains("1 downgrade countersigned"), status.stdout)
    }
}
