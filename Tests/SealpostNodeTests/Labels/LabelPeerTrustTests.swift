import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// What a node takes from a peer about labels (protocol/SPEC.md 7.11.2, 7.11.7), against a
/// FakePeerNode: a HELLO without a label digest is a mismatch unless the operator opted in for
/// that peer, and a correctly signed refusal notice counts only for a message its addressee
/// really sent through the refusing node.
final class LabelPeerTrustTests: XCTestCase {
    /// Serves until a HELLO comes back on our DEALER (the node answered ours), or `ms` pass.
    func helloAnswered(_ fake: FakePeerNode, ms: Int) throws -> Bool {
        var answered = false
        _ = try fake.serve(until: { answered }, timeoutMs: ms)
        return answered
    }

    func testHelloWithoutLabelDigestIsAMismatchUnlessThePeerIsMarkedUnlabelled() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let fake = try FakePeerNode()
        fake.helloLabels = []   // a node that does not enforce labels
        try fake.configure(on: hq)
        try fake.waitForNodeHello()
        try hq.waitFor("the peer without a digest to show as mismatched") { $0.labels.mismatchedPeers == ["fake"] }

        // Its own HELLO is not answered, and what it relays is not taken.
        var answered = false
        func serve(ms: Int, until done: () -> Bool) throws {
            let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
            while !done(), Clock.monotonicNs() < deadline {
                try fake.serve(ms: 50) { command, fromRouter in
                    if !fromRouter, case .hello = command { answered = true }
                }
            }
        }
        try fake.send(.hello(node: "fake", signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 0))
        try fake.send(fake.relay(jid: 1, to: "bob@hq"))
        try serve(ms: 1500) { answered || fake.acknowledged.contains(1) }
        XCTAssertFalse(answered, "a HELLO without labels is not answered")
        XCTAssertFalse(fake.acknowledged.contains(1), "nor its RELAYs taken")

        // The operator opts in: the link comes up, capped at the default label.
        var config = try hq.dir.loadConfig()
        let i = try XCTUnwrap(config.peers.firstIndex { $0.name == "fake" })
        config.peers[i].unlabelled = true
        try hq.dir.saveConfig(config)
        try hq.waitFor("the opt-in to apply") { $0.labels.unlabelledPeers == ["fake"] }
        XCTAssertEqual(try hq.status().labels.links["fake"], "内部 internal")
        try fake.send(.hello(node: "fake", signKey: fake.keys.sign.publicKey, credit: 1000, epoch: 0))
        try serve(ms: 10_000) { answered }
        XCTAssertTrue(answered, "answered once the peer is marked unlabelled")
        try fake.send(fake.relay(jid: 1, to: "bob@hq"))
        try fake.waitForAcks([1])
        XCTAssertEqual(try hq.status().labels.mismatchedPeers, [])
    }

    func testSignedRefusalNoticeCountsOnlyForAMessageSentThroughTheRefusingNode() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        let alice = try Client(profile: try hq.join("alice"))
        defer { bob.close(); alice.close() }
        // mallory@fake, in hq's directory, so that bob can write to the fake's unit.
        let mallory = BoxKeyPair.generate()
        fake.serveDirectory([DirectoryEntry(address: "mallory@fake", display: "Mallory", boxKey: mallory.publicKey,
                                            signKey: SignKeyPair.generate().publicKey, updatedAt: 1)])
        try fake.run("hq to take mallory's entry") { (try? bob.lookup(Address("mallory@fake")!)) != nil }

        let toAlice = try bob.sendText(to: Address("alice@hq")!, text: "for alice, never through the fake")
        let toMallory = try bob.sendText(to: Address("mallory@fake")!, text: "for mallory, through the fake")
        func notice(_ jid: UInt64, about ref: MessageID, recipient: String) -> PeerCommand {
            var n = LabelNotice(ref: ref, sender: "bob@hq", recipient: recipient, node: "fake", reason: .notCleared, label: 3,
                                text: "not cleared", refusedAt: Clock.nowMs())
            n.sign(with: fake.keys.sign)
            let e = Envelope(id: n.messageID, from: "node@fake", to: "bob@hq", kind: .refusal, sentAt: n.refusedAt, body: n.encode())
            return .relay(jid: jid, origin: "fake", dest: "hq", streamSeq: jid, hops: 0, envelope: e, epoch: 0)
        }
        // Forged: a message bob never sent, and one he sent to alice@hq (the fake never had it).
        try fake.send(notice(1, about: MessageID(bytes: Sodium.randomBytes(16))!, recipient: "alice@hq"))
        try fake.send(notice(2, about: toAlice, recipient: "alice@hq"))
        // Plausible: his message to mallory@fake, refused by mallory's node.
        try fake.send(notice(3, about: toMallory, recipient: "mallory@fake"))
        try fake.waitForAcks([1, 2, 3])
        try hq.waitFor("hq to drop the two forged notices") { $0.labels.noticesDropped == 2 }

        var refusals: [ReceivedMessage] = []
        try bob.attach()
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while refusals.isEmpty, Clock.monotonicNs() < deadline {
            try fake.serve(ms: 20)
            if case .message(let m)? = try bob.next(timeoutMs: 50) {
                try bob.ack(m.seq)
                if m.kind == .refusal { refusals.append(m) }
            }
        }
        refusals += try bob.drain(ms: 800).filter { $0.kind == .refusal }
        XCTAssertEqual(refusals.map { $0.refusal?.notice.ref }, [toMallory], "only the notice about a message sent through the fake")
        XCTAssertEqual(refusals.first?.refusal?.verified, true)
    }
}
