@testable import SealpostNode
import Foundation
import XCTest

/// The node's periodic chores with plain values: housekeeping every `housekeepingNs`, pruning once
/// an hour inside it, node.yaml looked at every `configCheckNs` and read only when its time changed.
final class NodeChoresTests: XCTestCase {
    let s: UInt64 = 1_000_000_000

    func testHousekeepingEveryIntervalAndPruningOnceAnHour() {
        var chores = NodeChores(timers: .standard, start: 0, configModified: nil)
        chores.loopStarts(now: 10 * s)
        XCTAssertFalse(chores.housekeepingDue(now: 14 * s))
        XCTAssertTrue(chores.housekeepingDue(now: 15 * s), "5 s after the loop starts")
        XCTAssertFalse(chores.housekeepingRuns(now: 15 * s), "no pruning within the first hour")
        XCTAssertEqual(chores.nextHousekeepingNs, 20 * s)
        XCTAssertFalse(chores.housekeepingDue(now: 19 * s))
        XCTAssertTrue(chores.housekeepingRuns(now: 10 * s + NodeChores.pruneIntervalNs + 1), "past the hour: prunes")
        XCTAssertFalse(chores.housekeepingRuns(now: 10 * s + NodeChores.pruneIntervalNs + 6 * s), "and not again at the next round")
    }

    func testConfigLookedAtEveryIntervalAndReadOnlyWhenItsTimeChanged() {
        let t0 = Date(timeIntervalSince1970: 1_000), t1 = Date(timeIntervalSince1970: 1_001)
        var chores = NodeChores(timers: .fast, start: 0, configModified: t0)
        XCTAssertTrue(chores.configCheckDue(now: 0))
        XCTAssertFalse(chores.configCheckDue(now: NodeTimers.fast.configCheckNs - 1))
        XCTAssertTrue(chores.configCheckDue(now: NodeTimers.fast.configCheckNs))
        XCTAssertFalse(chores.configChanged(modified: t0), "the time read at start: unchanged")
        XCTAssertFalse(chores.configChanged(modified: nil), "unreadable: nothing to load")
        XCTAssertTrue(chores.configChanged(modified: t1))
        XCTAssertFalse(chores.configChanged(modified: t1), "read once per change")
    }
}
