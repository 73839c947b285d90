@testable import SealpostNode
import SealpostCore
import XCTest
import ZeroMQ

/// The federation bookkeeping with plain values: stream counters out and in, what is written
/// at the commit and put back after a rollback, held counts, summaries, peers by key, timers.
final class FederationStateTests: XCTestCase {
    func testOutgoingSeqsCountPerDestinationFromOne() {
        var state = FederationState()
        XCTAssertEqual(state.nextOut(to: "province"), 1)
        state.usedOut(1, to: "province")
        state.usedOut(2, to: "province")
        state.usedOut(1, to: "city")
        XCTAssertEqual(state.nextOut(to: "province"), 3)
        XCTAssertEqual(state.nextOut(to: "city"), 2)
        XCTAssertEqual(state.nextOut(to: "mars"), 1)
    }

    func testMovedCountersAreWrittenOnceAndThenClean() {
        var state = FederationState(streamOut: ["city": 5], streamIn: ["hq": 9])
        XCTAssertTrue(state.takeDirty().out.isEmpty, "loaded counters are not dirty")
        state.usedOut(5, to: "city")
        state.usedOut(6, to: "city")
        state.acceptedIn(from: "hq", through: 12)
        let dirty = state.takeDirty()
        XCTAssertEqual(dirty.out, ["city": 7], "one write per counter, with its last value")
        XCTAssertEqual(dirty.in, ["hq": 12])
        let again = state.takeDirty()
        XCTAssertTrue(again.out.isEmpty && again.in.isEmpty, "taken: the next cycle writes only what it moves")
    }

    func testRollbackPutsBackWhatTheDatabaseHolds() {
        var state = FederationState(streamOut: ["city": 5], streamIn: ["hq": 9], heldCount: ["hq": 1])
        state.usedOut(5, to: "city")
        state.acceptedIn(from: "hq", through: 11)
        state.hold(from: "hq")
        state.reloaded(streamOut: ["city": 5], streamIn: ["hq": 9], heldCount: ["hq": 1])
        XCTAssertEqual(state.nextOut(to: "city"), 5)
        XCTAssertEqual(state.expectedIn(from: "hq"), 9)
        XCTAssertEqual(state.held(from: "hq"), 1)
        let dirty = state.takeDirty()
        XCTAssertTrue(dirty.out.isEmpty && dirty.in.isEmpty, "nothing of the rolled-back cycle is written later")
        // A read that failed keeps the memory as it is.
        state.usedOut(5, to: "city")
        state.reloaded(streamOut: nil, streamIn: nil, heldCount: nil)
        XCTAssertEqual(state.nextOut(to: "city"), 6)
    }

    func testHeldCountsAndANewEpoch() {
        var state = FederationState(streamIn: ["hq": 4])
        state.hold(from: "hq")
        state.hold(from: "hq")
        state.hold(from: "city")
        XCTAssertEqual(state.held(from: "hq"), 2)
        XCTAssertEqual(state.heldTotal, 3)
        state.released(from: "hq")
        XCTAssertEqual(state.held(from: "hq"), 1)
        XCTAssertEqual(state.startedEpoch(origin: "hq"), 4, "where the old epoch stood")
        XCTAssertEqual(state.expectedIn(from: "hq"), 1)
        XCTAssertEqual(state.held(from: "hq"), 0)
        XCTAssertEqual(state.held(from: "city"), 1, "other origins are not touched")
    }

    func testOnlyNewerSummariesOfOtherNodesAreTaken() {
        var state = FederationState()
        XCTAssertTrue(state.isNewSummary(from: "city", seq: 1, me: "hq"))
        XCTAssertFalse(state.isNewSummary(from: "hq", seq: 1, me: "hq"), "our own comes back by the flood")
        state.heardSummary(from: "city", seq: 3, json: Array("{}".utf8), nowMs: 1000)
        XCTAssertFalse(state.isNewSummary(from: "city", seq: 3, me: "hq"))
        XCTAssertFalse(state.isNewSummary(from: "city", seq: 2, me: "hq"))
        XCTAssertTrue(state.isNewSummary(from: "city", seq: 4, me: "hq"))
        XCTAssertEqual(state.summaries["city"]?.heardMs, 1000)
        state.forgetSummary(of: "city")
        XCTAssertTrue(state.isNewSummary(from: "city", seq: 1, me: "hq"), "a restarted node numbers again")
    }

    func testPeersByKey() {
        var state = FederationState()
        let key = Z85.encode(Array(repeating: 3, count: 32))
        state.setPeers([PeerConfig(name: "city", router: "tcp://127.0.0.1:1", publish: "tcp://127.0.0.1:2", publicKey: key)])
        XCTAssertEqual(state.peer(curveKey: Array(repeating: 3, count: 32)), "city")
        XCTAssertNil(state.peer(curveKey: Array(repeating: 4, count: 32)))
        state.setPeers([])
        XCTAssertNil(state.peer(curveKey: Array(repeating: 3, count: 32)), "a removed peer is no longer admitted")
    }

    func testTimers() {
        var state = FederationState()
        state.ticked(now: 1_000, interval: 100)
        XCTAssertEqual(state.nextTickNs, 1_100)
        XCTAssertTrue(state.announceDue(now: 1_000, interval: 500), "due at once after a start")
        XCTAssertFalse(state.announceDue(now: 1_499, interval: 500))
        XCTAssertTrue(state.announceDue(now: 1_500, interval: 500))
        state.announceSoon()
        XCTAssertTrue(state.announceDue(now: 1_600, interval: 500), "a change is announced at the next tick")
        XCTAssertTrue(state.summaryDue(now: 10, interval: 50))
        XCTAssertFalse(state.summaryDue(now: 59, interval: 50))
        XCTAssertTrue(state.summaryDue(now: 60, interval: 50))
    }
}
