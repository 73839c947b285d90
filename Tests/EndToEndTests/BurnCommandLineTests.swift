import Foundation
import XCTest

/// Burn after reading as people use it: `send --burn`, `inbox`, `view`, `receipts`, `capture`.
final class BurnCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-e2e-burn" }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    }

    /// A running node `hq` with `alice` and `bob` joined (profiles ROOT/alice, ROOT/bob) and a private TMPDIR.
    func nodeWithAliceAndBob() throws -> (NodeProcess, String, String, String) {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        XCTAssertEqual(try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                         "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"]).status, 0)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        let alice = root + "/alice", bob = root + "/bob"
        for (user, profile) in [("alice", alice), ("bob", bob)] {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", profile]).status, 0)
        }
        let tmp = root + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        return (node, alice, bob, tmp)
    }

    /// A tiny valid PNG header followed by `size` bytes in all (the watermark reads its size from it).
    func png(_ path: String, size: Int, width: UInt8 = 64) {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 0, width, 0, 0, 0, 48]
        bytes += (0..<max(0, size - bytes.count)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    func testSendViewOnceReceiptsAndImagesWipedAfterTheWindow() throws {
        let (node, alice, bob, tmp) = try nodeWithAliceAndBob()
        defer { _ = node.stop() }
        let env = ["TMPDIR": tmp]

        // A 7th image is refused before anything is sent.
        let images = (1...7).map { root + "/p\($0).png" }
        for path in images { png(path, size: 2000) }
        let seven = try Harness.run("sealpost", ["send", "--burn", "bob@hq", "x"] + images.flatMap { ["--image", $0] } + ["--profile", alice])
        XCTAssertNotEqual(seven.status, 0)
        XCTAssertTrue(seven.stderr.contains("at most 6 images"), seven.stderr)
        let big = root + "/big.png"
        png(big, size: 2 * 1024 * 1024 + 1)
        let tooBig = try Harness.run("sealpost", ["send", "--burn", "bob@hq", "--image", big, "--profile", alice])
        XCTAssertNotEqual(tooBig.status, 0)
        XCTAssertTrue(tooBig.stderr.contains("at most 2 MiB"), tooBig.stderr)
        let notImage = root + "/notes.txt"
        FileManager.default.createFile(atPath: notImage, contents: Data("hello".utf8))
        let wrongType = try Harness.run("sealpost", ["send", "--burn", "bob@hq", "--image", notImage, "--profile", alice])
        XCTAssertTrue(wrongType.stderr.contains("not a PNG, JPEG, GIF or WebP"), wrongType.stderr)
        XCTAssertTrue(try Harness.run("sealpost", ["inbox", "--profile", bob]).stdout.contains("no new messages"), "nothing was sent")

        // Two images and a text.
        let secret = "plate LX-\(UUID().uuidString.prefix(6))"
        let sent = try Harness.run("sealpost", ["send", "--burn", "bob@hq", secret, "--image", images[0], "--image", images[1],
                                                "--ttl", "1h", "--profile", alice, "--json"])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let id = try XCTUnwrap(try json(sent.stdout)["id"] as? String)

        let inbox = try Harness.run("sealpost", ["inbox", "--profile", bob, "--json"])
        let notice = try json(try XCTUnwrap(inbox.lines.first))
        XCTAssertEqual(notice["kind"] as? String, "burn")
        XCTAssertEqual(notice["id"] as? String, id)
        XCTAssertEqual((notice["burn"] as? [String: Any])?["images"] as? Int, 2)
        XCTAssertFalse(inbox.stdout.contains(secret), "the inbox never shows burn content")

        // Quoting it is refused by the client.
        let quote = try Harness.run("sealpost", ["send", "alice@hq", "fwd", "--quote", id, "--profile", bob])
        XCTAssertNotEqual(quote.status, 0)
        XCTAssertTrue(quote.stderr.contains("cannot be forwarded or quoted"), quote.stderr)

        let start = Date()
        let viewed = try Harness.run("sealpost", ["view", id, "--window", "1", "--profile", bob, "--json"], env: env)
        XCTAssertEqual(viewed.status, 0, viewed.stderr)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.9, "view waits out the window, then wipes")
        let shown = try json(try XCTUnwrap(viewed.lines.first))
        XCTAssertEqual(shown["text"] as? String, secret)
        XCTAssertTrue((shown["watermark"] as? String)?.contains("bob@hq") == true)
        let written = try XCTUnwrap(shown["images"] as? [[String: Any]]).compactMap { $0["path"] as? String }
        XCTAssertEqual(written.count, 2)
        for path in written { XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(path) was wiped") }
        let folder = try XCTUnwrap(shown["folder"] as? String)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))

        let again = try Harness.run("sealpost", ["view", id, "--profile", bob], env: env)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("has been burned"), again.stderr)

        // The viewer reports a capture; the sender collects receipt and report.
        XCTAssertEqual(try Harness.run("sealpost", ["capture", id, "--profile", bob]).status, 0)
        let aliceInbox = try Harness.run("sealpost", ["inbox", "--wait", "5", "--profile", alice, "--json"])
        let kinds = try aliceInbox.lines.map { try json($0)["kind"] as? String }
        XCTAssertTrue(kinds.contains("burned"), aliceInbox.stdout)
        let receipts = try Harness.run("sealpost", ["receipts", id, "--profile", alice, "--json"])
        XCTAssertEqual(receipts.status, 0, receipts.stderr)
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(receipts.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?["node"] as? String, "hq")
        XCTAssertEqual(list.first?["verified"] as? Bool, true)
        XCTAssertNotNil(list.first?["deleted_at"] as? String)
        if !kinds.contains("capture") {
            // The report may come in a second batch.
            let more = try Harness.run("sealpost", ["inbox", "--wait", "3", "--profile", alice, "--json"])
            XCTAssertTrue(more.stdout.contains("\"capture\""), more.stdout)
        }
        let plain = try Harness.run("sealpost", ["receipts", id, "--profile", alice])
        XCTAssertTrue(plain.stdout.contains("signature verified"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains("CAPTURE: bob@hq"), plain.stdout)
    }

    func testViewOnceFileFromTheCommandLine() throws {
        let (node, alice, bob, tmp) = try nodeWithAliceAndBob()
        defer { _ = node.stop() }
        let source = root + "/orders.pdf"
        FileManager.default.createFile(atPath: source, contents: Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }))
        let sent = try Harness.run("sealpost", ["send-file", "--burn", "bob@hq", source, "--profile", alice, "--json"])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let result = try json(sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let messageId = try XCTUnwrap(result["id"] as? String)
        let fileId = try XCTUnwrap((result["file"] as? [String: Any])?["id"] as? String)
        XCTAssertEqual((result["file"] as? [String: Any])?["burn"] as? Bool, true)

        let inbox = try Harness.run("sealpost", ["inbox", "--profile", bob])
        XCTAssertTrue(inbox.stdout.contains("burn after reading: file orders.pdf"), inbox.stdout)
        let refused = try Harness.run("sealpost", ["fetch", fileId, "-o", root + "/keep.pdf", "--profile", bob], env: ["TMPDIR": tmp])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("cannot be saved"), refused.stderr)

        let fetched = try Harness.run("sealpost", ["fetch", fileId, "--window", "1", "--profile", bob, "--json"], env: ["TMPDIR": tmp])
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        let shown = try json(try XCTUnwrap(fetched.lines.last))
        XCTAssertEqual(shown["burn"] as? Bool, true)
        let path = try XCTUnwrap(shown["path"] as? String)
        XCTAssertTrue(path.hasPrefix(tmp + "/sealpost-view-"), path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "wiped after the window")
        let again = try Harness.run("sealpost", ["fetch", fileId, "--profile", bob], env: ["TMPDIR": tmp])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("has been burned"), again.stderr)

        _ = try Harness.run("sealpost", ["inbox", "--wait", "3", "--profile", alice])
        let receipts = try Harness.run("sealpost", ["receipts", messageId, "--profile", alice, "--json"])
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(receipts.stdout.utf8)) as? [[String: Any]], receipts.stdout + receipts.stderr)
        XCTAssertEqual(list.map { $0["event"] as? String }, ["viewed"])
        XCTAssertEqual(list.first?["verified"] as? Bool, true)
    }

    func testAnInterruptedViewStillWipesItsImages() throws {
        let (node, alice, bob, tmp) = try nodeWithAliceAndBob()
        defer { _ = node.stop() }
        // Six large images: writing them takes a while, and the kill lands right after the first
        // is on disk, before the others (a wiper started only after the writes never ran).
        let images = (1...6).map { root + "/a\($0).png" }
        for path in images { png(path, size: 700_000) }
        let sent = try Harness.run("sealpost", ["send", "--burn", "bob@hq"] + images.flatMap { ["--image", $0] } + ["--profile", alice, "--json"])
        let id = try XCTUnwrap(try json(sent.stdout)["id"] as? String, sent.stderr)
        _ = try Harness.run("sealpost", ["inbox", "--profile", bob])

        // Killed (SIGKILL, no chance to clean up) while the images are being put on screen.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Harness.path("sealpost"))
        process.arguments = ["view", id, "--window", "2", "--profile", bob]
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": tmp]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let base = tmp + "/sealpost-view-\(getuid())"
        let deadline = Date().addingTimeInterval(10)
        var folders: [String] = []
        while Date() < deadline {
            folders = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
            if let f = folders.first, !((try? FileManager.default.contentsOfDirectory(atPath: base + "/" + f)) ?? []).isEmpty { break }
            usleep(1_000)
        }
        kill(process.processIdentifier, SIGKILL)
        XCTAssertEqual(folders.count, 1, "the image is on disk while it is viewed")
        let mode = (try? FileManager.default.attributesOfItem(atPath: base + "/" + (folders.first ?? ""))[.posixPermissions] as? Int) ?? nil
        XCTAssertEqual(mode, 0o700)
        process.waitUntilExit()
        // The detached wiper removes it at the end of the window all the same.
        let wiped = Date().addingTimeInterval(6)
        while Date() < wiped, !((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).isEmpty { usleep(10_000) }
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [], [], "wiped after the window")
    }
}
