import Foundation
import SealpostClient
import SealpostCore
import XCTest

/// `chat`'s unconfirmed lines: queued and said to be, or stored, or refused for good; never two of these.
final class OutboxTests: XCTestCase {
    func envelope() -> Envelope {
        Envelope(id: MessageID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })!, from: "", to: "bob@hq", kind: 1, sentAt: 0, body: [1])
    }

    func testLineIsResentWithItsIdUntilStoredAndAnnouncedOnce() {
        var box = Outbox(retransmitMs: 2_000, announceMs: 2_000)
        let e = envelope()
        let s: UInt64 = 1_000_000_000
        box.add(e, text: "hello", now: 0)
        XCTAssertEqual(box.due(now: s).map(\.id), [], "not yet")
        XCTAssertEqual(box.toAnnounce(now: s, offline: false), [])
        XCTAssertEqual(box.due(now: 2 * s).map(\.id), [e.id], "the same id again")
        XCTAssertEqual(box.due(now: 3 * s).map(\.id), [], "every 2 s, not every call")
        XCTAssertEqual(box.toAnnounce(now: 2 * s, offline: false), ["hello"])
        XCTAssertEqual(box.toAnnounce(now: 9 * s, offline: false), [], "announced once")
        XCTAssertEqual(box.stored(e.id), .stored(text: "hello", announced: true))
        XCTAssertNil(box.stored(e.id), "a repeated STORED is nothing new")
        XCTAssertTrue(box.isEmpty)
    }

    func testOfflineAnnouncesAtOnceAndPassingFailuresKeepTheLine() {
        var box = Outbox()
        let a = envelope(), b = envelope()
        box.add(a, text: "a", now: 0)
        box.add(b, text: "b", now: 0)
        XCTAssertEqual(box.toAnnounce(now: 1, offline: true), ["a", "b"])
        XCTAssertNil(box.refused(a.id, code: ErrorCode.unavailable.rawValue, reason: "busy"), "503: still queued")
        XCTAssertNil(box.refused(a.id, code: ErrorCode.internalError.rawValue, reason: "commit failed"), "500: still queued")
        XCTAssertEqual(box.lines.count, 2)
        XCTAssertEqual(box.refused(b.id, code: 404, reason: "no user 'bob' on node 'hq'"),
                       .refused(text: "b", reason: "no user 'bob' on node 'hq'"))
        XCTAssertEqual(box.stored(a.id), .stored(text: "a", announced: true))
        XCTAssertTrue(box.isEmpty)
    }
}
