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
}
