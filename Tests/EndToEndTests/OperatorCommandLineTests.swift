import Foundation
import Glibc
import XCTest

/// The operator's tools as an operator runs them (hardening item 7): versions, `check`,
/// and a node that survives the death of its log reader.
final class OperatorCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-ops" }

    func testBothBinariesPrintOneVersion() throws {
        let node = try Harness.run("sealpost-node", ["--version"])
        let client = try Harness.run("sealpost", ["--version"])
        XCTAssertEqual(node.status, 0)
        XCTAssertEqual(client.status, 0)
        let version = node.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(version.isEmpty)
        XCTAssertEqual(client.stdout.trimmingCharacters(in: .whitespacesAndNewlines), version)
    }

    func testCheckPassesAGoodDataDirAndFailsAnEmptyDatabase() throws {
        let data = root + "/hq"
        XCTAssertEqual(try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq"]).status, 0)
        let good = try Harness.run("sealpost-node", ["check", "--data", data])
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        XCTAssertTrue(good.stdout.contains("no errors"), good.stdout)

        _ = FileManager.default.createFile(atPath: data + "/node.db", contents: Data())
        let bad = try Harness.run("sealpost-node", ["check", "--data", data, "--json"])
        XCTAssertEqual(bad.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any], bad.stdout)
        XCTAssertEqual(object["ok"] as? Bool, false)
        let findings = object["findings"] as? [[String: Any]] ?? []
        let db = try XCTUnwrap(findings.first { $0["subject"] as? String == "database" })
        XCTAssertEqual(db["level"] as? String, "error")
        XCTAssertTrue((db["message"] as? String ?? "").contains("empty"), "\(db)")
    }

    /// Regression: the node died with status 141 (SIGPIPE) when the pipe its log went to closed,
    /// e.g. `sealpost-node run 2>&1 | tee log` whose `tee` was killed.
    func testTheNodeSurvivesItsLogPipeClosing() throws {
        let data = root + "/hq"
        XCTAssertEqual(try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                         "--listen", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*"]).status, 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Harness.path("sealpost-node"))
        process.arguments = ["run", "--fast-timers", "--data", data]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }

        // Read until the node says it listens, then close the only reader.
        let fd = pipe.fileHandleForReading.fileDescriptor
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("listening on"), Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        XCTAssertTrue(text.contains("listening on"), text)
        try pipe.fileHandleForReading.close()
        try? pipe.fileHandleForWriting.close()

        // Stopping logs ("node stopping"): a write into the closed pipe.
        process.terminate()
        let stopDeadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < stopDeadline { usleep(20_000) }
        if process.isRunning {
            XCTFail("the node did not stop on SIGTERM within 20 s")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "not killed by a signal (SIGPIPE would be 13)")
        XCTAssertEqual(process.terminationStatus, 0)
    }
}
