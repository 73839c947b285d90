import Foundation
import SealpostNode
import XCTest

/// `sealpost send-file` and `sealpost fetch` as people use them.
final class FileCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-e2e-files" }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    }

    func testSendFileInboxAndFetch() throws {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                        "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let node = try NodeProcess(data: data)
        defer { _ = node.stop() }
        try node.waitUntilListening()
        for user in ["alice", "bob"] {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user]).status, 0)
        }

        let source = root + "/minutes.odt"
        var bytes = [UInt8](repeating: 0, count: 700_000)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        XCTAssertTrue(FileManager.default.createFile(atPath: source, contents: Data(bytes)))
        let sent = try Harness.run("sealpost", ["send-file", "bob@hq", source, "--profile", root + "/alice", "--json"])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        XCTAssertTrue(sent.stderr.contains("upload: 100%"), "plain progress lines when not on a terminal: \(sent.stderr)")
        let result = try json(sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(result["kind"] as? String, "file")
        let file = try XCTUnwrap(result["file"] as? [String: Any])
        XCTAssertEqual(file["size"] as? Int, 700_000)
        let fileId = try XCTUnwrap(file["id"] as? String)

        let inbox = try Harness.run("sealpost", ["inbox", "--profile", root + "/bob", "--json"])
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let message = try json(try XCTUnwrap(inbox.lines.first))
        XCTAssertEqual(message["kind"] as? String, "file")
        let offered = try XCTUnwrap(message["file"] as? [String: Any])
        XCTAssertEqual(offered["id"] as? String, fileId)
        XCTAssertEqual(offered["name"] as? String, "minutes.odt")
        XCTAssertEqual(offered["size"] as? Int, 700_000)

        let out = root + "/received.odt"
        let fetched = try Harness.run("sealpost", ["fetch", String(fileId.prefix(12)), "-o", out, "--profile", root + "/bob", "--json"])
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        XCTAssertEqual(try json(fetched.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["status"] as? String, "fetched")
        XCTAssertEqual(FileManager.default.contents(atPath: out), Data(bytes))

        // One byte over 2 GiB (a sparse file): refused with a clear message, nothing sent.
        let big = root + "/huge.img"
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: nil))
        XCTAssertEqual(truncate(big, 2_147_483_649), 0)
        let refused = try Harness.run("sealpost", ["send-file", "bob@hq", big, "--profile", root + "/alice"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "error: the file is 2147483649 bytes; the limit is 2147483648 bytes (2 GiB)\n")

        let status = try Harness.run("sealpost-node", ["status", "--data", data, "--json"])
        let files = try JSONDecoder().decode(NodeStatus.self, from: Data(status.stdout.utf8)).files
        XCTAssertEqual(files.files, 1)
        XCTAssertTrue(try Harness.run("sealpost-node", ["status", "--data", data]).stdout.contains("files     1"))
    }
}
