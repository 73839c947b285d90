import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// `delivered` receipts (protocol/SPEC.md 7.10.2): made by the recipient's node in the
/// transaction that stores the message; relayed ones checked against what was sent.
final class DeliveryReceiptTests: XCTestCase {
    static func id(_ n: UInt8) -> MessageID { MessageID(bytes: [UInt8](repeating: n, count: 16))! }

    static func envelope(_ n: UInt8, from: String, to: String, kind: EnvelopeKind = .text) -> Envelope {
        Envelope(id: id(n), from: from, to: to, kind: kind, sentAt: 1, body: [1])
    }

    // MARK: the value type, with plain values

    func testOneReceiptPerRecipientAndSenderOnlyForWhatPeopleRead() throws {
        var r = DeliveryReceipts()
        r.stored(Self.envelope(1, from: "alice@hq", to: "bob@hq"), recipient: "bob@hq")
        r.stored(Self.envelope(2, from: "alice@hq", to: "ops@hq", kind: .groupMessage), recipient: "bob@hq")
        r.stored(Self.envelope(3, from: "wu@traffic", to: "bob@hq"), recipient: "bob@hq")
        r.stored(Self.envelope(4, from: "alice@hq", to: "carol@hq"), recipient: "carol@hq")
        // Not receipted: a receipt, a notice, a burn message, a message to oneself.
        r.stored(Self.envelope(5, from: "alice@hq", to: "bob@hq", kind: .delivered), recipient: "bob@hq")
        r.stored(Self.envelope(6, from: "alice@hq", to: "bob@hq", kind: .seen), recipient: "bob@hq")
        r.stored(Self.envelope(7, from: "ops@hq", to: "ops@hq", kind: .groupEvent), recipient: "bob@hq")
        r.stored(Self.envelope(8, from: "alice@hq", to: "bob@hq", kind: .burn), recipient: "bob@hq")
        r.stored(Self.envelope(9, from: "bob@hq", to: "bob@hq"), recipient: "bob@hq")
        let out = r.take(nowMs: 5)
        XCTAssertEqual(out.map { "\($0.from)>\($0.to)" }, ["bob@hq>alice@hq", "bob@hq>wu@traffic", "carol@hq>alice@hq"])
        XCTAssertEqual(try out.map { try Receipt.decode($0.body) }, [[Self.id(1), Self.id(2)], [Self.id(3)], [Self.id(4)]])
        XCTAssertTrue(out.allSatisfy { $0.knownKind == .delivered && $0.sentAt == 5 })
        XCTAssertEqual(out[0].id, Receipt.deliveredID(from: "bob@hq", to: "alice@hq", ids: [Self.id(1), Self.id(2)]))
        XCTAssertTrue(r.take(nowMs: 6).isEmpty, "taken once")
        XCTAssertEqual(r.made, 3)
    }

    func testMoreThan256IdsGoInSeveralReceipts() throws {
        var r = DeliveryReceipts()
        for i in 0..<300 {
            r.stored(Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "alice@hq", to: "bob@hq", kind: .text, sentAt: 1, body: []),
                     recipient: "bob@hq")
            _ = i
        }
        XCTAssertEqual(try r.take(nowMs: 1).map { try Receipt.decode($0.body).count }, [256, 44])
    }

    func testARelayedReceiptKeepsOnlyIdsItsAddresseeSent() throws {
        var r = DeliveryReceipts()
        let mine: Set<MessageID> = [Self.id(1), Self.id(2)]
        var both = Receipt.delivered(from: "wu@traffic", to: "alice@hq", ids: [Self.id(1), Self.id(3), Self.id(2)], at: 1)
        let kept = try XCTUnwrap(r.checkRelayed(both) { mine.contains($0) })
        XCTAssertEqual(try Receipt.decode(kept.body), [Self.id(1), Self.id(2)])
        XCTAssertEqual(r.forgedDropped, 1)
        both.body = Receipt.encode([Self.id(4)])
        XCTAssertNil(r.checkRelayed(both) { mine.contains($0) })
        both.body = [0, 0]
        XCTAssertNil(r.checkRelayed(both) { mine.contains($0) }, "malformed")
        XCTAssertEqual(r.forgedDropped, 3)
    }

    // MARK: real nodes

    /// The receipts `client` gets within `ms` (acknowledged).
    func receipts(_ client: Client, atLeast count: Int, timeoutMs: Int = 10_000) throws -> [ReceivedMessage] {
        try client.attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while out.count < count, Clock.monotonicNs() < deadline {
            guard let event = try client.next(timeoutMs: 100) else { continue }
            if case .receipt(let m) = event { out.append(m); try client.ack(m.seq) }
        }
        try client.flush()
        try client.detach()
        return out
    }

    func testTheRecipientsNodeReceiptsWhatItStores() throws {
        let hq = try TestNode()
        hq.deliveredReceipts = true
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let first = try alice.sendText(to: Address("bob@hq")!, text: "one")
        let second = try alice.sendText(to: Address("bob@hq")!, text: "two")
        let got = try receipts(alice, atLeast: 2)
        XCTAssertEqual(got.flatMap { $0.receiptIds ?? [] }, [first, second], "bob is offline: his node stored them")
        XCTAssertTrue(got.allSatisfy { $0.kind == .delivered && $0.from == "bob@hq" })
        XCTAssertEqual(try bob.receive(2).map(\.id), [first, second], "receipts are not bob's messages")
        XCTAssertEqual(try hq.status().receipts.deliveredMade, got.count)
        // bob's read receipt, sealed: alice opens it; the node only passed it on.
        try bob.store(try bob.prepareSeen(to: Address("alice@hq")!, ids: [first, second]))
        let seen = try receipts(alice, atLeast: 1)
        XCTAssertEqual(seen.map(\.kind), [.seen])
        XCTAssertEqual(seen.first?.receiptIds, [first, second])
        XCTAssertTrue(try receipts(bob, atLeast: 1, timeoutMs: 300).isEmpty, "a receipt is never receipted")
    }

    func testAClientCannotSendADeliveredReceipt() throws {
        let hq = try TestNode()
        hq.deliveredReceipts = true
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let forged = Receipt.delivered(from: "", to: "bob@hq", ids: [Self.id(1)], at: Clock.nowMs())
        XCTAssertThrowsError(try alice.store(forged)) { error in
            XCTAssertEqual(error as? ClientError, .refused(code: 400, reason: "delivered receipts are made by nodes, not sent by people"))
        }
    }

    /// A peer's delivered receipt for someone else's message (or one its addressee sent
    /// elsewhere) is dropped and counted; none reaches a person.
    func testAForgedDeliveredReceiptFromAPeerIsDroppedAndCounted() throws {
        let (hq, fake, bob) = try hqWithFakePeer(deliveredReceipts: true)
        let alice = try Client(profile: try hq.join("alice"))
        let carol = try Client(profile: try hq.join("carol"))
        defer { bob.close(); alice.close(); carol.close() }
        let toBob = try alice.sendText(to: Address("bob@hq")!, text: "for bob")
        _ = try receipts(alice, atLeast: 1) // hq's own receipt for bob
        func forged(jid: UInt64, to: String, ids: [MessageID]) -> PeerCommand {
            let e = Receipt.delivered(from: "mallory@fake", to: to, ids: ids, at: Clock.nowMs())
            return .relay(jid: jid, origin: "fake", dest: "hq", streamSeq: jid, hops: 0, envelope: e)
        }
        // To carol, who never sent it; to alice, who sent it to hq, not to fake.
        try fake.send(forged(jid: 1, to: "carol@hq", ids: [toBob]))
        try fake.send(forged(jid: 2, to: "alice@hq", ids: [toBob, Self.id(9)]))
        try fake.waitForAcks([1, 2])
        try hq.waitFor("forged ids counted") { $0.receipts.forgedDropped == 3 }
        XCTAssertTrue(try receipts(alice, atLeast: 1, timeoutMs: 500).isEmpty)
        XCTAssertTrue(try receipts(carol, atLeast: 1, timeoutMs: 300).isEmpty)
        XCTAssertEqual(try hq.waitingMessages(), 1, "only bob's message waits")
        // A good envelope of the same stream still gets through behind them.
        try fake.send(fake.relay(jid: 3, to: "bob@hq", streamSeq: 3))
        try fake.waitForAcks([3])
        XCTAssertEqual(try hq.waitingMessages(), 2)
    }
}
