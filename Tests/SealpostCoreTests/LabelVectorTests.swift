import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/labels.json (SPEC 7.11, 9.7): the label set and its digest, LABELS, HELLO with
/// the digest, a labelled envelope, the version 2 body with the label bound in (and a rewritten
/// label refused), a directory entry with a clearance, a signed refusal notice, the group label
/// operation, and policy cases with plain values. `SEALPOST_WRITE_VECTORS=1` rewrites it.
final class LabelVectorTests: XCTestCase {
    /// The vector files, through VectorTests' helpers.
    struct Files {
        func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }
        func load(_ name: String) throws -> [String: Any] { try VectorTests.load(name) }
        func save(_ name: String, _ object: [String: Any]) throws { try VectorTests.save(name, object) }
    }
    let v = Files()

    func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    /// Policy cases: (label, clearance, node ceiling, link ceiling or nil, accredited ranks) → reason or "allowed".
    static let policyCases: [(label: UInt8, clearance: UInt8, ceiling: UInt8, link: UInt8?, accredited: [UInt8], want: String)] = [
        (1, 1, 3, nil, [], "allowed"),
        (2, 1, 3, nil, [], "not_cleared"),
        (3, 3, 2, nil, [], "node_ceiling"),
        (2, 3, 3, 1, [], "link_ceiling"),
        (4, 6, 6, nil, [], "not_accredited"),
        (4, 6, 6, nil, [4], "allowed"),
        (5, 6, 6, nil, [4], "not_accredited"),
        (7, 6, 6, nil, [], "unknown_label"),
        (0, 0, 0, 0, [], "allowed"),
    ]

    static func verdict(_ c: (label: UInt8, clearance: UInt8, ceiling: UInt8, link: UInt8?, accredited: [UInt8], want: String)) -> String {
        let p = LabelPolicy(set: .standard, defaultRank: 0, ceiling: c.ceiling, accredited: Set(c.accredited), node: "hq")
        let r = p.relay(c.label, to: "traffic", linkCeiling: c.link) ?? p.deliver(c.label, to: [("wu@traffic", c.clearance)])
        return r?.reason.name ?? "allowed"
    }

    func testLabelVectors() throws {
        let set = LabelSet.standard
        var setBytes = WireWriter()
        set.encode(into: &setBytes)
        let info = LabelInfo(set: set, defaultRank: 1, ceiling: 3, accredited: 0, clearance: 2)
        // With 保密期限 (7.11.9): 敏感 90 days, 工作秘密 30 days, as the optional last field.
        let withExpiry = LabelInfo(set: set, defaultRank: 1, ceiling: 3, accredited: 0, clearance: 2,
                                   expiry: LabelExpiry([2: 7_776_000, 3: 2_592_000]))
        let hello = PeerCommand.hello(node: "hq", signKey: [UInt8](repeating: 0x77, count: 32), credit: 1000, epoch: 1_764_000_000_000,
                                      labels: set.digest)
        let label = EnvelopeLabel(rank: 2, readableUntil: 1_764_086_400_000)
        var envelope = VectorTests.envelope
        envelope.label = label
        var unstamped = envelope
        unstamped.from = ""

        // The version 2 body, with the keys and nonce of e2e.json.
        var senderSecret = seq(0x01, 32), recipientSecret = seq(0x41, 32)
        let sender = try XCTUnwrap(BoxKeyPair(secretKey: &senderSecret))
        let recipient = try XCTUnwrap(BoxKeyPair(secretKey: &recipientSecret))
        let key = try XCTUnwrap(BoxSharedKey(theirPublicKey: recipient.publicKey, mySecretKey: sender.secretKey))
        let content = Array("敏感: the inspection is on Thursday.".utf8)
        let body = Sealed.seal(kind: envelope.kind, id: envelope.id, from: envelope.from, to: envelope.to, sentAt: envelope.sentAt,
                               label: label, content: content, key: key, nonce: seq(0x81, 24))
        envelope.body = body

        // A directory entry with a clearance, signed with the node key of directory.json.
        var seed = seq(0x21, 32)
        let node = try XCTUnwrap(SignKeyPair(seed: &seed))
        var entry = DirectoryEntry(address: "wu@traffic", display: "Wu Lei", boxKey: seq(0x61, 32), signKey: seq(0xa1, 32),
                                   updatedAt: 1_764_000_000_000, clearance: 2)
        entry.sign(with: node)

        var notice = LabelNotice(ref: VectorTests.id1, sender: "alice@hq", recipient: "wu@traffic", node: "city", reason: .linkCeiling,
                                 label: 3, text: "the link from city to traffic carries at most 敏感 sensitive; the message is 工作秘密 work-secret",
                                 refusedAt: 1_764_000_000_500)
        notice.sign(with: node)

        if VectorTests.writing {
            try v.save("labels.json", [
                "description": "Labels and clearances (SPEC.md 7.11 and 9.7). Keys: e2e.json (box) and directory.json (node sign seed).",
                "set": set.labels.map { ["name": $0.name, "english": $0.english, "state_secret": $0.stateSecret] as [String: Any] },
                "set_encoded": Hex.encode(setBytes.bytes),
                "set_digest": Hex.encode(set.digest),
                "commands": [
                    ["name": "LABELS", "hex": Hex.encode(Command.labels(nil).encode())],
                    ["name": "LABELS", "hex": Hex.encode(Command.labels(info).encode()),
                     "default": 1, "ceiling": 3, "accredited": 0, "clearance": 2] as [String: Any],
                    ["name": "LABELS", "hex": Hex.encode(Command.labels(withExpiry).encode()),
                     "default": 1, "ceiling": 3, "accredited": 0, "clearance": 2,
                     "expiry": [["rank": 2, "seconds": 7_776_000], ["rank": 3, "seconds": 2_592_000]]] as [String: Any],
                ],
                "hello": Hex.encode(hello.encode()),
                "envelope": ["label": Int(label.rank), "readable_until": Int(label.readableUntil),
                             "send": Hex.encode(Command.send(unstamped).encode())] as [String: Any],
                "e2e": ["content_utf8": String(decoding: content, as: UTF8.self), "body": Hex.encode(body)],
                "entry": ["clearance": 2, "signed_bytes": Hex.encode(entry.signedBytes), "encoded": Hex.encode(entry.encode())] as [String: Any],
                "refusal": ["reason": Int(notice.reason.rawValue), "label": Int(notice.label), "text": notice.text,
                            "refused_at": Int(notice.refusedAt), "body": Hex.encode(notice.encode()),
                            "id": notice.messageID.hex] as [String: Any],
                "group_label_op": Hex.encode(Group.opBody(.label, members: [], label: 3)),
                "policy": Self.policyCases.map {
                    ["label": Int($0.label), "clearance": Int($0.clearance), "ceiling": Int($0.ceiling),
                     "link": $0.link.map { Int($0) } ?? NSNull(), "accredited": $0.accredited.map { Int($0) }, "verdict": $0.want] as [String: Any]
                },
            ])
        }
        let stored = try v.load("labels.json")
        XCTAssertEqual(stored["set_digest"] as? String, Hex.encode(set.digest))
        XCTAssertEqual(stored["hello"] as? String, Hex.encode(hello.encode()))
        XCTAssertEqual(try PeerCommand.decode(v.bytes(try XCTUnwrap(stored["hello"] as? String))), hello)
        let commands = try XCTUnwrap(stored["commands"] as? [[String: Any]])
        XCTAssertEqual(commands.map { $0["hex"] as? String }, [Hex.encode(Command.labels(nil).encode()), Hex.encode(Command.labels(info).encode()),
                                                               Hex.encode(Command.labels(withExpiry).encode())])
        XCTAssertEqual(try Command.decode(v.bytes(try XCTUnwrap(commands[1]["hex"] as? String))), .labels(info))
        XCTAssertEqual(try Command.decode(v.bytes(try XCTUnwrap(commands[2]["hex"] as? String))), .labels(withExpiry))
        let e = try XCTUnwrap(stored["envelope"] as? [String: Any])
        XCTAssertEqual(e["send"] as? String, Hex.encode(Command.send(unstamped).encode()))
        guard case .send(let decoded) = try Command.decode(v.bytes(try XCTUnwrap(e["send"] as? String))) else { return XCTFail("not a SEND") }
        XCTAssertEqual(decoded.label, label)
        XCTAssertEqual((stored["e2e"] as? [String: Any])?["body"] as? String, Hex.encode(body))
        XCTAssertEqual((stored["entry"] as? [String: Any])?["encoded"] as? String, Hex.encode(entry.encode()))
        XCTAssertEqual((stored["refusal"] as? [String: Any])?["body"] as? String, Hex.encode(notice.encode()))
        XCTAssertEqual(stored["group_label_op"] as? String, Hex.encode(Group.opBody(.label, members: [], label: 3)))

        // The recipient opens it; a relay's rewrite of the clear label is refused.
        let back = try XCTUnwrap(BoxSharedKey(theirPublicKey: sender.publicKey, mySecretKey: recipient.secretKey))
        XCTAssertEqual(try Sealed.open(envelope, key: back), content)
        for forged in [EnvelopeLabel(rank: 1, readableUntil: label.readableUntil), EnvelopeLabel(rank: 2, readableUntil: 0), nil] {
            var rewritten = envelope
            rewritten.label = forged
            XCTAssertThrowsError(try Sealed.open(rewritten, key: back)) { XCTAssertEqual($0 as? Sealed.OpenError, .headerMismatch("label")) }
        }
        // A version 1 body under a label a relay added.
        var plain = VectorTests.envelope
        plain.body = Sealed.seal(kind: plain.kind, id: plain.id, from: plain.from, to: plain.to, sentAt: plain.sentAt, content: content, key: key)
        plain.label = label
        XCTAssertThrowsError(try Sealed.open(plain, key: back)) { XCTAssertEqual($0 as? Sealed.OpenError, .headerMismatch("label")) }

        // The entry's clearance is signed: stripped or changed, it does not verify.
        let decodedEntry = try DirectoryEntry.decode(entry.encode())
        XCTAssertEqual(decodedEntry.clearance, 2)
        XCTAssertTrue(decodedEntry.verify(nodeKey: node.publicKey))
        for forged in [UInt8?.none, 3] {
            var e = decodedEntry
            e.clearance = forged
            XCTAssertFalse(e.verify(nodeKey: node.publicKey), "clearance \(String(describing: forged))")
        }
        XCTAssertTrue(try LabelNotice.decode(notice.encode()).verify(nodeKey: node.publicKey))
        var moved = notice
        moved.sender = "bob@hq"
        XCTAssertFalse(moved.verify(nodeKey: node.publicKey))

        let cases = try XCTUnwrap(stored["policy"] as? [[String: Any]])
        XCTAssertEqual(cases.count, Self.policyCases.count)
        for c in Self.policyCases { XCTAssertEqual(Self.verdict(c), c.want, "\(c)") }
    }
}
