@testable import SealpostNode
import SealpostCore
import XCTest

/// The directory bookkeeping with plain values: when to ask, which snapshot is taken
/// (SPEC 14.3: asked for, from the next hop, newer than held and than the floor), pins and
/// their undo, the operator's forget and unpin, the refusal log.
final class DirectoryStateTests: XCTestCase {
    let key: [UInt8] = Array(repeating: 7, count: 32)
    let otherKey: [UInt8] = Array(repeating: 8, count: 32)

    /// Knows `province` (pinned, version 3, floor `floor`) and has asked `city` for it at 1_000.
    func asked(floor: UInt64? = nil) -> DirectoryState {
        var state = DirectoryState(localVersion: 1, nodes: [("province", key, 3, [1])], entries: [], floors: floor.map { ["province": $0] } ?? [:])
        XCTAssertTrue(state.shouldRequest(home: "province", via: "city", version: 5, now: 1_000, interval: 100))
        return state
    }

    func testAskOnlyForNewerVersionsOfPinnedNodesOnceAtATime() {
        var state = DirectoryState(localVersion: 1, nodes: [("province", key, 3, [1])], entries: [], floors: [:])
        XCTAssertFalse(state.shouldRequest(home: "province", via: "city", version: 3, now: 0, interval: 100), "not newer")
        XCTAssertFalse(state.shouldRequest(home: "mars", via: "city", version: 9, now: 0, interval: 100), "no pinned key")
        XCTAssertTrue(state.shouldRequest(home: "province", via: "city", version: 4, now: 1_000, interval: 100))
        XCTAssertFalse(state.shouldRequest(home: "province", via: "city", version: 4, now: 5_000, interval: 100), "still open to that hop")
        XCTAssertFalse(state.shouldRequest(home: "province", via: "town", version: 4, now: 1_050, interval: 100), "the way changed, but too soon")
        XCTAssertTrue(state.shouldRequest(home: "province", via: "town", version: 4, now: 1_100, interval: 100))
        XCTAssertEqual(state.requests["province"]?.hop, "town")
        state.expireRequests(now: 1_200, timeout: 100)
        XCTAssertNotNil(state.requests["province"], "not yet past the timeout")
        state.expireRequests(now: 1_201, timeout: 100)
        XCTAssertNil(state.requests["province"])
    }

    func testAnAnswerToOurQuestionFromTheNextHopIsChecked() {
        var state = asked()
        XCTAssertEqual(state.answered(home: "province", from: "city", version: 5, nextHop: "city", me: "hq", now: 1_050, timeout: 100),
                       .check(key: key))
        XCTAssertNil(state.requests["province"], "the question is closed")
        XCTAssertEqual(state.answered(home: "province", from: "city", version: 5, nextHop: "city", me: "hq", now: 1_060, timeout: 100),
                       .refuse("not asked for"), "a second answer is unsolicited")
    }

    func testUnaskedLateOrOtherPeersSnapshotsAreRefused() {
        var state = asked()
        XCTAssertEqual(state.answered(home: "province", from: "town", version: 5, nextHop: "city", me: "hq", now: 1_050, timeout: 100),
                       .refuse("not asked for"), "asked of another peer")
        XCTAssertNotNil(state.requests["province"], "a refusal of what was not asked leaves our question open")
        XCTAssertEqual(state.answered(home: "province", from: "city", version: 5, nextHop: "city", me: "hq", now: 1_101, timeout: 100),
                       .refuse("not asked for"), "past the timeout")
        var moved = asked()
        XCTAssertEqual(moved.answered(home: "province", from: "city", version: 5, nextHop: "town", me: "hq", now: 1_050, timeout: 100),
                       .refuse("the peer is not the next hop toward the node"))
    }

    func testOlderOrEqualVersionsAreIgnoredAndOlderThanTheFloorRefused() {
        var state = asked()
        XCTAssertEqual(state.answered(home: "province", from: "city", version: 3, nextHop: "city", me: "hq", now: 1_050, timeout: 100),
                       .ignore, "not newer than held")
        var floored = asked(floor: 9)
        XCTAssertEqual(floored.answered(home: "province", from: "city", version: 5, nextHop: "city", me: "hq", now: 1_050, timeout: 100),
                       .refuse("its version is older than the one held before the directory was forgotten"))
        var atFloor = asked(floor: 5)
        XCTAssertEqual(atFloor.answered(home: "province", from: "city", version: 5, nextHop: "city", me: "hq", now: 1_050, timeout: 100),
                       .check(key: key), "the floor's own version is taken")
    }

    func testAppliedSnapshotReplacesEveryEntryOfItsHome() {
        var state = DirectoryState(localVersion: 1, nodes: [("province", key, 3, [1]), ("city", key, 2, [2])],
                                   entries: [("a@province", "province", [1]), ("b@province", "province", [2]), ("c@city", "city", [3])],
                                   floors: [:])
        state.applied(home: "province", version: 4, signature: [9], entries: [("b@province", [5]), ("d@province", [6])])
        XCTAssertEqual(state.remoteEntries.keys.sorted(), ["b@province", "c@city", "d@province"])
        XCTAssertEqual(state.remoteEntries["b@province"]?.entry, [5])
        XCTAssertEqual(state.versions["province"], 4)
        XCTAssertEqual(state.snapshot(of: "province")?.entries, [[5], [6]], "passed on in address order")
        XCTAssertEqual(state.snapshot(of: "province")?.signature, [9])
        XCTAssertNil(state.snapshot(of: "mars"))
        XCTAssertEqual(state.entryCount(of: "province"), 2)
    }

    func testAPeersNewKeyStartsItsDirectoryFreshAndRollsBack() {
        var state = DirectoryState(localVersion: 1, nodes: [("city", key, 7, [1])], entries: [], floors: ["city": 6])
        let same = state.pinPeer("city", signKey: key)
        XCTAssertEqual(state.versions["city"], 7, "the same key changes nothing")
        state.putBack(same)
        let held = state.pinPeer("city", signKey: otherKey)
        XCTAssertEqual(state.nodeKeys["city"], otherKey)
        XCTAssertEqual(state.versions["city"], 0)
        XCTAssertNil(state.signatures["city"])
        XCTAssertNil(state.floors["city"])
        state.putBack(held)
        XCTAssertEqual(state.nodeKeys["city"], key, "rolled back: the old key")
        XCTAssertEqual(state.versions["city"], 7)
        XCTAssertEqual(state.signatures["city"], [1])
        XCTAssertEqual(state.floors["city"], 6)
    }

    func testFirstSightPinRollsBack() {
        var state = DirectoryState()
        state.pinFirstSeen("province", signKey: key)
        XCTAssertEqual(state.nodeKeys["province"], key)
        state.pinRolledBack("province")
        XCTAssertNil(state.nodeKeys["province"])
    }

    func testForgetKeepsTheFloorAndUnpinDropsTheKey() {
        var state = DirectoryState(localVersion: 1, nodes: [("province", key, 3, [1])], entries: [("a@province", "province", [1])], floors: [:])
        XCTAssertTrue(state.shouldRequest(home: "province", via: "city", version: 5, now: 1_000, interval: 100))
        state.forgot("province", unpin: false, floor: 3)
        XCTAssertTrue(state.remoteEntries.isEmpty)
        XCTAssertNil(state.versions["province"])
        XCTAssertNil(state.requests["province"])
        XCTAssertEqual(state.floors["province"], 3)
        XCTAssertEqual(state.nodeKeys["province"], key, "forgotten, still pinned")
        state.forgot("province", unpin: true, floor: 3)
        XCTAssertNil(state.nodeKeys["province"])
        XCTAssertNil(state.floors["province"])
    }

    func testLocalVersionOnlyGoesUp() {
        var state = DirectoryState(localVersion: 5, nodes: [], entries: [], floors: [:])
        state.raiseLocalVersion(to: 4)
        XCTAssertEqual(state.localVersion, 5)
        state.raiseLocalVersion(to: 6)
        XCTAssertEqual(state.localVersion, 6)
    }

    func testOneWarningPerIntervalCountingTheRest() {
        var state = DirectoryState()
        XCTAssertEqual(state.refused(now: 1_000, interval: 100), .warning(alsoRefused: 0))
        XCTAssertEqual(state.refused(now: 1_050, interval: 100), .debug)
        XCTAssertEqual(state.refused(now: 1_099, interval: 100), .debug)
        XCTAssertEqual(state.refused(now: 1_100, interval: 100), .warning(alsoRefused: 2))
        XCTAssertEqual(state.refused(now: 1_150, interval: 100), .debug)
    }
}
