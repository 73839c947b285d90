import SealpostCore
import Sodium
import XCTest

/// The audit log's chain, tree, signed head and proofs, with plain values (protocol/SPEC.md §15.7).
final class AuditChainTests: XCTestCase {
    let key = SignKeyPair.generate()

    func id(_ n: UInt8) -> MessageID { MessageID(bytes: [UInt8](repeating: n, count: 16))! }

    /// A log of `n` records of assorted kinds, chained from the genesis.
    func log(_ n: Int) -> [AuditRecord] {
        var out: [AuditRecord] = []
        var prev = AuditRecord.genesis
        for i in 1...n {
            let event: AuditEvent
            switch i % 4 {
            case 0: event = .burnViewed(id: id(UInt8(i & 0xff)), viewer: "wu@traffic", sender: "li@hq")
            case 1: event = .fileFetched(file: id(UInt8(i & 0xff)), by: "traffic", owner: "li@hq")
            case 2: event = .userDisabled(user: "zhao", by: AuditActor.operator)
            default: event = .inviteCreated(invite: "0011223344556677", user: "qian", rekey: i % 8 == 3, by: AuditActor.operator)
            }
            let r = AuditRecord(position: UInt64(i), time: 1_764_000_000_000 + UInt64(i), event: event, prev: prev)
            prev = r.hash
            out.append(r)
        }
        return out
    }

    func head(_ records: [AuditRecord], at n: Int) -> AuditHead {
        var f = AuditFrontier()
        for r in records.prefix(n) { f.append(recordHash: r.hash) }
        return AuditHead(node: "hq", position: UInt64(n), root: f.root, time: 1_764_000_100_000).signed(with: key)
    }

    func testEveryEventRoundTripsThroughItsFieldsAndBytes() throws {
        let events: [AuditEvent] = [
            .forward(id: id(1), origin: id(2), by: "li@hq", recipientsHash: [UInt8](repeating: 7, count: 32), hops: 3),
            .forwardRefused(id: id(1), origin: id(2), by: "li@hq", reason: "no_forward"),
            .forwardHop(id: id(1), forwarder: "li@hq", hop: [1, 2, 3], countersignature: [UInt8](repeating: 9, count: 64)),
            .burnViewed(id: id(3), viewer: "wu@traffic", sender: "li@hq"),
            .fileFetched(file: id(4), by: "traffic", owner: "li@hq"),
            .userEnabled(user: "a", by: "operator"), .userDisabled(user: "a", by: "operator"),
            .userRemoved(user: "a", by: "operator"), .userRekeyed(user: "a", by: "operator"),
            .inviteCreated(invite: "ab12", user: "a", rekey: true, by: "operator"),
            .inviteUsed(invite: "ab12", user: "a"), .inviteRevoked(invite: "ab12", user: "a", by: "operator"),
            .peerAdded(peer: "traffic", key: [UInt8](repeating: 3, count: 32), by: "operator"), .peerRemoved(peer: "traffic", by: "operator"),
            .directoryForget(address: "old@traffic", by: "operator"), .directoryUnpin(node: "traffic", by: "operator"),
            .backup(destination: "/var/backups/hq-1", by: "operator"), .restore(source: "/var/backups/hq-1", epoch: 42, by: "operator"),
            .officerGranted(user: "sun", by: "operator"), .officerRevoked(user: "sun", by: "operator"),
            .traceQueryAnswered(query: id(5), asker: "city", about: id(6), records: 12),
            .auditHeadSigned(position: 9, root: [UInt8](repeating: 4, count: 32)),
            .viewerCode(code: "traffic-7KQ2-M9XD", viewer: "wu@traffic", message: id(7), sender: "li@hq"),
            .labelRefused(id: id(7), from: "li@hq", to: "wu@traffic", reason: LabelReason.notCleared.rawValue, label: 3),
            .clearanceSet(user: "wu@traffic", label: 2, by: "operator"),
            .groupLabelChanged(group: "board@hq", from: 3, to: 2, by: "li@hq"),
            .forwardReportReceived(id: id(8), node: "traffic", forwarder: "wu@traffic", report: {
                var r = ForwardReport(ref: id(8), origin: id(9), originator: "li@hq", forwarder: "wu@traffic", to: "teachers@traffic",
                                      reason: "label_group_label", label: 3, hops: 1, refusedAt: 7, node: "traffic")
                r.sign(with: SignKeyPair.generate())
                return r.encode()
            }()),
            .labelDowngraded(origin: id(8), originator: "li@hq", by: "chen@hq", from: 3, to: 1,
                             record: DowngradeRecord(originLink: [UInt8](repeating: 5, count: 32), from: 3, to: 1, by: "chen@hq", at: 7,
                                                     reason: "published", userSignature: [UInt8](repeating: 6, count: 64), node: "hq",
                                                     nodeSignature: [UInt8](repeating: 7, count: 64)).encode()),
        ]
        XCTAssertEqual(Set(events.map(\.kind)), Set(AuditKind.allCases), "one example per kind")
        for (i, event) in events.enumerated() {
            let r = AuditRecord(position: UInt64(i + 1), time: 5, event: event, prev: [UInt8](repeating: 1, count: 32))
            XCTAssertEqual(try r.event(), event)
            let decoded = try AuditRecord.decode(r.canonicalBytes, prev: r.prev)
            XCTAssertEqual(decoded, r, "\(event.kind.name)")
            XCTAssertEqual(AuditKind(name: event.kind.name), event.kind)
        }
    }

    func testDecodingRefusesBadLengthsAndKinds() {
        let r = log(1)[0]
        var bytes = r.canonicalBytes
        bytes[16] = 99 // the kind byte
        XCTAssertThrowsError(try AuditRecord.decode(bytes, prev: r.prev))
        XCTAssertThrowsError(try AuditRecord.decode(Array(r.canonicalBytes.dropLast()), prev: r.prev))
        XCTAssertThrowsError(try AuditRecord.decode(r.canonicalBytes + [0], prev: r.prev))
        XCTAssertThrowsError(try AuditRecord.decode(r.canonicalBytes, prev: [0]))
        XCTAssertThrowsError(try AuditEvent(AuditFields(kind: .forward, actor: "a", subject: "", ref: id(1).bytes, detail: [1])))
        XCTAssertThrowsError(try AuditEvent(AuditFields(kind: .burnViewed, actor: "a", subject: "", ref: [], detail: [])))
    }

    func testChainHoldsThePreviousHashAndAnyChangeAltersTheHash() {
        let records = log(3)
        XCTAssertEqual(records[0].prev, AuditRecord.genesis)
        XCTAssertEqual(records[1].prev, records[0].hash)
        XCTAssertEqual(records[2].prev, records[1].hash)
        var r = records[1]
        r.time += 1
        XCTAssertNotEqual(r.hash, records[1].hash)
        r = records[1]; r.fields.actor = "x"
        XCTAssertNotEqual(r.hash, records[1].hash)
        r = records[1]; r.prev = AuditRecord.genesis
        XCTAssertNotEqual(r.hash, records[1].hash)
    }

    func testFrontierRootIsTheTreeHashAtEverySize() {
        let records = log(33)
        var f = AuditFrontier()
        XCTAssertEqual(f.root, AuditTree.empty)
        for n in 1...33 {
            f.append(recordHash: records[n - 1].hash)
            XCTAssertEqual(f.root, AuditTree.root(records.prefix(n).map { AuditTree.leaf($0.hash) }[...]), "size \(n)")
            XCTAssertEqual(AuditFrontier(size: f.size, bytes: f.bytes), f, "kept and read back at size \(n)")
        }
        XCTAssertNil(AuditFrontier(size: 5, bytes: [UInt8](repeating: 0, count: 32)), "5 leaves are two subtrees")
        // RFC 6962's shape: three leaves hash as node(node(l0, l1), l2).
        let l = records.prefix(3).map { AuditTree.leaf($0.hash) }
        XCTAssertEqual(AuditTree.root(l[...]), AuditTree.node(AuditTree.node(l[0], l[1]), l[2]))
    }

    func testInclusionProofOfEveryRecordAtEverySize() throws {
        let records = log(21)
        let hashes = records.map(\.hash)
        for n in 1...21 {
            let h = head(records, at: n)
            for p in 1...n {
                let proof = AuditProof.make(record: records[p - 1], recordHashes: hashes, head: h)
                XCTAssertEqual(proof.path, AuditTree.path(p - 1, hashes.prefix(n).map(AuditTree.leaf)[...]), "bottom-up = RFC 6962's recursion")
                XCTAssertLessThanOrEqual(proof.path.count, 5)
                XCTAssertNoThrow(try proof.verify(nodeKey: key.publicKey), "record \(p) of \(n)")
            }
        }
    }

    func testProofWireFormRoundTripsAndRefusesBadLengths() throws {
        let records = log(9)
        let proof = AuditProof.make(record: records[3], recordHashes: records.map(\.hash), head: head(records, at: 9))
        var w = WireWriter()
        proof.encode(into: &w)
        var r = WireReader(w.bytes)
        let decoded = try AuditProof.decode(from: &r)
        try r.expectEnd()
        XCTAssertEqual(decoded, proof)
        XCTAssertNoThrow(try decoded.verify(nodeKey: key.publicKey))
        for cut in [1, 40, w.bytes.count - 1] {
            var short = WireReader(Array(w.bytes.prefix(cut)))
            XCTAssertThrowsError(try AuditProof.decode(from: &short), "cut at \(cut)")
        }
    }

    func testProofFailsForAnAlteredRecordAForgedHeadAndARecordAboveTheHead() throws {
        let records = log(10)
        let h = head(records, at: 8)
        let proof = AuditProof.make(record: records[4], recordHashes: records.map(\.hash), head: h)
        var altered = proof
        altered.record.fields.subject = "someone@else"
        XCTAssertThrowsError(try altered.verify(nodeKey: key.publicKey)) { XCTAssertEqual($0 as? AuditProof.Failure, .notInTree(position: 5)) }
        var moved = proof
        moved.record.position = 6
        XCTAssertThrowsError(try moved.verify(nodeKey: key.publicKey))
        var badPath = proof
        badPath.path[0][0] ^= 1
        XCTAssertThrowsError(try badPath.verify(nodeKey: key.publicKey))
        var forged = proof
        forged.head.root[0] ^= 1
        XCTAssertThrowsError(try forged.verify(nodeKey: key.publicKey)) { XCTAssertEqual($0 as? AuditProof.Failure, .badHeadSignature) }
        XCTAssertThrowsError(try proof.verify(nodeKey: SignKeyPair.generate().publicKey))
        var above = proof
        above.record = records[8]
        XCTAssertThrowsError(try above.verify(nodeKey: key.publicKey)) { XCTAssertEqual($0 as? AuditProof.Failure, .beyondHead(position: 9, head: 8)) }
    }

    func testHeadWireFormRoundTripsAndSignatureCoversEveryField() throws {
        let h = head(log(4), at: 4)
        var w = WireWriter()
        h.encode(into: &w)
        var r = WireReader(w.bytes)
        XCTAssertEqual(try AuditHead.decode(from: &r), h)
        XCTAssertTrue(h.verify(nodeKey: key.publicKey))
        var x = h; x.node = "traffic"; XCTAssertFalse(x.verify(nodeKey: key.publicKey))
        x = h; x.position += 1; XCTAssertFalse(x.verify(nodeKey: key.publicKey))
        x = h; x.time += 1; XCTAssertFalse(x.verify(nodeKey: key.publicKey))
        x = h; x.root[31] ^= 1; XCTAssertFalse(x.verify(nodeKey: key.publicKey))
    }

    // MARK: verify

    func verify(_ records: [AuditRecord], heads: [AuditHead], hashes: [[UInt8]]? = nil) -> AuditVerification {
        AuditVerification.verify(records: records, storedHashes: hashes, heads: heads, nodeKey: key.publicKey)
    }

    func testAGoodLogVerifiesWithItsHeads() {
        let records = log(12)
        let v = verify(records, heads: [head(records, at: 5), head(records, at: 12)], hashes: records.map(\.hash))
        XCTAssertTrue(v.ok, v.problem ?? "")
        XCTAssertEqual(v.records, 12)
        XCTAssertEqual(v.headsChecked, 2)
        XCTAssertTrue(verify([], heads: []).ok)
    }

    func testAnEditedRecordIsFoundAtItsPosition() {
        let records = log(12)
        let heads = [head(records, at: 12)]
        // Edited, hash left as it was: its stored hash no longer matches.
        var edited = records
        edited[6].fields.subject = "nobody"
        XCTAssertEqual(verify(edited, heads: heads, hashes: records.map(\.hash)).firstBad, 7)
        // Edited and re-hashed: the next record's prev no longer matches.
        var hashes = records.map(\.hash)
        hashes[6] = edited[6].hash
        XCTAssertEqual(verify(edited, heads: heads, hashes: hashes).firstBad, 8)
        // Without stored hashes, the last record edited: only the signed head finds it.
        var last = records
        last[11].time += 1
        XCTAssertEqual(verify(last, heads: heads).firstBad, 12)
        XCTAssertTrue(verify(last, heads: []).ok, "above the last signed head, an edit of the tail needs the head")
    }

    func testARemovedRecordIsFoundAtItsPosition() {
        var records = log(12)
        records.remove(at: 3)
        let v = verify(records, heads: [])
        XCTAssertEqual(v.firstBad, 4)
        XCTAssertTrue(v.problem!.contains("missing"), v.problem!)
    }

    func testTwoSwappedRecordsAreFound() {
        var records = log(12)
        records.swapAt(4, 5)
        XCTAssertEqual(verify(records, heads: []).firstBad, 5)
        // Contents swapped, positions kept (as two rows swapped in a table).
        var swapped = log(12)
        let a = swapped[4], b = swapped[5]
        swapped[4] = b; swapped[4].position = 5
        swapped[5] = a; swapped[5].position = 6
        XCTAssertEqual(verify(swapped, heads: []).firstBad, 5)
    }

    func testATailCutBelowTheSignedHeadIsFound() {
        let records = log(12)
        let v = verify(Array(records.prefix(9)), heads: [head(records, at: 11)])
        XCTAssertEqual(v.firstBad, 10)
        XCTAssertTrue(v.problem!.contains("cut"), v.problem!)
        // Cut, then new records appended in their place: the head's root no longer matches.
        var rewritten = Array(records.prefix(9))
        rewritten.append(AuditRecord(position: 10, time: 1, event: .peerRemoved(peer: "x", by: "operator"), prev: records[8].hash))
        rewritten.append(AuditRecord(position: 11, time: 1, event: .peerRemoved(peer: "y", by: "operator"), prev: rewritten[9].hash))
        XCTAssertEqual(verify(rewritten, heads: [head(records, at: 11)]).firstBad, 11)
    }

    func testAForgedHeadIsFound() {
        let records = log(6)
        var h = head(records, at: 6)
        h.signature[0] ^= 1
        XCTAssertEqual(verify(records, heads: [h]).firstBad, 6)
    }
}
