import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// What an operator sees under faults (hardening item 7): status per destination during a
/// partition, relayed traffic in the rates, no false alarms after a neighbour's restart, and
/// configuration errors that name their place.
final class OperatorVisibilityTests: XCTestCase {
    /// Regression: during a partition every peer's queue showed 0 and `oldest_unacked_ms` null
    /// while thousands of envelopes waited, because the routes through the lost link were
    /// withdrawn and the queue was counted per route.
    func testStatusShowsWhatWaitsPerDestinationWhileNoRouteExists() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        traffic.stop()
        try hq.waitFor("the route to traffic withdrawn") { s in
            !s.routes.contains { $0.dest == "traffic" }
        }
        for i in 0..<20 { _ = try alice.sendText(to: Address("wu@traffic")!, text: "while cut off \(i)") }
        usleep(20_000) // let the oldest age be measurable (> 0 ms), not a wait for a condition
        let status = try hq.status()
        let dests = status.destinations
        let toTraffic = try XCTUnwrap(dests.first { $0.node == "traffic" }, "traffic listed: \(dests)")
        XCTAssertEqual(toTraffic.waiting, 20)
        XCTAssertNil(toTraffic.nextHop, "no route now")
        XCTAssertGreaterThan(toTraffic.oldestMs, 0)

        try traffic.start()
        XCTAssertEqual(try wu.receive(20, timeoutMs: 20_000).count, 20, "nothing lost while cut off")
        try hq.waitFor("the journal emptied") { $0.destinations.isEmpty }
    }

    /// Regression: a node that only relays showed 0 in its rates while it passed thousands of
    /// envelopes a minute on.
    func testARelayCountsWhatItPassesOnInItsRates() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { for c in [alice, bob, wu, zhao] { c.close() } }
        for i in 0..<10 { _ = try alice.sendText(to: Address("zhao@district")!, text: "through traffic \(i)") }
        XCTAssertEqual(try zhao.receive(10).count, 10)
        let rates = try nodes[1].status().rates
        XCTAssertGreaterThanOrEqual(rates.relayedLastMinute, 10, "\(rates)")
    }

    /// Regression: after each restart of a node its neighbour resent its window before the
    /// restarted node knew the neighbour's routes, and ~1,000 `relay refused` warnings and
    /// `rejected_relays` followed — the documented sign of a misbehaving peer.
    func testARestartedNodeDoesNotCountItsNeighboursResendAsRefused() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { for c in [alice, bob, wu, zhao] { c.close() } }
        let district = nodes[2]
        district.stop()
        // Sent at once, while traffic still has its route to district: they wait in traffic's
        // journal, with hq as their origin, for district to come back.
        for i in 0..<50 { _ = try alice.sendText(to: Address("zhao@district")!, text: "during the restart \(i)") }
        try nodes[0].waitFor("hq's journal handed on") { $0.journal == 0 }
        try district.start()
        let got = try zhao.receive(50, timeoutMs: 30_000)
        XCTAssertEqual(got.count, 50, "every message arrives")
        XCTAssertEqual(Set(got.map(\.id)).count, 50, "exactly once")
        XCTAssertEqual(try district.counter(\.rejectedRelays), 0, "a restart is not a misbehaving peer")
    }

    /// Regression: YAML errors gave no line or column, so an operator had to guess where.
    func testConfigErrorsNameTheLineAndColumn() throws {
        func message(_ yaml: String) -> String {
            do {
                _ = try NodeConfig.parse(yaml: yaml, file: "node.yaml")
                return "parsed"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message("name: hq\nlisten: [\n"),
                       "cannot read node.yaml: line 3 column 1: did not find expected node content (while parsing a flow node)")
        XCTAssertEqual(message("name: hq\ninvite_ttl_hours: soon\n"),
                       "cannot read node.yaml, line 2 column 19: invite_ttl_hours must be a whole number")
        XCTAssertTrue(message("name: hq\n\nbogus: 1\n").hasPrefix("cannot read node.yaml, line 3 column 1: unknown key 'bogus'"))
        XCTAssertEqual(message("name: hq\npeers:\n  - name: x\n    router: tcp://a:1\n"),
                       "cannot read node.yaml, line 3 column 5: missing key 'publish'")
        XCTAssertEqual(message("name: hq\n"), "parsed")
    }

    /// `sealpost-node check`: a good data dir passes; an empty or damaged database is an error
    /// that says what to do; a loose key file is a warning.
    func testCheckFindsAnEmptyOrDamagedDatabase() throws {
        let node = try TestNode("hq")
        func level(_ subject: String) -> NodeCheck.Level? {
            NodeCheck.run(dataDir: node.dir).first { $0.subject == subject }?.level
        }
        XCTAssertEqual(NodeCheck.run(dataDir: node.dir).filter { $0.level != .ok }, [])
        chmod(node.dir.keysPath, 0o644)
        XCTAssertEqual(level("keys"), .warning)
        chmod(node.dir.keysPath, 0o600)

        let original = try Data(contentsOf: URL(fileURLWithPath: node.dir.databasePath))
        var damaged = original
        for i in stride(from: 4096 + 100, to: min(damaged.count, 4096 * 8), by: 7) { damaged[i] = 0x5A }
        try damaged.write(to: URL(fileURLWithPath: node.dir.databasePath))
        let finding = try XCTUnwrap(NodeCheck.run(dataDir: node.dir).first { $0.subject == "database" })
        XCTAssertEqual(finding.level, .error)
        XCTAssertTrue(finding.message.contains("restore from a backup"), finding.message)

        try Data().write(to: URL(fileURLWithPath: node.dir.databasePath))
        XCTAssertEqual(level("database"), .error)
        try original.write(to: URL(fileURLWithPath: node.dir.databasePath))
        XCTAssertEqual(level("database"), .ok)
    }
}
