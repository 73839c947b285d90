import SealpostClient
import XCTest

/// `AttachGate` (shared by `MailboxReader` and the web daemon's worker) with plain values:
/// nothing at or after a delivery whose sender's key is not known yet is acknowledged, and a
/// retry attaches again only after the PONG of a PING sent after its DETACH.
final class AttachGateTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    func attached() -> AttachGate {
        var gate = AttachGate()
        gate.didAttach()
        return gate
    }

    func testNothingAtOrAfterAWaitingDeliveryIsAcknowledged() {
        var gate = attached()
        XCTAssertEqual(gate.ackThrough(9), 9, "nothing waits: the whole batch")
        gate.waiting(seq: 5, nowNs: 0)
        XCTAssertEqual(gate.ackThrough(9), 4, "up to the one before the waiting delivery")
        XCTAssertEqual(gate.ackThrough(3), 3)
        gate.waiting(seq: 7, nowNs: 1)
        XCTAssertEqual(gate.ackThrough(9), 4, "a later wait does not move it on")
        gate.delivered(seq: 6)
        XCTAssertEqual(gate.ackThrough(9), 4, "another delivery opening does not clear it")
        gate.waiting(seq: 2, nowNs: 2)
        XCTAssertEqual(gate.ackThrough(9), 1, "an earlier wait moves it back")
        gate.delivered(seq: 2)
        XCTAssertNil(gate.blockedAt)
        XCTAssertEqual(gate.ackThrough(9), 9, "the waiting one opened")
        gate.waiting(seq: 1, nowNs: 3)
        XCTAssertEqual(gate.ackThrough(9), 0, "the first seq waits: nothing at all")
    }

    func testARetryDetachesAndAttachesAgainOnlyAfterItsPong() {
        var gate = attached()
        XCTAssertFalse(gate.retryDue(nowNs: 10_000 * ms, retryMs: 1_000), "nothing waits")
        gate.didPing() // a keep-alive before the wait; its PONG is still on its way
        gate.waiting(seq: 5, nowNs: 100 * ms)
        XCTAssertFalse(gate.retryDue(nowNs: 1_100 * ms, retryMs: 1_000), "not before retryMs")
        XCTAssertTrue(gate.retryDue(nowNs: 1_101 * ms, retryMs: 1_000))
        gate.didDetach()
        gate.didPing()
        gate.didFence()
        XCTAssertFalse(gate.retryDue(nowNs: 9_000 * ms, retryMs: 1_000), "one retry at a time")
        // The keep-alive's PONG answers a PING sent before the DETACH: pushes of the old session
        // may still follow it, and one of them would clear the wait on a new session.
        XCTAssertFalse(gate.pong(isAttached: false))
        gate.delivered(seq: 4)
        XCTAssertEqual(gate.ackThrough(9), 4, "still waiting at 5")
        XCTAssertTrue(gate.pong(isAttached: false), "the fence's PONG: everything before the DETACH came")
        gate.didAttach()
        XCTAssertNil(gate.blockedAt, "the new session delivers again from the oldest entry")
        XCTAssertTrue(gate.attached)
    }

    func testANewSessionIsNoticedOnlyByAPongOfAPingAfterTheAttach() {
        var gate = AttachGate()
        gate.didPing()
        gate.didAttach()
        XCTAssertFalse(gate.pong(isAttached: false), "answers a PING sent before the ATTACH")
        gate.didPing()
        XCTAssertFalse(gate.pong(isAttached: true), "still attached")
        gate.didPing()
        XCTAssertTrue(gate.pong(isAttached: false), "the node lost the session: attach again")
        gate.didDetach()
        gate.didPing()
        XCTAssertFalse(gate.pong(isAttached: false), "detached on purpose")
        XCTAssertFalse(gate.retryDue(nowNs: .max, retryMs: 0), "and no retry while detached")
    }
}
