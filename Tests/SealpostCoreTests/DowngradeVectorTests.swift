import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/downgrade.json (SPEC.md 7.9.1, 7.9.3, 7.11.11): a version 2 origin record
/// (with the label), chen@hq's downgrade of it countersigned by hq, the clear header of a
/// version 2 forward that carries it, and the DOWNGRADE request and answer frames, all from fixed
/// keys. `SEALPOST_WRITE_VECTORS=1 swift test --filter DowngradeVectorTests` rewrites it.
final class DowngradeVectorTests: XCTestCase {
    func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    func key(_ start: UInt8) throws -> SignKeyPair {
        var seed = seq(start, 32)
        return try XCTUnwrap(SignKeyPair(seed: &seed))
    }

    func testDowngradeVectors() throws {
        let li = try key(0x11), bob = try key(0x31), chen = try key(0x91), hq = try key(0xB1)
        let hashKey = seq(0x41, 32)
        let content = Array("notice 17: the inspection is on Friday".utf8)
        let id = MessageID(bytes: seq(0x00, 16))!
        let provenance = Provenance.make(id: id, sender: "li@hq", to: "bob@traffic", sentAt: 1_764_000_000_000, kind: .text, content: content,
                                         policy: ForwardPolicy(scope: .federation), key: li, label: 3, hashKey: hashKey)
        let origin = provenance.origin
        let request = DowngradeRequest.signed(origin: origin, previous: nil, to: 1, reason: "published in the bulletin", by: "chen@hq",
                                              at: 1_764_000_030_000, key: chen)
        var record = request.record(by: "chen@hq")
        record.countersign(node: "hq", with: hq)
        XCTAssertNil(record.problem(for: origin, nodeKey: hq.publicKey))
        XCTAssertTrue(record.verifyUser(signKey: chen.publicKey))
        var hop = ForwardHop(forwarder: "bob@traffic", via: "bob@traffic", recipients: 1,
                             recipientSet: Forward.recipientSetHash(["wu@school"], hashKey: hashKey), at: 1_764_000_060_000, parent: origin.link)
        hop.sign(with: bob)
        let header = ForwardHeader(origin: origin, hops: [hop], downgrade: record)
        let display = { (r: UInt8) in LabelSet.standard.display(r) }
        XCTAssertEqual(header.effectiveLabel { $0 == "hq" ? hq.publicKey : nil }.rank, 1)
        XCTAssertNil(header.loweredLabel(clearRank: 1, nodeKey: { $0 == "hq" ? hq.publicKey : nil }, display: display))
        XCTAssertNotNil(ForwardHeader(origin: origin, hops: [hop]).loweredLabel(clearRank: 1, nodeKey: { _ in nil }, display: display))

        let object: [String: Any] = [
            "description": "Downgrades (SPEC.md 7.9.1, 7.9.3, 7.11.11): li@hq's version 2 origin record with label 3 (工作秘密; user sign seed 0x11..0x30, hash key 0x41..0x60), chen@hq's downgrade of it to label 1 (内部; seed 0x91..) countersigned by node hq (seed 0xB1..), the clear header of bob@traffic's version 2 forward (seed 0x31..) carrying it, and the DOWNGRADE request and answer frames.",
            "seeds": ["li@hq": Hex.encode(seq(0x11, 32)), "bob@traffic": Hex.encode(seq(0x31, 32)), "chen@hq": Hex.encode(seq(0x91, 32)),
                      "hq": Hex.encode(seq(0xB1, 32))],
            "hash_key": Hex.encode(hashKey), "content_utf8": String(decoding: content, as: UTF8.self),
            "origin": ["id": id.hex, "sender": origin.sender, "to": origin.to, "sent_at": Int(origin.sentAt), "content_kind": Int(origin.contentKind),
                       "scope": Int(origin.policy.scope.rawValue), "max_hops": 0, "max_recipients": 0, "label": 3,
                       "content_hash": Hex.encode(origin.contentHash), "signed_bytes": Hex.encode(origin.signedBytes),
                       "signature": Hex.encode(origin.signature), "encoded": Hex.encode(origin.encode()), "link": Hex.encode(origin.link)],
            "downgrade": ["origin_link": Hex.encode(record.originLink), "from": 3, "to": 1, "by": record.by, "at": Int(record.at),
                          "reason": record.reason, "user_signed_bytes": Hex.encode(record.userSignedBytes),
                          "user_signature": Hex.encode(record.userSignature), "node": record.node,
                          "node_signed_bytes": Hex.encode(record.nodeSignedBytes), "node_signature": Hex.encode(record.nodeSignature),
                          "encoded": Hex.encode(record.encode())],
            "hop": ["forwarder": hop.forwarder, "via": hop.via, "recipients": ["wu@school"], "at": Int(hop.at),
                    "recipient_set": Hex.encode(hop.recipientSet), "signature": Hex.encode(hop.signature), "encoded": Hex.encode(hop.encode())],
            "forward_header": Hex.encode(header.body(sealed: [])),
            "effective_label": 1,
            "commands": [["name": "DOWNGRADE", "op": "request", "hex": Hex.encode(Command.downgrade(request).encode())],
                         ["name": "DOWNGRADE", "op": "record", "hex": Hex.encode(Command.downgraded(record).encode())]],
        ]
        if VectorTests.writing {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try (data + Data("\n".utf8)).write(to: VectorTests.vectorsDir.appendingPathComponent("downgrade.json"))
        }
        let stored = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: VectorTests.vectorsDir.appendingPathComponent("downgrade.json"))) as? NSDictionary)
        XCTAssertEqual(stored, object as NSDictionary, "downgrade.json differs from what the code makes")
        // Decoded back from the file's bytes.
        let (decoded, sealed) = try ForwardHeader.split(Hex.decode(stored["forward_header"] as! String)!)
        XCTAssertEqual(decoded, header)
        XCTAssertEqual(sealed, [])
        let frames = try XCTUnwrap(stored["commands"] as? [[String: String]]).map { Hex.decode($0["hex"]!)! }
        XCTAssertEqual(try frames.map { try Command.decode($0) }, [.downgrade(request), .downgraded(record)])
        let (p, rest) = try Provenance.split(provenance.prefix(content))
        XCTAssertEqual(p, provenance)
        XCTAssertEqual(rest, content)
    }

    /// Decoding rules: a version 2 origin's label is a rank below 16; a downgrade's `to` is below
    /// its `from`, and `by` is a person of `node`.
    func testDecodingRefusesOutOfRangeValues() throws {
        let li = try key(0x11), hq = try key(0xB1)
        var origin = ForwardOrigin(id: MessageID(bytes: seq(0, 16))!, sender: "li@hq", to: "bob@hq", sentAt: 1, contentKind: 1,
                                   policy: ForwardPolicy(), contentHash: seq(1, 32), label: 3)
        origin.sign(with: li)
        var bytes = origin.encode()
        XCTAssertEqual(bytes[0], 2)
        var r = WireReader(bytes)
        XCTAssertEqual(try ForwardOrigin.decode(from: &r), origin)
        bytes[bytes.count - 65] = 16
        var bad = WireReader(bytes)
        XCTAssertThrowsError(try ForwardOrigin.decode(from: &bad))
        var v1 = origin
        v1.label = nil
        XCTAssertEqual(v1.encode()[0], 1, "no label: a version 1 record")

        func record(_ from: UInt8, _ to: UInt8, by: String, node: String) -> [UInt8] {
            var d = DowngradeRecord(originLink: origin.link, from: from, to: to, by: by, at: 1, reason: "r", userSignature: seq(0, 64))
            d.countersign(node: node, with: hq)
            return d.encode()
        }
        XCTAssertNoThrow(try DowngradeRecord.decode(record(3, 1, by: "chen@hq", node: "hq")))
        XCTAssertThrowsError(try DowngradeRecord.decode(record(1, 3, by: "chen@hq", node: "hq")), "not lower")
        XCTAssertThrowsError(try DowngradeRecord.decode(record(1, 1, by: "chen@hq", node: "hq")), "not lower")
        XCTAssertThrowsError(try DowngradeRecord.decode(record(3, 1, by: "chen@traffic", node: "hq")), "by another unit's person")
        XCTAssertThrowsError(try DowngradeRecord.decode(record(17, 1, by: "chen@hq", node: "hq")), "not a rank")
    }
}
