import XCTest
@testable import SealpostNode

/// `CycleTimes` with plain values: a cycle's phases are measured between marks, the slowest
/// recent cycle names its longest phase, and idle wake-ups do not dilute the p99.
final class CycleTimesTests: XCTestCase {
    func testTheSlowestCycleNamesItsLongestPhase() {
        var t = CycleTimes()
        var now: UInt64 = 1_000_000_000
        for _ in 0..<100 {
            // An ordinary cycle: 100 µs reading clients, 400 µs committing.
            t.begin(now: now)
            now += 100_000; t.mark(.router, now: now)
            now += 400_000; t.mark(.commit, now: now)
            t.end(now: now)
            now += 1_000_000
        }
        // One slow cycle: 30 ms in the peers phase.
        t.begin(now: now)
        now += 200_000; t.mark(.router, now: now)
        now += 30_000_000; t.mark(.peers, now: now)
        now += 400_000; t.mark(.commit, now: now)
        t.end(now: now)

        let s = t.summary()
        XCTAssertEqual(s.count, 101)
        XCTAssertEqual(s.recent, 101)
        XCTAssertEqual(s.slowestMs, 30.6, accuracy: 0.001)
        XCTAssertEqual(s.phase, "peers")
        XCTAssertEqual(s.phaseMs, 30.0, accuracy: 0.001)
        XCTAssertEqual(s.p50Ms, 0.5, accuracy: 0.001)
        XCTAssertEqual(s.p99Ms, 0.5, accuracy: 0.001, "one slow cycle in 101 is above the p99")
    }

    func testIdleWakeUpsAreCountedButNotKept() {
        var t = CycleTimes()
        for i in 0..<10 {
            let start = UInt64(i) * 1_000_000
            t.begin(now: start)
            t.mark(.admin, now: start + 5_000)
            t.end(now: start + 5_000) // 5 µs: under the floor
        }
        let s = t.summary()
        XCTAssertEqual(s.count, 10)
        XCTAssertEqual(s.recent, 0)
        XCTAssertNil(s.phase)
        XCTAssertEqual(s.slowestMs, 0)
    }

    func testOnlyTheLastWindowOfCyclesCounts() {
        var t = CycleTimes()
        var now: UInt64 = 0
        // A slow start, then a full window of ordinary cycles: the start is forgotten.
        t.begin(now: now); now += 50_000_000; t.mark(.housekeeping, now: now); t.end(now: now)
        for _ in 0..<CycleTimes.window {
            t.begin(now: now); now += 1_000_000; t.mark(.commit, now: now); t.end(now: now)
        }
        let s = t.summary()
        XCTAssertEqual(s.recent, CycleTimes.window)
        XCTAssertEqual(s.slowestMs, 1.0, accuracy: 0.001)
        XCTAssertEqual(s.phase, "commit")
    }
}
