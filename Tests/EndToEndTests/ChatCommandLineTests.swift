import Foundation
import XCTest

/// The terminal client as a person uses it: `chat` with a group, own lines with their time
/// and state, local `/commands`, due reminders with their text, `remind list`, and hints
/// that paste as they are.
final class ChatCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-chat" }

    /// A node `hq` with `users` joined (profiles at ROOT/USER); returns the node and each join's output.
    func startNode(users: [String]) throws -> (NodeProcess, [String: String]) {
        let data = root + "/hq"
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                        "--listen", "tcp://127.0.0.1:\(Harness.freePort())",
                                                        "--publish", "tcp://127.0.0.1:\(Harness.freePort())"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        var joins: [String: String] = [:]
        for user in users {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let joined = try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user])
            XCTAssertEqual(joined.status, 0, joined.stderr)
            joins[user] = joined.stdout
        }
        return (node, joins)
    }

    func sealpost(_ args: [String], as user: String) throws -> Harness.Result {
        let r = try Harness.run("sealpost", args + ["--profile", root + "/" + user])
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        return r
    }

    /// Regression: `sealpost chat GROUP` said "no user".
    func testChatWithAGroupShowsOwnLinesWithTimeAndStateAndKeepsCommandsLocal() throws {
        let (node, joins) = try startNode(users: ["alice", "bob", "carol"])
        // The hint after join pastes as it is: this profile, by its full path.
        XCTAssertTrue(joins["alice"]!.contains("sealpost inbox --profile \(root)/alice\n"), joins["alice"]!)
        _ = try sealpost(["group", "create", "ops", "--members", "bob@hq,carol@hq"], as: "alice")
        for user in ["bob", "carol"] { _ = try sealpost(["inbox"], as: user) }

        let chat = try BackgroundProcess("sealpost", ["chat", "ops@hq", "--profile", root + "/alice"])
        XCTAssertTrue(chat.waitFor { $0.contains("chatting with group ops@hq (3 members)") }, chat.text + chat.stderr)
        chat.type("/help")
        XCTAssertTrue(chat.waitFor { $0.contains("commands (typed here, never sent)") }, chat.text)
        chat.type("/frobnicate now")
        XCTAssertTrue(chat.waitFor { $0.contains("unknown command /frobnicate: nothing was sent") }, chat.text)
        chat.type("hi team")
        // [HH:MM:SS] you: hi team · sending, then its state as it moves on.
        XCTAssertTrue(chat.waitFor { $0.range(of: #"\[\d\d:\d\d:\d\d\] you: hi team  · sending"#, options: .regularExpression) != nil }, chat.text)
        XCTAssertTrue(chat.waitFor { $0.contains("* delivered 2/2, seen 0/2: hi team") }, chat.text)
        let bob = try sealpost(["inbox", "--json"], as: "bob")
        XCTAssertTrue(bob.stdout.contains("\"text\":\"hi team\""), bob.stdout)
        XCTAssertFalse(bob.stdout.contains("help") || bob.stdout.contains("frobnicate"), "commands are never sent: \(bob.stdout)")
        XCTAssertTrue(chat.waitFor { $0.contains("* delivered 2/2, seen 1/2: hi team") }, chat.text)
        // Someone else's line in the group: shown as the group's, not as from elsewhere.
        _ = try sealpost(["send", "ops@hq", "hello alice"], as: "carol")
        XCTAssertTrue(chat.waitFor { $0.contains("ops@hq carol@hq: hello alice") }, chat.text)
        XCTAssertFalse(chat.text.contains("(ops@hq)"), chat.text)
        chat.closeInput()
        XCTAssertEqual(chat.waitForExit(), 0, chat.text + chat.stderr)
        XCTAssertEqual(node.stop(), 0)
    }

    func testADueReminderShowsItsTextAndRemindListShowsThem() throws {
        let (node, _) = try startNode(users: ["alice", "bob"])
        let set = try sealpost(["remind", "bob@hq", "--in", "2s", "stand-up in room 4", "--json"], as: "alice")
        let id = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(set.lines[0].utf8)) as? [String: Any])["id"] as? String
        _ = try sealpost(["remind", "bob@hq", "--in", "2h", "file the report"], as: "alice")
        let chat = try BackgroundProcess("sealpost", ["chat", "alice@hq", "--profile", root + "/bob"])
        XCTAssertTrue(chat.waitFor { $0.contains("reminder for") && $0.contains("stand-up in room 4") }, chat.text)
        XCTAssertTrue(chat.waitFor(timeout: 20) { $0.contains("REMINDER DUE \(id!)") && $0.contains("alice@hq: stand-up in room 4") }, chat.text)
        chat.closeInput()
        XCTAssertEqual(chat.waitForExit(), 0, chat.text + chat.stderr)

        let bobList = try sealpost(["remind", "list"], as: "bob")
        XCTAssertEqual(bobList.lines.count, 2, bobList.stdout)
        XCTAssertTrue(bobList.lines[0].contains("due") && bobList.lines[0].contains("from alice@hq: stand-up in room 4"), bobList.stdout)
        XCTAssertTrue(bobList.lines[1].contains("upcoming") && bobList.lines[1].contains("file the report"), bobList.stdout)
        let aliceList = try sealpost(["remind", "list", "--json"], as: "alice")
        let rows = try aliceList.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(rows.map { $0["text"] as? String }, ["stand-up in room 4", "file the report"])
        XCTAssertEqual(rows.first?["not_done"] as? [String], ["bob@hq"])
        XCTAssertEqual(node.stop(), 0)
    }

    /// Regression: at a terminal, an incoming line was written where the cursor was, glued onto
    /// the line being typed. `chat` runs on a real pseudo-terminal here.
    func testAtATerminalIncomingLinesGoAboveTheLineBeingTyped() throws {
        let (node, _) = try startNode(users: ["alice", "bob"])
        // posix_openpt and friends do not import: /dev/ptmx, unlocked and numbered by ioctl
        // (TIOCSPTLCK, TIOCGPTN; Linux's values, which are function-like macros in C).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        guard master >= 0 else { throw XCTSkip("no /dev/ptmx here") }
        var unlock: Int32 = 0, number: UInt32 = 0
        XCTAssertEqual(ioctl(master, UInt(0x4004_5431), &unlock), 0)
        XCTAssertEqual(ioctl(master, UInt(0x8004_5430), &number), 0)
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        XCTAssertGreaterThanOrEqual(slave, 0)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        let chat = Process()
        chat.executableURL = URL(fileURLWithPath: try Harness.path("sealpost"))
        chat.arguments = ["chat", "bob@hq", "--profile", root + "/alice"]
        let tty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        chat.standardInput = tty
        chat.standardOutput = tty
        chat.standardError = tty
        try chat.run()
        close(slave)
        defer { if chat.isRunning { chat.terminate(); chat.waitUntilExit() }; close(master) }
        var screen = Data()
        func read(until check: (String) -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(20)
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while Date() < deadline {
                let n = Glibc.read(master, &buffer, buffer.count)
                if n > 0 { screen.append(contentsOf: buffer[..<n]) }
                if check(String(decoding: screen, as: UTF8.self)) { return true }
                usleep(5_000)
            }
            return false
        }
        func type(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(master, $0.baseAddress, $0.count - 1) } }
        XCTAssertTrue(read { $0.contains("chatting with bob@hq") && $0.hasSuffix("> ") }, String(decoding: screen, as: UTF8.self))
        type("hel")
        XCTAssertTrue(read { $0.hasSuffix("> hel") }, String(decoding: screen, as: UTF8.self))
        _ = try sealpost(["send", "alice@hq", "from the other side"], as: "bob")
        // Cleared line, the message, then the prompt and what was typed, whole again (the terminal writes \\n as \\r\\n).
        XCTAssertTrue(read { $0.range(of: #"\r\x{1B}\[K\[[^\n]*\] bob@hq: from the other side\r\n> hel$"#, options: .regularExpression) != nil },
                      String(decoding: screen, as: UTF8.self).debugDescription)
        type("lo\r")
        XCTAssertTrue(read { $0.range(of: #"\] you: hello  · sending\r\n> "#, options: .regularExpression) != nil },
                      String(decoding: screen, as: UTF8.self).debugDescription)
        // Its state is rewritten in place: up to the line, and back (ESC 7 … ESC 8).
        XCTAssertTrue(read { $0.contains("\u{1B}7\u{1B}[1A\r\u{1B}[K[") && $0.contains("you: hello  · delivered\u{1B}8") },
                      String(decoding: screen, as: UTF8.self).debugDescription)
        type("\u{04}")
        let deadline = Date().addingTimeInterval(20)
        while chat.isRunning && Date() < deadline { _ = read { _ in true }; usleep(20_000) }
        XCTAssertFalse(chat.isRunning, "Ctrl-D left")
        XCTAssertEqual(chat.terminationStatus, 0)
        let bob = try sealpost(["inbox"], as: "bob")
        XCTAssertTrue(bob.stdout.contains("alice@hq: hello\n"), "the line as typed, not glued: \(bob.stdout)")
        XCTAssertEqual(node.stop(), 0)
    }
}
