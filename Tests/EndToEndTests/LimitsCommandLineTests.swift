import Foundation
import SealpostNode
import XCTest

/// Limits as people meet them: `sealpost send` says why a message was not stored, and
/// `sealpost-node status` counts it.
final class LimitsCommandLineTests: TempRootTestCase {

    func testSendToAFullMailboxSaysSoInOneLineAndStatusCountsIt() throws {
        let data = root + "/hq"
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq", "--listen",
                                                        "tcp://127.0.0.1:\(Harness.freePort())", "--publish", "tcp://127.0.0.1:\(Harness.freePort())"])
        XCTAssertEqual(created.status, 0, created.stderr)
        // The operator's setting, as written by init and edited by hand.
        let yamlPath = data + "/node.yaml"
        let yaml = try String(contentsOfFile: yamlPath, encoding: .utf8)
        XCTAssertTrue(yaml.contains("limits:\n  mailbox_messages: 10000\n"), yaml)
        try yaml.replacingOccurrences(of: "mailbox_messages: 10000\n", with: "mailbox_messages: 2\n")
            .write(toFile: yamlPath, atomically: true, encoding: .utf8)
        let node = try NodeProcess(data: data)
        defer { _ = node.stop() }
        try node.waitUntilListening()
        for user in ["alice", "bob"] {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user]).status, 0)
        }
        let alice = root + "/alice"
        for text in ["one", "two"] {
            let sent = try Harness.run("sealpost", ["send", "bob@hq", text, "--profile", alice])
            XCTAssertEqual(sent.status, 0, sent.stderr)
        }
        let refused = try Harness.run("sealpost", ["send", "bob@hq", "three", "--profile", alice])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("error: mailbox of bob@hq is full (2 messages"), refused.stderr)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)

        let status = try Harness.run("sealpost-node", ["status", "--data", data])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("refused: 1 mailbox full"), status.stdout)
        let json = try Harness.run("sealpost-node", ["status", "--data", data, "--json"])
        let object = try JSONDecoder().decode(NodeStatus.self, from: Data(json.stdout.utf8))
        XCTAssertEqual(object.limits.refused["mailbox_full"], 1)
        XCTAssertEqual(object.storage.state, "ok")

        // Bob reads his messages: room again.
        let inbox = try Harness.run("sealpost", ["inbox", "--profile", root + "/bob"])
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        XCTAssertEqual(try Harness.run("sealpost", ["send", "bob@hq", "three", "--profile", alice]).status, 0)
    }
}
