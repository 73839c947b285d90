@testable import SealpostNode
import XCTest

/// The free-space floor with plain numbers: full under the floor, back only with a margin
/// (and above what was free when a commit failed), what SEND and RELAY get meanwhile.
final class StorageGuardTests: XCTestCase {
    let mib: UInt64 = 1_048_576

    func testFullUnderTheFloorAndBackOnlyAboveItWithAMargin() {
        var guardian = StorageGuard()
        XCTAssertEqual(guardian.checked(free: 100 * mib, floor: 50 * mib, now: 0), .none)
        XCTAssertEqual(guardian.answer(to: .send), .store)
        XCTAssertEqual(guardian.checked(free: 50 * mib - 1, floor: 50 * mib, now: 1), .becameFull)
        XCTAssertEqual(guardian.answer(to: .send), .refuse)
        XCTAssertEqual(guardian.answer(to: .relay), .notAcknowledged)
        XCTAssertEqual(guardian.checked(free: 50 * mib, floor: 50 * mib, now: 2), .none, "at the floor: still full (no flapping)")
        XCTAssertEqual(guardian.checked(free: 51 * mib - 1, floor: 50 * mib, now: 3), .none)
        XCTAssertEqual(guardian.checked(free: 51 * mib, floor: 50 * mib, now: 4), .recovered)
        XCTAssertEqual(guardian.answer(to: .relay), .store)
        XCTAssertEqual(guardian.freeBytes, 51 * mib)
    }

    func testACommitFailureForSpaceNeedsMoreThanWhatWasFreeThen() {
        var guardian = StorageGuard()
        XCTAssertTrue(guardian.commitFailed(free: 200 * mib, now: 10), "news: logged")
        XCTAssertFalse(guardian.commitFailed(free: 200 * mib, now: 11), "once, not once per commit")
        XCTAssertTrue(guardian.isFull)
        XCTAssertEqual(guardian.checked(free: 203 * mib, floor: 50 * mib, now: 20), .none, "above the floor, not above the failure")
        XCTAssertEqual(guardian.checked(free: 204 * mib, floor: 50 * mib, now: 30), .recovered)
        // Recovered, the failure's free space no longer counts.
        XCTAssertEqual(guardian.checked(free: 49 * mib, floor: 50 * mib, now: 40), .becameFull)
        XCTAssertEqual(guardian.checked(free: 51 * mib, floor: 50 * mib, now: 50), .recovered)
    }

    func testLooksAtTheDiskAtMostEveryQuarterSecond() {
        var guardian = StorageGuard()
        XCTAssertTrue(guardian.isCheckDue(now: 0))
        _ = guardian.checked(free: 100 * mib, floor: 50 * mib, now: 1_000)
        XCTAssertFalse(guardian.isCheckDue(now: 1_000 + StorageGuard.checkIntervalNs - 1))
        XCTAssertTrue(guardian.isCheckDue(now: 1_000 + StorageGuard.checkIntervalNs - 1, force: true))
        XCTAssertTrue(guardian.isCheckDue(now: 1_000 + StorageGuard.checkIntervalNs))
        _ = guardian.commitFailed(free: 0, now: 5_000)
        XCTAssertFalse(guardian.isCheckDue(now: 5_000 + StorageGuard.checkIntervalNs - 1), "a failure counts as a look")
    }

    func testDroppedDeliveriesAreLoggedOncePerInterval() {
        var guardian = StorageGuard()
        XCTAssertTrue(guardian.dropLogDue(now: 100, interval: 60))
        XCTAssertFalse(guardian.dropLogDue(now: 159, interval: 60))
        XCTAssertTrue(guardian.dropLogDue(now: 160, interval: 60))
    }
}
