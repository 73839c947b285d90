@testable import SealpostNode
import SealpostCore
import XCTest
import ZeroMQ

/// The federation bookkeeping with plain values: stream counters out and in, what is written
/// at the commit and put back after a rollback, held counts, summaries, peers by key, timers,
/// and the relay journal's entries through sends, resends, failed links and acknowledgements.
final class FederationStateTests: XCTestCase {
    func testOutgoingSeqsCountPerDestinationFromOne() {
        var state = FederationState(me: "hq")
        XCTAssertEqual(state.nextOut(to: "province"), 1)
        state.usedOut(1, to: "province")
        state.usedOut(2, to: "province")
        state.usedOut(1, to: "city")
        XCTAssertEqual(state.nextOut(to: "province"), 3)
        XCTAssertEqual(state.nextOut(to: "city"), 2)
        XCTAssertEqual(state.nextOut(to: "mars"), 1)
    }

    func testMovedCountersAreWrittenOnceAndThenClean() {
        var state = FederationState(me: "hq", streamOut: ["city": 5], streamIn: ["hq": 9])
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
        var state = FederationState(me: "hq", streamOut: ["city": 5], streamIn: ["hq": 9], heldCount: ["hq": 1])
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
        var state = FederationState(me: "hq", streamIn: ["hq": 4])
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
        var state = FederationState(me: "hq")
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
        var state = FederationState(me: "hq")
        let key = Z85.encode(Array(repeating: 3, count: 32))
        state.setPeers([PeerConfig(name: "city", router: "tcp://127.0.0.1:1", publish: "tcp://127.0.0.1:2", publicKey: key)])
        XCTAssertEqual(state.peer(curveKey: Array(repeating: 3, count: 32)), "city")
        XCTAssertNil(state.peer(curveKey: Array(repeating: 4, count: 32)))
        state.setPeers([])
        XCTAssertNil(state.peer(curveKey: Array(repeating: 3, count: 32)), "a removed peer is no longer admitted")
    }

    func testTimers() {
        var state = FederationState(me: "hq")
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

    // MARK: relay journal and what links have in flight

    /// A state with `jids` journalled for city, and a link to city with real sockets that never
    /// connect (nothing listens on port 1): only its bookkeeping is used.
    private func withCityLink(journalled jids: [UInt64], _ body: (inout FederationState, PeerLink) throws -> Void) throws {
        let context = Context()
        let key = Z85.encode(NodeKeys.generate().curve.publicKey)
        let config = PeerConfig(name: "city", router: "tcp://127.0.0.1:1", publish: "tcp://127.0.0.1:1", publicKey: key)
        let city = try PeerLink(context: context, config: config, keys: NodeKeys.generate(), now: 0)
        defer { city.close() }
        var state = FederationState(me: "hq")
        for jid in jids { state.journalled(entry(jid)) }
        try body(&state, city)
        withExtendedLifetime(context) {}
    }

    private func entry(_ jid: UInt64, to dest: String = "city") -> RelayJournal.Entry {
        RelayJournal.Entry(jid: jid, dest: dest, origin: "hq", streamSeq: jid, hops: 0,
                           envelope: Envelope(id: .zero, from: "a@hq", to: "b@\(dest)", kind: 1, sentAt: 0, body: []),
                           createdMs: 1_000 + jid)
    }

    func testJournalledEntriesGoOutInOrderAndAnAcknowledgedOneIsGone() throws {
        try withCityLink(journalled: [1, 2, 3]) { state, city in
            XCTAssertEqual(state.journal.count, 3)
            let batch = state.takeQueued(for: "city", limit: 2)
            XCTAssertEqual(batch.map(\.jid), [1, 2], "oldest first, within the limit")
            state.sent(1, on: city, now: 500)
            XCTAssertEqual(city.lastAckNs, 500, "the wait counts from the first send")
            state.sent(2, on: city, now: 600)
            XCTAssertEqual(city.inFlight, [1: 500, 2: 600])
            XCTAssertEqual(city.lastAckNs, 500)
            XCTAssertEqual(state.journal.entries[2]?.sentTo, "city")
            state.acknowledged(1, by: city)
            XCTAssertNil(state.journal.entries[1])
            XCTAssertEqual(city.inFlight, [2: 600])
            XCTAssertEqual(state.journal.queuedCount(dest: "city"), 1, "3 still queued")
        }
    }

    func testWhatIsNotSentOrNotAcknowledgedGoesBackInJournalOrder() throws {
        try withCityLink(journalled: [1, 2, 3, 4]) { state, city in
            let batch = state.takeQueued(for: "city", limit: 4)
            state.sent(batch[0].jid, on: city, now: 10)
            state.sent(batch[1].jid, on: city, now: 10)
            for rest in batch[2...] { state.requeue(rest.jid) } // the pipe was full
            XCTAssertEqual(state.journal.queuedCount(dest: "city"), 2)
            state.resend(1, from: city)
            XCTAssertEqual(city.inFlight.keys.sorted(), [2], "timed out: no longer in flight")
            XCTAssertEqual(state.takeQueued(for: "city", limit: 10).map(\.jid), [1, 3, 4], "a resend goes before newer entries")
            XCTAssertEqual(state.journal.attempts(1), 1)
        }
    }

    func testAFailedLinkPutsItsWholeWindowBack() throws {
        try withCityLink(journalled: [1, 2, 3]) { state, city in
            for e in state.takeQueued(for: "city", limit: 3) { state.sent(e.jid, on: city, now: 1) }
            XCTAssertEqual(state.journal.queuedCount(dest: "city"), 0)
            state.requeueInFlight(of: city)
            XCTAssertTrue(city.inFlight.isEmpty)
            XCTAssertEqual(state.journal.queuedCount(dest: "city"), 3, "all sent again on the next dispatch")
            XCTAssertNil(state.journal.entries[2]?.sentTo)
            XCTAssertEqual(state.journal.count, 3, "nothing is forgotten before an acknowledgement")
        }
    }

    func testAJournalledEnvelopeIsReplacedInItsPlace() {
        var state = FederationState(me: "hq")
        state.journalled(entry(7))
        let notice = Envelope(id: .zero, from: "a@hq", to: "b@city", kind: 2, sentAt: 0, body: [1])
        state.replaceJournalled(7, with: notice)
        XCTAssertEqual(state.journal.entries[7]?.envelope, notice)
        XCTAssertEqual(state.takeQueued(for: "city", limit: 1).map(\.jid), [7])
    }

    func testRoutesAreRecomputedFromTheLinksAnnouncements() {
        var state = FederationState(me: "hq")
        XCTAssertNil(state.routeTable.nextHop(to: "city"))
        let city = RouteEntry(dest: "city", signKey: [], directoryVersion: 1, path: [])
        XCTAssertTrue(state.recomputeRoutes(announcements: ["city": [city]]))
        XCTAssertEqual(state.routeTable.nextHop(to: "city"), "city")
        XCTAssertFalse(state.recomputeRoutes(announcements: ["city": [city]]), "the same announcements change nothing")
    }
}
