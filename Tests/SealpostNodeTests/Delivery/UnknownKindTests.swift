import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// An envelope kind this node does not know (`Envelope.knownKind` nil): refused from the
/// node's own users, passed on as it came from a peer.
final class UnknownKindTests: XCTestCase {
    func testAClientsSendOfAnUnknownKindGetsError400() throws {
        let hq = try TestNode()
        try hq.start()
        let aliceProfile = try hq.join("alice")
        let alice = try Client(profile: aliceProfile)
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        var envelope = try alice.prepareText(to: Address("bob@hq")!, text: "x")
        envelope.kind = 200
        let raw = Socket.testDealer(endpoint: hq.endpoint, serverKey: hq.node!.publicKey, keys: aliceProfile.curve)
        try raw.send([Command.send(envelope).encode()], dontWait: false)
        guard let message = try raw.receiveWithin(ms: 5000) else { return XCTFail("no answer") }
        XCTAssertEqual(try Command.decode(message.frames[0]),
                       .error(code: ErrorCode.badRequest.rawValue, ref: envelope.id, reason: "unknown kind 200"))
        XCTAssertEqual(try hq.waitingMessages(), 0)
    }

    func testARelayOfAnUnknownKindIsStoredForItsRecipient() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        guard case .relay(let jid, let origin, let dest, let seq, let hops, var envelope, let epoch) = fake.relay(jid: 81, to: "bob@hq") else {
            return XCTFail("not a relay")
        }
        envelope.kind = 200
        try fake.send(.relay(jid: jid, origin: origin, dest: dest, streamSeq: seq, hops: hops, envelope: envelope, epoch: epoch))
        try fake.waitForAcks([81])
        XCTAssertEqual(try hq.waitingMessages(), 1)
        XCTAssertEqual(try hq.counter(\.malformed), 0)
    }
}
