@testable import SealpostNode
import SealpostCore
import XCTest

/// The burn bookkeeping with plain values: kept messages and their next expiry, journal
/// copies that hold content, view-once files and their undo.
final class BurnStateTests: XCTestCase {
    let fileId = FileID(bytes: Array(repeating: 1, count: 16))!
    let message = MessageID(bytes: Array(repeating: 2, count: 16))!

    func testKeptMessagesAndTheNextExpiry() {
        var state = BurnState()
        XCTAssertFalse(state.isDue(nowMs: .max), "nothing kept: nothing due")
        state.kept(expiresAt: 5_000)
        state.kept(expiresAt: 3_000)
        state.kept(expiresAt: 9_000)
        XCTAssertEqual(state.pending, 3)
        XCTAssertEqual(state.nextExpiryMs, 3_000, "the earliest")
        XCTAssertFalse(state.isDue(nowMs: 2_999))
        XCTAssertTrue(state.isDue(nowMs: 3_000))
        state.expired(count: 1, following: 5_000)
        XCTAssertEqual(state.pending, 2)
        XCTAssertEqual(state.nextExpiryMs, 5_000)
        state.viewed(refused: false)
        state.viewed(refused: true)
        XCTAssertEqual(state.pending, 0)
        XCTAssertNil(state.nextExpiryMs, "the last one viewed: no timer left")
        XCTAssertEqual(state.viewedCount, 1, "one handed over; the other deleted at VIEW for its label")
        XCTAssertEqual(state.expiredCount, 1)
        state.receiptSent()
        XCTAssertEqual(state.receiptsSent, 1)
    }

    func testDeletedForALoweredClearance() {
        var state = BurnState(pending: 3, nextExpiryMs: 4_000, files: [:])
        state.deleted(count: 2)
        XCTAssertEqual(state.pending, 1)
        XCTAssertEqual(state.nextExpiryMs, 4_000, "the next expiry is looked at as before")
        state.deleted(count: 1)
        XCTAssertEqual(state.pending, 0)
        XCTAssertNil(state.nextExpiryMs, "none kept: no timer left")
    }

    func testReloadAfterAUserIsRemoved() {
        var state = BurnState(pending: 4, nextExpiryMs: 1_000, files: [:])
        state.reloaded(pending: 1, nextExpiryMs: 8_000)
        XCTAssertEqual(state.pending, 1)
        XCTAssertEqual(state.nextExpiryMs, 8_000)
        state.reloaded(pending: nil, nextExpiryMs: nil)
        XCTAssertEqual(state.pending, 1, "a count the database could not give is kept")
        XCTAssertNil(state.nextExpiryMs)
    }

    func testJournalCopiesAreLookedAtOnceASecond() {
        var state = BurnState()
        XCTAssertEqual(state.journalledDue(nowMs: 10_000), [], "nothing journalled")
        state.journalled(jid: 7, expiresAt: 10_500)
        state.journalled(jid: 3, expiresAt: 10_200)
        state.journalled(jid: 9, expiresAt: 20_000)
        XCTAssertTrue(state.holdsContent(jid: 7))
        XCTAssertEqual(state.journalledDue(nowMs: 10_600), [3, 7])
        XCTAssertEqual(state.journalledDue(nowMs: 11_599), [], "looked at less than a second ago")
        XCTAssertEqual(state.journalledDue(nowMs: 11_600), [3, 7], "still there until the reactor says they are emptied")
        state.forgotten(jid: 3)
        state.forgotten(jid: 7)
        XCTAssertFalse(state.holdsContent(jid: 7))
        XCTAssertEqual(state.journalledDue(nowMs: 30_000), [9])
    }

    func testAViewOnceFileSeenInARolledBackCycleIsPutBack() {
        var state = BurnState()
        let first = BurnFile(message: message, sender: "li@hq", pullers: [])
        XCTAssertNil(state.fileSeen(fileId, first))
        var more = first
        more.pullers = ["city"]
        let previous = state.fileSeen(fileId, more)
        XCTAssertEqual(state.files[fileId]?.pullers, ["city"])
        state.fileRolledBack(fileId, to: previous)
        XCTAssertEqual(state.files[fileId]?.pullers, [], "rolled back: as known before the cycle")
        state.fileRolledBack(fileId, to: nil)
        XCTAssertNil(state.files[fileId], "rolled back from unknown: unknown again")
        _ = state.fileSeen(fileId, first)
        state.fileGone(fileId)
        XCTAssertNil(state.files[fileId])
    }
}
