import Foundation
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// TRACE-QUERY and TRACE-ANSWER from a peer that does not follow the rules (protocol/SPEC.md
/// 11.7): dropped and counted, never a crash.
final class TracePeerInputTests: XCTestCase {
    /// `hops` is not signed and any byte: 255 must be dropped as past the limit, not overflow.
    func testQueriesAndAnswersWithHops255AreDroppedNotCrashing() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.waitForNodeHello()
        let query = Trace.Query(queryId: Sodium.randomBytes(16), origin: "fake", dest: "elsewhere", askedAt: 1, officer: "",
                                subject: .message(MessageID(bytes: Sodium.randomBytes(16))!))
        try fake.send(.traceQuery(query: query, hops: 255))
        try fake.send(.traceAnswer(queryId: Sodium.randomBytes(16), origin: "fake", dest: "elsewhere", hops: 255, answer: [1, 2, 3]))
        XCTAssertTrue(try fake.pingAnswered(7), "the node still answers")
        XCTAssertEqual(try hq.status().trace.dropped, 2, "both dropped and counted")
    }

    /// Queries whose signature does not verify are dropped before they count against their
    /// claimed origin's answers per minute: a peer forging them cannot silence a real asker.
    func testForgedQueriesDoNotUseUpTheAnswersOfTheNodeTheyName() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.waitForNodeHello()
        // hq checks a query's signature with the key fake announces in its ROUTES: until then
        // the real one would be dropped too (the flake of a CI run: 121 dropped).
        try fake.run("hq to learn fake's route and key") { (try? hq.status().routes.contains { $0.dest == "fake" }) == true }
        let subject = Trace.Subject.message(MessageID(bytes: Sodium.randomBytes(16))!)
        for _ in 0..<120 {
            // Claiming to be fake's, not signed by it.
            try fake.send(.traceQuery(query: Trace.Query(queryId: Sodium.randomBytes(16), origin: "fake", dest: "hq", askedAt: 1,
                                                         officer: "", subject: subject), hops: 0))
        }
        var real = Trace.Query(queryId: Sodium.randomBytes(16), origin: "fake", dest: "hq", askedAt: 2, officer: "", subject: subject)
        real.sign(with: fake.keys.sign)
        try fake.send(.traceQuery(query: real, hops: 0))
        var answered = false
        let deadline = Date().addingTimeInterval(10)
        while !answered, Date() < deadline {
            try fake.serve(ms: 50) { command, _ in
                if case .traceAnswer(let id, _, _, _, _) = command, id == real.queryId { answered = true }
            }
        }
        XCTAssertTrue(answered, "the signed query was answered")
        XCTAssertEqual(try hq.status().trace.dropped, 120, "the forged ones dropped")
    }
}
