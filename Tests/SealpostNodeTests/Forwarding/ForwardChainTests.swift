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
        // Every node countersigned the hops it handled, each statement signed by the node and verified there.
        var countersigned: [MessageID: Set<ForwardCountersign.Role>] = [:]
        for name in ["hq", "traffic", "district", "school"] {
            let node = f.nodes[name]!
            let key = try node.dir.loadKeys().sign.publicKey
            let records = try Operator.auditRecords(dataDir: node.dir, filter: AuditFilter(kind: .forwardHop))
            XCTAssertFalse(records.isEmpty, name)
            for stored in records {
                guard case let .forwardHop(id, forwarder, hop, signature) = try stored.record.event() else { return XCTFail("not a hop") }
                let statement = try ForwardCountersign.decode(hop)
                XCTAssertTrue(statement.verify(node: name, signature: signature, nodeKey: key), "\(name) countersigned")
                XCTAssertEqual(statement.hop.forwarder, forwarder)
                XCTAssertEqual(statement.originID, chain.origin)
                XCTAssertEqual(statement.chain, 1, "the chain verified at \(name)")
                countersigned[id, default: []].insert(statement.role)
            }
            let forwards = try Operator.auditRecords(dataDir: node.dir, filter: AuditFilter(kind: .forward))
            let local = ForwardFederation.steps.filter { Address($0.forwarder)?.node == name }.count
            XCTAssertEqual(forwards.count, local, "\(name) recorded each forward of its own people")
        }
        for (i, ids) in chain.forwards.enumerated() {
            for id in ids {
                let roles = countersigned[id] ?? []
                XCTAssertTrue(roles.contains(.forwarder) && roles.contains(.destination), "hop \(i + 1): \(roles)")
            }
        }
        // The hop through district to school went by traffic and hq (district is reached only through traffic).
        XCTAssertTrue(countersigned[chain.forwards[1][0]]?.contains(.relay) == true)
        XCTAssertTrue(countersigned[chain.forwards[3][0]]?.contains(.groupHome) == true, "the group's home countersigned its hop")
        print("forward chain: 10 hops across 4 units in \(String(format: "%.0f", chainMs)) ms (setup \(String(format: "%.0f", setupMs)) ms)")
    }
}
