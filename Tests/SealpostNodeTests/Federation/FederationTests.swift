import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// Real nodes peered on loopback: routing, the relay journal, the directory.
final class FederationTests: XCTestCase {
    /// Retries a lookup until the federated directory has reached the client's node.
    /// Sends `count` texts pipelined and waits for every STORED.
    func sendMany(_ client: Client, to: String, count: Int, prefix: String) throws -> [MessageID] {
        var ids: [MessageID] = []
        var stored = 0
        for i in 0..<count {
            let e = try client.prepareText(to: Address(to)!, text: "\(prefix) \(i)")
            ids.append(e.id)
            while try !client.submit(e) {
                if case .stored? = try client.next(timeoutMs: 100) { stored += 1 }
            }
            while let event = try client.next(timeoutMs: 0) { if case .stored = event { stored += 1 } }
        }
        while stored < count, let event = try client.next(timeoutMs: 10_000) {
            if case .stored = event { stored += 1 }
        }
        XCTAssertEqual(stored, count, "every send acknowledged by the home node")
        return ids
    }

    func testTwoUnitsChatEndToEndExactlyOnceInOrder() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }

        // The directory entry alice got for wu is signed by traffic's key, not hq's.
        let entry = try alice.lookup(Address("wu@traffic")!)
        XCTAssertTrue(entry.verify(nodeKey: try traffic.dir.loadKeys().sign.publicKey))
        XCTAssertFalse(entry.verify(nodeKey: try hq.dir.loadKeys().sign.publicKey))
        XCTAssertEqual(try alice.directory(query: "wu").map(\.address), ["wu@traffic"])

        let ids = try sendMany(alice, to: "wu@traffic", count: 500, prefix: "hi")
        let got = try wu.receive(500, timeoutMs: 20_000)
        XCTAssertEqual(got.count, 500)
        XCTAssertTrue(got.map(\.id) == ids, "in order, exactly once")
        XCTAssertEqual(Set(got.map(\.from)), ["alice@hq"])

        let reply = try wu.sendText(to: Address("alice@hq")!, text: "received")
        XCTAssertEqual(try alice.receive(1).map(\.id), [reply])

        XCTAssertThrowsError(try alice.sendText(to: Address("nobody@traffic")!, text: "x")) { error in
            XCTAssertTrue("\(error)".contains("no user 'nobody' on node 'traffic'"), "\(error)")
        }
        XCTAssertThrowsError(try alice.sendText(to: Address("x@mars")!, text: "x")) { error in
            XCTAssertTrue("\(error)".contains("not in this federation"), "\(error)")
        }
    }

    func testLineOfThreeRoutesThroughTheMiddleAndQueuesWhileItIsDown() throws {
        let district = try TestNode("district"), city = try TestNode("city"), province = try TestNode("province")
        for n in [district, city, province] { try n.start() }
        try district.peer(with: city)
        try city.peer(with: province)
        let li = try Client(profile: try district.join("li"))
        let zhao = try Client(profile: try province.join("zhao"))
        defer { li.close(); zhao.close() }
        try district.waitForRoute(to: "province")
        try waitUntilKnown(li, "zhao@province")
        let status = try district.status()
        let route = status.routes.first { $0.dest == "province" }
        XCTAssertEqual(route?.nextHop, "city")
        XCTAssertEqual(route?.path, ["city", "province"])

        var ids = try sendMany(li, to: "zhao@province", count: 200, prefix: "before")
        // The middle node goes down: envelopes wait in district's journal.
        city.stop()
        ids += try sendMany(li, to: "zhao@province", count: 300, prefix: "during")
        try district.waitFor("the journal to hold what cannot move") { $0.journal > 0 }
        try city.start()
        ids += try sendMany(li, to: "zhao@province", count: 200, prefix: "after")
        let got = try zhao.receive(700, timeoutMs: 30_000)
        XCTAssertEqual(got.count, 700)
        XCTAssertTrue(got.map(\.id) == ids, "in order, exactly once, across the outage")
        try district.waitFor("the journal to drain") { $0.journal == 0 }
        try city.waitFor("the journal to drain") { $0.journal == 0 }
    }

    func testRerouteWhenALinkGoesDownKeepsOrder() throws {
        // a—b—d and a—c—d: two equal paths; a uses b (name order), then b goes away.
        let a = try TestNode("a"), b = try TestNode("b"), c = try TestNode("c"), d = try TestNode("d")
        for n in [a, b, c, d] { try n.start() }
        try a.peer(with: b); try a.peer(with: c); try b.peer(with: d); try c.peer(with: d)
        let sender = try Client(profile: try a.join("s"))
        let receiver = try Client(profile: try d.join("r"))
        defer { sender.close(); receiver.close() }
        try a.waitFor("a route to d via b") { s in
            s.routes.contains { $0.dest == "d" && $0.nextHop == "b" }
        }
        try waitUntilKnown(sender, "r@d")
        var ids = try sendMany(sender, to: "r@d", count: 300, prefix: "one")
        b.stop()
        try a.waitFor("a route to d via c") { s in
            s.routes.contains { $0.dest == "d" && $0.nextHop == "c" }
        }
        ids += try sendMany(sender, to: "r@d", count: 300, prefix: "two")
        try b.start() // whatever b still held arrives late; d keeps the order
        let got = try receiver.receive(600, timeoutMs: 30_000)
        XCTAssertEqual(got.count, 600)
        XCTAssertTrue(got.map(\.id) == ids, "in order, exactly once, across re-routing")
    }

    func testUnconfiguredNodeIsRefusedAtTheHandshake() throws {
        let hq = try TestNode("hq"), stranger = try TestNode("stranger")
        try hq.start()
        try stranger.start()
        // Only the stranger lists hq; hq never configured the stranger's key.
        try Operator.addPeer(dataDir: stranger.dir, peer: PeerConfig(name: "hq", router: hq.endpoint, publish: hq.publishEndpoint,
                                                                     publicKey: try hq.dir.loadKeys().publicKeyText))
        try hq.waitFor("the stranger's key to be refused") { s in
            (s.counters.refusedKeys) >= 2
        }
        let seen = try stranger.status()
        let peer = seen.peers.first
        XCTAssertEqual(peer?.state, "unreachable")
        XCTAssertEqual(try hq.status().routes.count, 0)
    }

    func testForgedDirectorySnapshotIsRejectedAndChangesNothing() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let fake = try FakePeerNode(credit: 10)
        try Operator.addPeer(dataDir: hq.dir, peer: fake.peerConfig)
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }

        // A real user entry of "fake", then one for "fake" signed by some other key.
        var good = DirectoryEntry(address: "eve@fake", display: "Eve", boxKey: BoxKeyPair.generate().publicKey,
                                  signKey: SignKeyPair.generate().publicKey, updatedAt: 1)
        good.sign(with: fake.keys.sign)
        var forged = DirectoryEntry(address: "boss@fake", display: "Boss", boxKey: BoxKeyPair.generate().publicKey,
                                    signKey: SignKeyPair.generate().publicKey, updatedAt: 1)
        forged.sign(with: SignKeyPair.generate())
        var answeredBad = false, answeredGood = false
        fake.directoryVersion = 2
        fake.onDirectoryRequest = { [unowned fake] home in
            guard home == "fake", !answeredGood else { return nil }
            if !answeredBad {
                // First answer: one good entry and one forged: the whole snapshot must be refused.
                let entries = [good.encode(), forged.encode()]
                answeredBad = true
                fake.directoryVersion = 3
                return .directorySnapshot(home: "fake", version: 2, entries: entries,
                                          signature: DirectoryHead(home: "fake", version: 2, entries: entries).sign(with: fake.keys.sign))
            }
            let entries = [good.encode()]
            answeredGood = true
            return .directorySnapshot(home: "fake", version: 3, entries: entries,
                                      signature: DirectoryHead(home: "fake", version: 3, entries: entries).sign(with: fake.keys.sign))
        }
        _ = try fake.serve(until: { answeredGood }, timeoutMs: 20_000)
        XCTAssertTrue(answeredBad && answeredGood, "hq asked for the directory twice")
        try hq.waitFor("the good snapshot") { ($0.users.federated) == 1 }
        XCTAssertGreaterThanOrEqual(try hq.counter(\.rejectedSnapshots), 1, "the forged snapshot was counted")
        XCTAssertEqual(try bob.directory().map(\.address), ["bob@hq", "eve@fake"], "nothing of the forged snapshot was kept")
        XCTAssertThrowsError(try bob.lookup(Address("boss@fake")!))
    }

    func testPeerCannotInjectForOtherNodesNorCorruptRoutes() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let fake = try FakePeerNode()
        // hq's DEALER is sent nowhere: the fake speaks on its own DEALER and its PUB only.
        try Operator.addPeer(dataDir: hq.dir, peer: PeerConfig(name: "fake", router: "tcp://127.0.0.1:1", publish: fake.publishEndpoint,
                                                               publicKey: Z85.encode(fake.keys.curve.publicKey)))
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }
        try hq.waitFor("the fake peer to be configured") { $0.peers.count == 1 }
        try fake.connect(to: hq)
        try fake.send(.hello(node: "fake", signKey: fake.keys.sign.publicKey, credit: 10, epoch: 0, labels: LabelSet.standard.digest))

        // An envelope claiming to come from a node the fake does not route for.
        let forged = Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "mallory@elsewhere", to: "bob@hq",
                              kind: 1, sentAt: Clock.nowMs(), body: [1, 2, 3])
        try fake.send(.relay(jid: 1, origin: "elsewhere", dest: "hq", streamSeq: 1, hops: 0, envelope: forged, epoch: 0))
        try hq.waitFor("the forged relay to be rejected") { s in
            (s.counters.rejectedRelays) >= 1
        }

        // Announcements: garbage, one sent in another node's name, one with a looping path.
        let before = try hq.counter(\.rejectedAnnouncements)
        let deadline = Clock.monotonicNs() + 10_000_000_000
        var after = before
        while after < before + 3, Clock.monotonicNs() < deadline {
            try fake.publish([0xAA, 0x5C, 0x01, 0x25, 0xFF])
            try fake.publish(PeerCommand.routes(node: "hq", seq: 1, entries: []).encode())
            var looping = PeerCommand.routes(node: "fake", seq: 2, entries: [
                RouteEntry(dest: "fake", signKey: fake.keys.sign.publicKey, directoryVersion: 0, path: []),
            ]).encode()
            looping[looping.count - 1] = 0x7F // corrupt the hops count of the last entry
            try fake.publish(looping)
            usleep(200_000)
            after = try hq.counter(\.rejectedAnnouncements)
        }
        XCTAssertGreaterThanOrEqual(after, before + 3, "malformed announcements are counted")
        let routes = try hq.status().routes
        XCTAssertFalse(routes.contains { $0.dest == "elsewhere" })
        XCTAssertEqual(try bob.drain(ms: 300).count, 0, "nothing forged was delivered")
    }
}
