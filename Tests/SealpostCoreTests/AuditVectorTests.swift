import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/audit.json (SPEC.md 18.11): a chain of audit records, their hashes and
/// leaves, the tree roots at every size, a signed head and an inclusion proof.
/// `SEALPOST_WRITE_VECTORS=1 swift test --filter AuditVectorTests` rewrites it.
final class AuditVectorTests: XCTestCase {
    func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    func testAuditVectors() throws {
        var seed = seq(0x91, 32)
        let key = try XCTUnwrap(SignKeyPair(seed: &seed))
        let id1 = MessageID(bytes: (0..<16).map { UInt8($0) })!
        let file = MessageID(bytes: seq(0xf0, 16))!
        let events: [AuditEvent] = [
            .inviteCreated(invite: "26cb7f4824356a7c", user: "wu@hq", rekey: false, by: AuditActor.operator),
            .inviteUsed(invite: "26cb7f4824356a7c", user: "wu@hq"),
            .burnViewed(id: id1, viewer: "wu@hq", sender: "alice@traffic"),
            .fileFetched(file: file, by: "traffic", owner: "wu@hq"),
            .forwardHop(id: id1, forwarder: "wu@hq", hop: [1, 2, 3], countersignature: [UInt8](repeating: 0x77, count: 64)),
        ]
        var records: [AuditRecord] = []
        var prev = AuditRecord.genesis
        for (i, event) in events.enumerated() {
            let r = AuditRecord(position: UInt64(i + 1), time: 1_764_000_000_000 + UInt64(i) * 1000, event: event, prev: prev)
            records.append(r)
            prev = r.hash
        }
        var frontier = AuditFrontier()
        var roots: [String] = []
        for r in records {
            frontier.append(recordHash: r.hash)
            roots.append(Hex.encode(frontier.root))
        }
        let head = AuditHead(node: "hq", position: 5, root: frontier.root, time: 1_764_000_060_000).signed(with: key)
        var wire = WireWriter()
        head.encode(into: &wire)
        let proof = AuditProof.make(record: records[2], recordHashes: records.map(\.hash), head: head)
        XCTAssertNoThrow(try proof.verify(nodeKey: key.publicKey))
        let recordObjects: [[String: Any]] = records.map { r in
            ["position": Int(r.position), "time": Int(r.time), "kind": Int(r.fields.kind.rawValue), "kind_name": r.fields.kind.name,
             "actor": r.fields.actor, "subject": r.fields.subject, "ref": Hex.encode(r.fields.ref), "detail": Hex.encode(r.fields.detail),
             "prev": Hex.encode(r.prev), "canonical": Hex.encode(r.canonicalBytes), "hash": Hex.encode(r.hash),
             "leaf": Hex.encode(AuditTree.leaf(r.hash))]
        }
        let object: [String: Any] = [
            "description": "The audit log (SPEC.md 15.7): five records chained from the genesis, their canonical bytes, hashes and RFC 6962 leaves, the tree root at each size, the head at 5 signed with node sign seed 0x91..0xb0, and the inclusion proof of record 3.",
            "node": "hq", "node_sign_seed": Hex.encode(seq(0x91, 32)), "node_sign_public": Hex.encode(key.publicKey),
            "records": recordObjects, "roots": roots, "empty_root": Hex.encode(AuditTree.empty),
            "head": ["position": 5, "time": Int(head.time), "root": Hex.encode(head.root), "signed_bytes": Hex.encode(head.signedBytes),
                     "signature": Hex.encode(head.signature), "wire": Hex.encode(wire.bytes)],
            "proof": ["position": 3, "tree_size": 5, "path": proof.path.map { Hex.encode($0) }],
        ]
        if VectorTests.writing {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try (data + Data("\n".utf8)).write(to: VectorTests.vectorsDir.appendingPathComponent("audit.json"))
        }
        let stored = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: VectorTests.vectorsDir.appendingPathComponent("audit.json"))) as? NSDictionary)
        XCTAssertEqual(stored, object as NSDictionary, "audit.json differs from what the code makes")
        // Decoded back from the file's bytes.
        for (i, r) in (stored["records"] as? [[String: Any]] ?? []).enumerated() {
            let decoded = try AuditRecord.decode(Hex.decode(r["canonical"] as! String)!, prev: Hex.decode(r["prev"] as! String)!)
            XCTAssertEqual(decoded, records[i])
            XCTAssertEqual(try decoded.event(), events[i])
        }
    }
}
