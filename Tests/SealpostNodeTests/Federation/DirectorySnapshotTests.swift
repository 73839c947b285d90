import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// A peer must not be able to wipe or freeze another node's part of the directory
/// (issue 10, item 1b): DIR-SNAPSHOT only when asked, only from the next hop, only
/// with the home node's signature over version and entry set; and the operator's
/// `directory forget` and `directory unpin` on a running node.
final class DirectorySnapshotTests: XCTestCase {
    /// A user entry of `address`, signed by its home node's key.
    func entry(_ address: String, home: SignKeyPair) -> [UInt8] {
        var e = DirectoryEntry(address: address, display: address, boxKey: BoxKeyPair.generate().publicKey,
                               signKey: SignKeyPair.generate().publicKey, updatedAt: Clock.nowMs())
        e.sign(with: home)
        return e.encode()
    }

    /// A DIR-SNAPSHOT whose head is signed by `signer`.
    func snapshot(_ home: String, version: UInt64, _ entries: [[UInt8]], signedBy signer: SignKeyPair) -> PeerCommand {
        .directorySnapshot(home: home, version: version, entries: entries,
                           signature: DirectoryHead(home: home, version: version, entries: entries).sign(with: signer))
    }

    /// Whether the client's node knows `address` now (asked every time: `lookup` keeps what it saw).
    func listed(_ client: Client, _ address: String) -> Bool {
        (try? client.lookupItem(Address(address)!)) != nil
    }

    /// Waits until the client's node knows (or, with `known` false, no longer knows) `address`.
    func waitUntilListed(_ client: Client, _ address: String, known: Bool = true, timeout: Double = 20) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
        var pause = PollPause(upTo: 0.1)
        while listed(client, address) != known {
            guard Clock.monotonicNs() < deadline else { return XCTFail("\(address) \(known ? "never reached" : "never left") the directory") }
            pause.sleep()
        }
    }

    func federated(_ node: TestNode) -> Int {
        (try? node.status().users.federated) ?? -1
    }

    func hasRoute(_ node: TestNode, to dest: String) -> Bool {
        ((try? node.status().routes) ?? []).contains { $0.dest == dest }
    }

    /// hq with one user and the fake neighbour as its peer, announcing `ghost` (a node only it reaches).
    /// The route comes at version 0 (nothing to ask for); `ghostVersion` is announced from the
    /// test's next `fake.run`, so hq's first DIR-REQ finds the answer the test set up (one asked
    /// during this set-up went unanswered and was asked again only after its timeout).
    func hqWithFake(ghostVersion: UInt64) throws -> (hq: TestNode, fake: FakePeerNode, ghost: SignKeyPair, bob: Client) {
        let hq = try TestNode("hq")
        try hq.start()
        let bob = try Client(profile: try hq.join("bob"))
        let fake = try FakePeerNode(credit: 10)
        let ghost = SignKeyPair.generate()
        fake.routes = [RouteEntry(dest: "ghost", signKey: ghost.publicKey, directoryVersion: 0, path: ["ghost"])]
        try Operator.addPeer(dataDir: hq.dir, peer: fake.peerConfig)
        try fake.run("hq to route to ghost through the fake") { fake.nodeRouting != nil && hasRoute(hq, to: "ghost") }
        XCTAssertEqual(fake.requests, [], "nothing to ask for at version 0")
        fake.routes = [RouteEntry(dest: "ghost", signKey: ghost.publicKey, directoryVersion: ghostVersion, path: ["ghost"])]
        return (hq, fake, ghost, bob)
    }

    // MARK: only when asked, only from the next hop

    /// The attack of issue 10: a peer sends, unasked, a DIR-SNAPSHOT for a node it is
    /// not the way to, with a made-up higher version and no entries. It used to wipe
    /// that node's users for good (across restarts and the peer's removal) and make
    /// every later real update look old.
    func testUnsolicitedEmptySnapshotForAnotherNodeDoesNotWipeItsUsers() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let fake = try FakePeerNode(credit: 10)
        try Operator.addPeer(dataDir: hq.dir, peer: fake.peerConfig)
        try fake.run("hq to connect to the fake") { fake.nodeRouting != nil }
        XCTAssertEqual(try hq.counter(\.rejectedSnapshots), 0, "the real directory exchange refused nothing")

        let made = [UInt64.max >> 1, 1_000_000]
        for version in made {
            // Unsigned, and signed with the fake's own key (it has no other).
            try fake.answer(.directorySnapshot(home: "traffic", version: version, entries: [], signature: DirectoryHead.noSignature))
            try fake.answer(snapshot("traffic", version: version, [], signedBy: fake.keys.sign))
        }
        try fake.run("the snapshots to be refused") { try hq.counter(\.rejectedSnapshots) >= 4 }
        XCTAssertTrue(listed(alice, "wu@traffic"), "traffic's users are still known")

        // Still there once the fake is gone and hq restarted.
        try Operator.removePeer(dataDir: hq.dir, name: "fake")
        try hq.waitFor("the fake to be removed") { $0.peers.count == 1 }
        try hq.restart()
        try hq.waitFor("hq to reconnect to traffic") { s in
            s.peers.first?.state == "connected"
        }
        XCTAssertTrue(listed(alice, "wu@traffic"), "still known after a restart")

        // A real later update of traffic still gets through.
        let li = try Client(profile: try traffic.join("li"))
        defer { li.close() }
        try waitUntilListed(alice, "li@traffic")
        XCTAssertEqual(try alice.directory(query: "").map(\.address).filter { $0.hasSuffix("@traffic") }, ["li@traffic", "wu@traffic"])
    }

    /// A correctly signed snapshot that hq never asked for is dropped and counted.
    func testSnapshotThatWasNotAskedForIsNotApplied() throws {
        // Version 0 announced: hq has no reason to ask.
        let (hq, fake, ghost, bob) = try hqWithFake(ghostVersion: 0)
        defer { bob.close() }
        try fake.answer(snapshot("ghost", version: 5, [entry("casper@ghost", home: ghost)], signedBy: ghost))
        try fake.run("the snapshot to be refused") { try hq.counter(\.rejectedSnapshots) >= 1 }
        XCTAssertEqual(fake.requests, [], "hq asked for nothing")
        XCTAssertEqual(federated(hq), 0)
        XCTAssertFalse(listed(bob, "casper@ghost"))
    }

    /// An answer to hq's own DIR-REQ, from the peer it asked, that arrives after that
    /// peer stopped being the way to the home node.
    func testSnapshotFromAPeerThatIsNoLongerTheNextHopIsNotApplied() throws {
        let (hq, fake, ghost, bob) = try hqWithFake(ghostVersion: 2)
        defer { bob.close() }
        try fake.run("hq to ask for ghost's directory") { fake.requests.contains("ghost") }
        fake.routes = []
        try fake.run("the route to ghost to go") { !hasRoute(hq, to: "ghost") }
        try fake.answer(snapshot("ghost", version: 2, [entry("casper@ghost", home: ghost)], signedBy: ghost))
        try fake.run("the snapshot to be refused") { try hq.counter(\.rejectedSnapshots) >= 1 }
        XCTAssertEqual(federated(hq), 0)
    }

    // MARK: the home node's signature over version and entry set

    /// Every entry is genuine, but the head (version + entry set) is not signed by
    /// the home node: refused. The home node's own updates, removals included, apply.
    func testSnapshotWithABadSignatureIsRefusedAndTheHomesOwnUpdatesApply() throws {
        let (hq, fake, ghost, bob) = try hqWithFake(ghostVersion: 2)
        defer { bob.close() }
        let casper = entry("casper@ghost", home: ghost), wendy = entry("wendy@ghost", home: ghost)
        var answers = 0
        fake.onDirectoryRequest = { home in
            answers += 1
            switch answers {
            case 1: return self.snapshot(home, version: 2, [casper, wendy], signedBy: fake.keys.sign)
            case 2: return .directorySnapshot(home: home, version: 2, entries: [casper, wendy], signature: DirectoryHead.noSignature)
            default: return self.snapshot(home, version: 2, [casper, wendy], signedBy: ghost)
            }
        }
        try fake.run("the signed snapshot to be applied") { federated(hq) == 2 }
        XCTAssertEqual(answers, 3)
        XCTAssertEqual(try hq.counter(\.rejectedSnapshots), 2, "both badly signed snapshots were counted")
        XCTAssertTrue(listed(bob, "wendy@ghost"))

        // A removal, signed by ghost: wendy goes.
        fake.routes = [RouteEntry(dest: "ghost", signKey: ghost.publicKey, directoryVersion: 3, path: ["ghost"])]
        fake.onDirectoryRequest = { home in self.snapshot(home, version: 3, [casper], signedBy: ghost) }
        try fake.run("the removal to be applied") { federated(hq) == 1 }
        XCTAssertFalse(listed(bob, "wendy@ghost"))
        XCTAssertTrue(listed(bob, "casper@ghost"))
        // An older version, even well signed, changes nothing.
        fake.routes = [RouteEntry(dest: "ghost", signKey: ghost.publicKey, directoryVersion: 4, path: ["ghost"])]
        fake.onDirectoryRequest = { home in self.snapshot(home, version: 2, [casper, wendy], signedBy: ghost) }
        try fake.run("hq to ask again") { fake.requests.count >= 6 }
        XCTAssertEqual(federated(hq), 1)
    }

    // MARK: operators

    /// After `directory forget`, the version held stays a floor (kept across a restart): the
    /// next hop cannot bring back an older, validly signed snapshot (here one that still lists
    /// wendy, whom ghost withdrew); the current one is taken fresh.
    func testAfterDirectoryForgetAnOlderSnapshotIsNotAcceptedAgain() throws {
        let (hq, fake, ghost, bob) = try hqWithFake(ghostVersion: 3)
        defer { bob.close() }
        let casper = entry("casper@ghost", home: ghost), wendy = entry("wendy@ghost", home: ghost)
        fake.onDirectoryRequest = { home in self.snapshot(home, version: 3, [casper, wendy], signedBy: ghost) }
        try fake.run("version 3 to be applied") { federated(hq) == 2 }
        fake.routes = [RouteEntry(dest: "ghost", signKey: ghost.publicKey, directoryVersion: 4, path: ["ghost"])]
        fake.onDirectoryRequest = { home in self.snapshot(home, version: 4, [casper], signedBy: ghost) }
        try fake.run("version 4 (wendy withdrawn) to be applied") { federated(hq) == 1 }

        let answer = try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-forget", "node": "ghost"])
        XCTAssertEqual(answer["version_forgotten"] as? Int, 4)
        hq.stop()
        try hq.start()
        let rejected = try hq.counter(\.rejectedSnapshots)
        fake.onDirectoryRequest = { home in self.snapshot(home, version: 3, [casper, wendy], signedBy: ghost) }
        try fake.run("the replayed version 3 to be refused") { try hq.counter(\.rejectedSnapshots) > rejected }
        XCTAssertEqual(federated(hq), 0)
        XCTAssertFalse(listed(bob, "wendy@ghost"), "a withdrawn entry does not come back")
        fake.onDirectoryRequest = { home in self.snapshot(home, version: 4, [casper], signedBy: ghost) }
        try fake.run("the current version 4 to be taken fresh") { federated(hq) == 1 }
        XCTAssertTrue(listed(bob, "casper@ghost"))
        XCTAssertFalse(listed(bob, "wendy@ghost"))
    }

    func testDirectoryForgetOnARunningNodeDropsTheCopyAndTakesItFresh() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        _ = traffic
        let answer = try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-forget", "node": "traffic"])
        XCTAssertEqual(answer["node"] as? String, "traffic")
        XCTAssertEqual(answer["entries_removed"] as? Int, 1)
        XCTAssertGreaterThanOrEqual(answer["version_forgotten"] as? Int ?? 0, 1)
        // Taken again from the next hop.
        try waitUntilListed(alice, "wu@traffic")
        let list = try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-list"])["nodes"] as? [[String: Any]] ?? []
        XCTAssertEqual(list.first?["node"] as? String, "traffic")
        XCTAssertEqual(list.first?["entries"] as? Int, 1)
        XCTAssertEqual(list.first?["sign_key"] as? String, Hex.encode(try traffic.dir.loadKeys().sign.publicKey))

        XCTAssertThrowsError(try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-forget", "node": "mars"])) { error in
            XCTAssertTrue("\(error)".contains("holds nothing of 'mars'"), "\(error)")
        }
        XCTAssertThrowsError(try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-forget", "node": "hq"]))
        XCTAssertThrowsError(try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-unpin", "node": "traffic"])) { error in
            XCTAssertTrue("\(error)".contains("configured peer"), "\(error)")
        }
    }

    /// district, two hops from hq, is rebuilt with new keys: hq keeps the old pin and
    /// ignores the new district (key conflict) until its operator unpins it.
    func testRebuiltNeighbourWithANewKeyIsAcceptedAfterUnpin() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { alice.close(); bob.close(); wu.close(); zhao.close() }
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        let oldKey = try district.dir.loadKeys().sign.publicKey
        district.stop()
        let rebuilt = try TestNode("district")
        try rebuilt.start()
        try Operator.removePeer(dataDir: traffic.dir, name: "district")
        try traffic.peer(with: rebuilt)
        let qian = try Client(profile: try rebuilt.join("qian"))
        defer { qian.close() }
        try waitUntilKnown(wu, "qian@district")
        try hq.waitFor("the new key to conflict with hq's pin") { s in
            (s.counters.keyConflicts) > 0
        }
        XCTAssertFalse(listed(alice, "qian@district"))

        let answer = try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-unpin", "node": "district"])
        XCTAssertEqual(answer["unpinned_sign_key"] as? String, Hex.encode(oldKey))
        XCTAssertEqual(answer["entries_removed"] as? Int, 1, "zhao's old entry went with the old key")
        try waitUntilListed(alice, "qian@district")
        XCTAssertFalse(listed(alice, "zhao@district"))
        let list = try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-list"])["nodes"] as? [[String: Any]] ?? []
        XCTAssertEqual(list.first { $0["node"] as? String == "district" }?["sign_key"] as? String,
                       Hex.encode(try rebuilt.dir.loadKeys().sign.publicKey), "the new key is pinned")
        try waitUntilKnown(qian, "alice@hq")
        let id = try alice.sendText(to: Address("qian@district")!, text: "welcome back")
        XCTAssertEqual(try qian.receive(1).map(\.id), [id])
    }
}
