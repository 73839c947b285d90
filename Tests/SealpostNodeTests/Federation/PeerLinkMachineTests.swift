@testable import SealpostNode
import XCTest

/// The peer link's machine with plain times: every transition, every timer.
final class PeerLinkMachineTests: XCTestCase {
    /// A monotonic clock well past zero (the node's clock counts from boot).
    let t0: UInt64 = 1_000_000_000_000

    /// `seconds` after t0, to the millisecond (exact: no rounding error at a boundary).
    func at(_ seconds: Double) -> UInt64 { t0 + UInt64((seconds * 1000).rounded()) * 1_000_000 }

    /// A link made at t0 whose HELLO was answered at `upAt`.
    func upLink(upAt: Double = 0.2) -> PeerLinkMachine {
        var m = PeerLinkMachine(now: t0)
        _ = m.tick(now: t0)
        m.heard(now: at(upAt))
        XCTAssertEqual(m.helloAnswered(now: at(upAt)), [.linkUp])
        return m
    }

    func testNewLinkSaysHelloEverySecondAndIsUnreachable() {
        var m = PeerLinkMachine(now: t0)
        XCTAssertEqual(m.state, .connecting)
        XCTAssertNil(m.lastHeard)
        XCTAssertFalse(m.isUp(now: t0))
        XCTAssertFalse(m.readyForRelays(now: t0))
        XCTAssertEqual(m.linkState(now: t0, waitingSince: nil), .unreachable)
        XCTAssertEqual(m.tick(now: t0), [.sendHello])
        XCTAssertEqual(m.tick(now: at(0.5)), [])
        XCTAssertEqual(m.tick(now: at(0.999)), [])
        XCTAssertEqual(m.tick(now: at(1)), [.sendHello])
    }

    func testUnansweredLinkIsRebuiltAfterFourSeconds() {
        var m = PeerLinkMachine(now: t0)
        for s in 0...3 { XCTAssertEqual(m.tick(now: at(Double(s))), [.sendHello]) }
        XCTAssertEqual(m.tick(now: at(4)), [.sendHello], "4 s exactly is not yet past the reopen time")
        XCTAssertEqual(m.tick(now: at(4.1)), [.reopenSockets])
        m.socketsOpened(now: at(4.1))
        XCTAssertEqual(m.tick(now: at(5)), [.sendHello], "no reopen within 4 s of the last one")
        XCTAssertEqual(m.tick(now: at(8.1)), [.sendHello])
        XCTAssertEqual(m.tick(now: at(8.2)), [.reopenSockets])
    }

    /// Our handshake was refused (the peer did not know our key yet); its own HELLO on our ROUTER
    /// shows it knows us now: the sockets are rebuilt at once, not four seconds after they were opened.
    func testPeersHelloRebuildsALinkThatHeardNothingSinceItWasOpened() {
        var m = PeerLinkMachine(now: t0)
        XCTAssertEqual(m.tick(now: t0), [.sendHello])
        XCTAssertEqual(m.peerSaidHello(now: at(0.5)), [], "opened less than a HELLO interval ago: its handshake may be on its way")
        XCTAssertEqual(m.peerSaidHello(now: at(1)), [.reopenSockets])
        m.socketsOpened(now: at(1))
        XCTAssertEqual(m.peerSaidHello(now: at(1.5)), [], "just reopened")
        m.heard(now: at(1.6))
        XCTAssertEqual(m.peerSaidHello(now: at(3)), [], "heard since it was reopened: the handshake worked")
        XCTAssertEqual(m.tick(now: at(3)), [.sendHello])

        // Heard once, then silent; reopened after four silent seconds; the peer's HELLO after that reopens it again.
        m = PeerLinkMachine(now: t0)
        m.heard(now: at(0.2))
        XCTAssertEqual(m.peerSaidHello(now: at(2)), [], "heard since it was opened")
        XCTAssertEqual(m.tick(now: at(4.3)), [.reopenSockets, .sendHello])
        m.socketsOpened(now: at(4.3))
        XCTAssertEqual(m.peerSaidHello(now: at(5.3)), [.reopenSockets])

        var up = upLink()
        XCTAssertEqual(up.peerSaidHello(now: at(5)), [], "an up link is never rebuilt for it")
    }

    func testHeardButUnansweredLinkIsRebuiltOnlyAfterFourSilentSeconds() {
        var m = PeerLinkMachine(now: t0)
        _ = m.tick(now: t0)
        m.heard(now: at(3))
        XCTAssertEqual(m.state, .awaitingHello(lastHeard: at(3)))
        XCTAssertEqual(m.linkState(now: at(3), waitingSince: nil), .reconnecting)
        XCTAssertEqual(m.tick(now: at(5)), [.sendHello], "opened 5 s ago but heard 2 s ago: kept")
        XCTAssertEqual(m.tick(now: at(7.1)), [.reopenSockets, .sendHello])
    }

    func testHelloAnswerBringsTheLinkUpOnce() {
        var m = PeerLinkMachine(now: t0)
        m.heard(now: at(0.2))
        XCTAssertEqual(m.helloAnswered(now: at(0.2)), [.linkUp])
        XCTAssertEqual(m.state, .up(since: at(0.2), lastHeard: at(0.2)))
        XCTAssertTrue(m.isUp(now: at(0.2)))
        XCTAssertEqual(m.linkState(now: at(0.3), waitingSince: nil), .connected)
        m.heard(now: at(0.5))
        XCTAssertEqual(m.helloAnswered(now: at(0.5)), [], "a second answer changes nothing")
        XCTAssertEqual(m.state, .up(since: at(0.2), lastHeard: at(0.5)))
    }

    func testUpLinkPingsEverySecondAndSaysNoHello() {
        var m = upLink()
        XCTAssertEqual(m.tick(now: at(0.3)), [.sendPing])
        XCTAssertEqual(m.tick(now: at(1)), [])
        m.heard(now: at(1.2))
        XCTAssertEqual(m.tick(now: at(1.3)), [.sendPing])
    }

    func testSilenceTakesTheLinkDownAndHelloStartsAgain() {
        var m = upLink()
        m.routesHeard(now: at(0.3), listsUs: true)
        _ = m.tick(now: at(0.3))
        XCTAssertTrue(m.isUp(now: at(3.2)))
        XCTAssertFalse(m.isUp(now: at(3.3)), "not usable once silent past 3 s, even before the tick")
        XCTAssertEqual(m.linkState(now: at(3.3), waitingSince: nil), .reconnecting)
        XCTAssertEqual(m.tick(now: at(3.3)), [.linkSilent, .sendHello])
        XCTAssertEqual(m.state, .awaitingHello(lastHeard: at(0.2)))
        XCTAssertEqual(m.tick(now: at(4.2)), [], "silent 4 s exactly: not yet rebuilt")
        XCTAssertEqual(m.tick(now: at(4.3)), [.reopenSockets, .sendHello], "silent past 4 s: rebuilt")
        XCTAssertEqual(m.linkState(now: at(15.2), waitingSince: nil), .reconnecting)
        XCTAssertEqual(m.linkState(now: at(15.3), waitingSince: nil), .unreachable)
        m.heard(now: at(16))
        XCTAssertEqual(m.helloAnswered(now: at(16)), [.linkUp])
        XCTAssertEqual(m.state, .up(since: at(16), lastHeard: at(16)))
    }

    func testRolledBackHelloAsksAgainAndKeepsWhatWasHeard() {
        var m = upLink()
        m.helloRolledBack()
        XCTAssertEqual(m.state, .awaitingHello(lastHeard: at(0.2)))
        XCTAssertFalse(m.isUp(now: at(0.3)))
        XCTAssertEqual(m.tick(now: at(1)), [.sendHello], "the next HELLO goes a second after the last one")
        m.heard(now: at(1.1))
        XCTAssertEqual(m.helloAnswered(now: at(1.1)), [.linkUp], "the answer brings it up again: the window is resent")

        var fresh = PeerLinkMachine(now: t0)
        fresh.helloRolledBack()
        XCTAssertEqual(fresh.state, .connecting, "a HELLO on the ROUTER of a link never heard: nothing to undo")
    }

    func testStuckOnlyWhileUpAndWaitingPastTwentySeconds() {
        var m = upLink()
        for s in stride(from: 1.0, through: 21, by: 1) { m.heard(now: at(s)) }
        XCTAssertEqual(m.linkState(now: at(21), waitingSince: at(0.9)), .stuck)
        XCTAssertEqual(m.linkState(now: at(21), waitingSince: at(1)), .connected, "20 s exactly is not yet stuck")
        XCTAssertEqual(m.linkState(now: at(21), waitingSince: nil), .connected)
        m.helloRolledBack()
        XCTAssertEqual(m.linkState(now: at(21), waitingSince: at(0)), .reconnecting)
    }

    func testRelaysWaitUntilThePeerKnowsOurRoutesOrTheGraceEnds() {
        var m = upLink(upAt: 1)
        XCTAssertFalse(m.readyForRelays(now: at(1)))
        XCTAssertFalse(m.readyForRelays(now: at(3)), "2 s exactly is still within the grace")
        XCTAssertTrue(m.readyForRelays(now: at(3.1)))

        m = upLink(upAt: 1)
        m.routesHeard(now: at(1.5), listsUs: false)
        XCTAssertFalse(m.readyForRelays(now: at(1.5)), "an announcement without us does not open the gate")
        m.routesHeard(now: at(1.6), listsUs: true)
        XCTAssertTrue(m.readyForRelays(now: at(1.6)))

        // The peer restarted behind a link that never went down: the gate closes until it knows us again.
        XCTAssertEqual(m.peerSaidHello(now: at(10)), [], "our own link works: nothing to reopen")
        XCTAssertFalse(m.readyForRelays(now: at(10)))
        m.routesHeard(now: at(10.5), listsUs: true)
        XCTAssertTrue(m.readyForRelays(now: at(10.5)))
    }

    func testAnnouncementsThatNeverArriveReopenTheSubscription() {
        var m = upLink()
        XCTAssertEqual(m.tick(now: at(0.3)), [.sendPing])
        m.heard(now: at(4))
        XCTAssertEqual(m.tick(now: at(4)), [.sendPing], "4 s after it opened: not yet")
        m.heard(now: at(4.1))
        XCTAssertEqual(m.tick(now: at(4.1)), [.reopenSubscription])
        m.subscriptionOpened(now: at(4.1))
        m.heard(now: at(5.1))
        XCTAssertEqual(m.tick(now: at(5.1)), [.sendPing])
        m.routesHeard(now: at(6), listsUs: true)
        m.heard(now: at(9.1))
        XCTAssertEqual(m.tick(now: at(9.1)), [.sendPing], "routes heard at 6 s: the subscription works")
        m.heard(now: at(10.1))
        XCTAssertEqual(m.tick(now: at(10.1)), [.reopenSubscription, .sendPing])
    }

    func testRoutesGoStaleFiveSecondsAfterTheLastAnnouncement() {
        var m = upLink()
        XCTAssertFalse(m.routesStale(now: at(100)), "none heard: nothing to drop")
        m.routesHeard(now: at(1), listsUs: false)
        XCTAssertFalse(m.routesStale(now: at(6)))
        XCTAssertTrue(m.routesStale(now: at(6.1)))
    }

    func testRefusalsAreHeldWhileTheLinkIsYoungAndItsRoutesUnknown() {
        var m = PeerLinkMachine(now: t0)
        XCTAssertTrue(m.holdsRefusals(now: at(4.9)))
        XCTAssertFalse(m.refusalsDue(now: at(4.9)))
        XCTAssertFalse(m.holdsRefusals(now: at(5)))
        XCTAssertTrue(m.refusalsDue(now: at(5)))
        m.routesHeard(now: at(1), listsUs: false)
        XCTAssertFalse(m.holdsRefusals(now: at(1)), "routes known: decided at once")
    }
}
