import Foundation
import SealpostTestSupport
import XCTest

/// The product as people use it: real processes, real files, real sockets.
final class CommandLineTests: TempRootTestCase {

    /// A fresh node `hq` on free loopback ports, running.
    func startNode() throws -> (String, NodeProcess) {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                        "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        return (data, node)
    }

    /// Invites and joins each user (profile at ROOT/USER), optionally with a capitalised display name.
    func join(_ data: String, _ users: [String], named: Bool = false) throws {
        for user in users {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let joined = try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user] + (named ? ["--name", user.capitalized] : []))
            XCTAssertEqual(joined.status, 0, joined.stderr)
        }
    }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
    }

    func testOperatorAndPeopleFromInitToExactlyOnceDeliveryAcrossARestart() throws {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                        "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)", "--json"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let info = try json(created.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(info["name"] as? String, "hq")
        XCTAssertEqual((info["public_key"] as? String)?.count, 40, "Z85 public key")

        var node = try NodeProcess(data: data)
        try node.waitUntilListening()

        // The operator invites two people while the node runs; each joins from "their machine".
        let aliceCode = try Harness.run("sealpost-node", ["invite", "--data", data, "alice"])
        let bobCode = try Harness.run("sealpost-node", ["invite", "--data", data, "bob"])
        XCTAssertEqual(aliceCode.lines.count, 1, "an invite is one line")
        XCTAssertTrue(aliceCode.stdout.hasPrefix("sp1-"))
        let alice = root + "/alice/profile", bob = root + "/bob/profile"
        XCTAssertEqual(try Harness.run("sealpost", ["join", aliceCode.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--profile", alice]).status, 0)
        let joinedBob = try Harness.run("sealpost", ["join", bobCode.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--profile", bob, "--name", "Bob Li"])
        XCTAssertEqual(joinedBob.status, 0, joinedBob.stderr)
        let mode = try FileManager.default.attributesOfItem(atPath: alice)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600, "the profile holds private keys")

        // A used code is refused with a clear line.
        let reused = try Harness.run("sealpost", ["join", bobCode.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--profile", root + "/eve/profile"])
        XCTAssertNotEqual(reused.status, 0)
        XCTAssertTrue(reused.stderr.contains("already used"), reused.stderr)

        let users = try Harness.run("sealpost-node", ["users", "--data", data, "--json"])
        XCTAssertEqual(try users.lines.map { try json($0)["address"] as? String }, ["alice@hq", "bob@hq"])

        // Bob is offline: alice sends three messages, each durable when `send` returns.
        let secret = "the raid is at 0600 \(UUID().uuidString)"
        var sentIds: [String] = []
        for text in ["first", secret, "third"] {
            let sent = try Harness.run("sealpost", ["send", "bob@hq", text, "--profile", alice, "--json"])
            XCTAssertEqual(sent.status, 0, sent.stderr)
            sentIds.append(try XCTUnwrap(try json(sent.lines[0])["id"] as? String))
        }

        // The node restarts (clean stop, start again) before bob comes online.
        XCTAssertEqual(node.stop(), 0, "SIGTERM stops the node cleanly")
        node = try NodeProcess(data: data)
        try node.waitUntilListening()

        let inbox = try Harness.run("sealpost", ["inbox", "--profile", bob, "--json"])
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let messages = try inbox.lines.map(json)
        XCTAssertEqual(messages.map { $0["id"] as? String }, sentIds, "all three, in order, exactly once")
        XCTAssertEqual(messages.map { $0["text"] as? String }, ["first", secret, "third"])
        XCTAssertEqual(Set(messages.map { $0["from"] as? String }), ["alice@hq"])
        XCTAssertEqual(Set(messages.map { $0["kind"] as? String }), ["text"])
        XCTAssertTrue((messages[0]["sent_at"] as? String)?.hasSuffix("Z") ?? false)

        let again = try Harness.run("sealpost", ["inbox", "--profile", bob, "--json"])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.stdout, "", "nothing is shown twice")

        // --wait returns as soon as something arrives.
        let reply = try Harness.run("sealpost", ["send", "alice@hq", "got it", "--profile", bob])
        XCTAssertEqual(reply.status, 0, reply.stderr)
        let waited = try Harness.run("sealpost", ["inbox", "--wait", "5", "--profile", alice])
        XCTAssertTrue(waited.stdout.contains("bob@hq: got it"), waited.stdout)

        // The node never held the plaintext: not in the database, the WAL, or anywhere in its dir.
        XCTAssertEqual(node.stop(), 0)
        for file in try FileManager.default.contentsOfDirectory(atPath: data) where !file.hasSuffix(".sock") {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: data + "/" + file))
            XCTAssertNil(bytes.range(of: Data(secret.utf8)), "plaintext found in \(file)")
        }
    }

    func testUnknownKeyAndBadInputGetOneClearLineAndNonZeroExit() throws {
        let (data, node) = try startNode()
        let alice = root + "/alice"
        let code = try Harness.run("sealpost-node", ["invite", "--data", data, "alice"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", alice]).status, 0)

        // A profile whose CURVE key the node never enrolled: refused at the handshake, and said
        // at once (the node's refusal comes back), not after the timeout.
        let text = try String(contentsOfFile: alice, encoding: .utf8)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        object["curve_secret"] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        let stranger = root + "/stranger"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: stranger))
        let refused = try Harness.run("sealpost", ["send", "alice@hq", "hi", "--profile", stranger, "--timeout", "5"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("node 'hq' at tcp://127.0.0.1:") && refused.stderr.contains("refused this profile's key"), refused.stderr)

        let cases: [([String], String)] = [
            (["send", "nobody@hq", "hi", "--profile", alice], "no user 'nobody' on node 'hq'"),
            (["send", "not-an-address", "hi", "--profile", alice], "is not an address"),
            (["send", "alice@hq", "", "--profile", alice], "the message is empty"),
            (["send", "alice@hq", String(repeating: "x", count: 65_537), "--profile", alice], "the limit is 65536 bytes"),
            (["inbox", "--profile", root + "/missing"], "no profile at"),
            (["join", "sp1-garbage", "--profile", root + "/new"], "damaged"),
            (["join", "hello", "--profile", root + "/new"], "not a Sealpost invite code"),
        ]
        for (args, expected) in cases {
            let r = try Harness.run("sealpost", args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "\(args.prefix(2)): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one clear line: \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/new"), "nothing half-done is left behind")

        let nodeCases: [([String], String)] = [
            (["init", "--data", data, "--name", "hq"], "already holds a node"),
            (["init", "--data", root + "/x", "--name", "Bad Name"], "is not valid"),
            (["init", "--data", root + "/y", "--name", "ok", "--listen", "http://x"], "must look like tcp://HOST:PORT"),
            (["invite", "--data", root + "/nothing", "bob"], "no node in"),
            (["invite", "--data", data, "Bob!"], "not a valid user name"),
            (["invite", "--data", data, "alice"], "already enrolled"),
        ]
        for (args, expected) in nodeCases {
            let r = try Harness.run("sealpost-node", args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "\(args.prefix(2)): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/x/node.yaml"))
        XCTAssertEqual(node.stop(), 0)
    }

    func testContactCardsFromTheCommandLine() throws {
        let (data, node) = try startNode()
        try join(data, ["alice", "bob", "carol"], named: true)
        let alice = root + "/alice", bob = root + "/bob"
        XCTAssertEqual(try Harness.run("sealpost", ["card", "send", "bob@hq", "carol@hq", "--profile", alice]).status, 0)
        XCTAssertEqual(try Harness.run("sealpost", ["card", "send", "bob@hq", "--external", "--name", "Ms Zhang",
                                                    "--phone", "+86 10 5555 0100", "--profile", alice]).status, 0)
        let bad = try Harness.run("sealpost", ["card", "send", "bob@hq", "--profile", alice])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("give the CONTACT"), bad.stderr)

        let inbox = try Harness.run("sealpost", ["inbox", "--json", "--profile", bob])
        let lines = try inbox.lines.map(json)
        XCTAssertEqual(lines.map { $0["kind"] as? String }, ["card", "card"])
        let member = try XCTUnwrap(lines.first?["card"] as? [String: Any])
        XCTAssertEqual(member["address"] as? String, "carol@hq")
        XCTAssertEqual(member["name"] as? String, "Carol")
        XCTAssertEqual(member["unit"] as? String, "hq")
        XCTAssertEqual(member["verified"] as? Bool, true)
        let external = try XCTUnwrap(lines.last?["card"] as? [String: Any])
        XCTAssertEqual(external["external"] as? Bool, true)
        XCTAssertEqual(external["reachable"] as? Bool, false)
        XCTAssertEqual(external["verified"] as? Bool, false)
        // The verified contact was saved, and bob writes to carol at once.
        XCTAssertTrue(FileManager.default.fileExists(atPath: bob + ".contacts"))
        XCTAssertEqual(try Harness.run("sealpost", ["send", "carol@hq", "thanks for the card", "--profile", bob]).status, 0)
        XCTAssertEqual(node.stop(), 0)
    }

    /// `sealpost-node directory list/forget/unpin` on two peered running nodes.
    func testDirectoryListForgetAndUnpinFromTheCommandLine() throws {
        let nodes = try startFederation(["hq", "traffic"])
        try join(nodes[1].data, ["wu"])
        let hq = nodes[0].data
        func listed() throws -> [String: Any]? {
            let nodes = try json(try Harness.run("sealpost-node", ["directory", "list", "--json", "--data", hq]).lines[0])["nodes"]
            return (nodes as? [[String: Any]])?.first { $0["node"] as? String == "traffic" && $0["entries"] as? Int == 1 }
        }
        let deadline = Date().addingTimeInterval(20)
        var pause = PollPause(upTo: 0.2)
        while try listed() == nil, Date() < deadline { pause.sleep() }
        let traffic = try XCTUnwrap(try listed(), "traffic's directory reached hq")
        XCTAssertEqual(traffic["sign_key"] as? String, nodes[1].info["sign_key"] as? String, "the key pinned is the one traffic's info shows")
        XCTAssertEqual(traffic["peer"] as? Bool, true)

        let text = try Harness.run("sealpost-node", ["directory", "list", "--data", hq])
        XCTAssertTrue(text.stdout.contains("traffic") && text.stdout.contains("SIGN KEY"), text.stdout)
        let forgot = try Harness.run("sealpost-node", ["directory", "forget", "traffic", "--json", "--data", hq])
        XCTAssertEqual(forgot.status, 0, forgot.stderr)
        XCTAssertEqual(try json(forgot.lines[0])["entries_removed"] as? Int, 1)
        let again = Date().addingTimeInterval(20)
        pause = PollPause(upTo: 0.2)
        while try listed() == nil, Date() < again { pause.sleep() }
        XCTAssertNotNil(try listed(), "taken fresh from the next hop")

        let unpin = try Harness.run("sealpost-node", ["directory", "unpin", "traffic", "--data", hq])
        XCTAssertNotEqual(unpin.status, 0)
        XCTAssertTrue(unpin.stderr.hasPrefix("error: 'traffic' is a configured peer"), unpin.stderr)
        let unknown = try Harness.run("sealpost-node", ["directory", "forget", "mars", "--data", hq])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("holds nothing of 'mars'"), unknown.stderr)
        for node in nodes { XCTAssertEqual(node.process.stop(), 0) }
    }

    func testGroupsAndRemindersFromTheCommandLine() throws {
        let (data, node) = try startNode()
        try join(data, ["alice", "bob", "carol"])
        let alice = root + "/alice", bob = root + "/bob", carol = root + "/carol"
        let created = try Harness.run("sealpost", ["group", "create", "ops", "--members", "bob@hq,carol@hq", "--json", "--profile", alice])
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual((try json(created.lines[0])["members"] as? [[String: Any]])?.count, 3)
        let refused = try Harness.run("sealpost", ["group", "create", "ops", "--profile", bob])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("already exists"), refused.stderr)

        // bob learns of the group in his inbox, then posts to it.
        let news = try Harness.run("sealpost", ["inbox", "--json", "--profile", bob]).lines.map(json)
        XCTAssertTrue(news.contains { $0["kind"] as? String == "group_event" && $0["group"] as? String == "ops@hq" })
        XCTAssertEqual(try Harness.run("sealpost", ["group", "members", "ops@hq", "--profile", bob]).lines.count, 3)
        XCTAssertEqual(try Harness.run("sealpost", ["send", "ops@hq", "hi team", "--profile", bob]).status, 0)
        for profile in [alice, carol] {
            let got = try Harness.run("sealpost", ["inbox", "--json", "--profile", profile]).lines.map(json)
            let text = got.first { $0["kind"] as? String == "text" }
            XCTAssertEqual(text?["group"] as? String, "ops@hq")
            XCTAssertEqual(text?["from"] as? String, "bob@hq")
            XCTAssertEqual(text?["text"] as? String, "hi team")
        }

        // A reminder to the group; status tracks each member.
        let reminded = try Harness.run("sealpost", ["remind", "ops@hq", "--in", "1h", "rota", "--json", "--profile", alice])
        XCTAssertEqual(reminded.status, 0, reminded.stderr)
        let id = try XCTUnwrap(try json(reminded.lines[0])["id"] as? String)
        let seen = try Harness.run("sealpost", ["inbox", "--json", "--profile", carol]).lines.map(json)
        XCTAssertEqual(seen.first { $0["kind"] as? String == "reminder" }?["group"] as? String, "ops@hq")
        XCTAssertEqual(try Harness.run("sealpost", ["remind", "done", id, "--profile", carol]).status, 0)
        _ = try Harness.run("sealpost", ["inbox", "--profile", alice])
        let status = try json(try Harness.run("sealpost", ["remind", "status", id, "--json", "--profile", alice]).lines[0])
        XCTAssertEqual(status["done"] as? [String], ["carol@hq"])
        XCTAssertEqual(status["not_done"] as? [String], ["bob@hq"])
        XCTAssertEqual(try Harness.run("sealpost", ["remind", "cancel", id, "--profile", alice]).status, 0)
        XCTAssertEqual(node.stop(), 0)
    }

    /// Regression: `join --profile a` (a one-character relative path) crashed in Foundation.
    func testShortRelativeProfilePathWorks() throws {
        let (data, node) = try startNode()
        let code = try Harness.run("sealpost-node", ["invite", "--data", data, "a"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let joined = try Harness.run("sealpost", ["join", code, "--profile", "a"], cwd: root)
        XCTAssertEqual(joined.status, 0, joined.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/a"))
        let sent = try Harness.run("sealpost", ["send", "a@hq", "note to self", "--profile", "a"], cwd: root)
        XCTAssertEqual(sent.status, 0, sent.stderr)
        XCTAssertEqual(node.stop(), 0)
    }

    func testRunWithNoArgumentsStartsTheEmbeddedDefaultNode() throws {
        // Uses the documented default ports 7400/7401; skip if something holds them.
        let node = try NodeProcess(data: "", cwd: root)
        defer { _ = node.stop() }
        do { try node.waitUntilListening(timeout: 20) } catch {
            let text = (try? String(contentsOfFile: node.log, encoding: .utf8)) ?? ""
            if text.contains("Address already in use") { throw XCTSkip("default ports busy") }
            throw error
        }
        let config = try String(contentsOfFile: root + "/sealpost-data/node.yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("name: local"))
        let invite = try Harness.run("sealpost-node", ["invite", "bob"], cwd: root)
        XCTAssertEqual(invite.status, 0, invite.stderr)
        XCTAssertTrue(invite.stdout.hasPrefix("sp1-"))
    }
}
