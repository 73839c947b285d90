import Foundation
@testable import SealpostClient
import SealpostCore
import SQLite
import Sodium
@testable import SealpostWeb
import XCTest

/// The history on its own: real SQLite files, real secretbox.
final class HistoryTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sealpost-history-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func open(_ keyPath: String? = nil) throws -> History {
        try History(path: dir + "/p.history.db", key: try HistoryKey.loadOrCreate(path: keyPath ?? dir + "/p.history.key"))
    }

    func testRecordsOpenAgainOnlyUnderTheirKeyAndOnTheirOwnRow() throws {
        var h = try open()
        let a = try h.record(id: "a", conversation: "wu@traffic", isGroup: false, outgoing: false, from: "wu@traffic", kind: "text",
                             text: "secret one", sentAt: 1, state: .received)
        XCTAssertNotNil(a)
        XCTAssertNil(try h.record(id: "a", conversation: "wu@traffic", isGroup: false, outgoing: false, from: "wu@traffic", kind: "text",
                                  text: "again", sentAt: 1, state: .received), "a repeated id is recorded once")
        _ = try h.record(id: "b", conversation: "wu@traffic", isGroup: false, outgoing: true, from: "alice@hq", kind: "text",
                         text: "secret two", sentAt: 2, state: .sending)
        h.close()

        h = try open()
        XCTAssertEqual(try h.messages(conversation: "wu@traffic", before: nil, limit: 10).map(\.text), ["secret one", "secret two"])
        h.close()

        // Another key opens nothing.
        h = try open(dir + "/other.key")
        XCTAssertEqual(try h.messages(conversation: "wu@traffic", before: nil, limit: 10).map(\.kind), ["damaged", "damaged"])
        XCTAssertEqual(try h.messages(conversation: "wu@traffic", before: nil, limit: 10).map(\.text), ["", ""])
        h.close()

        // A sealed record moved onto another row does not open there.
        let db = try Database(path: dir + "/p.history.db")
        try db.execute("UPDATE messages SET sealed = (SELECT sealed FROM messages WHERE id = 'a') WHERE id = 'b'")
        db.close()
        h = try open()
        XCTAssertEqual(try h.messages(conversation: "wu@traffic", before: nil, limit: 10).map(\.kind), ["text", "damaged"])
        h.close()
    }

    func testADowngradeIsSealedWithTheRecordAndOutlivesTheReadableUntilPurge() throws {
        var h = try open()
        _ = try h.record(id: "d", conversation: "li@hq", isGroup: false, outgoing: false, from: "li@hq", kind: "text",
                         text: "the roster", sentAt: 1, state: .received, label: "敏感 sensitive", readableUntil: 50)
        XCTAssertEqual(try h.message(id: "d")?.effectiveLabel, "")
        let lowered = try h.setDowngrade(id: "d", effectiveLabel: "内部 internal", downgrade: History.Downgrade(by: "li@hq", reason: "published"))
        XCTAssertEqual(lowered?.effectiveLabel, "内部 internal")
        XCTAssertEqual(lowered?.text, "the roster")
        XCTAssertNil(try h.setDowngrade(id: "none", effectiveLabel: "内部 internal", downgrade: History.Downgrade(by: "li@hq", reason: "x")))
        h.close()
        h = try open()
        defer { h.close() }
        XCTAssertEqual(try h.message(id: "d")?.downgrade, History.Downgrade(by: "li@hq", reason: "published"))
        XCTAssertEqual(try h.purgeExpired(now: 60).map(\.id), ["d"])
        let expired = try XCTUnwrap(try h.message(id: "d"))
        XCTAssertEqual([expired.kind, expired.text, expired.label, expired.effectiveLabel], ["expired", "", "敏感 sensitive", "内部 internal"])
        XCTAssertEqual(expired.downgrade?.reason, "published")
    }

    func testScrollBackUnreadAndState() throws {
        let h = try open()
        defer { h.close() }
        for i in 1...120 {
            _ = try h.record(id: "m\(i)", conversation: "duty@hq", isGroup: true, outgoing: i % 10 == 0, from: i % 10 == 0 ? "alice@hq" : "wu@traffic",
                             kind: "text", text: "n\(i)", sentAt: UInt64(i), state: i % 10 == 0 ? .sending : .received)
        }
        let last = try h.messages(conversation: "duty@hq", before: nil, limit: 50)
        XCTAssertEqual(last.map(\.text).first, "n71")
        XCTAssertEqual(last.map(\.text).last, "n120")
        let earlier = try h.messages(conversation: "duty@hq", before: last.first!.row, limit: 50)
        XCTAssertEqual(earlier.map(\.text).first, "n21")
        XCTAssertEqual(earlier.map(\.text).last, "n70")
        XCTAssertEqual(try h.messages(conversation: "duty@hq", before: earlier.first!.row, limit: 50).count, 20)
        // An own message marks everything before it read: after n120 (own), nothing is unread.
        XCTAssertEqual(try h.conversation("duty@hq")?.unread, 0)
        _ = try h.record(id: "x", conversation: "duty@hq", isGroup: true, outgoing: false, from: "wu@traffic", kind: "text", text: "new",
                         sentAt: 200, state: .received)
        _ = try h.record(id: "e", conversation: "duty@hq", isGroup: true, outgoing: false, from: "alice@hq", kind: "group_event", text: "{}",
                         sentAt: 201, state: .received)
        XCTAssertEqual(try h.conversation("duty@hq")?.unread, 1, "a group event is not unread news")
        XCTAssertEqual(try h.setState(id: "m120", .stored), "duty@hq")
        XCTAssertEqual(try h.message(id: "m120")?.state, "stored")
        XCTAssertEqual(try h.setState(id: "x", .stored), "duty@hq")
        XCTAssertEqual(try h.message(id: "x")?.state, "received", "only own messages have a sending state")
    }

    func testBurnContentIsNeverKept() throws {
        let m = ReceivedMessage(seq: 1, id: MessageID(bytes: Sodium.randomBytes(16))!, from: "wu@traffic", to: "alice@hq", kind: .burn,
                                text: "burn after reading: sealpost view …", sentAt: 1)
        let entry = HistoryEntry(m, me: "alice@hq")
        XCTAssertEqual(entry?.kind, "burn")
        XCTAssertEqual(entry?.text, "")
        var text = m
        text.kind = .text
        text.burn = nil
        text.text = "plain"
        let plain = HistoryEntry(text, me: "alice@hq")
        XCTAssertEqual(plain?.conversation, "wu@traffic")
        XCTAssertEqual(plain?.kind, "text")
        XCTAssertEqual(plain?.text, "plain")
    }

    func testADamagedKeyFileIsRefusedClearly() throws {
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad.key"))
        XCTAssertThrowsError(try HistoryKey.loadOrCreate(path: dir + "/bad.key")) { error in
            XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
        }
    }
}

extension HistoryTests {
    func testSearchOpensTheSealedRecordsAndFindsTextInAnyCase() throws {
        let h = try open()
        defer { h.close() }
        let texts = ["The plate was seen at the East Toll Gate", "收到，我马上安排人去核实。", "nothing here", "east toll gate again"]
        for (i, text) in texts.enumerated() {
            _ = try h.record(id: "s\(i)", conversation: i == 1 ? "wu@traffic" : "li@criminal", isGroup: false, outgoing: false,
                             from: "x@y", kind: "text", text: text, sentAt: UInt64(i), state: .received)
        }
        _ = try h.record(id: "g", conversation: "duty@hq", isGroup: true, outgoing: false, from: "x@y", kind: "group_event",
                         text: "{\"op\":\"east toll gate\"}", sentAt: 9, state: .received)
        XCTAssertEqual(try h.search("east TOLL gate", limit: 10).map(\.id), ["s3", "s0"], "newest first, case-insensitive, text only")
        XCTAssertEqual(try h.search("核实", limit: 10).map(\.conversation), ["wu@traffic"])
        XCTAssertEqual(try h.search("toll", limit: 1).map(\.id), ["s3"])
        XCTAssertEqual(try h.search("   ", limit: 10), [])
        XCTAssertEqual(try h.search("absent", limit: 10), [])
    }

    func testSearchFindsRemindersFilesAndCardsByTheirWordsNotTheirFieldNames() throws {
        let h = try open()
        defer { h.close() }
        let records: [(String, String)] = [("reminder", #"{"due_at":1,"reminder":"r","text":"Roll call at eight"}"#),
                                           ("file", #"{"file_id":"f","name":"Roster-December.xlsx","size":10}"#),
                                           ("card", #"{"address":"li@hq","name":"Li Na","unit":"hq","verified":true}"#),
                                           ("reminder_due", #"{"reminder":"r","text":"Roll call at eight"}"#)]
        for (i, (kind, text)) in records.enumerated() {
            _ = try h.record(id: "k\(i)", conversation: "wu@traffic", isGroup: false, outgoing: false, from: "wu@traffic", kind: kind,
                             text: text, sentAt: UInt64(i), state: .received)
        }
        XCTAssertEqual(try h.search("roll call", limit: 10).map(\.id), ["k0"], "the reminder, not its due notice")
        XCTAssertEqual(try h.search("roster", limit: 10).map(\.id), ["k1"])
        XCTAssertEqual(try h.search("li na", limit: 10).map(\.id), ["k2"])
        XCTAssertEqual(try h.search("name", limit: 10), [], "field names are not words of the message")
        XCTAssertEqual(try h.search("due_at", limit: 10), [])
    }
}

/// What the history keeps of each kind, with plain values: structured notices, and where they go.
final class HistoryEntryTests: XCTestCase {
    let id = MessageID(bytes: Array(repeating: 0xAB, count: 16))!

    func message(_ kind: ReceivedMessage.Kind, from: String = "wu@traffic") -> ReceivedMessage {
        ReceivedMessage(seq: 1, id: MessageID(bytes: Sodium.randomBytes(16))!, from: from, to: "alice@hq", kind: kind, text: "x", sentAt: 5)
    }

    func object(_ e: HistoryEntry?) -> [String: Any] {
        (e.flatMap { try? JSONSerialization.jsonObject(with: Data($0.text.utf8)) } as? [String: Any]) ?? [:]
    }

    func testAReminderAndItsDueNoticeAreStructuredAndNamed() {
        var r = message(.reminder)
        r.text = "call the gate"
        r.reminder = ReminderInfo(id: id, dueAt: 1000, firedAt: nil, late: false)
        let entry = HistoryEntry(r, me: "alice@hq")
        XCTAssertEqual(object(entry)["text"] as? String, "call the gate")
        XCTAssertEqual(object(entry)["due_at"] as? Int, 1000)
        XCTAssertNil(entry?.about, "a reminder is a message, not a notice about one")
        var due = message(.reminderDue, from: "alice@hq")
        due.reminder = ReminderInfo(id: id, dueAt: 1000, firedAt: 1001, late: true)
        let notice = HistoryEntry(due, me: "alice@hq")
        XCTAssertEqual(notice?.about, id.hex, "goes where its reminder is")
        XCTAssertEqual(object(notice)["late"] as? Bool, true)
        XCTAssertNil(object(notice)["text"], "the text comes from the reminder itself")
    }

    func testAFileACardAndACaptureAreStructured() {
        var f = message(.file)
        f.file = FileManifest(flags: 0, fileId: FileID(bytes: Array(repeating: 1, count: 16))!, name: "a.png", size: 42,
                              key: Array(repeating: 0, count: 32), header: Array(repeating: 0, count: 24), hash: Array(repeating: 0, count: 32))
        XCTAssertEqual(object(HistoryEntry(f, me: "alice@hq"))["name"] as? String, "a.png")
        XCTAssertNil(object(HistoryEntry(f, me: "alice@hq"))["key"], "the file's key is not in the history")
        var c = message(.card)
        c.card = ReceivedCard(address: "li@hq", name: "Li", unit: "hq", verified: false, reason: "altered", external: false)
        XCTAssertEqual(object(HistoryEntry(c, me: "alice@hq"))["reason"] as? String, "altered")
        var cap = message(.capture)
        cap.capture = Burn.Capture(burn: id, at: 7, how: "PrintScreen")
        let entry = HistoryEntry(cap, me: "alice@hq")
        XCTAssertEqual(entry?.about, id.hex)
        XCTAssertEqual(object(entry)["how"] as? String, "PrintScreen")
    }
}
