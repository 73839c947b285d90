import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/forward.json (SPEC.md 7.9): an origin record, two hop records, the clear
/// header of a forward, its sealed content, a provenance block and a node's countersigned hop
/// statement, all from fixed keys. `SEALPOST_WRITE_VECTORS=1 swift test --filter ForwardVectorTests` rewrites it.
final class ForwardVectorTests: XCTestCase {
    func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    func key(_ start: UInt8) throws -> SignKeyPair {
        var seed = seq(start, 32)
        return try XCTUnwrap(SignKeyPair(seed: &seed))
    }

    func testForwardVectors() throws {
        let li = try key(0x11), bob = try key(0x31), zhao = try key(0x51), traffic = try key(0x71)
        let hashKey = seq(0x41, 32)
        let content = Array("notice 17: the inspection is on Friday".utf8)
        let id = MessageID(bytes: seq(0x00, 16))!
        let policy = ForwardPolicy(scope: .federation, maxHops: 4, maxRecipients: 3)
        let provenance = Provenance.make(id: id, sender: "li@hq", to: "bob@traffic", sentAt: 1_764_000_000_000, kind: .text, content: content,
                                         policy: policy, key: li, hashKey: hashKey)
        let origin = provenance.origin
        let r1 = ["zhao@district", "ma@traffic"], r2 = ["wu@school"]
        var hop1 = ForwardHop(forwarder: "bob@traffic", via: "bob@traffic", recipients: 2, recipientSet: Forward.recipientSetHash(r1, hashKey: hashKey),
                              at: 1_764_000_060_000, parent: origin.link)
        hop1.sign(with: bob)
        var hop2 = ForwardHop(forwarder: "zhao@district", via: "zhao@district", recipients: 1, recipientSet: Forward.recipientSetHash(r2, hashKey: hashKey),
                              at: 1_764_000_120_000, parent: hop1.link)
        hop2.sign(with: zhao)
        let header = ForwardHeader(origin: origin, hops: [hop1, hop2])
        let sealedContent = ForwardContent(hashKey: hashKey, content: content, note: "see below", recipients: r2)
        let statement = ForwardCountersign(originID: id, originator: "li@hq", to: "wu@school", hopIndex: 2, role: .relay, chain: 1, hop: hop2)
        let keys = ["li@hq": li.publicKey, "bob@traffic": bob.publicKey, "zhao@district": zhao.publicKey]
        let check = header.check(envelopeFrom: "zhao@district", envelopeTo: "wu@school", content: sealedContent) { keys[$0] }
        XCTAssertEqual(check.status, .verified, "\(check.problems)")
        var forged = header
        forged.hops[1].signature[0] ^= 1
        XCTAssertEqual(forged.check(envelopeFrom: "zhao@district", envelopeTo: "wu@school", content: sealedContent) { keys[$0] }.status, .forged)
        var altered = sealedContent
        altered.content[0] ^= 1
        XCTAssertEqual(header.check(envelopeFrom: "zhao@district", envelopeTo: "wu@school", content: altered) { keys[$0] }.problems,
                       ["content: it does not match the origin's hash (altered on the way)"])

        func hop(_ h: ForwardHop, recipients: [String]) -> [String: Any] {
            ["forwarder": h.forwarder, "via": h.via, "recipients": recipients, "recipient_count": Int(h.recipients),
             "recipient_set": Hex.encode(h.recipientSet), "at": Int(h.at), "parent": Hex.encode(h.parent),
             "signed_bytes": Hex.encode(h.signedBytes), "signature": Hex.encode(h.signature), "encoded": Hex.encode(h.encode()),
             "link": Hex.encode(h.link)]
        }
        let object: [String: Any] = [
            "description": "Forwarding (SPEC.md 7.9): li@hq's origin record (user sign seed 0x11..0x30, hash key 0x41..0x60), bob@traffic's and zhao@district's hop records (seeds 0x31.., 0x51..), the clear header of zhao's forward to wu@school, its sealed content, li's provenance block (flag 0x0004) and traffic's countersigned hop statement (node seed 0x71..).",
            "seeds": ["li@hq": Hex.encode(seq(0x11, 32)), "bob@traffic": Hex.encode(seq(0x31, 32)), "zhao@district": Hex.encode(seq(0x51, 32)),
                      "traffic": Hex.encode(seq(0x71, 32))],
            "public_keys": ["li@hq": Hex.encode(li.publicKey), "bob@traffic": Hex.encode(bob.publicKey), "zhao@district": Hex.encode(zhao.publicKey),
                            "traffic": Hex.encode(traffic.publicKey)],
            "hash_key": Hex.encode(hashKey), "content_utf8": String(decoding: content, as: UTF8.self),
            "origin": ["id": id.hex, "sender": origin.sender, "to": origin.to, "sent_at": Int(origin.sentAt), "content_kind": Int(origin.contentKind),
                       "scope": Int(policy.scope.rawValue), "max_hops": Int(policy.maxHops), "max_recipients": Int(policy.maxRecipients),
                       "content_hash": Hex.encode(origin.contentHash), "signed_bytes": Hex.encode(origin.signedBytes),
                       "signature": Hex.encode(origin.signature), "encoded": Hex.encode(origin.encode()), "link": Hex.encode(origin.link)],
            "hops": [hop(hop1, recipients: r1), hop(hop2, recipients: r2)],
            "forward_header": Hex.encode(header.body(sealed: [])),
            "forward_content": ["note": sealedContent.note, "recipients": r2, "encoded": Hex.encode(sealedContent.encode())],
            "provenance_block": Hex.encode(provenance.prefix(content)),
            "origin_flag": Int(Forward.originFlag), "forward_kind": Int(EnvelopeKind.forward.rawValue),
            "countersign": ["node": "traffic", "role": Int(statement.role.rawValue), "chain": 1, "hop_index": 2, "to": "wu@school",
                            "statement": Hex.encode(statement.encode()), "signed_bytes": Hex.encode(statement.signedBytes(node: "traffic")),
                            "signature": Hex.encode(statement.sign(node: "traffic", with: traffic))],
        ]
        if VectorTests.writing {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try (data + Data("\n".utf8)).write(to: VectorTests.vectorsDir.appendingPathComponent("forward.json"))
        }
        let stored = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: VectorTests.vectorsDir.appendingPathComponent("forward.json"))) as? NSDictionary)
        XCTAssertEqual(stored, object as NSDictionary, "forward.json differs from what the code makes")
        // Decoded back from the file's bytes.
        let (decoded, sealed) = try ForwardHeader.split(Hex.decode(stored["forward_header"] as! String)!)
        XCTAssertEqual(decoded, header)
        XCTAssertEqual(sealed, [])
        XCTAssertEqual(try ForwardContent.decode(sealedContent.encode()), sealedContent)
        let (p, rest) = try Provenance.split(provenance.prefix(content))
        XCTAssertEqual(p, provenance)
        XCTAssertEqual(rest, content)
        XCTAssertEqual(try ForwardCountersign.decode(statement.encode()), statement)
    }
}
