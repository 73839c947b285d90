import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// A forward chain across four units (protocol/SPEC.md 7.9), verified by its last recipient.
final class ForwardChainTests: XCTestCase {
    func testTenHopsAcrossFourUnitsWithAGroupHopVerifyAtTheEnd() throws {
        let setupStart = Clock.monotonicNs()
        let f = try ForwardFederation()
        defer { f.close() }
        let setupMs = Double(Clock.monotonicNs() - setupStart) / 1e6
        let start = Clock.monotonicNs()
        let chain = try f.chain()
        let chainMs = Double(Clock.monotonicNs() - start) / 1e6
        let last = chain.last
        XCTAssertEqual(last.to, "bob@traffic")
        XCTAssertEqual(last.text, "notice 17: the inspection is on Friday")
        let forward = try XCTUnwrap(last.forward)
        XCTAssertEqual(forward.check.status, .verified, "\(forward.check.problems)")
        XCTAssertEqual(forward.header.hops.count, 10)
        XCTAssertEqual(forward.header.origin.sender, "li@hq")
        XCTAssertEqual(forward.header.origin.id, chain.origin)
        XCTAssertEqual(forward.header.hops.map(\.forwarder), ForwardFederation.steps.map(\.forwarder))
        XCTAssertEqual(forward.header.hops[4].via, ForwardFederation.team, "the fifth forwarder got it through the group")
        XCTAssertEqual(forward.check.records.count, 11)
        XCTAssertTrue(forward.check.records.allSatisfy { $0.signatureValid == true })
        XCTAssertTrue(forward.summary.hasPrefix("forwarded from li@hq — originally by li@hq at "), forward.summary)
        XCTAssertTrue(forward.summary.hasSuffix(", 10 hops"), forward.summary)
        // Every node countersigned the hops it handled.
        for name in ["hq", "traffic", "district", "school"] {
            let status = try f.nodes[name]!.status()
            let forwards = status["forwards"] as? [String: Any] ?? [:]
            XCTAssertGreaterThan(forwards["hops"] as? Int ?? 0, 0, name)
        }
        print("forward chain: 10 hops across 4 units in \(String(format: "%.0f", chainMs)) ms (setup \(String(format: "%.0f", setupMs)) ms)")
    }
}
