import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostWeb
import XCTest

/// 保密期限 on the web client (protocol/SPEC.md 7.11.9): the daemon deletes the content of a
/// history record at its readable-until time, by its timer while it runs and at its start for
/// what passed while it was stopped; the UI gets the record as `expired`, and a reload (or a
/// restart) does not bring the content back.
extension WebDaemonTests {
    func record(_ id: MessageID) throws -> History.Record? {
        let key = try HistoryKey.loadOrCreate(path: alicePath + ".history.key")
        let h = try History(path: alicePath + ".history.db", key: key)
        defer { h.close() }
        return try h.message(id: id.hex)
    }

    func testHistoryContentIsDeletedAtReadableUntilAndARestartDoesNotBringItBack() throws {
        let browser = try loggedIn()
        func shown(_ id: MessageID) throws -> [String: Any]? {
            try messages(browser, "wu@traffic").first { $0["id"] as? String == id.hex }
        }
        // 1. While the daemon runs: its timer deletes it.
        wu.readableUntil = Clock.nowMs() + 1_500
        let first = try wu.sendText(to: Address("alice@hq")!, text: "readable briefly")
        try waitUntil("recorded with its time") { try shown(first)?["text"] as? String == "readable briefly" }
        XCTAssertEqual(try shown(first)?["readable_until"] as? UInt64, wu.readableUntil)
        try waitUntil("deleted at its readable-until time", timeout: 15) { try shown(first)?["kind"] as? String == "expired" }
        XCTAssertGreaterThanOrEqual(Clock.nowMs(), wu.readableUntil, "not before its time")
        XCTAssertEqual(try shown(first)?["text"] as? String, "")
        XCTAssertEqual(try shown(first)?["from"] as? String, "wu@traffic", "who sent it and when stay")

        // 2. While the daemon is stopped: deleted when it starts, before anything is shown.
        wu.readableUntil = Clock.nowMs() + 1_500
        let second = try wu.sendText(to: Address("alice@hq")!, text: "readable while stopped")
        try waitUntil("recorded") { try shown(second)?["text"] as? String == "readable while stopped" }
        stopDaemon(daemon)
        daemon = nil
        let until = wu.readableUntil
        try waitUntil("its time to pass while the daemon is stopped", timeout: 15) { Clock.nowMs() > until }
        XCTAssertEqual(try record(second)?.text, "readable while stopped", "nobody deleted it yet")
        daemon = try startDaemon(alicePath)
        let again = try loggedIn()
        let after = try messages(again, "wu@traffic")
        XCTAssertEqual(after.map { $0["kind"] as? String }, ["expired", "expired"])
        XCTAssertEqual(after.map { $0["text"] as? String }, ["", ""])
        XCTAssertEqual(try record(first)?.text, "")
        XCTAssertEqual(try record(second)?.kind, "expired")
        // What has no time stays.
        wu.readableUntil = 0
        let kept = try wu.sendText(to: Address("alice@hq")!, text: "kept")
        try waitUntil("recorded") { try messages(again, "wu@traffic").first { $0["id"] as? String == kept.hex }?["text"] as? String == "kept" }
    }
}
