@testable import SealpostNode
import SealpostCore
import XCTest

/// When a file goes at the readable-until time of the messages that refer to it (SPEC 7.11.9),
/// with plain values and milliseconds.
final class FileExpiryTests: XCTestCase {
    let a = FileID(bytes: Array(repeating: 0xA1, count: 16))!
    let b = FileID(bytes: Array(repeating: 0xB2, count: 16))!
    let t0: UInt64 = 1_764_000_000_000

    func testTheLatestMessageDecidesAndOneWithNoTimeKeepsTheFile() {
        XCTAssertEqual(FileExpiry.referred(nil, deadline: t0 + 5_000), t0 + 5_000, "the offer")
        XCTAssertEqual(FileExpiry.referred((t0 + 5_000, false), deadline: t0 + 9_000), t0 + 9_000, "a forward read longer")
        XCTAssertNil(FileExpiry.referred((t0 + 9_000, false), deadline: t0 + 7_000), "an earlier one changes nothing")
        XCTAssertEqual(FileExpiry.referred((t0 + 9_000, false), deadline: 0), 0, "a message with no time: never by this rule")
        XCTAssertNil(FileExpiry.referred((0, false), deadline: t0 + 1), "and it stays never")
        XCTAssertEqual(FileExpiry.referred(nil, deadline: 0), 0)
        XCTAssertNil(FileExpiry.referred((t0, true), deadline: t0 + 60_000), "a file gone stays gone")
    }

    func testDueToTheMillisecondThenGone() {
        var e = FileExpiry()
        XCTAssertNil(e.nextMs)
        e.noted(a, until: t0 + 1_000)
        e.noted(b, until: 0)
        XCTAssertEqual(e.nextMs, t0 + 1_000)
        XCTAssertEqual(e.due(now: t0 + 999), [])
        XCTAssertEqual(e.due(now: t0 + 1_000), [a], "at its time, not a millisecond later")
        XCTAssertEqual(e.due(now: t0 + 86_400_000_000), [a], "never is never due")
        XCTAssertFalse(e.isGone(a))
        e.deleted(a)
        XCTAssertTrue(e.isGone(a))
        XCTAssertEqual(e.due(now: .max), [])
        XCTAssertNil(e.nextMs)
        e.noted(a, until: t0 + 5_000)
        XCTAssertEqual(e.due(now: .max), [], "a message noted after the deletion does not bring it back")
    }

    func testOldestFirstWithinTheLimit() {
        var e = FileExpiry()
        e.noted(b, until: t0 + 2)
        e.noted(a, until: t0 + 3)
        XCTAssertEqual(e.due(now: t0 + 3), [b, a])
        XCTAssertEqual(e.due(now: t0 + 3, limit: 1), [b])
    }

    func testTheNextTimeFollowsEveryChange() {
        var e = FileExpiry(until: [a: 5_000])
        XCTAssertEqual(e.nextMs, 5_000, "from the rows at start")
        e.noted(b, until: 3_000)
        XCTAssertEqual(e.nextMs, 3_000)
        e.noted(b, until: 0)
        XCTAssertEqual(e.nextMs, 5_000, "the earliest file is now kept: the next one is a's")
        e.deleted(a)
        XCTAssertNil(e.nextMs, "none left with a time")
    }

    func testRemovedByAnotherRule() {
        var e = FileExpiry()
        e.noted(a, until: t0 + 10)
        e.noted(b, until: 0)
        e.removed(a)
        e.removed(b)
        XCTAssertEqual(e.until, [a: t0 + 10], "a file with a time is answered gone after it; one without is forgotten")
        XCTAssertEqual(e.due(now: t0 + 10), [a])
    }
}
