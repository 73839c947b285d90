import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// The trace of the 10-hop forward chain across four units (`ForwardFederation`: district is
/// reached only through traffic, one hop goes through the group team@traffic): every hop rebuilt
/// with a valid signature in under 5 s; then a forged hop shown as forged, and a removed and an
/// altered audit record each shown as a gap.
final class TraceChainTests: XCTestCase {
    func testTheTenHopChainIsTracedAndTamperingShowsAsGapsAndForgery() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let chain = try f.chain()
        _ = try Operator.changeOfficer(dataDir: f.nodes["hq"]!.dir, user: "gao", action: .grant)
        let officer = f.client("gao@hq")
        func trace() throws -> (report: TraceReport, seconds: Double) {
            let start = Clock.monotonicNs()
            let results = try officer.trace(.message(chain.origin), waitMs: 30_000)
            let report = TraceReport.build(subject: .message(chain.origin), results: results, nodeKeys: try officer.nodeKeys(),
                                           userSignKey: { Address($0).flatMap { try? officer.lookup($0).signKey } })
            return (report, Double(Clock.monotonicNs() - start) / 1e9)
        }

        // 1. Every hop, each signature valid, every node answered, no gap.
        let (report, seconds) = try trace()
        let tree = report.tree
        print("trace of the 10-hop chain across 4 units: \(String(format: "%.1f", seconds * 1000)) ms")
        XCTAssertLessThan(seconds, 5)
        XCTAssertEqual(tree.nodes.map(\.node), ["district", "hq", "school", "traffic"])
        XCTAssertEqual(tree.nodes.filter(\.isGap), [], "\(tree.gaps)")
        XCTAssertEqual(tree.gaps.map(\.reason), [])
        XCTAssertEqual(tree.origin?.id, chain.origin)
        XCTAssertEqual(tree.origin?.sender, "li@hq")
        XCTAssertEqual(tree.allHops.count, 10, tree.text())
        XCTAssertTrue(tree.allHops.allSatisfy { $0.signature == .valid }, tree.text())
        // A chain: each hop the only child of the one before, in the order forwarded.
        var path: [TraceTree.Hop] = []
        var level = tree.hops
        while let only = level.first, level.count == 1 { path.append(only); level = only.children }
        XCTAssertEqual(path.map(\.forwarder), ForwardFederation.steps.map(\.forwarder), tree.text())
        XCTAssertEqual(path[3].to, [ForwardFederation.team], "the group hop")
        XCTAssertEqual(path[4].via, ForwardFederation.team, "the member who got it through the group")
        for hop in path {
            XCTAssertGreaterThanOrEqual(hop.countersigned.count, 2, "forwarder's node and recipient's node: \(hop.countersigned)")
            XCTAssertNotNil(hop.countersigned[hop.unit], "the forwarder's node countersigned")
        }
        // zhao@district → wu@school went through traffic and hq: relays countersign too.
        XCTAssertEqual(Set(path[1].countersigned.keys), ["district", "traffic", "hq", "school"])
        print(tree.text())

        // 1b. The last recipient's view of the last forward: its watermark code resolves to the viewer,
        // the forward viewed, and the origin's whole path to them.
        let mark = try f.client("bob@traffic").viewerMark(for: chain.last.id, burn: false)
        let run = try TraceOutput.run(id: nil, code: ViewerCode(mark.code), dotPath: nil, svgPath: nil) { subject in
            TraceReport.build(subject: subject, results: try officer.trace(subject, waitMs: 30_000), nodeKeys: try officer.nodeKeys(),
                              userSignKey: { Address($0).flatMap { try? officer.lookup($0).signKey } })
        }
        let viewer = try XCTUnwrap(run.object["viewer"] as? [String: Any])
        XCTAssertEqual(viewer["viewer"] as? String, "bob@traffic")
        XCTAssertEqual(viewer["message"] as? String, chain.last.id.hex)
        XCTAssertEqual(viewer["origin"] as? String, chain.origin.hex, "the forward's origin is what is traced")
        XCTAssertEqual((run.object["path"] as? [[String: Any]])?.count, 10, "\(run.lines)")
        XCTAssertTrue(run.lines.contains { $0.hasSuffix("li@hq → bob@traffic") && $0.contains("forward path: li@hq → bob@traffic → zhao@district") },
                      run.lines.joined(separator: "\n"))

        // 2. A hop record forged into hq's log (a node cannot sign for a person): shown FORGED.
        let last = chain.last.forwardable!.hops.last!
        let faker = SignKeyPair.generate()
        var forged = ForwardHop(forwarder: "gao@hq", via: "gao@hq", recipients: 1, recipientSet: [UInt8](repeating: 3, count: 32),
                                at: Clock.nowMs(), parent: last.link)
        forged.sign(with: faker)
        let statement = ForwardCountersign(originID: chain.origin, originator: "li@hq", to: "leak@school", hopIndex: 11, role: .forwarder,
                                           chain: 1, hop: forged)
        let hqKeys = try f.nodes["hq"]!.dir.loadKeys()
        let hqStore = try NodeStore(path: f.nodes["hq"]!.dir.databasePath)
        try hqStore.begin()
        let appended = try hqStore.appendAudit(.forwardHop(id: MessageID(bytes: Sodium.randomBytes(16))!, forwarder: "gao@hq",
                                                           hop: statement.encode(), countersignature: statement.sign(node: "hq", with: hqKeys.sign)),
                                               time: Clock.nowMs())
        try hqStore.indexTrace(origin: chain.origin, position: appended.position)
        try hqStore.commit()
        hqStore.close()
        var after = try trace().report.tree
        XCTAssertEqual(after.allHops.count, 11)
        let fake = try XCTUnwrap(after.allHops.first { $0.to == ["leak@school"] })
        XCTAssertEqual(fake.signature, .forged)
        XCTAssertEqual(fake.parent, last.link, "shown where it claims to be, under the last hop")
        XCTAssertTrue(after.text().contains("FORGED"), after.text())
        XCTAssertEqual(after.allHops.filter { $0.signature == .valid }.count, 10)

        // 3. A record altered in school's log: its proof fails, a gap (never a silent skip).
        let school = try NodeStore(path: f.nodes["school"]!.dir.databasePath)
        let target = try XCTUnwrap(try school.auditRecords(AuditFilter(kind: .forwardHop)).first)
        try school.db.run("UPDATE audit SET time = time + 1 WHERE position = ?", .int(Int64(target.record.position)))
        school.close()
        after = try trace().report.tree
        XCTAssertTrue(after.gaps.contains { $0.node == "school" && $0.reason.contains("record \(target.record.position) does not verify") },
                      "\(after.gaps)")
        XCTAssertTrue(after.text().contains("GAP school"), after.text())

        // 4. A record removed from district's log: a gap too.
        let district = try NodeStore(path: f.nodes["district"]!.dir.databasePath)
        let removed = try XCTUnwrap(try district.auditRecords(AuditFilter(kind: .forwardHop)).first)
        try district.db.run("DELETE FROM audit WHERE position = ?", .int(Int64(removed.record.position)))
        XCTAssertFalse(try district.verifyAudit(node: "district", nodeKey: try f.nodes["district"]!.dir.loadKeys().sign.publicKey).ok,
                       "audit verify sees it too")
        district.close()
        after = try trace().report.tree
        XCTAssertTrue(after.gaps.contains { $0.node == "district" }, "\(after.gaps)")
        XCTAssertTrue(after.text().contains("GAP district"), after.text())

        // 5. Someone who is not an officer is refused.
        XCTAssertThrowsError(try f.client("bob@traffic").trace(.message(chain.origin))) { error in
            guard case ClientError.refused(let code, _)? = error as? ClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(code, ErrorCode.notAllowed.rawValue)
        }
    }
}
