import Foundation
import XCTest

/// The trace tools as an officer and an operator run them: the watermark's viewer code from
/// `sealpost view`, `sealpost trace --code` refused to a non-officer and resolved for an officer,
/// `sealpost-node users officer` and `sealpost-node trace` with --json, --dot and --svg.
final class TraceCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-e2e-trace" }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testAViewerCodeFromAWatermarkIsResolvedByAnOfficerOnly() throws {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        XCTAssertEqual(try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                         "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"]).status, 0)
        let node = try NodeProcess(data: data)
        defer { _ = node.stop() }
        try node.waitUntilListening()
        let alice = root + "/alice", bob = root + "/bob"
        for (user, profile) in [("alice", alice), ("bob", bob)] {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", profile]).status, 0)
        }
        let tmp = root + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)

        let sent = try Harness.run("sealpost", ["send", "--burn", "bob@hq", "the inspection is on Friday", "--profile", alice, "--json"])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let id = try XCTUnwrap(try json(sent.stdout)["id"] as? String)
        let viewed = try Harness.run("sealpost", ["view", id, "--window", "1", "--profile", bob, "--json"], env: ["TMPDIR": tmp])
        XCTAssertEqual(viewed.status, 0, viewed.stderr)
        let shown = try json(try XCTUnwrap(viewed.lines.first))
        let code = try XCTUnwrap(shown["viewer_code"] as? String, "\(shown)")
        XCTAssertTrue(code.hasPrefix("hq-"), code)
        XCTAssertTrue((shown["watermark"] as? String ?? "").contains("CODE \(code)"), "\(shown)")

        // bob is no officer.
        let refused = try Harness.run("sealpost", ["trace", "--code", code, "--profile", bob])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("only a security officer"), refused.stderr)

        let grant = try Harness.run("sealpost-node", ["users", "officer", "grant", "--data", data, "alice"])
        XCTAssertEqual(grant.status, 0, grant.stderr)
        XCTAssertTrue(try Harness.run("sealpost-node", ["users", "officer", "--data", data]).stdout.contains("alice@hq"))
        let resolved = try Harness.run("sealpost", ["trace", "--code", code.lowercased(), "--profile", alice, "--json"])
        XCTAssertEqual(resolved.status, 0, resolved.stderr)
        let viewer = try XCTUnwrap(try json(resolved.stdout)["viewer"] as? [String: Any])
        XCTAssertEqual(viewer["viewer"] as? String, "bob@hq")
        XCTAssertEqual(viewer["message"] as? String, id)
        let text = try Harness.run("sealpost", ["trace", "--code", code, "--profile", alice])
        XCTAssertTrue(text.stdout.contains("viewed by bob@hq"), text.stdout)
        XCTAssertTrue(text.stdout.contains("traced in"), text.stdout)

        // The operator, through the admin socket, with the pictures.
        let dot = root + "/trace.dot", svg = root + "/trace.svg"
        let op = try Harness.run("sealpost-node", ["trace", "--data", data, id, "--json", "--dot", dot, "--svg", svg])
        let hasGraphviz = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/dot") } ?? false
        XCTAssertTrue(FileManager.default.fileExists(atPath: dot))
        XCTAssertTrue((try? String(contentsOfFile: dot, encoding: .utf8))?.hasPrefix("digraph trace {") == true)
        if hasGraphviz {
            XCTAssertEqual(op.status, 0, op.stderr)
            XCTAssertTrue((try? String(contentsOfFile: svg, encoding: .utf8))?.contains("<svg") == true)
            let tree = try json(op.stdout)
            XCTAssertEqual((tree["nodes"] as? [[String: Any]])?.map { $0["node"] as? String }, ["hq"])
        } else {
            XCTAssertNotEqual(op.status, 0)
            XCTAssertTrue(op.stderr.contains("Graphviz's 'dot' is not installed"), op.stderr)
        }
        let none = try Harness.run("sealpost-node", ["trace", "--data", data, "--code", "hq-0000-0000"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("was not resolved"), none.stderr)
    }
}
