import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostWeb
import XCTest

/// Own messages' states in the web client (protocol/SPEC.md 7.10): delivered when wu's
/// node stored it, seen when wu's client showed it; the read-receipt setting.
extension WebDaemonTests {
    func ownMessage(_ browser: Browser, _ id: String) throws -> [String: Any]? {
        let h = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
        return h.first { $0["id"] as? String == id }
    }

    /// What wu gets within `ms`: messages and receipts, acknowledged.
    func wuTakes(ms: Int) throws -> (messages: [ReceivedMessage], receipts: [ReceivedMessage]) {
        try wu.attach()
        var messages: [ReceivedMessage] = [], receipts: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
        while Clock.monotonicNs() < deadline {
            guard let event = try wu.next(timeoutMs: 50) else { continue }
            switch event {
            case .message(let m): if wuSeen.insert(m.id).inserted { messages.append(m) }; try wu.ack(m.seq)
            case .receipt(let m): if wuSeen.insert(m.id).inserted { receipts.append(m) }; try wu.ack(m.seq)
            default: break
            }
        }
        try wu.flush()
        return (messages, receipts)
    }

    func testOwnMessageGoesDeliveredThenSeenAndReadReceiptsCanBeTurnedOff() throws {
        let browser = try loggedIn()
        XCTAssertEqual(try browser.get("/api/state").json["read_receipts"] as? Bool, true)
        let sent = try browser.post("/api/send", ["to": "wu@traffic", "text": "delivered?"])
        let id = try XCTUnwrap((sent.json["message"] as? [String: Any])?["id"] as? String)
        // wu is offline: traffic stored it, and says so.
        try waitUntil("delivered") { try ownMessage(browser, id)?["state"] as? String == "delivered" }
        XCTAssertEqual(try ownMessage(browser, id)?["receipts"] as? [String: Int], ["delivered": 1, "seen": 0, "recipients": 1])
        var got: [ReceivedMessage] = []
        try waitUntil("wu has it") { got += try wuTakes(ms: 200).messages; return !got.isEmpty }
        try wu.store(try wu.prepareSeen(to: Address("alice@hq")!, ids: [MessageID(hex: id)!]))
        try waitUntil("seen") { try ownMessage(browser, id)?["state"] as? String == "seen" }
        XCTAssertEqual(try ownMessage(browser, id)?["receipts"] as? [String: Int], ["delivered": 1, "seen": 1, "recipients": 1])

        // alice reads wu's messages: a read receipt goes to wu, unless she turned them off.
        func wuWritesAndAliceReads(_ text: String) throws -> MessageID {
            let mid = try wu.sendText(to: Address("alice@hq")!, text: text)
            var row = 0
            try waitUntil("alice has \(text)") {
                let h = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
                row = h.first { $0["id"] as? String == mid.hex }?["row"] as? Int ?? 0
                return row > 0
            }
            XCTAssertEqual(try browser.post("/api/read", ["conversation": "wu@traffic", "through": row]).status, 200)
            return mid
        }
        let off = try browser.post("/api/settings", ["read_receipts": false])
        XCTAssertEqual(off.json["read_receipts"] as? Bool, false)
        XCTAssertEqual(ProfileSettings.load(profilePath: alicePath).read_receipts, false, "the profile's setting, as sealpost receipts off")
        let unseen = try wuWritesAndAliceReads("read with receipts off")
        // A later message from alice is a fence: a read receipt sent before it would come first.
        let fence = try browser.post("/api/send", ["to": "wu@traffic", "text": "fence"])
        XCTAssertEqual(fence.status, 200)
        var receipts: [ReceivedMessage] = []
        try waitUntil("the fence at wu") {
            let taken = try wuTakes(ms: 200)
            receipts += taken.receipts
            return taken.messages.contains { $0.text == "fence" }
        }
        XCTAssertFalse(receipts.contains { $0.kind == .seen && $0.receiptIds?.contains(unseen) == true }, "no read receipt while off")
        XCTAssertEqual(try browser.post("/api/settings", ["read_receipts": true]).json["read_receipts"] as? Bool, true)
        let seen = try wuWritesAndAliceReads("read with receipts on")
        try waitUntil("wu's read receipt") {
            receipts += try wuTakes(ms: 200).receipts
            return receipts.contains { $0.kind == .seen && $0.from == "alice@hq" && $0.receiptIds == [seen] }
        }
        XCTAssertEqual(try browser.post("/api/settings", ["read_receipts": "yes"]).status, 400)
    }
}
