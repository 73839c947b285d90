import Foundation
import Glibc
import SealpostClient
import SealpostCore
import SealpostTestSupport
import XCTest

/// Three node processes in a line, the middle one killed with SIGKILL while a
/// stream crosses it: every message arrives exactly once, in order.
final class FederationChaosTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "sealpost-chaos-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        // SEALPOST_KEEP=1 keeps the data dirs and node logs for a look after a failure.
        if ProcessInfo.processInfo.environment["SEALPOST_KEEP"] == "1" { print("kept \(root)"); return }
        try? FileManager.default.removeItem(atPath: root)
    }

    struct NodeSpec {
        let name: String
        let data: String
        let router: String
        let publish: String
        var key = ""
    }

    func makeNode(_ name: String) throws -> NodeSpec {
        let spec = NodeSpec(name: name, data: root + "/" + name, router: "tcp://127.0.0.1:\(Harness.freePort())",
                            publish: "tcp://127.0.0.1:\(Harness.freePort())")
        let r = try Harness.run("sealpost-node", ["init", "--data", spec.data, "--name", name, "--listen", spec.router,
                                                  "--publish", spec.publish, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // One sender streams the whole test as fast as the nodes take it: no rate limit, and room
        // in the receiver's mailbox for all of it (SEALPOST_CHAOS_MESSAGES may be 100 000).
        let yamlPath = spec.data + "/node.yaml"
        let yaml = try String(contentsOfFile: yamlPath, encoding: .utf8)
            .replacingOccurrences(of: "send_per_s: 200\n", with: "send_per_s: 0\n")
            .replacingOccurrences(of: "mailbox_messages: 10000\n", with: "mailbox_messages: 10000000\n")
        XCTAssertTrue(yaml.contains("send_per_s: 0\n") && yaml.contains("mailbox_messages: 10000000\n"), yaml)
        try yaml.write(toFile: yamlPath, atomically: true, encoding: .utf8)
        var out = spec
        let info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        out.key = try XCTUnwrap(info["public_key"] as? String)
        return out
    }

    func link(_ a: NodeSpec, _ b: NodeSpec) throws {
        for (x, y) in [(a, b), (b, a)] {
            let r = try Harness.run("sealpost-node", ["peer", "add", "--data", x.data, "--", y.name, y.router, y.publish, y.key])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    func join(_ node: NodeSpec, _ user: String) throws -> Profile {
        let code = try Harness.run("sealpost-node", ["invite", "--data", node.data, user]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let path = root + "/\(user).profile"
        let r = try Harness.run("sealpost", ["join", code, "--profile", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try Profile.load(from: path)
    }

    func testTenThousandMessagesAcrossAMiddleNodeKilledRepeatedly() throws {
        let a = try makeNode("district"), b = try makeNode("city"), c = try makeNode("province")
        try link(a, b)
        try link(b, c)
        var nodes = [try NodeProcess(data: a.data), try NodeProcess(data: b.data), try NodeProcess(data: c.data)]
        for n in nodes { try n.waitUntilListening() }
        defer { for n in nodes { _ = n.stop() } }

        let sender = try Client(profile: try join(a, "li"))
        let receiverProfile = try join(c, "zhao")
        defer { sender.close() }
        let deadline = Date().addingTimeInterval(30)
        var pause = PollPause(upTo: 0.2)
        while (try? sender.lookup(Address("zhao@province")!)) == nil {
            XCTAssertLessThan(Date(), deadline, "the directory never reached district")
            if Date() > deadline { return }
            pause.sleep()
        }

        let total = Int(ProcessInfo.processInfo.environment["SEALPOST_CHAOS_MESSAGES"] ?? "") ?? 10_000
        let killAt: Set<Int> = [total / 5, total * 9 / 20, total * 7 / 10]
        var ids: [MessageID] = []
        ids.reserveCapacity(total)
        var stored = 0
        var inFlight = 0
        var kills = 0
        // The middle node is started again once this many more messages were sent into its outage.
        let downFor = max(1, total / 100)
        for i in 0..<total {
            if killAt.contains(i) {
                // SIGKILL the middle node; it stays down while the next messages are sent.
                kill(nodes[1].process.processIdentifier, SIGKILL)
                nodes[1].process.waitUntilExit()
                kills += 1
            }
            if killAt.contains(i - downFor) {
                nodes[1] = try NodeProcess(data: b.data)
                try nodes[1].waitUntilListening()
            }
            let e = try sender.prepareText(to: Address("zhao@province")!, text: "m\(i)")
            ids.append(e.id)
            while inFlight >= 500, let event = try sender.next(timeoutMs: 10_000) {
                if case .stored = event { stored += 1; inFlight -= 1 }
            }
            while try !sender.submit(e) {
                if case .stored? = try sender.next(timeoutMs: 100) { stored += 1; inFlight -= 1 }
            }
            inFlight += 1
        }
        while stored < total, let event = try sender.next(timeoutMs: 20_000) {
            if case .stored = event { stored += 1 }
        }
        XCTAssertEqual(stored, total)
        XCTAssertEqual(kills, 3)

        let receiver = try Client(profile: receiverProfile)
        defer { receiver.close() }
        // Messages are acknowledged only once opened; give province's directory a moment too.
        let known = Date().addingTimeInterval(30)
        pause = PollPause(upTo: 0.2)
        while (try? receiver.lookup(Address("li@district")!)) == nil, Date() < known { pause.sleep() }
        try receiver.attach(window: 2000)
        var got: [MessageID] = []
        var seen = Set<MessageID>()
        var duplicates = 0
        let end = Date().addingTimeInterval(180)
        while seen.count < total, Date() < end {
            guard let event = try receiver.next(timeoutMs: 1000) else { continue }
            if case .undecryptable(_, let id, let from, let reason) = event {
                XCTFail("message \(id) from \(from) could not be opened: \(reason)")
                continue
            }
            guard case .message(let m) = event else { continue }
            if seen.insert(m.id).inserted { got.append(m.id) } else { duplicates += 1 }
            if got.count % 500 == 0 { try receiver.ack(m.seq) }
        }
        XCTAssertEqual(got.count, total, "every message arrived")
        XCTAssertEqual(duplicates, 0, "none twice (the node dropped the repeats, not the client)")
        XCTAssertTrue(got == ids, "in the order they were sent")
    }
}
