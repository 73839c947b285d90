import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// SPEC 13.8: an origin whose stream this node followed without an epoch, and whose HELLO
/// then shows a new epoch (it was restored), numbers from 1 again in it: its new RELAYs are
/// delivered, not dropped as repeats of the old numbers.
final class EpochResetTests: XCTestCase {
    func envelope(from fake: FakePeerNode) -> Envelope {
        Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "mallory@\(fake.name)", to: "bob@hq",
                 kind: EnvelopeKind.text.rawValue, sentAt: Clock.nowMs(), body: [1, 2, 3])
    }

    func relay(_ fake: FakePeerNode, jid: UInt64, seq: UInt64, epoch: UInt64) -> PeerCommand {
        .relay(jid: jid, origin: fake.name, dest: "hq", streamSeq: seq, hops: 0, envelope: envelope(from: fake), epoch: epoch)
    }

    func waiting(_ s: NodeStatus) -> Int { s.waiting.messages }

    func testOriginFollowedWithoutAnEpochWhoseHelloShowsARestoreStartsAgainAt1() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.send(.hello(node: fake.name, signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 5, labels: LabelSet.standard.digest))
        // Its RELAYs came without an epoch (an earlier release, or a transit hop of one).
        for seq in UInt64(1)...3 { try fake.send(relay(fake, jid: seq, seq: seq, epoch: 0)) }
        try fake.waitForAcks([1, 2, 3])
        try hq.waitFor("three delivered") { self.waiting($0) == 3 }
        // Restored: its HELLO brings a new epoch, its stream starts at 1 again.
        try fake.send(.hello(node: fake.name, signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 6, labels: LabelSet.standard.digest))
        try fake.send(relay(fake, jid: 10, seq: 1, epoch: 6))
        try fake.send(relay(fake, jid: 11, seq: 2, epoch: 6))
        try fake.waitForAcks([10, 11])
        try hq.waitFor("the restored origin's two new envelopes delivered", timeout: 5) { self.waiting($0) == 5 }
        // A copy of one sent again is a repeat.
        try fake.send(relay(fake, jid: 12, seq: 2, epoch: 6))
        try fake.waitForAcks([12])
        XCTAssertTrue(try fake.pingAnswered(1))
        XCTAssertEqual(waiting(try hq.status()), 5)
    }

    /// Review finding: alternating HELLO epochs made the node replay its whole retention window
    /// each time. An epoch lower than the last is ignored and counted; a second new epoch within
    /// the resync window replays nothing again.
    func testAPeerGoingBackToAnEarlierEpochIsIgnoredAndCounted() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.send(.hello(node: fake.name, signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 50, labels: LabelSet.standard.digest))
        XCTAssertTrue(try fake.pingAnswered(1))
        let before = try hq.counter(\.rejectedAnnouncements)
        try fake.send(.hello(node: fake.name, signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 40, labels: LabelSet.standard.digest))
        try hq.waitFor("the earlier epoch refused") { ($0.counters.rejectedAnnouncements) == before + 1 }
        // Its stream under the remembered epoch goes on as before.
        try fake.send(relay(fake, jid: 1, seq: 1, epoch: 50))
        try fake.waitForAcks([1])
        try hq.waitFor("delivered") { self.waiting($0) == 1 }
    }
}
