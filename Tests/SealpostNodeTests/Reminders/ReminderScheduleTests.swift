import Foundation
@testable import SealpostNode
import SealpostCore
import XCTest

/// The schedule of due notices with plain times: order, cancels, the rollback of a
/// fired notice, and loading from a real database file.
final class ReminderScheduleTests: XCTestCase {
    func id(_ n: Int) -> MessageID { MessageID(bytes: (0..<16).map { UInt8(truncatingIfNeeded: n >> (8 * ($0 % 4))) &+ UInt8($0) })! }

    func item(_ n: Int, due: UInt64, user: String = "zhao") -> ScheduledReminder {
        ScheduledReminder(user: user, reminder: id(n), dueAt: due, sender: "li@district")
    }

    func testEmptyScheduleHasNothingDue() {
        var schedule = ReminderSchedule()
        XCTAssertNil(schedule.nextDue())
        XCTAssertEqual(schedule.count, 0)
        XCTAssertEqual(schedule.takeDue(now: .max, limit: 10), [])
    }

    func testNoticesComeDueEarliestFirstWithinTheLimit() {
        var schedule = ReminderSchedule()
        for (n, due) in [(1, 300), (2, 100), (3, 200), (4, 100)] as [(Int, UInt64)] { schedule.add(item(n, due: due)) }
        XCTAssertEqual(schedule.count, 4)
        XCTAssertEqual(schedule.nextDue(), 100)
        XCTAssertEqual(schedule.takeDue(now: 99, limit: 10), [], "nothing before its time")
        XCTAssertEqual(schedule.takeDue(now: 200, limit: 2).map(\.dueAt), [100, 100])
        XCTAssertEqual(schedule.takeDue(now: 200, limit: 2), [item(3, due: 200)])
        XCTAssertEqual(schedule.nextDue(), 300)
        XCTAssertEqual(schedule.count, 1)
    }

    func testACancelledNoticeIsSkippedAndOnlyThatUsersCopy() {
        var schedule = ReminderSchedule()
        schedule.add(item(1, due: 100))
        schedule.add(item(1, due: 100, user: "li"))
        schedule.add(item(2, due: 200))
        schedule.remove(user: "zhao", reminder: id(1))
        schedule.remove(user: "nobody", reminder: id(2))
        XCTAssertEqual(schedule.count, 2)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [item(1, due: 100, user: "li"), item(2, due: 200)])
        XCTAssertEqual(schedule.count, 0)
        XCTAssertNil(schedule.nextDue())
    }

    func testAFiredNoticeWhoseBatchRolledBackFiresAgain() {
        // fireDueReminders: taken, then put back by the batch's undo (its row is back too).
        var schedule = ReminderSchedule()
        schedule.add(item(1, due: 100))
        schedule.add(item(2, due: 500))
        let fired = schedule.takeDue(now: 100, limit: 10)
        XCTAssertEqual(fired, [item(1, due: 100)])
        XCTAssertEqual(schedule.takeDue(now: 100, limit: 10), [])
        for f in fired { schedule.add(f) }
        XCTAssertEqual(schedule.nextDue(), 100)
        XCTAssertEqual(schedule.takeDue(now: 101, limit: 10), [item(1, due: 100)])
    }

    func testANoticeScheduledAgainAfterItsCancelIsLive() {
        var schedule = ReminderSchedule()
        schedule.add(item(1, due: 100))
        schedule.remove(user: "zhao", reminder: id(1))
        XCTAssertEqual(schedule.count, 0)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [])
        schedule.add(item(1, due: 300))
        XCTAssertEqual(schedule.count, 1)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [item(1, due: 300)])
    }

    func testANoticeScheduledAgainEarlierThanItsCancelledCopyFiresOnceAtItsOwnTime() {
        // The cancelled copy (due 300) is still in the heap when the same id is set again for 100.
        var schedule = ReminderSchedule()
        schedule.add(item(1, due: 300))
        schedule.add(item(2, due: 200))
        schedule.remove(user: "zhao", reminder: id(1))
        schedule.add(item(1, due: 100))
        XCTAssertEqual(schedule.count, 2)
        XCTAssertEqual(schedule.takeDue(now: 150, limit: 10), [item(1, due: 100)])
        XCTAssertEqual(schedule.count, 1)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [item(2, due: 200)], "the cancelled copy at 300 stays dead")
        XCTAssertEqual(schedule.count, 0)
        XCTAssertNil(schedule.nextDue())
    }

    func testCancelledAndScheduledAgainTwiceLeavesOnlyTheLastCopy() {
        var schedule = ReminderSchedule()
        schedule.add(item(1, due: 500))
        schedule.remove(user: "zhao", reminder: id(1))
        schedule.add(item(1, due: 100))
        schedule.remove(user: "zhao", reminder: id(1))
        schedule.add(item(1, due: 500)) // the same due time as the first, dead copy
        XCTAssertEqual(schedule.count, 1)
        XCTAssertEqual(schedule.nextDue(), 500)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [item(1, due: 500)])
        XCTAssertEqual(schedule.count, 0)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [])
        // Nothing of the key is left behind: set once more, it fires once.
        schedule.add(item(1, due: 700))
        XCTAssertEqual(schedule.count, 1)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [item(1, due: 700)])
    }

    func testARolledBackFireOfANoticeScheduledAgainAfterItsCancelFiresAgain() {
        var schedule = ReminderSchedule()
        schedule.add(item(1, due: 400))
        schedule.remove(user: "zhao", reminder: id(1))
        schedule.add(item(1, due: 100))
        let fired = schedule.takeDue(now: 200, limit: 10)
        XCTAssertEqual(fired, [item(1, due: 100)])
        XCTAssertEqual(schedule.count, 0)
        for f in fired { schedule.add(f) } // the batch's undo
        XCTAssertEqual(schedule.count, 1)
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10), [item(1, due: 100)])
        XCTAssertEqual(schedule.count, 0)
        XCTAssertNil(schedule.nextDue())
    }

    func testManyNoticesInAnyOrderComeOutSorted() {
        var schedule = ReminderSchedule()
        var state: UInt64 = 42
        var dues: [UInt64] = []
        for n in 0..<5000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let due = state >> 40
            dues.append(due)
            schedule.add(item(n, due: due, user: "u\(n % 7)"))
        }
        var out: [UInt64] = []
        while case let batch = schedule.takeDue(now: .max, limit: 999), !batch.isEmpty { out += batch.map(\.dueAt) }
        XCTAssertEqual(out, dues.sorted())
    }

    func testLoadedFromTheStoreInDueOrder() throws {
        let root = NSTemporaryDirectory() + "sealpost-schedule-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try NodeStore(path: root + "/node.db")
        defer { store.close() }
        for (n, due) in [(1, 900), (2, 100), (3, 500), (4, 300), (5, 700)] as [(Int, UInt64)] {
            XCTAssertTrue(try store.schedule(user: "zhao", reminder: id(n), dueAt: due, sender: "li@district"))
        }
        XCTAssertFalse(try store.schedule(user: "zhao", reminder: id(1), dueAt: 900, sender: "li@district"))
        var schedule = try ReminderSchedule(store: store)
        XCTAssertEqual(schedule.count, 5)
        XCTAssertEqual(schedule.takeDue(now: 600, limit: 10), [item(2, due: 100), item(4, due: 300), item(3, due: 500)])
        XCTAssertEqual(schedule.takeDue(now: 1000, limit: 10).map(\.dueAt), [700, 900])
    }
}
