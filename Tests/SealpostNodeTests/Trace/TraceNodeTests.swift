import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// The federated trace on real nodes on loopback: who may trace, what each node answers under
/// its policy, gaps for a refusal and a node that is down, and viewer codes resolved by the node
/// that issued them.
final class TraceNodeTests: XCTestCase {
    /// The officer's side: the TRACE-RESULT checked and rebuilt as `sealpost trace` does.
    func report(_ client: Client, _ subject: Trace.Subject) throws -> TraceReport {
        TraceReport.build(subject: subject, results: try client.trace(subject, waitMs: 20_000), nodeKeys: try client.nodeKeys(),
                          userSignKey: { Address($0).flatMap { try? client.lookup($0).signKey } })
    }

    func testOnlyOfficersTraceAndTheOperatorGrantsAndRevokes() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let li = try Client(profile: try hq.join("li"))
        defer { li.close() }
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        XCTAssertThrowsError(try li.trace(.message(id))) { error in
            guard case ClientError.refused(let code, let reason)? = error as? ClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(code, ErrorCode.notAllowed.rawValue)
            XCTAssertTrue(reason.contains("officer grant"), reason)
        }
        XCTAssertThrowsError(try li.trace(.code("hq-0000-0000")), "resolving a code is for officers too")
        let grant = try Operator.changeOfficer(dataDir: hq.dir, user: "li", action: .grant)
        XCTAssertTrue(grant.changed && grant.throughRunningNode)
        XCTAssertFalse(try Operator.changeOfficer(dataDir: hq.dir, user: "li", action: .grant).changed, "granted once")
        let results = try li.trace(.message(id))
        XCTAssertEqual(results.map(\.node), ["hq"])
        XCTAssertEqual(results.map(\.state), [.answered])
        let r = try report(li, .message(id))
        XCTAssertEqual(r.tree.nodes, [TraceTree.NodeReport(node: "hq", state: .answered(records: 0))])
        XCTAssertTrue(r.tree.gaps.isEmpty)
        // The grant is in the audit log, and survives a restart; the revocation takes effect at once.
        let granted = try NodeStore(path: hq.dir.databasePath).auditRecords(AuditFilter(kind: .officerGranted))
        XCTAssertEqual(granted.map(\.record.fields.subject), ["li@hq"])
        try hq.restart()
        let li2 = try Client(profile: try Profile.load(from: hq.profilePath("li")))
        defer { li2.close() }
        XCTAssertEqual(try li2.trace(.message(id)).map(\.state), [.answered], "still an officer after a restart")
        XCTAssertTrue(try Operator.changeOfficer(dataDir: hq.dir, user: "li", action: .revoke).changed)
        XCTAssertThrowsError(try li2.trace(.message(id)))
        XCTAssertEqual(try Operator.officers(dataDir: hq.dir).map(\.user), [])
        XCTAssertThrowsError(try Operator.changeOfficer(dataDir: hq.dir, user: "nobody", action: .grant))
        // On a stopped node the database is changed directly, with its audit record.
        hq.stop()
        let offline = try Operator.changeOfficer(dataDir: hq.dir, user: "li", action: .grant)
        XCTAssertTrue(offline.changed && !offline.throughRunningNode)
        let store = try NodeStore(path: hq.dir.databasePath)
        defer { store.close() }
        XCTAssertEqual(try store.auditRecords(AuditFilter(kind: .officerGranted)).map(\.record.fields.subject), ["li@hq", "li@hq"])
        XCTAssertEqual(try store.auditRecords(AuditFilter(kind: .officerRevoked)).count, 1)
        XCTAssertTrue(try store.verifyAudit(node: "hq", nodeKey: try hq.dir.loadKeys().sign.publicKey).ok)
    }

    func testGapsForARefusalAndForANodeThatIsDown() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { [alice, bob, wu, zhao].forEach { $0.close() } }
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        _ = try Operator.changeOfficer(dataDir: hq.dir, user: "alice", action: .grant)
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        // Everyone answers hq (nothing found: the origin policy answers that).
        var r = try report(alice, .message(id))
        XCTAssertEqual(r.tree.nodes.map(\.node), ["district", "hq", "traffic"])
        XCTAssertEqual(r.tree.nodes.filter(\.isGap), [], "\(r.tree.gaps)")
        // district's operator answers no one: a signed refusal, shown as a gap (district is reached through traffic).
        try setTrace(district) { $0.answer = .none }
        try district.waitFor("district's policy reloaded") { $0.trace.answer == "none" }
        r = try report(alice, .message(id))
        XCTAssertEqual(r.tree.gaps.map(\.node), ["district"])
        XCTAssertTrue(r.tree.gaps[0].reason.contains("refused"), r.tree.gaps[0].reason)
        XCTAssertTrue(r.tree.text().contains("GAP district: refused"), r.tree.text())
        // A supervising unit is answered whatever the policy says.
        try setTrace(district) { $0.answer = .none; $0.supervisors = ["hq"] }
        try district.waitFor("district's supervisors reloaded") { $0.trace.supervisors == ["hq"] }
        XCTAssertEqual(try report(alice, .message(id)).tree.gaps.map(\.node), [])
        XCTAssertEqual(try district.status().trace.refused, 1)
        // traffic stops: district is not reached either; both are gaps, never left out.
        try setTrace(hq) { $0.timeoutSeconds = 1 }
        try hq.waitFor("hq's trace timeout reloaded") { $0.trace.timeoutS == 1 }
        traffic.stop()
        let started = Clock.monotonicNs()
        r = try report(alice, .message(id))
        XCTAssertLessThan(Double(Clock.monotonicNs() - started) / 1e9, 5)
        XCTAssertEqual(Set(r.tree.gaps.map(\.node)), ["district", "traffic"], "\(r.tree.gaps)")
        XCTAssertEqual(r.tree.nodes.count, 3)
    }

    func testAViewerCodeResolvesAtTheNodeThatIssuedIt() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        _ = try Operator.changeOfficer(dataDir: hq.dir, user: "alice", action: .grant)
        let burn = try alice.sendBurn(to: Address("wu@traffic")!, text: "the notice")
        try waitUntil("the burn reached wu", timeout: 10) { (try? wu.drain(ms: 100))?.contains { $0.id == burn } == true }
        _ = try wu.view(burn)
        let mark = try wu.viewerMark(for: burn, burn: true)
        XCTAssertEqual(ViewerCode(mark.code)?.node, "traffic")
        XCTAssertTrue(mark.line.contains("CODE \(mark.code)") && mark.line.contains("wu@traffic"), mark.line)
        XCTAssertNotEqual(try wu.viewerMark(for: burn, burn: true).code, mark.code, "a fresh code per view")
        // The officer at hq reads the code off a photo (lowercase) and resolves it at traffic.
        let r = try report(alice, .code(ViewerCode(mark.code.lowercased())!.description))
        XCTAssertEqual(r.viewers.count, 1, "\(r.tree.gaps)")
        XCTAssertEqual(r.viewers.first?.viewer, "wu@traffic")
        XCTAssertEqual(r.viewers.first?.message, burn)
        XCTAssertEqual(r.viewers.first?.node, "traffic")
        // A code traffic never issued resolves to nobody; one of a node nobody knows is a gap.
        XCTAssertEqual(try report(alice, .code("traffic-0000-0000")).viewers, [])
        XCTAssertEqual(try report(alice, .code("nowhere-0000-0000")).tree.gaps.map(\.node), ["nowhere"])
        // The code is in traffic's audit log, which still verifies.
        let store = try NodeStore(path: traffic.dir.databasePath)
        defer { store.close() }
        XCTAssertEqual(try store.auditRecords(AuditFilter(kind: .viewerCode)).map(\.record.fields.subject).first, mark.code)
        XCTAssertTrue(try store.verifyAudit(node: "traffic", nodeKey: try traffic.dir.loadKeys().sign.publicKey).ok)
    }

    /// Review suspicion: a person can get a viewer code for any message id, not only one they
    /// received. True, and by design (SPEC 11.7.4): the subject is the viewer's word; what the
    /// node vouches for is who asked, from the authenticated connection. So such a code can only
    /// ever point at the person who asked for it, never at the message's real recipient, and it
    /// tells the asker nothing about the message.
    func testAViewerCodeForAMessageNeverReceivedNamesOnlyThePersonWhoAskedForIt() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        _ = try Operator.changeOfficer(dataDir: hq.dir, user: "alice", action: .grant)
        // alice's burn to herself, which wu never received, and an id nobody ever sent.
        let notHis = try alice.sendBurn(to: Address("alice@hq")!, text: "not for wu")
        let nobodys = MessageID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })!
        for id in [notHis, nobodys] {
            let mark = try wu.viewerMark(for: id, burn: false)
            let r = try report(alice, .code(mark.code))
            XCTAssertEqual(r.viewers.map(\.viewer), ["wu@traffic"], "the code names who asked")
            XCTAssertEqual(r.viewers.first?.message, id)
        }
        XCTAssertEqual(try traffic.status().trace.codesIssued, 2)
    }

    // MARK: helpers

    func setTrace(_ node: TestNode, _ change: (inout TraceConfig) -> Void) throws {
        var config = try node.dir.loadConfig()
        change(&config.trace)
        try node.dir.saveConfig(config)
    }
}
