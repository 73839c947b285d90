@testable import SealpostNode
import XCTest

/// Delivery bookkeeping with plain values: sessions, the one attached session per user,
/// pushes due and stalled, entries waiting, and a session's window.
final class DeliveryStateTests: XCTestCase {
    let t0: UInt64 = 1_000_000_000_000
    let bob = Principal.user("bob", generation: 1)

    func testACommandOpensASessionOnceAndKeepsItFresh() {
        var delivery = DeliveryState()
        let first = delivery.heard(routingId: [1], principal: bob, now: t0)
        let again = delivery.heard(routingId: [1], principal: bob, now: t0 + 5)
        XCTAssertTrue(first === again)
        XCTAssertEqual(again.lastHeardNs, t0 + 5)
        XCTAssertEqual(delivery.sessions.count, 1)
        let other = delivery.heard(routingId: [1], principal: .user("bob", generation: 2), now: t0 + 6)
        XCTAssertFalse(first === other, "the routing id now carries another identity: a new session")
        XCTAssertEqual(delivery.sessions.count, 1)
    }

    func testOneAttachedSessionPerUserTheLastToAttach() {
        var delivery = DeliveryState()
        let phone = delivery.heard(routingId: [1], principal: bob, now: t0)
        let laptop = delivery.heard(routingId: [2], principal: bob, now: t0)
        XCTAssertNil(delivery.caughtUpSession(of: "bob"))
        delivery.attach(phone, user: "bob", window: 10)
        XCTAssertTrue(delivery.isAttached(phone, user: "bob"))
        XCTAssertEqual(delivery.takePumps(), [[1]], "an attach pushes the backlog")
        XCTAssertEqual(delivery.takePumps(), [], "once")
        delivery.attach(laptop, user: "bob", window: 10)
        XCTAssertFalse(phone.attached, "attaching another session of the user detaches the first")
        XCTAssertFalse(delivery.isAttached(phone, user: "bob"))
        XCTAssertTrue(delivery.isAttached(laptop, user: "bob"))
        XCTAssertEqual(delivery.onlineUsers, ["bob"])
        delivery.detach(phone, user: "bob")
        XCTAssertTrue(delivery.isAttached(laptop, user: "bob"), "detaching a session that is not attached changes nothing")
        delivery.detach(laptop, user: "bob")
        XCTAssertFalse(laptop.attached)
        XCTAssertNil(delivery.attachedByUser["bob"])
        XCTAssertEqual(delivery.onlineUsers, [])
    }

    func testNewEntriesGoFromMemoryOnlyToACaughtUpAttachedSession() {
        var delivery = DeliveryState()
        let s = delivery.heard(routingId: [1], principal: bob, now: t0)
        delivery.attach(s, user: "bob", window: 10)
        XCTAssertNil(delivery.caughtUpSession(of: "bob"), "its stored backlog is pushed first")
        s.caughtUp = true
        XCTAssertTrue(delivery.caughtUpSession(of: "bob") === s)
        delivery.detach(s, user: "bob")
        XCTAssertNil(delivery.caughtUpSession(of: "bob"))
    }

    func testADroppedSessionIsDetachedAndNotRetried() {
        var delivery = DeliveryState()
        let s = delivery.heard(routingId: [1], principal: bob, now: t0)
        delivery.attach(s, user: "bob", window: 10)
        delivery.stall(s)
        XCTAssertTrue(delivery.hasStalled)
        XCTAssertTrue(delivery.drop([1]) === s)
        XCTAssertNil(delivery.drop([1]))
        XCTAssertNil(delivery.attachedByUser["bob"])
        XCTAssertTrue(delivery.sessions.isEmpty)
        delivery.stall(s)
        XCTAssertEqual(delivery.takeStalled(), [[1]], "stalled before it was dropped (the reactor finds no session)")
        delivery.stall(s)
        XCTAssertFalse(delivery.hasStalled, "a push to a dropped session does not stall it again")
    }

    func testStalledPushesAreTakenOnceAndCanStallAgain() {
        var delivery = DeliveryState()
        let a = delivery.heard(routingId: [1], principal: bob, now: t0)
        let b = delivery.heard(routingId: [2], principal: .user("li"), now: t0)
        delivery.stall(a)
        delivery.stall(b)
        delivery.stall(a)
        XCTAssertEqual(Set(delivery.takeStalled()), [[1], [2]])
        XCTAssertFalse(delivery.hasStalled)
        delivery.stall(b)
        XCTAssertEqual(delivery.takeStalled(), [[2]])
    }

    func testWaitingCountsFollowStoresRollbacksAcknowledgementsAndRemovals() {
        var delivery = DeliveryState(waiting: ["bob": 2])
        let s = delivery.heard(routingId: [1], principal: bob, now: t0)
        delivery.stored(for: "bob")
        delivery.stored(for: "li")
        XCTAssertEqual(delivery.waiting, ["bob": 3, "li": 1])
        delivery.storeRolledBack(for: "li")
        XCTAssertEqual(delivery.waiting["li"], 0)
        s.pushed(1); s.pushed(2); s.pushed(3)
        delivery.acknowledged(s, user: "bob", through: 2, removed: 2)
        XCTAssertEqual(delivery.waiting["bob"], 1)
        XCTAssertEqual(s.acked, 2)
        XCTAssertEqual(s.inFlightCount, 1)
        XCTAssertEqual(delivery.takePumps(), [[1]], "an acknowledgement opens the window: pushed again")
        delivery.forgetWaiting(of: "bob")
        XCTAssertNil(delivery.waiting["bob"])
    }

    func testIdleSessionsAreThoseSilentPastTheTimeout() {
        var delivery = DeliveryState()
        _ = delivery.heard(routingId: [1], principal: bob, now: t0)
        _ = delivery.heard(routingId: [2], principal: bob, now: t0 + 10)
        XCTAssertEqual(delivery.idle(now: t0 + 30, timeout: 30), [])
        XCTAssertEqual(delivery.idle(now: t0 + 31, timeout: 30), [[1]])
    }

    func testSessionWindowAndReattach() {
        let s = Session(routingId: [1], principal: bob, now: t0)
        XCTAssertEqual(s.room, 0, "not attached: no room")
        s.attach(window: 3)
        XCTAssertEqual(s.room, 3)
        s.pushed(10); s.pushed(11)
        XCTAssertEqual(s.room, 1)
        XCTAssertEqual(s.lastSent, 11)
        s.acknowledge(through: 10)
        XCTAssertEqual(s.room, 2)
        s.acknowledge(through: 5)
        XCTAssertEqual(s.acked, 10, "acknowledgements never go back")
        s.pushFailed(lastGood: 11)
        XCTAssertFalse(s.caughtUp)
        s.caughtUp = true
        s.syncedSent = true
        s.attach(window: 2)
        XCTAssertEqual(s.lastSent, 10, "a new ATTACH pushes everything not acknowledged again")
        XCTAssertEqual(s.inFlightCount, 0)
        XCTAssertFalse(s.caughtUp)
        XCTAssertFalse(s.syncedSent)
        s.detach()
        XCTAssertEqual(s.room, 0)
    }
}
