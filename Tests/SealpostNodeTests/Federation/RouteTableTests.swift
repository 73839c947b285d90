@testable import SealpostNode
import SealpostCore
import XCTest

/// Path-vector routing with plain announcements (protocol/SPEC.md, "Routing").
final class RouteTableTests: XCTestCase {
    let key: [UInt8] = Array(repeating: 7, count: 32)

    /// What `peer` announces: itself, then `dest` over each given path (its own path to it).
    func announcement(_ peer: String, _ routes: [String: [String]] = [:]) -> [RouteEntry] {
        [RouteEntry(dest: peer, signKey: key, directoryVersion: 1, path: [])]
            + routes.sorted { $0.key < $1.key }.map { RouteEntry(dest: $0.key, signKey: key, directoryVersion: 2, path: $0.value) }
    }

    func testNeighboursAreOneHopAndTheirRoutesOneMore() {
        var table = RouteTable(me: "hq")
        XCTAssertTrue(table.recompute(announcements: ["city": announcement("city", ["province": ["province"]])]))
        XCTAssertEqual(table.routes["city"]?.path, ["city"])
        XCTAssertEqual(table.routes["province"]?.path, ["city", "province"])
        XCTAssertEqual(table.routes["province"]?.hops, 2)
        XCTAssertEqual(table.routes["province"]?.directoryVersion, 2)
        XCTAssertEqual(table.nextHop(to: "province"), "city")
        XCTAssertNil(table.nextHop(to: "mars"))
    }

    func testShortestPathWinsAndTiesGoToTheFirstName() {
        var table = RouteTable(me: "a")
        table.recompute(announcements: [
            "c": announcement("c", ["d": ["d"], "e": ["d", "e"]]),
            "b": announcement("b", ["d": ["d"], "e": ["x", "y", "e"]]),
        ])
        XCTAssertEqual(table.nextHop(to: "d"), "b", "two equal paths: the peer whose name sorts first")
        XCTAssertEqual(table.routes["e"]?.path, ["c", "d", "e"], "the shorter path wins over the first name")
    }

    func testPathsThroughThisNodeAndTooLongPathsAreIgnored() {
        var table = RouteTable(me: "hq")
        let long = (1...32).map { "n\($0)" }
        table.recompute(announcements: ["city": announcement("city", ["loop": ["hq", "loop"], "hq": [], "far": long,
                                                                      "near": Array(long.prefix(30)) + ["near"]])])
        XCTAssertNil(table.routes["loop"], "a path through this node is a loop")
        XCTAssertNil(table.routes["hq"], "no route to itself")
        XCTAssertNil(table.routes["far"], "33 nodes would not fit an announcement")
        XCTAssertEqual(table.routes["near"]?.hops, 32)
    }

    func testAPeerThatIsGoneTakesItsRoutesWithItAndRecomputeSaysWhenNothingChanged() {
        var table = RouteTable(me: "a")
        let both = ["b": announcement("b", ["d": ["d"]]), "c": announcement("c", ["d": ["d"]])]
        XCTAssertTrue(table.recompute(announcements: both))
        XCTAssertFalse(table.recompute(announcements: both), "the same announcements: nothing changed")
        XCTAssertTrue(table.recompute(announcements: ["c": both["c"]!]))
        XCTAssertEqual(table.nextHop(to: "d"), "c", "rerouted through the other peer")
        XCTAssertNil(table.routes["b"])
        XCTAssertTrue(table.recompute(announcements: [:]))
        XCTAssertTrue(table.routes.isEmpty)
    }

    func testAnnouncementIsThisNodeThenEveryRouteByName() {
        var table = RouteTable(me: "hq")
        table.recompute(announcements: ["city": announcement("city", ["province": ["province"]]), "alpha": announcement("alpha")])
        let own: [UInt8] = Array(repeating: 1, count: 32)
        let entries = table.announcement(signKey: own, directoryVersion: 9)
        XCTAssertEqual(entries.map(\.dest), ["hq", "alpha", "city", "province"])
        XCTAssertEqual(entries[0], RouteEntry(dest: "hq", signKey: own, directoryVersion: 9, path: []))
        XCTAssertEqual(entries[3].path, ["city", "province"])
    }
}
