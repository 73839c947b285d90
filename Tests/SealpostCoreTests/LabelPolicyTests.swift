import SealpostCore
import XCTest

/// The label rules with plain values (protocol/SPEC.md 7.11.5): what a node carries, what may leave
/// over a link, who may receive, what a group takes; and the envelope's label on the wire.
final class LabelPolicyTests: XCTestCase {
    let set = LabelSet.standard

    func testStandardSetOrderNamesAndRanks() {
        XCTAssertEqual(set.labels.map(\.name), ["公开", "内部", "敏感", "工作秘密", "秘密", "机密", "绝密"])
        XCTAssertEqual(set.rank(of: "敏感"), 2)
        XCTAssertEqual(set.rank(of: "Work-Secret"), 3, "English names in any case")
        XCTAssertEqual(set.rank(of: "6"), 6)
        XCTAssertNil(set.rank(of: "7"))
        XCTAssertNil(set.rank(of: "secret-ish"))
        XCTAssertEqual(set.labels.filter(\.stateSecret).map(\.english), ["secret", "confidential", "top-secret"])
        XCTAssertThrowsError(try LabelSet([Label(name: "a", english: "x"), Label(name: "b", english: "X")]), "English names are unique in any case")
        XCTAssertThrowsError(try LabelSet([]))
    }

    func testDefaultCeilingIsTheHighestLabelThatIsNoStateSecret() {
        let p = LabelPolicy(set: set)
        XCTAssertEqual(p.ceiling, 3)
        XCTAssertNil(p.carry(3))
        XCTAssertEqual(p.carry(4)?.reason, .notAccredited, "a state secret is refused for want of accreditation before the ceiling")
        XCTAssertEqual(p.carry(7)?.reason, .unknownLabel)
    }

    func testAccreditationIsPerClass() {
        let p = LabelPolicy(set: set, ceiling: 6, accredited: [4], node: "city")
        XCTAssertNil(p.carry(4))
        let refusal = p.carry(5)
        XCTAssertEqual(refusal?.reason, .notAccredited)
        XCTAssertEqual(refusal?.reason.errorCode, 452)
        XCTAssertTrue(refusal?.text.contains("node city is not accredited for 机密 confidential") ?? false, refusal?.text ?? "")
        XCTAssertEqual(LabelPolicy(set: set, ceiling: 3, accredited: [4]).carry(4)?.reason, .nodeCeiling, "accredited, yet above the ceiling")
    }

    func testLinkCeilingOnlyNarrows() {
        let p = LabelPolicy(set: set, ceiling: 3, node: "traffic")
        XCTAssertNil(p.relay(3, to: "district", linkCeiling: nil))
        let refusal = p.relay(3, to: "district", linkCeiling: 2)
        XCTAssertEqual(refusal?.reason, .linkCeiling)
        XCTAssertEqual(refusal?.reason.errorCode, 451)
        XCTAssertEqual(refusal?.text, "the link from traffic to district carries at most 敏感 sensitive; the message is 工作秘密 work-secret")
        XCTAssertEqual(p.relay(4, to: "district", linkCeiling: 6)?.reason, .notAccredited, "a link cannot widen what the node carries")
    }

    func testDeliverNamesEveryoneNotClearedAndOnlyThem() {
        let p = LabelPolicy(set: set)
        XCTAssertNil(p.deliver(2, to: [("a@hq", 2), ("b@hq", 3)]))
        XCTAssertNil(p.deliver(0, to: []))
        let refusal = p.deliver(2, to: [("a@hq", 2), ("b@hq", 1), ("c@x", 0)])
        XCTAssertEqual(refusal?.reason, .notCleared)
        XCTAssertEqual(refusal?.text, "not cleared for 敏感 sensitive: b@hq (cleared to 内部 internal), c@x (cleared to 公开 public)")
        let many = (0..<12).map { ("u\($0)@hq", UInt8(0)) }
        XCTAssertTrue(p.deliver(1, to: many)?.text.hasSuffix("and 2 more") ?? false)
    }

    func testGroupPostsAreAtMostTheGroupsLabel() {
        let p = LabelPolicy(set: set)
        XCTAssertNil(p.post(2, group: "board@hq", groupRank: 2))
        XCTAssertEqual(p.post(3, group: "board@hq", groupRank: 2)?.reason, .groupLabel)
    }

    func testUnlabelledEnvelopesTakeTheDefault() {
        let p = LabelPolicy(set: set, defaultRank: 1)
        let e = Envelope(id: .zero, from: "a@hq", to: "b@hq", kind: .text, sentAt: 1, body: [])
        XCTAssertEqual(p.rank(of: e), 1)
        var labelled = e
        labelled.label = EnvelopeLabel(rank: 3)
        XCTAssertEqual(p.rank(of: labelled), 3)
    }

    /// The label fields are on the wire only with flag bit 3, which `flags` itself never keeps.
    func testEnvelopeLabelRoundTripsAndIsRangeChecked() throws {
        var e = Envelope(id: .zero, from: "a@hq", to: "b@hq", kind: .text, flags: 0x0009, sentAt: 1,
                         label: EnvelopeLabel(rank: 2, readableUntil: 99), body: [7])
        XCTAssertEqual(e.flags, 0x0001, "the labelled bit lives in `label`")
        var w = WireWriter()
        e.encode(into: &w)
        XCTAssertEqual(w.bytes.count, e.encodedSize)
        var r = WireReader(w.bytes)
        XCTAssertEqual(try Envelope.decode(from: &r), e)
        e.label = nil
        var plain = WireWriter()
        e.encode(into: &plain)
        XCTAssertEqual(plain.bytes.count, w.bytes.count - 9)
        // A rank of 16 or more is refused at decoding.
        var bad = w.bytes
        let at = 16 + 1 + 4 + 1 + 4 + 1 + 2 + 8
        bad[at] = 16
        var rb = WireReader(bad)
        XCTAssertThrowsError(try Envelope.decode(from: &rb)) { error in
            guard case .invalid(field: "envelope.label", _)? = error as? WireError else { return XCTFail("\(error)") }
        }
    }
}
