@testable import SealpostNode
import SealpostCore
import Sodium
import XCTest

/// `DowngradeJudge` with plain values (SPEC 7.11.11): who may downgrade, whose message, whether
/// the label goes down, and every signature; a previous downgrade is lowered further only from its `to`.
final class DowngradeJudgeTests: XCTestCase {
    let office = SignKeyPair.generate(), li = SignKeyPair.generate(), node = SignKeyPair.generate()
    let now: UInt64 = 1_764_000_000_000

    func origin(sender: String = "office@hq", label: UInt8? = 3, key: SignKeyPair? = nil) -> ForwardOrigin {
        var o = ForwardOrigin(id: MessageID(bytes: Sodium.randomBytes(16))!, sender: sender, to: "li@hq", sentAt: now - 5000, contentKind: 1,
                              policy: ForwardPolicy(), contentHash: Sodium.randomBytes(32), label: label)
        o.sign(with: key ?? office)
        return o
    }

    func facts(downgraders: [String] = ["li"]) -> DowngradeJudge.Facts {
        let keys = ["office@hq": office.publicKey, "li@hq": li.publicKey, "office@traffic": office.publicKey]
        return DowngradeJudge.Facts(node: "hq", downgraders: downgraders, set: .standard, signKey: { keys[$0] }, nodeKey: node.publicKey, now: now)
    }

    func request(_ origin: ForwardOrigin, to: UInt8 = 1, previous: DowngradeRecord? = nil, at: UInt64? = nil, key: SignKeyPair? = nil) -> DowngradeRequest {
        DowngradeRequest.signed(origin: origin, previous: previous, to: to, reason: "published", by: "li@hq", at: at ?? now, key: key ?? li)
    }

    func refusal(_ verdict: DowngradeJudge.Verdict) -> String? {
        if case .refuse(let why) = verdict { return why }
        return nil
    }

    func testAnAllowedPersonOfTheUnitLowersTheLabel() throws {
        let o = origin()
        guard case .accept(var record) = DowngradeJudge().judge(request(o), user: "li", facts: facts()) else { return XCTFail("refused") }
        XCTAssertEqual([record.from, record.to], [3, 1])
        XCTAssertEqual(record.by, "li@hq")
        record.countersign(node: "hq", with: node)
        XCTAssertNil(record.problem(for: o, nodeKey: node.publicKey))
        // Lowered again from the previous downgrade's label, not the origin's.
        guard case .accept(let again) = DowngradeJudge().judge(request(o, to: 0, previous: record), user: "li", facts: facts()) else {
            return XCTFail("refused")
        }
        XCTAssertEqual([again.from, again.to], [1, 0])
        XCTAssertTrue(refusal(DowngradeJudge().judge(request(o, to: 2, previous: record), user: "li", facts: facts()))?.contains("not lower") ?? false)
    }

    func testEachRefusalSaysWhy() throws {
        let judge = DowngradeJudge()
        let o = origin()
        XCTAssertTrue(refusal(judge.judge(request(o), user: "li", facts: facts(downgraders: [])))?.contains("labels.downgraders") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(origin(sender: "office@traffic")), user: "li", facts: facts()))?
            .contains("only its originating unit traffic") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(origin(key: li)), user: "li", facts: facts()))?.contains("bad signature") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(o, to: 3), user: "li", facts: facts()))?.contains("not lower") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(o, to: 5), user: "li", facts: facts()))?.contains("not lower") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(origin(label: nil)), user: "li", facts: facts()))?.contains("version 1") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(o, key: office), user: "li", facts: facts()))?.contains("not signed by li@hq") ?? false)
        XCTAssertTrue(refusal(judge.judge(request(o, at: now - 3_600_000), user: "li", facts: facts()))?.contains("clock") ?? false)
        var forgedPrevious = request(o).record(by: "li@hq")
        forgedPrevious.countersign(node: "hq", with: SignKeyPair.generate())
        XCTAssertTrue(refusal(judge.judge(request(o, to: 0, previous: forgedPrevious), user: "li", facts: facts()))?.contains("earlier downgrade") ?? false)
    }

    /// The effective label of a forward and what a lowered one is told, for every node and client.
    func testTheEffectiveLabelOfAForward() throws {
        let o = origin()
        guard case .accept(var record) = DowngradeJudge().judge(request(o), user: "li", facts: facts()) else { return XCTFail("refused") }
        record.countersign(node: "hq", with: node)
        var hop = ForwardHop(forwarder: "li@hq", via: "li@hq", recipients: 1, recipientSet: Sodium.randomBytes(32), at: now, parent: o.link)
        hop.sign(with: li)
        let keys = { (n: String) in n == "hq" ? self.node.publicKey : nil }
        let display = { (r: UInt8) in LabelSet.standard.display(r) }
        let plain = ForwardHeader(origin: o, hops: [hop])
        XCTAssertEqual(plain.effectiveLabel(nodeKey: keys).rank, 3)
        XCTAssertNil(plain.loweredLabel(clearRank: 3, nodeKey: keys, display: display))
        XCTAssertTrue(plain.loweredLabel(clearRank: 1, nodeKey: keys, display: display)?.contains("without a downgrade") ?? false)
        let downgraded = ForwardHeader(origin: o, hops: [hop], downgrade: record)
        XCTAssertEqual(downgraded.effectiveLabel(nodeKey: keys).rank, 1)
        XCTAssertNil(downgraded.loweredLabel(clearRank: 1, nodeKey: keys, display: display))
        XCTAssertNotNil(downgraded.loweredLabel(clearRank: 0, nodeKey: keys, display: display))
        // Unknown node key, a forged signature, another message's record: the downgrade does not hold.
        XCTAssertTrue(downgraded.loweredLabel(clearRank: 1, nodeKey: { _ in nil }, display: display)?.contains("cannot be checked") ?? false)
        var forged = downgraded
        forged.downgrade?.nodeSignature[5] ^= 1
        XCTAssertTrue(forged.loweredLabel(clearRank: 1, nodeKey: keys, display: display)?.contains("not signed by hq") ?? false)
        var elsewhere = downgraded
        elsewhere.origin = origin()
        XCTAssertTrue(elsewhere.loweredLabel(clearRank: 1, nodeKey: keys, display: display)?.contains("another message") ?? false)
        // A version 1 origin names no label: nothing to check.
        XCTAssertNil(ForwardHeader(origin: origin(label: nil), hops: [hop]).loweredLabel(clearRank: 0, nodeKey: keys, display: display))
        // Encoded: version 2 with the downgrade, version 1 without; both decode back.
        let (back, _) = try ForwardHeader.split(downgraded.body(sealed: [9]))
        XCTAssertEqual(back, downgraded)
        XCTAssertEqual(plain.body(sealed: [])[0], 1)
        XCTAssertEqual(downgraded.body(sealed: [])[0], 2)
    }
}
