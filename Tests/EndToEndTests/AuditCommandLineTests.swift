import Foundation
import XCTest

/// `sealpost-node audit` as an operator runs it on a stopped node: the records of real
/// commands, `--json`, the signed head, an export checked independently, and `verify`
/// exiting 1 at the position of a record edited in the SQLite file.
final class AuditCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-audit" }

    func python(_ script: String, _ args: [String]) throws -> (status: Int32, out: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script] + args
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testListHeadExportAndVerifyFindsAnEditedRecord() throws {
        let data = root + "/hq"
        let node = "sealpost-node"
        XCTAssertEqual(try Harness.run(node, ["init", "--data", data, "--name", "hq"]).status, 0)
        XCTAssertEqual(try Harness.run(node, ["invite", "--data", data, "zhao"]).status, 0)
        XCTAssertEqual(try Harness.run(node, ["invite", "--data", data, "qian"]).status, 0)
        XCTAssertEqual(try Harness.run(node, ["invite", "revoke", "--data", data, "qian"]).status, 0)

        let list = try Harness.run(node, ["audit", "--data", data, "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let records = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["records"] as? [[String: Any]])
        XCTAssertEqual(records.map { $0["kind"] as? String }, ["invite_created", "invite_created", "invite_revoked"])
        XCTAssertEqual(records.map { $0["subject"] as? String }, ["zhao@hq", "qian@hq", "qian@hq"])
        let byUser = try Harness.run(node, ["audit", "--data", data, "--user", "qian", "--kind", "invite_revoked"])
        XCTAssertEqual(byUser.lines.count, 2, byUser.stdout) // the heading and one record
        XCTAssertTrue(byUser.stdout.contains("revoked invite"), byUser.stdout)
        let lastOne = try Harness.run(node, ["audit", "--data", data, "--limit", "1", "--json"])
        XCTAssertTrue(lastOne.stdout.contains("\"position\":3") && !lastOne.stdout.contains("\"position\":2"), lastOne.stdout)
        let badKind = try Harness.run(node, ["audit", "--data", data, "--kind", "nonsense"])
        XCTAssertNotEqual(badKind.status, 0)
        XCTAssertTrue(badKind.stderr.contains("burn_viewed"), badKind.stderr)

        let head = try Harness.run(node, ["audit", "head", "--data", data, "--json"])
        XCTAssertEqual(head.status, 0, head.stderr)
        let signed = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(head.stdout.utf8)) as? [String: Any])?["head"] as? [String: Any])
        XCTAssertEqual(signed["position"] as? Int, 3)

        let export = root + "/hq-audit.jsonl"
        let exported = try Harness.run(node, ["audit", "export", "--data", data, export])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertTrue(exported.stdout.contains("4 records and 1 signed heads"), exported.stdout)
        let lines = try String(contentsOfFile: export, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + 4 + 1)
        // The independent checker (PyNaCl) verifies the archive when it is installed.
        let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/check_vectors.py").path
        if try python("import nacl", []).status == 0 {
            let check = try python("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                                   [checker, "--audit-export", export])
            XCTAssertEqual(check.status, 0, check.out)
            XCTAssertTrue(check.out.contains("4 records, 1 signed heads: verified"), check.out)
        }

        let good = try Harness.run(node, ["audit", "verify", "--data", data])
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        XCTAssertTrue(good.stdout.contains("verified: 4 records"), good.stdout)

        // Someone with write access to node.db changes who a record concerns.
        let edit = try python("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE audit SET subject = 'nobody@hq' WHERE position = 2\"); c.commit()",
                              [data + "/node.db"])
        XCTAssertEqual(edit.status, 0, edit.out)
        let bad = try Harness.run(node, ["audit", "verify", "--data", data, "--json"])
        XCTAssertEqual(bad.status, 1, bad.stdout + bad.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(result["ok"] as? Bool, false)
        XCTAssertEqual(result["first_bad"] as? Int, 2)
        let text = try Harness.run(node, ["audit", "verify", "--data", data])
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdout.contains("BROKEN at position 2"), text.stdout)
    }
}
