import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// Reminders between two real nodes: both sides reminded, durable, cancellable.
final class ReminderTests: XCTestCase {
    /// Collects messages until one of `kind` arrives (or the timeout); returns all.
    func collect(_ client: Client, until kind: ReceivedMessage.Kind, timeoutMs: Int = 8000) throws -> [ReceivedMessage] {
        try client.attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            guard let event = try client.next(timeoutMs: 100) else { continue }
            if case .message(let m) = event {
                out.append(m)
                try client.ack(m.seq)
                if m.kind == kind { break }
            }
        }
        try client.flush()
        return out
    }

    func testBothSidesAreRemindedOnTimeAcrossNodesAndARestart() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let due = Clock.nowMs() + 2500
        let id = try alice.remind(to: Address("wu@traffic")!, at: due, text: "file the incident report")
        // The recipient gets the reminder at once.
        let first = try collect(wu, until: .reminder, timeoutMs: 5000)
        XCTAssertEqual(first.last?.kind, .reminder)
        XCTAssertEqual(first.last?.text, "file the incident report")
        XCTAssertEqual(first.last?.reminder?.dueAt, due)
        // traffic restarts before the due time: the schedule is durable.
        traffic.stop()
        try traffic.start()
        let wuDue = try collect(wu, until: .reminderDue)
        let aliceDue = try collect(alice, until: .reminderDue)
        for (who, got) in [("wu", wuDue), ("alice", aliceDue)] {
            let notice = try XCTUnwrap(got.last, who)
            XCTAssertEqual(notice.kind, .reminderDue, who)
            XCTAssertEqual(notice.reminder?.id, id, who)
            XCTAssertEqual(notice.from, "alice@hq", who)
            let fired = try XCTUnwrap(notice.reminder?.firedAt)
            XCTAssertGreaterThanOrEqual(fired, due, "\(who): not early")
            XCTAssertLessThan(fired - due, 1000, "\(who): within 1 s of the due time")
            XCTAssertEqual(notice.reminder?.late, false, who)
        }
        // The recipient marks it done; the sender hears of it.
        try wu.markReminderDone(id, sender: Address("alice@hq")!)
        let done = try collect(alice, until: .reminderDone)
        XCTAssertEqual(done.last?.kind, .reminderDone)
        XCTAssertEqual(done.last?.from, "wu@traffic")
        XCTAssertEqual(done.last?.reminder?.id, id)
        _ = hq
    }

    func testANodeDownAtTheDueTimeFiresLateWhenItStarts() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let due = Clock.nowMs() + 1500
        _ = try alice.remind(to: Address("wu@traffic")!, at: due, text: "check the gate")
        _ = try collect(wu, until: .reminder, timeoutMs: 5000)
        traffic.stop()
        // The due time passes while the node is down (a wait for the clock, not for a condition).
        while Clock.nowMs() <= due + Reminder.lateAfterMs + 200 { usleep(20_000) }
        try traffic.start()
        let got = try collect(wu, until: .reminderDue)
        XCTAssertEqual(got.last?.kind, .reminderDue)
        XCTAssertEqual(got.last?.reminder?.late, true, "fired after the node came back, marked late")
        _ = hq
    }

    func testCancelWithdrawsTheRecipientsNotice() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let due = Clock.nowMs() + 2000
        let id = try alice.remind(to: Address("wu@traffic")!, at: due, text: "meeting")
        _ = try collect(wu, until: .reminder, timeoutMs: 5000)
        try alice.cancelReminder(id, recipients: [Address("wu@traffic")!])
        let cancelled = try collect(wu, until: .reminderCancelled, timeoutMs: 5000)
        XCTAssertEqual(cancelled.last?.kind, .reminderCancelled)
        try traffic.waitFor("wu's due notice withdrawn") { ($0.reminders.pending) == 0 }
        try hq.waitFor("alice's own due notice withdrawn") { ($0.reminders.pending) == 0 }
        while Clock.nowMs() <= due + 300 { usleep(20_000) }
        let after = try collect(wu, until: .reminderDue, timeoutMs: 300)
        XCTAssertFalse(after.contains { $0.kind == .reminderDue }, "nothing fires after a cancel")
        // Only the sender can cancel: a cancel from wu for alice's reminder changes nothing.
        let again = try alice.remind(to: Address("wu@traffic")!, at: Clock.nowMs() + 60_000, text: "later")
        try wu.cancelReminder(again, recipients: [Address("alice@hq")!])
        // A text sent after the cancel travels the same stream: once it is in, so is the cancel.
        let marker = try wu.sendText(to: Address("alice@hq")!, text: "marker")
        XCTAssertTrue(try collect(alice, until: .text).contains { $0.id == marker })
        XCTAssertEqual((try hq.status().reminders.pending), 1)
    }

    func testBadRemindersAreRefused() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        XCTAssertThrowsError(try alice.remind(to: Address("bob@hq")!, at: Clock.nowMs() - 1000, text: "x")) { error in
            XCTAssertTrue("\(error)".contains("in the past"), "\(error)")
        }
        XCTAssertThrowsError(try alice.remind(to: Address("bob@hq")!, at: Clock.nowMs() + 400 * 86_400_000, text: "x"))
        XCTAssertThrowsError(try alice.remind(to: Address("bob@hq")!, at: Clock.nowMs() + 5000, text: " "))
        // A client cannot forge a node's due notice.
        let forged = Envelope(id: MessageID(bytes: Array(repeating: 7, count: 16))!, from: "", to: "bob@hq",
                              kind: EnvelopeKind.reminderDue.rawValue, sentAt: Clock.nowMs(), body: Array(repeating: 0, count: 33))
        XCTAssertThrowsError(try alice.store(forged)) { error in
            XCTAssertTrue("\(error)".contains("made by nodes"), "\(error)")
        }
        XCTAssertEqual(ReminderTime.duration("1h30m"), 5_400_000)
        XCTAssertNil(ReminderTime.duration("soon"))
        XCTAssertEqual(ReminderTime.absolute("2026-11-25T09:00:00Z"), 1_795_597_200_000) // date -u -d 2026-11-25T09:00:00Z +%s
    }
}
