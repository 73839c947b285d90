@testable import SealpostNode
import XCTest

/// The counters of `status` with plain values: what claims something was stored counts at the
/// commit and never after a rollback; the rates of the last minute by the time passed in.
final class NodeCountersTests: XCTestCase {
    let second: UInt64 = 1_000_000_000
    let t0: UInt64 = 1_000 * 1_000_000_000

    func testStoredRelayedAndFiredCountOnlyOnceCommitted() {
        var c = NodeCounters()
        c.stored()
        c.stored()
        c.journalled()
        c.fired(late: false)
        c.fired(late: true)
        XCTAssertEqual([c.envelopesIn, c.relayed, c.remindersFired, c.remindersLate], [0, 0, 0, 0], "not before the commit")
        XCTAssertEqual(c.rates.lastMinute(now: t0).inCount, 0)
        c.committed(now: t0)
        XCTAssertEqual([c.envelopesIn, c.relayed, c.remindersFired, c.remindersLate], [2, 1, 2, 1])
        let rate = c.rates.lastMinute(now: t0)
        XCTAssertEqual(rate.inCount, 2)
        XCTAssertEqual(rate.relayedCount, 1)
        c.committed(now: t0 + 1)
        XCTAssertEqual(c.envelopesIn, 2, "counted once")
    }

    func testARolledBackCycleCountsNothingAndItsRetryCountsOnce() {
        var c = NodeCounters()
        c.stored()
        c.journalled()
        c.fired(late: true)
        c.rolledBack()
        c.commitFailures += 1
        c.committed(now: t0)
        XCTAssertEqual([c.envelopesIn, c.relayed, c.remindersFired, c.remindersLate], [0, 0, 0, 0])
        XCTAssertEqual(c.rates.lastMinute(now: t0).inCount, 0)
        XCTAssertEqual(c.status(refusedKeys: 0).commitFailures, 1)
        c.stored() // the sender's retry
        c.committed(now: t0)
        XCTAssertEqual(c.status(refusedKeys: 0).envelopesIn, 1)
    }

    func testAPushCountsAtOnce() {
        var c = NodeCounters()
        c.pushed(now: t0)
        c.pushed(now: t0)
        XCTAssertEqual(c.status(refusedKeys: 0).delivered, 2)
        XCTAssertEqual(c.rates.lastMinute(now: t0).outCount, 2)
        c.rolledBack()
        XCTAssertEqual(c.status(refusedKeys: 0).delivered, 2, "a DELIVER that left is not taken back")
    }

    func testRatesCoverTheLastSixtySeconds() {
        var r = RateMeter()
        r.countIn(3, now: t0)
        r.countOut(now: t0 + 30 * second)
        r.countRelayed(2, now: t0 + 59 * second)
        XCTAssertEqual(r.lastMinute(now: t0 + 59 * second).inCount, 3)
        XCTAssertEqual(r.lastMinute(now: t0 + 59 * second).outCount, 1)
        XCTAssertEqual(r.lastMinute(now: t0 + 60 * second).inCount, 0, "a minute later the first second has gone")
        XCTAssertEqual(r.lastMinute(now: t0 + 60 * second).relayedCount, 2)
        r.countIn(now: t0 + 60 * second)
        XCTAssertEqual(r.lastMinute(now: t0 + 60 * second).inCount, 1, "its bucket is reused for the new second")
        XCTAssertEqual(r.lastMinute(now: t0 + 200 * second).relayedCount, 0)
    }
}
