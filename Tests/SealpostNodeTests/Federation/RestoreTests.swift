import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import XCTest

/// Backup and restore across a federation: a restored node starts a new stream
/// epoch, its peers reset what they expect from it and send again what they kept
/// for it, and nothing that crossed a link is lost or held for good.
final class RestoreTests: XCTestCase {
    func send(_ client: Client, to: String, _ texts: [String]) throws -> [MessageID] {
        try texts.map { try client.sendText(to: Address(to)!, text: $0) }
    }

    /// What a person sees, as `sealpost inbox` shows it: deliveries whose id the device showed
    /// before (its SeenLog) are not shown again. Waits for `count` new ones, then acknowledges
    /// everything delivered.
    func shown(_ client: Client, _ count: Int, seen: inout Set<MessageID>, timeoutMs: Int = 15_000, settle: Bool = true) throws -> [String] {
        try client.attach()
        var out: [String] = [], last: UInt64 = 0
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while out.count < count, Clock.monotonicNs() < deadline {
            guard case .message(let m)? = try client.next(timeoutMs: 100) else { continue }
            last = max(last, m.seq)
            if seen.insert(m.id).inserted { out.append(m.text) }
        }
        // Repeats still on their way are shown to nobody, and acknowledged too.
        let settleUntil = Clock.monotonicNs() + (settle ? 300_000_000 : 0)
        while Clock.monotonicNs() < settleUntil {
            guard case .message(let m)? = try client.next(timeoutMs: 50) else { continue }
            last = max(last, m.seq)
            if seen.insert(m.id).inserted { out.append(m.text) }
        }
        if last > 0 { try client.ack(last) }
        try client.flush()
        return out
    }

    func restoreCounter(_ node: TestNode, _ key: KeyPath<NodeStatus.Restore, Int>) throws -> Int {
        try node.status().restore[keyPath: key]
    }

    /// Before: after the restore, hq's new envelopes were dropped by traffic as repeats (its
    /// stream counter went back with the database), and traffic's new envelopes were held by hq
    /// for good (waiting for numbers hq had received after the backup and lost).
    func testRestoredNodeGetsBackWhatCrossedTheLinkAndBothStreamsGoOn() throws {
        let (hq, traffic, alice0, wu) = try twoUnits()
        defer { wu.close() }
        var aliceSeen = Set<MessageID>(), wuSeen = Set<MessageID>()

        // Before the backup: both ways, everything read.
        _ = try send(alice0, to: "wu@traffic", ["a1", "a2", "a3"])
        _ = try send(wu, to: "alice@hq", ["w1", "w2", "w3"])
        XCTAssertEqual(try shown(wu, 3, seen: &wuSeen), ["a1", "a2", "a3"])
        XCTAssertEqual(try shown(alice0, 3, seen: &aliceSeen), ["w1", "w2", "w3"])

        let backup = hq.root + "/backup"
        let summary = try Backup.backup(dataDir: hq.dir, to: backup)
        XCTAssertEqual(summary.node, "hq")
        XCTAssertTrue(FileManager.default.fileExists(atPath: backup + "/backup.json"))

        // After the backup: both ways again. alice reads two of five; three wait in her mailbox.
        _ = try send(alice0, to: "wu@traffic", ["b1", "b2", "b3", "b4", "b5"])
        XCTAssertEqual(try shown(wu, 5, seen: &wuSeen), ["b1", "b2", "b3", "b4", "b5"])
        _ = try send(wu, to: "alice@hq", ["c1", "c2", "c3", "c4", "c5"])
        XCTAssertEqual(try shown(alice0, 2, seen: &aliceSeen, settle: false), ["c1", "c2"])
        try traffic.waitFor("wu's acknowledgements") { ($0.waiting.messages) == 0 }
        // Someone enrolled after the backup: the restore loses them, and the other unit forgets them too.
        let late = try Client(profile: try hq.join("late"))
        late.close()
        try waitUntilKnown(wu, "late@hq")
        try hq.waitFor("hq's journal to drain") { $0.journal == 0 }
        try traffic.waitFor("traffic's journal to drain and keep what it relayed") { s in
            s.journal == 0 && (s.restore.retained) >= 5
        }
        alice0.close()

        // hq loses its disk: the backup goes back in.
        hq.stop()
        XCTAssertThrowsError(try Backup.restore(from: backup, into: traffic.dir)) // another node's data dir
        let restored = try Backup.restore(from: backup, into: hq.dir)
        XCTAssertNotNil(restored.movedAside)
        XCTAssertGreaterThan(restored.epoch ?? 0, 0)
        try hq.start()
        let alice = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        defer { alice.close() }
        try traffic.waitFor("traffic to send again what it kept for hq") { s in
            (s.restore.resent) >= 5
        }

        // Traffic after the restore, both ways.
        _ = try send(alice, to: "wu@traffic", ["d1", "d2", "d3"])
        XCTAssertEqual(try shown(wu, 3, seen: &wuSeen), ["d1", "d2", "d3"],
                       "hq's new epoch: traffic does not drop its envelopes as repeats")
        _ = try send(wu, to: "alice@hq", ["e1", "e2", "e3"])
        // c1 and c2 come again (the device already showed them), c3–c5 are back, then e1–e3.
        XCTAssertEqual(try shown(alice, 6, seen: &aliceSeen), ["c3", "c4", "c5", "e1", "e2", "e3"],
                       "what crossed the link since the backup is back, in order, nothing shown twice")
        try hq.waitFor("alice's mailbox to be empty") { ($0.waiting.messages) == 0 }
        try traffic.waitFor("wu's mailbox to be empty") { ($0.waiting.messages) == 0 }
        XCTAssertEqual(try shown(wu, 0, seen: &wuSeen), [], "nothing more for wu")
        XCTAssertEqual(try shown(alice, 0, seen: &aliceSeen), [], "nothing more for alice")
        for node in [hq, traffic] {
            XCTAssertEqual(try node.status().held, 0, "\(node.name): nothing held for good")
            XCTAssertEqual(try restoreCounter(node, \.lost), 0, node.name)
        }
        XCTAssertNotNil(try hq.status().restore.restoredAt)

        // The directory: the person lost in the restore goes from traffic's copy, one enrolled now arrives.
        let carol = try Client(profile: try hq.join("carol"))
        defer { carol.close() }
        try waitUntilKnown(wu, "carol@hq")
        XCTAssertThrowsError(try wu.lookupItem(Address("late@hq")!), "gone from traffic's copy of hq's directory")
    }

    /// The middle node of a line of three is restored: what its neighbours kept comes back
    /// (for its own people, and through it for the others, who drop it as repeats).
    func testRestoredMiddleNodeOfThreeGetsBackItsOwnAndPassesNothingTwice() throws {
        let (nodes, alice0, bob, wu0, zhao) = try threeUnits()
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        defer { bob.close(); zhao.close() }
        var aliceSeen = Set<MessageID>(), wuSeen = Set<MessageID>(), zhaoSeen = Set<MessageID>()
        _ = try send(alice0, to: "zhao@district", ["a1", "a2"])
        XCTAssertEqual(try shown(zhao, 2, seen: &zhaoSeen), ["a1", "a2"])
        let backup = traffic.root + "/backup"
        _ = try Backup.backup(dataDir: traffic.dir, to: backup)

        // Through traffic both ways, and to traffic's own wu, who reads one of three.
        _ = try send(alice0, to: "zhao@district", ["b1", "b2", "b3"])
        XCTAssertEqual(try shown(zhao, 3, seen: &zhaoSeen), ["b1", "b2", "b3"])
        _ = try send(zhao, to: "alice@hq", ["y1", "y2", "y3"])
        XCTAssertEqual(try shown(alice0, 3, seen: &aliceSeen), ["y1", "y2", "y3"])
        _ = try send(alice0, to: "wu@traffic", ["m1", "m2", "m3"])
        XCTAssertEqual(try shown(wu0, 1, seen: &wuSeen, settle: false), ["m1"])
        for n in nodes { try n.waitFor("\(n.name)'s journal to drain") { $0.journal == 0 } }
        wu0.close()
        alice0.close()

        traffic.stop()
        _ = try Backup.restore(from: backup, into: traffic.dir)
        try traffic.start()
        let alice = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        let wu = try Client(profile: try Profile.load(from: traffic.profilePath("wu")))
        defer { alice.close(); wu.close() }
        for n in [hq, district] {
            try n.waitFor("\(n.name) to send again what it kept for traffic") { s in
                (s.restore.resent) >= 3
            }
        }
        _ = try send(alice, to: "wu@traffic", ["m4"])
        XCTAssertEqual(try shown(wu, 3, seen: &wuSeen), ["m2", "m3", "m4"], "what crossed hq's link to traffic is back, in order")
        _ = try send(alice, to: "zhao@district", ["c1"])
        _ = try send(zhao, to: "alice@hq", ["x1"])
        XCTAssertEqual(try shown(zhao, 1, seen: &zhaoSeen), ["c1"], "the copies traffic passed again are dropped as repeats")
        XCTAssertEqual(try shown(alice, 1, seen: &aliceSeen), ["x1"])
        for n in nodes {
            try n.waitFor("\(n.name): mailboxes empty") { ($0.waiting.messages) == 0 }
            XCTAssertEqual(try n.status().held, 0, "\(n.name): nothing held for good")
            XCTAssertEqual(try restoreCounter(n, \.lost), 0, n.name)
        }
        XCTAssertGreaterThan(try district.counter(\.duplicates) + hq.counter(\.duplicates), 0, "the resent transit copies were repeats")
    }

    /// Before: held for order for good. Now a gap no peer can fill (here hq keeps nothing,
    /// relay_retention_hours 0) is given up after the grace time and counted by stream.
    func testWhatNoPeerKeptIsCountedByStreamNotHeldForGood() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try hq.start { $0.relayRetentionHours = 0 }
        try traffic.start()
        try hq.peer(with: traffic)
        let alice = try Client(profile: try hq.join("alice"))
        let wu0 = try Client(profile: try traffic.join("wu"))
        defer { alice.close() }
        try waitUntilKnown(alice, "wu@traffic")
        var wuSeen = Set<MessageID>()
        _ = try send(alice, to: "wu@traffic", ["a1"])
        XCTAssertEqual(try shown(wu0, 1, seen: &wuSeen), ["a1"])
        let backup = traffic.root + "/backup"
        _ = try Backup.backup(dataDir: traffic.dir, to: backup)
        _ = try send(alice, to: "wu@traffic", ["b1", "b2", "b3"])
        XCTAssertEqual(try shown(wu0, 3, seen: &wuSeen), ["b1", "b2", "b3"])
        try hq.waitFor("hq's journal to drain") { $0.journal == 0 }
        wu0.close()

        traffic.stop()
        _ = try Backup.restore(from: backup, into: traffic.dir)
        try traffic.start { $0.restoreGapGraceMs = 500 }
        let wu = try Client(profile: try Profile.load(from: traffic.profilePath("wu")))
        defer { wu.close() }
        _ = try send(alice, to: "wu@traffic", ["c1", "c2"])
        XCTAssertEqual(try shown(wu, 2, seen: &wuSeen, timeoutMs: 20_000), ["c1", "c2"], "delivered once the gap is given up")
        let restore = try traffic.status().restore
        XCTAssertEqual(restore.lostByStream, ["hq": 3], "b1–b3 were lost with traffic's disk: counted")
        XCTAssertEqual(try traffic.status().held, 0)
        traffic.stop()
        try traffic.start()
        XCTAssertEqual(try traffic.status().restore.lost, 3, "kept across restarts")
    }

    /// A relay restored from a backup had taken over envelopes it never passed on, and nobody
    /// kept them (hq's retention is 0): the destination, not restored itself, gives the gap up
    /// and counts it instead of holding every later envelope of that stream for good.
    func testGapLeftByARestoredRelayIsGivenUpAtTheDestinationNotHeldForGood() throws {
        let (nodes, alice, bob, wu, zhao0) = try threeUnits()
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        defer { alice.close(); bob.close(); wu.close() }
        var zhaoSeen = Set<MessageID>()
        hq.stop()
        try hq.start { $0.relayRetentionHours = 0 }
        try hq.waitForRoute(to: "district")
        _ = try send(alice, to: "zhao@district", ["a1"])
        XCTAssertEqual(try shown(zhao0, 1, seen: &zhaoSeen), ["a1"])
        zhao0.close()
        let backup = traffic.root + "/backup"
        _ = try Backup.backup(dataDir: traffic.dir, to: backup)
        // district is down: traffic takes b1–b3 over from hq (RELAYED) and keeps them in its journal.
        district.stop()
        _ = try send(alice, to: "zhao@district", ["b1", "b2", "b3"])
        try traffic.waitFor("traffic to hold b1–b3 for district") { $0.journal == 3 }
        try hq.waitFor("hq's journal to drain") { $0.journal == 0 }
        // traffic loses its disk.
        traffic.stop()
        _ = try Backup.restore(from: backup, into: traffic.dir)
        try traffic.start()
        try district.start { $0.restoreGapGraceMs = 500 }
        let zhao = try Client(profile: try Profile.load(from: district.profilePath("zhao")))
        defer { zhao.close() }
        try district.waitForRoute(to: "hq")
        _ = try send(alice, to: "zhao@district", ["c1"])
        XCTAssertEqual(try shown(zhao, 1, seen: &zhaoSeen, timeoutMs: 20_000), ["c1"], "c1 is not held behind what was lost")
        let restore = try district.status().restore
        XCTAssertEqual(restore.lostByStream, ["hq": 3], "b1–b3: counted by stream")
        XCTAssertEqual(try district.status().held, 0)
    }

    /// Before: ROUTES and SUMMARY seqs were `start_ms << 20 + n`, so a node whose clock went
    /// back was ignored by its peers. Now a durable counter: here it is set back by hand (as a
    /// restore or a copied database would), and the restarted node is still heard at once.
    func testNodeWhoseAnnouncementCounterWentBackIsStillHeardAfterARestart() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        hq.stop()
        let store = try NodeStore(path: hq.dir.databasePath)
        let before = try XCTUnwrap(store.meta("announce_seq"))
        XCTAssertGreaterThan(before, 1 << 40, "an upgraded node starts from its clock, above what peers remember")
        try store.setMeta("announce_seq", 1)
        store.close()
        try hq.start()
        // A user enrolled after the restart reaches the other side's directory: the
        // announcement carrying hq's new directory version is accepted.
        let carol = try Client(profile: try hq.join("carol"))
        defer { carol.close() }
        try waitUntilKnown(wu, "carol@hq")
        XCTAssertNoThrow(try wu.lookup(Address("carol@hq")!))
        let after = try XCTUnwrap(NodeStore(path: hq.dir.databasePath, readOnly: true).meta("announce_seq"))
        XCTAssertGreaterThan(after, 1, "the counter is reserved ahead, durably")
        _ = traffic
    }
}
