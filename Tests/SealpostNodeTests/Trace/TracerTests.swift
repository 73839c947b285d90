import SealpostCore
@testable import SealpostNode
import XCTest

/// `Tracer` with plain values: one query per node, answers completing the trace, timeouts as
/// gaps, nothing passed on twice, the hop limit and the rate limits.
final class TracerTests: XCTestCase {
    let qid = [UInt8](repeating: 7, count: 16)
    let subject = Trace.Subject.message(MessageID(bytes: [UInt8](repeating: 1, count: 16))!)
    let s: UInt64 = 1_000_000_000

    func query(origin: String = "hq", dest: String) -> Trace.Query {
        Trace.Query(queryId: qid, origin: origin, dest: dest, askedAt: 0, officer: "li@hq", subject: subject)
    }

    func testOneQueryPerNodeAndTheTraceEndsWithTheLastAnswer() {
        var t = Tracer(me: "hq", timeoutNs: 10 * s)
        var signed = 0
        let actions = t.start(queryId: qid, asker: .admin(routing: [1]), subject: subject, officer: "li@hq", targets: ["hq", "city", "school"],
                              unreachable: ["gone"], askedAtMs: 0, now: 0) { _ in signed += 1 }
        XCTAssertEqual(signed, 3)
        XCTAssertEqual(actions.count, 3)
        XCTAssertTrue(actions.contains(.answer(query(dest: "hq"))))
        XCTAssertTrue(actions.contains(.sendQuery(query(dest: "city"), hops: 0)))
        func answer(_ node: String) -> [Tracer.Action] {
            guard case .success(let a) = t.answerArrived(queryId: qid, origin: node, dest: "hq", hops: 2, answer: [9],
                                                         result: Trace.NodeResult(node: node, state: .answered, answer: [9]), now: s)
            else { XCTFail("refused"); return [] }
            return a
        }
        XCTAssertEqual(answer("hq"), [])
        XCTAssertEqual(answer("city"), [])
        guard case .finish(let p)? = answer("school").first else { return XCTFail("not finished") }
        XCTAssertEqual(p.finalResults.map(\.node), ["city", "gone", "hq", "school"])
        XCTAssertEqual(p.finalResults.map(\.state), [.answered, .unreachable, .answered, .answered])
        XCTAssertTrue(t.pending.isEmpty)
        // A late copy of an answer finds no trace: dropped, not a crash.
        XCTAssertEqual(t.answerArrived(queryId: qid, origin: "city", dest: "hq", hops: 0, answer: [9],
                                       result: Trace.NodeResult(node: "city", state: .answered, answer: [9]), now: s),
                       .failure(.repeated))
    }

    func testNodesThatDoNotAnswerInTimeAreReportedSo() {
        var t = Tracer(me: "hq", timeoutNs: 2 * s)
        _ = t.start(queryId: qid, asker: .admin(routing: [1]), subject: subject, officer: "", targets: ["hq", "city"],
                    unreachable: [], askedAtMs: 0, now: 0) { _ in }
        XCTAssertEqual(t.nextDeadlineNs, 2 * s)
        XCTAssertEqual(t.tick(now: s), [])
        guard case .finish(let p)? = t.tick(now: 2 * s).first else { return XCTFail("not finished at its deadline") }
        XCTAssertEqual(p.finalResults.map(\.state), [.timedOut, .timedOut])
    }

    func testQueriesAndAnswersArePassedOnOnceAndNotPastTheHopLimit() {
        var t = Tracer(me: "city")
        let q = query(dest: "school")
        XCTAssertEqual(t.queryArrived(q, hops: 0, now: 0), .success(.sendQuery(q, hops: 1)))
        XCTAssertEqual(t.queryArrived(q, hops: 3, now: 1), .failure(.repeated), "the same query by another way")
        XCTAssertEqual(t.queryArrived(query(dest: "far"), hops: Trace.maxHops - 1, now: 0), .failure(.tooManyHops))
        XCTAssertEqual(t.queryArrived(query(dest: "city"), hops: 2, now: 0), .success(.answer(query(dest: "city"))))
        XCTAssertEqual(t.queryArrived(query(dest: "city"), hops: 2, now: 0), .failure(.repeated), "answered once")
        XCTAssertEqual(t.queryArrived(query(origin: "city", dest: "x"), hops: 0, now: 0), .failure(.repeated), "our own, back in a loop")
        let pass = t.answerArrived(queryId: qid, origin: "school", dest: "hq", hops: 1, answer: [1], result: nil, now: 0)
        XCTAssertEqual(pass, .success([.sendAnswer(queryId: qid, origin: "school", dest: "hq", hops: 2, answer: [1])]))
        XCTAssertEqual(t.answerArrived(queryId: qid, origin: "school", dest: "hq", hops: 1, answer: [1], result: nil, now: 0),
                       .failure(.repeated))
        // Forgotten after a while: an old id is not kept for ever.
        _ = t.tick(now: 10 * 60 * s)
        XCTAssertEqual(t.queryArrived(q, hops: 0, now: 10 * 60 * s), .success(.sendQuery(q, hops: 1)))
    }

    func testAnswersPerAskingNodeAndTracesPerOfficerAreLimited() {
        var t = Tracer(me: "school", answersPerMinute: 2, tracesPerMinute: 1)
        for i in 0..<2 {
            var q = query(dest: "school")
            q.queryId = [UInt8](repeating: UInt8(i), count: 16)
            guard case .success(.answer) = t.queryArrived(q, hops: 0, now: 0) else { return XCTFail("not answered") }
        }
        var third = query(dest: "school")
        third.queryId = [UInt8](repeating: 9, count: 16)
        XCTAssertEqual(t.queryArrived(third, hops: 0, now: 1), .failure(.rateLimited))
        guard case .success(.answer) = t.queryArrived(third, hops: 0, now: 61 * s) else { return XCTFail("a minute later it is") }
        XCTAssertTrue(t.mayStart("li@school", now: 0))
        XCTAssertFalse(t.mayStart("li@school", now: s))
        XCTAssertTrue(t.mayStart("sun@school", now: s), "per officer")
        XCTAssertTrue(t.mayStart("li@school", now: 61 * s))
    }

    func testPolicy() {
        var c = TraceConfig()
        XCTAssertNil(c.decide(asker: "hq", origins: []), "nothing found, nothing given away")
        XCTAssertNil(c.decide(asker: "hq", origins: ["hq"]))
        XCTAssertNotNil(c.decide(asker: "hq", origins: ["hq", "city"]))
        c.supervisors = ["city"]
        XCTAssertNil(c.decide(asker: "city", origins: ["hq"]))
        c.answer = .none
        XCTAssertNotNil(c.decide(asker: "hq", origins: []))
        XCTAssertNil(c.decide(asker: "city", origins: ["hq"]))
        c.answer = .all
        XCTAssertNil(c.decide(asker: "hq", origins: ["school"]))
        XCTAssertThrowsError(try TraceConfig(supervisors: ["Bad Name"]).validate())
        XCTAssertThrowsError(try TraceConfig(timeoutSeconds: 0).validate())
    }
}

extension TracerTests {
    func testAFloodOfQueriesFillsNoMoreThanTheMemoryAndIsDropped() {
        var t = Tracer(me: "city")
        t.maxSeen = 3
        for i in 0..<3 {
            var q = query(dest: "far")
            q.queryId = [UInt8](repeating: UInt8(i), count: 16)
            XCTAssertEqual(t.queryArrived(q, hops: 0, now: 0), .success(.sendQuery(q, hops: 1)))
        }
        var fourth = query(dest: "far")
        fourth.queryId = [UInt8](repeating: 9, count: 16)
        XCTAssertEqual(t.queryArrived(fourth, hops: 0, now: 1), .failure(.rateLimited), "not passed on unremembered")
        XCTAssertEqual(t.queryArrived(fourth, hops: 0, now: 10 * 60 * s), .success(.sendQuery(fourth, hops: 1)), "once the old ones expired")
    }
}
