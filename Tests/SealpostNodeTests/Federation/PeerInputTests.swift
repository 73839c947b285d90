import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// What a configured peer (or a client) sends that the node must survive: integers
/// out of range, relays it will never accept (acknowledged, so no link resends them
/// for good). Every test runs a real node and a `FakePeerNode` with a configured key.
final class PeerInputTests: XCTestCase {
    static let over: UInt64 = 1 << 63
    static let top: UInt64 = .max


    // MARK: integers of 2^63 or more (item 1a)

    func testRelayWithStreamSeqOver2p63IsRefusedNotCrashing() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        // Held for order (dest = hq, not the next number), journalled on the way (dest elsewhere), and 2^64 − 1.
        try fake.send(fake.relay(jid: 1, to: "bob@hq", streamSeq: Self.over))
        try fake.send(fake.relay(jid: 2, to: "x@elsewhere", streamSeq: Self.over))
        try fake.send(fake.relay(jid: 3, to: "bob@hq", streamSeq: Self.top))
        try fake.waitForAcks([1, 2, 3])
        XCTAssertTrue(try fake.pingAnswered(7), "the node still answers")
        XCTAssertGreaterThanOrEqual(try hq.counter(\.malformed), 3, "counted malformed")
        XCTAssertEqual(try hq.status().journal, 0, "nothing journalled")
        XCTAssertEqual(try hq.status().held, 0, "nothing held")
        XCTAssertEqual(try hq.counter(\.relayed), 0)
        XCTAssertEqual(try hq.waitingMessages(), 0, "nothing in the mailbox")
    }

    func testRelayedReminderWithDueAtOver2p63IsRefusedNotCrashing() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let sealed: [UInt8] = [9, 9, 9]
        try fake.send(fake.relay(jid: 1, to: "bob@hq", kind: .reminder, body: Reminder.body(dueAt: Self.over, sealed: sealed)))
        try fake.send(fake.relay(jid: 2, to: "x@elsewhere", kind: .reminder, body: Reminder.body(dueAt: Self.top, sealed: sealed)))
        // A burn's expiry and a file offer's size are clear fields too.
        try fake.send(fake.relay(jid: 3, to: "bob@hq", streamSeq: 1, kind: .burn, body: Burn.body(expiresAt: Self.over, images: 0, sealed: sealed)))
        try fake.send(fake.relay(jid: 4, to: "bob@hq", streamSeq: 1, kind: .file,
                                 body: FileOffer(fileId: MessageID(bytes: Sodium.randomBytes(16))!, cipherSize: Self.over, chunks: 1).body(sealed: sealed)))
        try fake.waitForAcks([1, 2, 3, 4])
        XCTAssertTrue(try fake.pingAnswered(8))
        XCTAssertGreaterThanOrEqual(try hq.counter(\.malformed), 4)
        XCTAssertEqual(try hq.status().journal, 0, "nothing journalled")
        XCTAssertEqual(try hq.status().reminders.pending, 0, "nothing scheduled")
        XCTAssertEqual(try hq.waitingMessages(), 0, "nothing in the mailbox")
        // The stream from fake still starts at 1: a good envelope gets through.
        try fake.send(fake.relay(jid: 5, to: "bob@hq", streamSeq: 1))
        try fake.waitForAcks([5])
        XCTAssertEqual(try hq.waitingMessages(), 1)
    }

    func testPeerU64FieldsOver2p63AreMalformedNotCrashing() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        // On our DEALER: PEER-PING, and a FILE-PULL whose size is out of range.
        try fake.send(.ping(sentNs: Self.over))
        try fake.send(.filePull(fileId: MessageID(bytes: Sodium.randomBytes(16))!, origin: "fake", size: Self.top, chunks: 1, from: 0, count: 1))
        // On the node's DEALER: PEER-PONG and RELAYED with jids out of range; on its SUB: ROUTES and SUMMARY.
        try fake.waitForNodeHello()
        try fake.answer(PeerCommand.pong(echoNs: Self.over).encode())
        try fake.answer(PeerCommand.relayed(jids: [Self.top]).encode())
        let before = try hq.counter(\.rejectedAnnouncements)
        for _ in 0..<20 {
            try fake.publish(PeerCommand.routes(node: "fake", seq: Self.over, entries: [
                RouteEntry(dest: "fake", signKey: fake.keys.sign.publicKey, directoryVersion: 1, path: []),
            ]).encode())
            try fake.publish(PeerCommand.routes(node: "fake", seq: 99, entries: [
                RouteEntry(dest: "fake", signKey: fake.keys.sign.publicKey, directoryVersion: Self.top, path: []),
            ]).encode())
            try fake.publish(PeerCommand.summary(node: "fake", seq: Self.over, json: Array("{}".utf8)).encode())
            try fake.serve(ms: 50)
        }
        XCTAssertTrue(try fake.pingAnswered(9))
        XCTAssertGreaterThanOrEqual(try hq.counter(\.malformed), 4)
        XCTAssertGreaterThan(try hq.counter(\.rejectedAnnouncements), before)
        let nodes = try AdminClient.federation(dataDir: hq.dir).nodes
        XCTAssertFalse(nodes.contains { $0.node == "fake" }, "no summary kept")
    }

    func testDirectorySnapshotWithVersionOver2p63IsRefusedNotCrashing() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        var entry = DirectoryEntry(address: "eve@fake", display: "Eve", boxKey: BoxKeyPair.generate().publicKey,
                                   signKey: SignKeyPair.generate().publicKey, updatedAt: 1)
        entry.sign(with: fake.keys.sign)
        var answered = 0
        let deadline = Clock.monotonicNs() + 20_000_000_000
        while answered < 2, Clock.monotonicNs() < deadline {
            try fake.announce(directoryVersion: 5)
            try fake.serve(ms: 200) { command, fromRouter in
                guard fromRouter, case .directoryRequest("fake") = command else { return }
                answered += 1
                let version = answered == 1 ? Self.over : Self.top
                // Signed by the fake's own key, as a home node signs its head: only the version is wrong.
                let signature = DirectoryHead(home: "fake", version: version, entries: [entry.encode()]).sign(with: fake.keys.sign)
                try fake.answer(PeerCommand.directorySnapshot(home: "fake", version: version, entries: [entry.encode()],
                                                              signature: signature).encode())
            }
        }
        XCTAssertEqual(answered, 2, "hq asked for the directory again: the snapshots were not applied")
        XCTAssertTrue(try fake.pingAnswered(10))
        XCTAssertGreaterThanOrEqual(try hq.counter(\.malformed), 2)
        XCTAssertEqual(try hq.status().users.federated, 0)
    }

    /// fake → traffic (honest) → district: the poison never enters traffic's journal, so it
    /// cannot reach district, and no restart of either replays it.
    func testPoisonedRelayNeverEntersAnHonestRelaysJournal() throws {
        let traffic = try TestNode("traffic"), district = try TestNode("district")
        try traffic.start()
        try district.start()
        try traffic.peer(with: district)
        let zhao = try Client(profile: try district.join("zhao"))
        defer { zhao.close() }
        try traffic.waitForRoute(to: "district")
        let fake = try FakePeerNode()
        try fake.configure(on: traffic)
        try fake.waitForNodeHello()
        try fake.send(fake.relay(jid: 1, to: "zhao@district", streamSeq: Self.over))
        try fake.send(fake.relay(jid: 2, to: "zhao@district", streamSeq: 1, kind: .reminder,
                                 body: Reminder.body(dueAt: Self.over, sealed: [1, 2, 3])))
        try fake.waitForAcks([1, 2])
        XCTAssertTrue(try fake.pingAnswered(11))
        XCTAssertEqual(try traffic.status().journal, 0, "the honest relay journalled nothing")
        XCTAssertEqual(try traffic.counter(\.relayed), 0, "and relayed nothing")
        XCTAssertGreaterThanOrEqual(try traffic.counter(\.malformed), 2)
        try traffic.restart()
        try district.restart()
        try district.waitForRoute(to: "traffic")
        XCTAssertEqual(try district.counter(\.malformed), 0)
        XCTAssertEqual(try district.waitingMessages(), 0)
    }

    /// A client's u64 fields out of range get ERROR 400; the node goes on.
    func testClientU64FieldsOver2p63GetErrorsNotCrashes() throws {
        let hq = try TestNode()
        try hq.start()
        let aliceProfile = try hq.join("alice")
        let alice = try Client(profile: aliceProfile)
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let raw = Socket.testDealer(endpoint: hq.endpoint, serverKey: hq.node!.publicKey, keys: aliceProfile.curve)
        var late = try alice.prepareText(to: Address("bob@hq")!, text: "x")
        late.sentAt = Self.over
        let frames: [[UInt8]] = [
            Command.ack(seq: Self.top).encode(),
            Command.send(late).encode(),
            Command.fileBegin(fileId: MessageID(bytes: Sodium.randomBytes(16))!, size: Self.over, chunks: 1).encode(),
        ]
        for frame in frames { try raw.send([frame], dontWait: false) }
        var errors = 0
        while errors < frames.count, let message = try raw.receiveWithin(ms: 2000) {
            if case .error(let code, _, _) = try Command.decode(message.frames[0]) {
                XCTAssertEqual(code, ErrorCode.badRequest.rawValue)
                errors += 1
            }
        }
        XCTAssertEqual(errors, frames.count, "each gets ERROR 400")
        // A reminder whose clear due time is 2^63: refused as a SEND.
        let sealedReminder = try alice.prepareReminder(to: Address("bob@hq")!, at: Clock.nowMs() + 60_000, text: "r")
        var reminder = sealedReminder
        reminder.body = Reminder.body(dueAt: Self.over, sealed: try Reminder.split(sealedReminder.body).sealed)
        XCTAssertThrowsError(try alice.store(reminder))
        let id = try alice.sendText(to: Address("bob@hq")!, text: "still here")
        XCTAssertEqual(try bob.receive(1).map(\.id), [id])
        XCTAssertEqual(try hq.status().reminders.pending, 0)
    }

    // MARK: final refusals are acknowledged (item 1c)

    func testRelayAtHopLimitIsAcknowledgedAndDropped() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.send(fake.relay(jid: 41, to: "x@elsewhere", hops: PeerCommand.maxHops))
        try fake.waitForAcks([41])
        XCTAssertEqual(try hq.counter(\.rejectedRelays), 1)
        XCTAssertEqual(try hq.status().journal, 0)
        // One that has arrived is delivered whatever its count: dropped, it would stop its
        // origin's stream for good (ReviewFindingsTests.testRelayAtHopLimitForThisNode…).
        try fake.send(fake.relay(jid: 42, to: "bob@hq", hops: 255))
        try fake.waitForAcks([42])
        XCTAssertEqual(try hq.counter(\.rejectedRelays), 1)
        XCTAssertEqual(try hq.waitingMessages(), 1, "delivered at its destination")
        // One hop under the limit is relayed.
        try fake.send(fake.relay(jid: 43, to: "x@elsewhere", hops: PeerCommand.maxHops - 1))
        try fake.waitForAcks([43])
        XCTAssertEqual(try hq.status().journal, 1)
    }

    func testRelayClaimingThisNodeAsOriginIsAcknowledgedAndDropped() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        // "From" bob, with a number of hq's own stream to elsewhere: it must not take that number.
        try fake.send(fake.relay(jid: 51, origin: "hq", to: "x@elsewhere", streamSeq: 1))
        try fake.waitForAcks([51])
        XCTAssertEqual(try hq.counter(\.rejectedRelays), 1)
        XCTAssertEqual(try hq.status().journal, 0, "not journalled again")
    }

    func testMalformedRelayIsAcknowledgedAndDropped() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let good = fake.relay(jid: 61, to: "bob@hq").encode()
        try fake.send(Array(good.dropLast(2)))                                   // truncated
        try fake.send(fake.relay(jid: 62, to: "bob@hq").encode() + [0])          // trailing byte
        try fake.send(fake.relay(jid: 63, origin: "hq", to: "bob@hq").encode())  // origin = dest
        try fake.waitForAcks([61, 62, 63])
        XCTAssertEqual(try hq.counter(\.malformed), 3)
        XCTAssertEqual(try hq.waitingMessages(), 0, "nothing in the mailbox")
    }

    func testForgedDueNoticeRelayIsAcknowledgedAndDropped() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let due = Reminder.Due(reminder: MessageID(bytes: Sodium.randomBytes(16))!, dueAt: 1, firedAt: 2, late: false)
        try fake.send(fake.relay(jid: 71, to: "bob@hq", kind: .reminderDue, body: due.encode()))
        try fake.waitForAcks([71])
        XCTAssertEqual(try hq.counter(\.rejectedRelays), 1)
        XCTAssertEqual(try hq.waitingMessages(), 0, "nothing in the mailbox")
    }

    /// The one refusal that is not final: a route not learned yet. Not acknowledged, so a
    /// later copy is accepted once the route is there.
    func testRelayForAnOriginNotRoutedIsNotAcknowledged() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.send(fake.relay(jid: 81, origin: "elsewhere", to: "bob@hq"))
        XCTAssertTrue(try fake.pingAnswered(12))
        try fake.serve(ms: 300)
        XCTAssertFalse(fake.acknowledged.contains(81))
        // Counted once the peer's routes are known or, as here where it announces none, within 5 s.
        try hq.waitFor("the refusal counted") { ($0.counters.rejectedRelays) == 1 }
        XCTAssertFalse(fake.acknowledged.contains(81))
    }
}
