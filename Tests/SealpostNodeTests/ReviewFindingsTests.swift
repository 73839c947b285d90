import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// Regression tests for defects found in the review of issue 10 (each fails on the
/// merged main it was written against). A real node `hq` with user bob and a `FakePeerNode`
/// that plays the origin of a stream to hq.
final class ReviewFindingsTests: XCTestCase {

    func envelope(to: String = "bob@hq", from fake: FakePeerNode) -> Envelope {
        Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "mallory@\(fake.name)", to: to,
                 kind: EnvelopeKind.text.rawValue, sentAt: Clock.nowMs(), body: [1, 2, 3])
    }

    func relay(_ fake: FakePeerNode, jid: UInt64, seq: UInt64, epoch: UInt64, hops: UInt8 = 0, _ e: Envelope) -> PeerCommand {
        .relay(jid: jid, origin: fake.name, dest: "hq", streamSeq: seq, hops: hops, envelope: e, epoch: epoch)
    }

    /// Sets limits in node.yaml (what the node reloads when its config file changes).
    func setLimits(_ node: TestNode, _ change: (inout LimitsConfig) -> Void) throws {
        var config = try node.dir.loadConfig()
        change(&config.limits)
        try node.dir.saveConfig(config)
    }

    func held(_ s: NodeStatus) -> Int { s.held }
    func waiting(_ s: NodeStatus) -> Int { s.waiting.messages }

    /// A RELAY that reached its destination with `hops` at the limit is dropped (and
    /// acknowledged) at the destination itself, but its stream number is never used up:
    /// every later envelope of that origin is held for good. At the destination the loop is
    /// over: it should be delivered (or at least its number consumed, as for `undeliverable`).
    func testRelayAtHopLimitForThisNodeDoesNotStopItsOriginsStreamForGood() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.send(relay(fake, jid: 1, seq: 1, epoch: 0, hops: PeerCommand.maxHops, envelope(from: fake)))
        try fake.send(relay(fake, jid: 2, seq: 2, epoch: 0, envelope(from: fake)))
        try fake.waitForAcks([1, 2])
        try hq.waitFor("envelope 2 in bob's mailbox, not held for good", timeout: 5) { self.held($0) == 0 && self.waiting($0) >= 1 }
    }

    /// An origin whose stream this node has followed without an epoch (its envelopes came
    /// before it had one, e.g. before both nodes were upgraded) and which is then restored:
    /// its first RELAYs carry a new epoch and number from 1 again (SPEC 13.8). Rule 1 of
    /// 13.8 adopts the epoch and applies 13.5 with the old expected seq, so stream_seq 1...N
    /// of the new epoch are dropped as repeats — acknowledged and lost.
    ///
    /// Not fixed: without a HELLO epoch from that peer it cannot be told apart from an origin
    /// upgraded from an earlier release, and resetting on seq numbers alone could hold a
    /// mixed-release stream for good. The case a direct peer's HELLO shows is fixed
    /// (`EpochResetTests`); this one is the known limit of SPEC 13.8 rule 1. Kept, skipped, so
    /// whoever closes it has the reproduction.
    func testRestoredOriginFirstHeardWithAnEpochIsNotDroppedAsRepeats() throws {
        throw XCTSkip("known limit, SPEC 13.8 rule 1: a restored origin first heard with an epoch after pre-epoch traffic")
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        for seq in UInt64(1)...3 { try fake.send(relay(fake, jid: seq, seq: seq, epoch: 0, envelope(from: fake))) }
        try fake.waitForAcks([1, 2, 3])
        try hq.waitFor("three delivered") { self.waiting($0) == 3 }
        // Restored: a new epoch, its stream from 1 again.
        let epoch = Clock.nowMs()
        try fake.send(relay(fake, jid: 10, seq: 1, epoch: epoch, envelope(from: fake)))
        try fake.send(relay(fake, jid: 11, seq: 2, epoch: epoch, envelope(from: fake)))
        try fake.waitForAcks([10, 11])
        try hq.waitFor("the restored origin's two new envelopes delivered", timeout: 5) { self.waiting($0) == 5 }
    }

    /// An envelope of the origin's old epoch that was held, released at the new epoch, and
    /// then sent again (its RELAYED was lost) is put in the mailbox a second time: rule 4 of
    /// 13.8 only drops old-epoch seqs below `prev_next`, and the released ones are above it.
    func testHeldEnvelopeReleasedAtANewEpochIsNotStoredTwiceWhenSentAgain() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let e1 = envelope(from: fake), e3 = envelope(from: fake), f1 = envelope(from: fake)
        try fake.send(relay(fake, jid: 1, seq: 1, epoch: 1000, e1))
        try fake.send(relay(fake, jid: 2, seq: 3, epoch: 1000, e3))          // held: seq 2 is missing
        try fake.waitForAcks([1, 2])
        try hq.waitFor("one delivered, one held") { self.waiting($0) == 1 && self.held($0) == 1 }
        try fake.send(relay(fake, jid: 3, seq: 1, epoch: 2000, f1))          // new epoch: the held one is let go
        try fake.waitForAcks([3])
        try hq.waitFor("three delivered") { self.waiting($0) == 3 && self.held($0) == 0 }
        try fake.send(relay(fake, jid: 4, seq: 3, epoch: 1000, e3))          // the same envelope again
        try fake.waitForAcks([4])
        XCTAssertTrue(try fake.pingAnswered(77))
        XCTAssertEqual(waiting(try hq.status()), 3, "e3 stored once, not twice")
    }

    /// For the retention window (24 h) after its own restore, a node gives up *any* gap in
    /// any stream after `restore_gap_grace_ms` (30 s) without progress, not only the gap the
    /// restore left (the first one, at the backup's expected seq). A gap that opens later —
    /// an envelope still in the journal of a relay that is down for a minute, SPEC 13.7 — is
    /// counted lost and the envelope, when it comes, is dropped as a repeat: acknowledged and lost.
    func testRestoredNodeDoesNotGiveUpAGapThatOpensAfterItsStreamMovedOn() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.waitForNodeHello()
        try fake.send(relay(fake, jid: 1, seq: 1, epoch: 0, envelope(from: fake)))
        try fake.waitForAcks([1])
        let backup = hq.root + "/backup"
        _ = try Backup.backup(dataDir: hq.dir, to: backup)
        hq.stop()
        _ = try Backup.restore(from: backup, into: hq.dir)
        try hq.start { $0.restoreGapGraceMs = 500 }
        // The stream goes on past where the backup stood: the restore's gap (none here) is behind it.
        try fake.send(relay(fake, jid: 2, seq: 2, epoch: 0, envelope(from: fake)))
        try fake.waitForAcks([2], timeoutMs: 15_000)
        try hq.waitFor("seq 2 delivered") { self.waiting($0) == 2 }
        // seq 3 is late (another path, a relay down for a while); seq 4 overtakes it and is held.
        try fake.send(relay(fake, jid: 4, seq: 4, epoch: 0, envelope(from: fake)))
        try fake.waitForAcks([4])
        // Two housekeeping rounds pass with nothing to see (a wait for time, not for a condition);
        // it stands for a relay that is down for longer than the grace.
        try fake.serve(ms: Int(2 * NodeTimers.fast.housekeepingNs / 1_000_000) + 500)
        try fake.send(relay(fake, jid: 3, seq: 3, epoch: 0, envelope(from: fake)))
        try fake.waitForAcks([3])
        try hq.waitFor("seq 3 and seq 4 both delivered", timeout: 5) { self.waiting($0) == 4 }
    }

    /// Envelopes held for order (a `stream_seq` ahead of the expected one) are stored with no
    /// quota at all: any node of the federation (its RELAYs pass honest relays unchecked,
    /// SPEC 13.4) can number envelopes past a gap it never fills and fill the destination's
    /// disk down to the free-space floor, after which the node refuses every local write.
    /// Here bob's mailbox quota is 5 messages; 30 held envelopes for him are all stored.
    func testHeldEnvelopesCountAgainstTheRecipientsQuota() throws {
        let hq = try TestNode("hq")
        try hq.start()
        // In node.yaml: the node reloads its limits from it when the peer is added below.
        try setLimits(hq) { $0.mailboxMessages = 5 }
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }
        let fake = try FakePeerNode()
        try fake.configure(on: hq)
        let jids = Set(UInt64(2)...31)
        for seq in jids { try fake.send(relay(fake, jid: seq, seq: seq, epoch: 0, envelope(from: fake))) }   // seq 1 never comes
        try fake.waitForAcks(jids)
        XCTAssertLessThanOrEqual(held(try hq.status()), 5, "no more held for bob than his quota lets him have")
    }

    /// Past `limits.held_per_origin` envelopes held for one origin, its RELAYs are not
    /// acknowledged (counted `held_refused`): the peer keeps them and sends them again, and
    /// once the gap is filled every one is delivered, in order, none lost.
    func testHeldEnvelopesPastThePerOriginCapAreNotAcknowledgedAndComeLater() throws {
        let hq = try TestNode("hq")
        try hq.start()
        try setLimits(hq) { $0.heldPerOrigin = 3 }
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }
        let fake = try FakePeerNode()
        try fake.configure(on: hq)
        var envelopes: [UInt64: Envelope] = [:]
        for seq in UInt64(1)...6 { envelopes[seq] = envelope(from: fake) }
        for seq in UInt64(2)...6 { try fake.send(relay(fake, jid: seq, seq: seq, epoch: 0, envelopes[seq]!)) }
        try fake.waitForAcks([2, 3, 4])
        XCTAssertTrue(try fake.pingAnswered(1))
        XCTAssertFalse(fake.acknowledged.contains(5) || fake.acknowledged.contains(6), "past the cap: not acknowledged")
        let status = try hq.status()
        XCTAssertEqual(held(status), 3)
        let refused = try XCTUnwrap(status.limits.refused["held_refused"])
        XCTAssertGreaterThanOrEqual(refused, 2)
        try fake.send(relay(fake, jid: 1, seq: 1, epoch: 0, envelopes[1]!))
        try fake.waitForAcks([1])
        for seq in UInt64(5)...6 { try fake.send(relay(fake, jid: seq, seq: seq, epoch: 0, envelopes[seq]!)) }   // sent again
        try fake.waitForAcks([5, 6])
        try hq.waitFor("all six delivered, none held", timeout: 5) { self.waiting($0) == 6 && self.held($0) == 0 }
    }

    /// `backup` copies burn-after-reading content into the backup directory, and `restore`
    /// puts back every burn message that was viewed (or expired) after the backup: the
    /// recipient can view it a second time, and its sender already had a "viewed" receipt.
    /// A restore must not bring back what was burned (drop burns viewed/expired since, or keep
    /// burn content out of backups and say so).
    func testRestoreDoesNotBringBackABurnMessageViewedAfterTheBackup() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close() }
        let envelope = try alice.prepareBurn(to: Address("bob@hq")!, text: "view once", images: [])
        try alice.store(envelope)
        _ = try Backup.backup(dataDir: hq.dir, to: hq.root + "/backup")
        XCTAssertEqual(try bob.view(envelope.id).text, "view once")
        bob.close()
        hq.stop()
        _ = try Backup.restore(from: hq.root + "/backup", into: hq.dir)
        try hq.start()
        let again = try Client(profile: try Profile.load(from: hq.profilePath("bob")))
        defer { again.close() }
        XCTAssertThrowsError(try again.view(envelope.id), "viewed once already: it must not be viewable again after a restore")
    }

    /// After the wall clock steps back (an NTP correction), a journal entry made before the step
    /// has `created_at` in the future: `status` (`peers[].oldest_unacked_ms`) and `pending`
    /// (`age_ms`) compute `Int(nowMs &- createdMs)`, which traps, and the node dies on its
    /// operator's status request (Reactor+Admin.swift:56 and :147; `federation` at :160 the
    /// same with a summary heard before the step). Here the entry is written one hour ahead.
    /// WARNING: fails by crashing the test process (the node runs in it).
    func testStatusAfterTheClockSteppedBackDoesNotCrashTheNode() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let fake = try FakePeerNode()
        try fake.configure(on: hq)
        hq.stop()
        do {
            let store = try NodeStore(path: hq.dir.databasePath)
            defer { store.close() }
            var w = WireWriter()
            Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "alice@hq", to: "x@\(fake.name)", kind: EnvelopeKind.text.rawValue,
                     sentAt: Clock.nowMs(), body: [1]).encode(into: &w)
            _ = try store.appendJournal(dest: fake.name, origin: "hq", streamSeq: 1, hops: 0, envelope: w.bytes, at: Clock.nowMs() + 3_600_000)
        }
        try hq.start()
        try fake.waitForNodeHello()
        try fake.serve(ms: 500)
        _ = try AdminClient.request(dataDir: hq.dir, ["cmd": "pending", "peer": fake.name])
        XCTAssertEqual(try hq.status().peers.count, 1)
    }

    /// The admin `user rekey` request's `endpoint` goes unchecked into the invite code, whose
    /// `endpoint:string` field traps over 255 bytes (WireWriter.string precondition): the node dies.
    /// WARNING: fails by crashing the test process (the node runs in it).
    func testAdminRekeyWithALongEndpointIsRefusedNotACrash() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }
        // AdminClient turns the node's `{"error": …}` answer into a thrown error.
        XCTAssertThrowsError(try AdminClient.request(dataDir: hq.dir, ["cmd": "user", "action": "rekey", "user": "bob",
                                                                       "endpoint": "tcp://" + String(repeating: "a", count: 300) + ":1"])) {
            XCTAssertTrue("\($0)".contains("255 bytes"), "\($0)")
        }
        XCTAssertEqual(try hq.status().name, "hq")
    }

    /// `stream_seq` 2^63 − 1 is in range (SPEC 3), but the stream counter past it is not: when a
    /// gap before a held envelope of that number is given up (restoreHousekeeping), the expected
    /// seq becomes 2^63 and `setStream` traps in `Int64(...)` at the commit. A peer gets the
    /// give-up window by itself: a HELLO with a changed epoch (10 min for streams through it).
    /// Same for `deliverRelayed` and `prev_next` once the counter reached 2^63 − 1.
    /// WARNING: fails by crashing the test process (the node runs in it).
    func testGivingUpAGapBeforeStreamSeq2p63Minus1DoesNotCrashTheNode() throws {
        let hq = try TestNode("hq")
        try hq.start { $0.restoreGapGraceMs = 500 }
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }
        let fake = try FakePeerNode()
        try fake.configure(on: hq)
        try fake.send(.hello(node: fake.name, signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 5, labels: LabelSet.standard.digest))
        XCTAssertTrue(try fake.pingAnswered(1))
        try fake.send(.hello(node: fake.name, signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 6, labels: LabelSet.standard.digest))   // "restored"
        try fake.send(relay(fake, jid: 1, seq: UInt64(Int64.max), epoch: 0, envelope(from: fake)))
        try fake.waitForAcks([1])
        // Two housekeeping rounds past the 500 ms grace: the gap 1...2^63-2 would be given up (a wait for time).
        try fake.serve(ms: Int(2 * NodeTimers.fast.housekeepingNs / 1_000_000) + 1000)
        XCTAssertTrue(try fake.pingAnswered(2), "the node is alive")
        XCTAssertEqual(try hq.status().name, "hq")
    }
}
