import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostWeb
import XCTest

/// Forwarding from the web daemon (protocol/SPEC.md 7.9): `POST /api/forward`, and a received
/// forward recorded with its chain's line.
extension WebDaemonTests {
    func testForwardThroughTheAPIAndForwardsShownWithTheirLine() throws {
        let browser = try loggedIn()
        let original = try wu.sendText(to: Address("alice@hq")!, text: "checkpoint moved to gate 3")
        try waitUntil("alice's daemon records wu's text") {
            let h = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
            return h.contains { $0["id"] as? String == original.hex }
        }
        let bad = try browser.post("/api/forward", ["id": original.hex, "to": []])
        XCTAssertEqual(bad.status, 400)
        let sent = try browser.post("/api/forward", ["id": original.hex, "to": ["wu@traffic"], "note": "as discussed"])
        XCTAssertEqual(sent.status, 200, String(decoding: sent.body, as: UTF8.self))
        XCTAssertEqual(sent.json["hop"] as? Int, 1)
        var got: [ReceivedMessage] = []
        try waitUntil("wu receives the forward") {
            got += try wuReceives(ms: 300)
            return got.contains { $0.forward != nil }
        }
        let forward = try XCTUnwrap(got.first { $0.forward != nil })
        XCTAssertEqual(forward.forward?.check.status, .verified)
        XCTAssertEqual(forward.forward?.note, "as discussed")
        XCTAssertEqual(forward.text, "checkpoint moved to gate 3")

        // wu forwards it back: the daemon records it with its line.
        let back = try wu.forward(try XCTUnwrap(forward.forwardable), to: [Address("alice@hq")!], groups: [:])
        var messages: [[String: Any]] = []
        try waitUntil("alice's daemon records the forward") {
            messages = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
            return messages.contains { $0["id"] as? String == back[0].id.hex }
        }
        let text = messages.first { $0["id"] as? String == back[0].id.hex }?["text"] as? String ?? ""
        XCTAssertTrue(text.hasPrefix("[forwarded from wu@traffic — originally by wu@traffic at "), text)
        XCTAssertTrue(text.hasSuffix(", 2 hops] checkpoint moved to gate 3"), text)
        let unknown = try browser.post("/api/forward", ["id": "00112233", "to": ["wu@traffic"]])
        XCTAssertEqual(unknown.status, 400, String(decoding: unknown.body, as: UTF8.self))
    }
}
