import Foundation
import SealpostClient
import SealpostCore
import XCTest

/// Exactly once on the screen, not only on the node: clients killed mid-display,
/// lines typed while the node is down, the same profile open twice.
final class ExactlyOnceOnScreenTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-once" }

    /// A fresh node `hq` on free loopback ports, running, with `users` joined (profiles at ROOT/USER).
    func startNode(users: [String]) throws -> (String, NodeProcess) {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                        "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        for user in users {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let joined = try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user])
            XCTAssertEqual(joined.status, 0, joined.stderr)
        }
        return (data, node)
    }

    func id(ofJSON line: String) throws -> String {
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        return try XCTUnwrap(object["id"] as? String, line)
    }

    /// Regression: `inbox` printed a batch before its seen log was durable, so a client killed
    /// right after the output appeared showed the batch again (8 of 10 kills did).
    func testInboxKilledRightAfterItPrintsShowsEveryMessageExactlyOnceAcrossRuns() throws {
        let (_, node) = try startNode(users: ["alice", "bob"])
        let bob = root + "/bob"
        let alice = try Client(profile: try Profile.load(from: root + "/alice"))
        var sent: [String] = []
        for i in 0..<48 { sent.append(try alice.sendText(to: Address("bob@hq")!, text: "backlog \(i)").hex) }
        alice.close()

        var shown: [String] = []
        var kills = 0
        for _ in 0..<100 {
            let inbox = try BackgroundProcess("sealpost", ["inbox", "--json", "--limit", "4", "--profile", bob])
            // Kill it the moment its output appears: after the show, before the ack.
            let printed = inbox.waitFor { !$0.isEmpty }
            var killed = false
            if inbox.process.isRunning {
                XCTAssertTrue(printed, "inbox neither printed nor ended")
                inbox.killHard()
                killed = true
                kills += 1
            } else {
                XCTAssertEqual(inbox.waitForExit(), 0, inbox.stderr)
            }
            let ids = try inbox.lines.map(id(ofJSON:))
            shown += ids
            if !killed && ids.isEmpty { break }
        }
        // One more, undisturbed: nothing is left, and nothing comes twice.
        let last = try Harness.run("sealpost", ["inbox", "--json", "--profile", bob])
        XCTAssertEqual(last.status, 0, last.stderr)
        shown += try last.lines.map(id(ofJSON:))
        XCTAssertGreaterThanOrEqual(kills, 6, "the test must kill inbox mid-display many times")
        let twice = Dictionary(grouping: shown, by: { $0 }).filter { $0.value.count > 1 }.keys
        XCTAssertEqual(twice.count, 0, "shown twice: \(twice.count) of \(sent.count) after \(kills) kills")
        XCTAssertEqual(Set(sent).subtracting(shown).count, 0, "never shown after \(kills) kills")
        XCTAssertEqual(shown, sent, "each once, in order")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains(".tmp-") }, [])
        XCTAssertEqual(node.stop(), 0)
    }

    func testInboxLimitShowsAtMostNAndLeavesTheRestWaiting() throws {
        let (_, node) = try startNode(users: ["alice", "bob"])
        for i in 0..<5 { XCTAssertEqual(try Harness.run("sealpost", ["send", "bob@hq", "m\(i)", "--profile", root + "/alice"]).status, 0) }
        var seen: [String] = []
        for expected in [2, 2, 1, 0] {
            let r = try Harness.run("sealpost", ["inbox", "--limit", "2", "--json", "--profile", root + "/bob"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.lines.count, expected, r.stdout)
            seen += try r.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["text"] as? String ?? "" }
        }
        XCTAssertEqual(seen, ["m0", "m1", "m2", "m3", "m4"])
        let bad = try Harness.run("sealpost", ["inbox", "--limit", "0", "--profile", root + "/bob"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--limit must be between 1 and 1000000"), bad.stderr)
        XCTAssertEqual(node.stop(), 0)
    }

    /// The same for `chat` (the same receive loop): killed right after each batch appears,
    /// with more arriving between runs.
    func testChatKilledRightAfterItShowsABatchShowsEveryMessageExactlyOnceAcrossRuns() throws {
        let (_, node) = try startNode(users: ["alice", "bob"])
        let bob = root + "/bob"
        let alice = try Client(profile: try Profile.load(from: root + "/alice"))
        defer { alice.close() }
        var sent: [String] = []
        var shown: [String] = []
        var kills = 0
        func texts(_ lines: [String]) -> [String] {
            lines.compactMap { line in line.range(of: "alice@hq: ").map { String(line[$0.upperBound...]) } }
        }
        for run in 0..<12 {
            for i in 0..<4 {
                let text = "run \(run) message \(i)"
                _ = try alice.sendText(to: Address("bob@hq")!, text: text)
                sent.append(text)
            }
            let chat = try BackgroundProcess("sealpost", ["chat", "alice@hq", "--profile", bob])
            XCTAssertTrue(chat.waitFor { $0.contains("alice@hq: run") }, chat.text + chat.stderr)
            chat.killHard()
            kills += 1
            shown += texts(chat.lines)
        }
        let last = try Harness.run("sealpost", ["inbox", "--profile", bob])
        XCTAssertEqual(last.status, 0, last.stderr)
        shown += texts(last.lines)
        let twice = Dictionary(grouping: shown, by: { $0 }).filter { $0.value.count > 1 }.keys
        XCTAssertEqual(twice.count, 0, "shown twice after \(kills) kills: \(twice.sorted())")
        XCTAssertEqual(Set(sent).subtracting(shown).sorted(), [], "never shown after \(kills) kills")
        XCTAssertEqual(node.stop(), 0)
    }

    /// Regression: `chat` printed `! not sent` for a line typed while the node was down,
    /// and the line was delivered once the node came back.
    func testChatLineTypedWhileTheNodeIsDownIsQueuedAndDeliveredOnceWhenItIsBack() throws {
        let (data, first) = try startNode(users: ["alice", "bob"])
        var node = first
        let chat = try BackgroundProcess("sealpost", ["chat", "bob@hq", "--profile", root + "/alice", "--timeout", "1"])
        XCTAssertTrue(chat.waitFor { $0.contains("chatting with bob@hq") }, chat.text)
        XCTAssertEqual(node.stop(), 0)
        // The closed connection is noticed at once, not at the next unanswered keep-alive (5 s).
        XCTAssertTrue(chat.waitFor(timeout: 4) { $0.contains("* node not answering") }, chat.text)

        let line = "are you there? \(UUID().uuidString.prefix(8))"
        chat.type(line)
        XCTAssertTrue(chat.waitFor(timeout: 15) { $0.contains("* queued, will be sent when the node is back: \(line)") }, chat.text)
        // Twice the timeout (1 s) passes: still queued, never "not sent".
        XCTAssertFalse(chat.waitFor(timeout: 2) { $0.contains("not sent") }, chat.text)

        node = try NodeProcess(data: data)
        try node.waitUntilListening()
        // Stored (or already delivered: its receipt may be taken in before STORED comes back).
        XCTAssertTrue(chat.waitFor(timeout: 30) { $0.contains("* stored on your node: \(line)") || $0.contains("* delivered: \(line)") },
                      chat.text)
        chat.closeInput()
        XCTAssertEqual(chat.waitForExit(), 0, chat.text + chat.stderr)
        XCTAssertFalse(chat.text.contains("not sent"), chat.text)

        let inbox = try Harness.run("sealpost", ["inbox", "--json", "--profile", root + "/bob"])
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let texts = try inbox.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["text"] as? String }
        XCTAssertEqual(texts, [line], "the line arrives exactly once")
        XCTAssertEqual(node.stop(), 0)
    }

    /// The other half of "never both": a line still queued when the person leaves is
    /// reported as not sent, and then it is not sent.
    func testChatLeftWithALineStillQueuedSaysNotSentAndNeverSendsIt() throws {
        let (data, first) = try startNode(users: ["alice", "bob"])
        var node = first
        let chat = try BackgroundProcess("sealpost", ["chat", "bob@hq", "--profile", root + "/alice", "--timeout", "1"])
        XCTAssertTrue(chat.waitFor { $0.contains("chatting with bob@hq") }, chat.text)
        XCTAssertEqual(node.stop(), 0)
        XCTAssertTrue(chat.waitFor(timeout: 4) { $0.contains("* node not answering") }, chat.text)
        chat.type("typed while the node is down")
        XCTAssertTrue(chat.waitFor { $0.contains("* queued, will be sent when the node is back: typed while the node is down") }, chat.text)
        chat.closeInput()
        XCTAssertEqual(chat.waitForExit(), 0, chat.text + chat.stderr)
        XCTAssertTrue(chat.text.contains("! not sent (the node did not store it before you left): typed while the node is down"), chat.text)
        XCTAssertFalse(chat.text.contains("* stored on your node:"), chat.text)

        node = try NodeProcess(data: data)
        try node.waitUntilListening()
        let inbox = try Harness.run("sealpost", ["inbox", "--profile", root + "/bob"])
        XCTAssertEqual(inbox.stdout, "no new messages\n", "reported not sent, so never sent")
        XCTAssertEqual(node.stop(), 0)
    }

    /// Regression: a second `inbox`/`chat` on a profile took the deliveries, and the first
    /// session silently stopped receiving.
    func testSameProfileOpenTwiceIsRefusedAndTheFirstKeepsReceiving() throws {
        let (_, node) = try startNode(users: ["alice", "bob"])
        let bob = root + "/bob", alice = root + "/alice"
        let chat = try BackgroundProcess("sealpost", ["chat", "alice@hq", "--profile", bob])
        XCTAssertTrue(chat.waitFor { $0.contains("chatting with alice@hq") }, chat.text)

        let refusal = "error: this profile is already in use by another sealpost process (pid \(chat.pid)); close it first\n"
        for args in [["inbox"], ["chat", "alice@hq"], ["inbox", "--wait", "5"], ["group", "create", "ops"]] {
            let second = try Harness.run("sealpost", args + ["--profile", bob])
            XCTAssertEqual(second.status, 1, "\(args): \(second.stdout)")
            XCTAssertEqual(second.stderr, refusal, "\(args)")
        }
        // Sending only shares the profile: it takes no deliveries.
        let sent = try Harness.run("sealpost", ["send", "alice@hq", "sent from a second terminal", "--profile", bob])
        XCTAssertEqual(sent.status, 0, sent.stderr)

        // The first session still receives.
        XCTAssertEqual(try Harness.run("sealpost", ["send", "bob@hq", "still there?", "--profile", alice]).status, 0)
        XCTAssertTrue(chat.waitFor(timeout: 15) { $0.contains("alice@hq: still there?") }, chat.text)

        // However the first one ends, the profile is free again.
        chat.killHard()
        let after = try Harness.run("sealpost", ["inbox", "--profile", bob])
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertEqual(after.stdout, "no new messages\n", "chat showed it; it is not shown again")
        XCTAssertEqual(node.stop(), 0)
    }
}
