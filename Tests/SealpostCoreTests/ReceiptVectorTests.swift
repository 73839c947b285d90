import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/receipts.json (SPEC 7.10): `delivered` and `seen` bodies, the
/// delivered receipt's envelope id, and the id lists a decoder refuses.
/// `SEALPOST_WRITE_VECTORS=1 swift test --filter ReceiptVectorTests` rewrites the file.
final class ReceiptVectorTests: XCTestCase {
    func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    func testReceiptVectors() throws {
        let id1 = MessageID(bytes: seq(0x00, 16))!, id2 = MessageID(bytes: seq(0x10, 16))!, id3 = MessageID(bytes: seq(0x20, 16))!
        var aliceSecret = seq(0x01, 32), wuSecret = seq(0x41, 32)
        let alice = try XCTUnwrap(BoxKeyPair(secretKey: &aliceSecret))
        let wu = try XCTUnwrap(BoxKeyPair(secretKey: &wuSecret))
        let wuToAlice = try XCTUnwrap(BoxSharedKey(theirPublicKey: alice.publicKey, mySecretKey: wu.secretKey))
        let delivered = Receipt.delivered(from: "wu@traffic", to: "alice@hq", ids: [id1, id2], at: 1_764_000_005_000)
        let seenSentAt: UInt64 = 1_764_000_010_000
        let seenBody = Sealed.seal(kind: EnvelopeKind.seen.rawValue, id: id3, from: "wu@traffic", to: "alice@hq", sentAt: seenSentAt,
                                   content: Receipt.encode([id1, id2]), key: wuToAlice, nonce: seq(0x81, 24))
        let malformed: [String: [UInt8]] = [
            "count_zero": [0, 0],
            "count_over_256": [0x01, 0x01] + [UInt8](repeating: 7, count: 257 * 16),
            "repeated_id": [0, 2] + id1.bytes + id1.bytes,
            "trailing_byte": Receipt.encode([id1]) + [0],
            "short": Array(Receipt.encode([id1]).dropLast()),
        ]
        let url = VectorTests.vectorsDir.appendingPathComponent("receipts.json")
        if VectorTests.writing {
            let object: [String: Any] = [
                "description": "Delivery and read receipts (SPEC.md 7.10): a delivered body and its envelope id, a seen body (1:1, wu@traffic to alice@hq, the keys of e2e.json, nonce 0x81..0x98), and id lists a decoder refuses.",
                "ids": [id1.hex, id2.hex], "seen_id": id3.hex,
                "sender_box_secret": Hex.encode(seq(0x41, 32)), "recipient_box_secret": Hex.encode(seq(0x01, 32)),
                "nonce": Hex.encode(seq(0x81, 24)), "from": "wu@traffic", "to": "alice@hq",
                "delivered_sent_at": delivered.sentAt, "seen_sent_at": seenSentAt,
                "delivered_body": Hex.encode(delivered.body), "delivered_id": delivered.id.hex,
                "seen_content": Hex.encode(Receipt.encode([id1, id2])), "seen_body": Hex.encode(seenBody),
                "malformed": malformed.mapValues { Hex.encode($0) },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try (data + Data("\n".utf8)).write(to: url)
        }
        let v = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(Hex.encode(delivered.body), v["delivered_body"] as? String)
        XCTAssertEqual(delivered.id.hex, v["delivered_id"] as? String)
        XCTAssertEqual(Hex.encode(seenBody), v["seen_body"] as? String)
        XCTAssertEqual(try Receipt.decode(delivered.body), [id1, id2])
        // The sender opens the seen receipt with its own key.
        let aliceFromWu = try XCTUnwrap(BoxSharedKey(theirPublicKey: wu.publicKey, mySecretKey: alice.secretKey))
        let envelope = Envelope(id: id3, from: "wu@traffic", to: "alice@hq", kind: .seen, sentAt: seenSentAt, body: seenBody)
        XCTAssertEqual(try Receipt.decode(try Sealed.open(envelope, key: aliceFromWu)), [id1, id2])
        for (name, hex) in try XCTUnwrap(v["malformed"] as? [String: String]) {
            XCTAssertThrowsError(try Receipt.decode(Hex.decode(hex)!), name)
            var relayed = delivered
            relayed.body = Hex.decode(hex)!
            XCTAssertThrowsError(try relayed.checkClearHeader(), "a relay drops a delivered receipt that is \(name)")
        }
        XCTAssertEqual(malformed.count, (v["malformed"] as? [String: String])?.count)
        // Batches: repeats left out, 256 a receipt.
        let many = (0..<600).map { MessageID(bytes: Sodium.genericHash([UInt8($0 % 256), UInt8($0 / 256)], outputLength: 16))! }
        XCTAssertEqual(Receipt.batches(many + many).map(\.count), [256, 256, 88])
    }
}
