import SealpostCore
import XCTest

/// `TraceTree.build` with plain values: hops merged across nodes, parents found by link,
/// children in time order, and every gap named (a node, a hop nobody reported the parent of,
/// a record a node should have and did not report, one that does not verify, a forged hop).
final class TraceTreeTests: XCTestCase {
    let origin = TraceTree.Origin(id: MessageID(bytes: [UInt8](repeating: 1, count: 16))!, link: [0], sender: "li@hq", to: "bob@traffic",
                                  at: 1_000)

    func hop(_ link: UInt8, parent: UInt8, by: String, to: [String], at: UInt64, node: String, position: UInt64,
             signature: TraceTree.Signature = .valid, proven: Bool = true) -> TraceTree.Observation {
        TraceTree.Observation(node: node, position: position, link: [link], parent: [parent],
                              forward: MessageID(bytes: [UInt8](repeating: link, count: 16))!, forwarder: by, via: by, to: to,
                              recipients: to.count, at: at, signature: signature, proven: proven)
    }

    func answered(_ nodes: String...) -> [TraceTree.NodeReport] { nodes.map { .init(node: $0, state: .answered(records: 1)) } }

    func testAChainAcrossUnitsIsRebuiltWithEveryCountersignature() {
        let obs = [
            hop(1, parent: 0, by: "bob@traffic", to: ["carol@school"], at: 2_000, node: "traffic", position: 5),
            hop(1, parent: 0, by: "bob@traffic", to: ["carol@school"], at: 2_000, node: "school", position: 9),
            hop(2, parent: 1, by: "carol@school", to: ["teachers@school"], at: 3_000, node: "school", position: 10),
            hop(3, parent: 1, by: "carol@school", to: ["dan@school"], at: 2_500, node: "school", position: 11),
        ]
        let tree = TraceTree.build(origin: origin, reports: answered("hq", "traffic", "school"), observations: obs)
        XCTAssertEqual(tree.hops.count, 1)
        XCTAssertEqual(tree.hops[0].countersigned, ["traffic": 5, "school": 9])
        XCTAssertEqual(tree.hops[0].children.map(\.link), [[3], [2]], "children in time order")
        XCTAssertEqual(tree.allHops.count, 3)
        XCTAssertEqual(tree.gaps, [])
        XCTAssertEqual(tree.orphans, [])
        let text = tree.text()
        XCTAssertTrue(text.contains("└─ bob@traffic → carol@school"), text)
        XCTAssertTrue(text.contains("      └─ carol@school → dan@school"), text)
        XCTAssertTrue(text.contains("3 hops, 3 of 3 nodes answered"), text)
        XCTAssertEqual(tree.jsonObject()["hop_count"] as? Int, 3)
        XCTAssertTrue(tree.dot().contains("\"bob@traffic\" -> \"carol@school\""), tree.dot())
    }

    func testEveryGapIsShownNeverSkipped() {
        let obs = [
            hop(1, parent: 0, by: "bob@traffic", to: ["carol@school"], at: 2_000, node: "traffic", position: 5),
            // school answered but did not report hop 1 (its record was removed): a gap on the hop.
            hop(2, parent: 1, by: "carol@school", to: ["x@city"], at: 3_000, node: "school", position: 10, signature: .forged),
            // A hop under a parent nobody reported.
            hop(4, parent: 3, by: "eve@city", to: ["f@city"], at: 4_000, node: "city", position: 2),
            // A record that does not verify against its node's head.
            hop(5, parent: 1, by: "bob@traffic", to: ["g@traffic"], at: 2_100, node: "traffic", position: 6, proven: false),
        ]
        let reports = answered("traffic", "school", "city") + [.init(node: "hq", state: .gap("no answer in time"))]
        let tree = TraceTree.build(origin: origin, reports: reports, observations: obs)
        let gaps = tree.gaps.map { "\($0.node): \($0.reason)" }
        XCTAssertTrue(gaps.contains("hq: no answer in time"), "\(gaps)")
        XCTAssertTrue(gaps.contains { $0.hasPrefix("traffic: record 6 does not verify") }, "\(gaps)")
        XCTAssertTrue(gaps.contains { $0.hasPrefix("school: school did not report the hop by bob@traffic") }, "\(gaps)")
        XCTAssertTrue(gaps.contains { $0.hasPrefix("city: the hop by eve@city") }, "\(gaps)")
        XCTAssertEqual(tree.orphans.map(\.link), [[4]])
        XCTAssertEqual(tree.hops[0].missingFrom, ["school"])
        XCTAssertEqual(tree.hops[0].children.first?.signature, .forged)
        let text = tree.text()
        XCTAssertTrue(text.contains("FORGED"), text)
        XCTAssertTrue(text.contains("GAP: not reported by school"), text)
        XCTAssertTrue(text.contains("1 FORGED"), text)
        XCTAssertTrue(tree.dot().contains("color=red"))
        XCTAssertEqual(tree.jsonObject()["forged"] as? Int, 1)
    }

    func testAForgedObservationWinsOverAValidOneOfTheSameHop() {
        let obs = [hop(1, parent: 0, by: "bob@traffic", to: ["carol@school"], at: 2_000, node: "traffic", position: 5),
                   hop(1, parent: 0, by: "bob@traffic", to: ["carol@school"], at: 2_000, node: "school", position: 9, signature: .forged)]
        XCTAssertEqual(TraceTree.build(origin: origin, reports: answered("traffic", "school"), observations: obs).hops[0].signature, .forged)
    }
}
