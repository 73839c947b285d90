import Foundation
import SealpostClient
import SealpostCore
import Sodium
@testable import SealpostWeb
import XCTest

/// Groups, reminders, files, burn after reading and contact cards through the daemon's API:
/// alice@hq on her daemon, wu@traffic a library client on the other unit, real nodes.
extension WebDaemonTests {
    func messages(_ browser: Browser, _ conversation: String) throws -> [[String: Any]] {
        try browser.get("/api/history?conversation=\(conversation)&limit=200").json["messages"] as? [[String: Any]] ?? []
    }

    func conversation(_ browser: Browser, _ address: String) throws -> [String: Any]? {
        (try browser.get("/api/state").json["conversations"] as? [[String: Any]] ?? []).first { $0["address"] as? String == address }
    }

    func object(_ text: Any?) -> [String: Any] {
        ((text as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]) ?? [:]
    }

    /// A picture header ImageInfo reads (PNG, 64 × 48) and some bytes after it.
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        + [0, 0, 0, 64, 0, 0, 0, 48, 8, 2, 0, 0, 0] + Array(repeating: 7, count: 100)

    // MARK: groups

    func testAGroupAcrossUnitsIsCreatedChangedAndLeftFromTheBrowser() throws {
        let browser = try loggedIn()
        XCTAssertEqual(try browser.post("/api/groups", ["name": "duty", "members": []], csrf: false).status, 403)
        XCTAssertEqual(try browser.post("/api/groups", ["name": "Duty!", "members": []]).status, 400)
        XCTAssertEqual(try browser.post("/api/groups/change", ["group": "duty@hq", "op": "promote", "members": ["wu@traffic"]]).status, 400)
        XCTAssertEqual(try browser.post("/api/groups/change", ["group": "duty@hq", "op": "add", "members": ["wu@traffic"]]).status, 404,
                       "not a member of a group that does not exist")
        let created = try browser.post("/api/groups", ["name": "duty", "members": ["wu@traffic"]])
        XCTAssertEqual(created.status, 202, String(decoding: created.body, as: UTF8.self))
        try waitUntil("the group in alice's list, both members, alice its admin") {
            let c = try conversation(browser, "duty@hq")
            return c?["members"] as? [String] == ["alice@hq", "wu@traffic"] && c?["admins"] as? [String] == ["alice@hq"]
        }
        XCTAssertEqual((try conversation(browser, "duty@hq")?["member_names"] as? [String: String])?["wu@traffic"], "Wu")
        var events: [ReceivedMessage] = []
        try waitUntil("wu hears of the group") {
            events += try wuReceives(ms: 200).filter { $0.kind == .groupEvent }
            return !events.isEmpty
        }
        XCTAssertEqual(events.first?.groupEvent?.members.map(\.address), ["alice@hq", "wu@traffic"])

        // A reminder to the group goes to every other member; the sender's panel lists them one by one.
        let remind = try browser.post("/api/remind", ["to": "duty@hq", "due_at": Clock.nowMs() + 60_000, "text": "roll call"])
        XCTAssertEqual(remind.status, 200, String(decoding: remind.body, as: UTF8.self))
        try waitUntil("wu gets the group's reminder") {
            events += try wuReceives(ms: 200)
            return events.contains { $0.kind == .reminder && $0.group == "duty@hq" && $0.text == "roll call" }
        }
        let sent = (try browser.get("/api/reminders").json["sent"] as? [[String: Any]])?.first
        XCTAssertEqual(sent?["group"] as? String, "duty@hq")
        XCTAssertEqual((sent?["recipients"] as? [[String: Any]])?.map { $0["address"] as? String }, ["wu@traffic"])

        XCTAssertEqual(try browser.post("/api/groups/change", ["group": "duty@hq", "op": "admin", "members": ["wu@traffic"]]).status, 202)
        try waitUntil("wu an admin") { try conversation(browser, "duty@hq")?["admins"] as? [String] == ["alice@hq", "wu@traffic"] }
        XCTAssertEqual(try browser.post("/api/groups/change", ["group": "duty@hq", "op": "remove", "members": ["wu@traffic"]]).status, 202)
        try waitUntil("wu removed") { try conversation(browser, "duty@hq")?["members"] as? [String] == ["alice@hq"] }
        // The group's news is in its conversation, structured for the reader's language.
        let ops = try messages(browser, "duty@hq").filter { $0["kind"] as? String == "group_event" }.map { object($0["text"])["op"] as? String }
        XCTAssertEqual(ops, ["create", "admin", "remove"])
        XCTAssertEqual(try browser.post("/api/groups/change", ["group": "duty@hq", "op": "leave"]).status, 202)
        try waitUntil("alice out of the group") { try conversation(browser, "duty@hq")?["members"] as? [String] == [] }
    }

    // MARK: reminders

    func testAReminderFiresWithItsTextOnBothSidesAndTheSenderSeesWhoDidIt() throws {
        let browser = try loggedIn()
        let text = "call the east toll gate"
        XCTAssertEqual(try browser.post("/api/remind", ["to": "wu@traffic", "due_at": Clock.nowMs() - 1000, "text": text]).status, 400)
        XCTAssertEqual(try browser.post("/api/remind", ["to": "wu@traffic", "due_at": Clock.nowMs() + 5000, "text": "  "]).status, 400)
        let set = try browser.post("/api/remind", ["to": "wu@traffic", "due_at": Clock.nowMs() + 1500, "text": text])
        XCTAssertEqual(set.status, 200, String(decoding: set.body, as: UTF8.self))
        let id = set.json["id"] as? String ?? ""
        let upcoming = try browser.get("/api/reminders").json["sent"] as? [[String: Any]] ?? []
        XCTAssertEqual(upcoming.map { $0["id"] as? String }, [id])
        XCTAssertEqual(upcoming.first?["text"] as? String, text)

        var got: [ReceivedMessage] = []
        try waitUntil("wu gets the reminder, then its due notice") {
            got += try wuReceives(ms: 200)
            return got.contains { $0.kind == .reminderDue }
        }
        XCTAssertEqual(got.first { $0.kind == .reminder }?.text, text)
        // Alice's own due notice comes from her node: shown in the chat with wu, with the text.
        var due: [String: Any]?
        try waitUntil("alice's due notice, in the conversation with wu") {
            due = try messages(browser, "wu@traffic").first { $0["kind"] as? String == "reminder_due" }
            return due != nil
        }
        XCTAssertEqual(object(due?["text"])["text"] as? String, text)
        XCTAssertEqual(object(due?["text"])["reminder"] as? String, id)

        try wu.markReminderDone(MessageID(hex: id)!, sender: Address("alice@hq")!)
        try waitUntil("done for wu in alice's panel") {
            let sent = try browser.get("/api/reminders").json["sent"] as? [[String: Any]] ?? []
            return (sent.first?["recipients"] as? [[String: Any]])?.first?["done"] as? Bool == true
        }
        XCTAssertFalse(try messages(browser, "alice@hq").contains { _ in true }, "a notice from alice's own node made a conversation with herself")
    }

    func testAReceivedReminderIsMarkedDoneFromThePanel() throws {
        let browser = try loggedIn()
        let id = try wu.remind(to: Address("alice@hq")!, at: Clock.nowMs() + 60_000, text: "bring the plate photos")
        var received: [[String: Any]] = []
        try waitUntil("the reminder in alice's panel") {
            received = try browser.get("/api/reminders").json["received"] as? [[String: Any]] ?? []
            return !received.isEmpty
        }
        XCTAssertEqual(received.first?["text"] as? String, "bring the plate photos")
        XCTAssertEqual(received.first?["conversation"] as? String, "wu@traffic")
        XCTAssertEqual(try browser.post("/api/reminders/done", ["id": id.hex]).status, 200)
        var got: [ReceivedMessage] = []
        try waitUntil("wu hears it is done") {
            got += try wuReceives(ms: 200)
            return got.contains { $0.kind == .reminderDone && $0.reminder?.id == id }
        }
        XCTAssertEqual((try browser.get("/api/reminders").json["received"] as? [[String: Any]])?.first?["done"] as? Bool, true)
    }

    // MARK: files

    func testAFileHandedOverInPiecesIsSentAndOneReceivedIsDownloaded() throws {
        let browser = try loggedIn()
        let content = Sodium.randomBytes(300_000)
        let upload = try browser.post("/api/uploads", ["name": "report.bin", "size": content.count])
        XCTAssertEqual(upload.status, 200)
        let id = upload.json["id"] as? String ?? ""
        func put(_ offset: Int, _ bytes: ArraySlice<UInt8>) throws -> RawHTTP.Response {
            try browser.http.request("PUT", "/api/uploads/\(id)?offset=\(offset)",
                                     headers: browser.headers(extra: [("Content-Type", "application/octet-stream")]), body: Data(bytes))
        }
        let forged = try browser.http.request("PUT", "/api/uploads/\(id)?offset=0",
                                              headers: browser.headers(csrf: false, extra: [("Content-Type", "application/octet-stream")]),
                                              body: Data(content[0..<10]))
        XCTAssertEqual(forged.status, 403, "a piece without the CSRF header is refused")
        XCTAssertEqual(try put(0, content[0..<100_000]).status, 200)
        let wrong = try put(5, content[100_000..<200_000])
        XCTAssertEqual(wrong.status, 409, "a piece must continue where the upload ends")
        XCTAssertEqual(wrong.json["received"] as? Int, 100_000)
        XCTAssertEqual(try browser.post("/api/send-file", ["to": "wu@traffic", "upload": id]).status, 409, "not complete yet")
        XCTAssertEqual(try put(100_000, content[100_000...]).status, 200)
        XCTAssertEqual(try browser.get("/api/uploads/\(id)").json["received"] as? Int, content.count)
        XCTAssertEqual(try browser.post("/api/send-file", ["to": "wu@traffic", "upload": id]).status, 202)

        var offer: ReceivedMessage?
        try waitUntil("wu gets the file") {
            offer = try wuReceives(ms: 200).first { $0.kind == .file } ?? offer
            return offer != nil
        }
        let out = NSTemporaryDirectory() + "webtest-\(UUID().uuidString).bin"
        defer { unlink(out) }
        _ = try wu.fetchFile(offer!.file!, to: out)
        XCTAssertEqual(FileManager.default.contents(atPath: out).map { [UInt8]($0) }, content)
        try waitUntil("the file in alice's history") {
            try messages(browser, "wu@traffic").contains { $0["kind"] as? String == "file" && $0["outgoing"] as? Bool == true }
        }

        // The other way: wu sends alice a picture; her browser asks for it and gets the bytes.
        let picture = NSTemporaryDirectory() + "webtest-\(UUID().uuidString).png"
        defer { unlink(picture) }
        FileManager.default.createFile(atPath: picture, contents: Data(Self.png))
        let sent = try wu.sendFile(to: Address("alice@hq")!, path: picture, uploads: UploadBook(profilePath: picture))
        defer { unlink(picture + ".uploads") }
        var fileId = ""
        try waitUntil("the picture in alice's history") {
            let m = try messages(browser, "wu@traffic").first { $0["kind"] as? String == "file" && $0["outgoing"] as? Bool == false }
            fileId = object(m?["text"])["file_id"] as? String ?? ""
            return !fileId.isEmpty
        }
        XCTAssertEqual(fileId, sent.fileId.hex)
        XCTAssertEqual(try browser.get("/api/files/\(fileId)").status, 404, "not on the device before it is fetched")
        XCTAssertEqual(try browser.post("/api/fetch", ["file_id": fileId]).status, 202)
        var got: RawHTTP.Response?
        try waitUntil("the picture downloaded") {
            got = try browser.get("/api/files/\(fileId)")
            return got?.status == 200
        }
        XCTAssertEqual(got.map { [UInt8]($0.body) }, Self.png)
        XCTAssertTrue(got?.header("Content-Disposition")?.hasPrefix("attachment") == true)
        let inline = try browser.get("/api/files/\(fileId)?inline=1")
        XCTAssertEqual(inline.header("Content-Type"), "image/png")
        // Shown inline, the picture's watermark gets a viewer code alice's node issued for this view.
        let pictureMessage = try XCTUnwrap(try messages(browser, "wu@traffic").first {
            $0["kind"] as? String == "file" && $0["outgoing"] as? Bool == false }?["id"] as? String)
        let mark = try browser.post("/api/mark", ["id": pictureMessage])
        XCTAssertEqual(mark.status, 200, String(decoding: mark.body, as: UTF8.self))
        let viewerCode = try XCTUnwrap(mark.json["viewer_code"] as? String)
        XCTAssertTrue(viewerCode.hasPrefix("hq-") && ViewerCode(viewerCode) != nil, viewerCode)
        XCTAssertTrue((mark.json["watermark"] as? String ?? "").contains(viewerCode))
        XCTAssertEqual(try browser.post("/api/mark", ["id": "nothex"]).status, 400)
        XCTAssertEqual(try browser.post("/api/fetch", ["file_id": fileId]).json["ready"] as? Bool, true)
        XCTAssertEqual(try browser.post("/api/uploads", ["name": "../x", "size": 10]).status, 400)
        XCTAssertEqual(try browser.post("/api/uploads", ["name": "x", "size": 3_000_000_000]).status, 400)
    }

    // MARK: burn after reading

    func testABurnMessageIsViewedOnceWatermarkedAndItsCaptureReported() throws {
        let browser = try loggedIn()
        let secret = "informant 138 0000 0000"
        let burn = try wu.sendBurn(to: Address("alice@hq")!, text: secret, images: [Burn.Image(name: "p.png", data: Self.png)])
        try waitUntil("the burn notice in alice's history") {
            try messages(browser, "wu@traffic").contains { $0["id"] as? String == burn.hex }
        }
        let notice = try messages(browser, "wu@traffic").first { $0["id"] as? String == burn.hex }
        XCTAssertEqual(notice?["kind"] as? String, "burn")
        XCTAssertEqual(notice?["text"] as? String, "")
        XCTAssertEqual((notice?["burn"] as? [String: Any])?["images"] as? Int, 1)

        let view = try browser.post("/api/burn/view", ["id": burn.hex])
        XCTAssertEqual(view.status, 200, String(decoding: view.body, as: UTF8.self))
        XCTAssertEqual(view.json["text"] as? String, secret)
        XCTAssertTrue((view.json["watermark"] as? String ?? "").contains("alice@hq"))
        // The viewer code alice's node issued for this view is in the watermark (and in its picture).
        let code = try XCTUnwrap(view.json["viewer_code"] as? String, "no viewer code from alice's node")
        XCTAssertNotNil(ViewerCode(code), code)
        XCTAssertTrue(code.hasPrefix("hq-"), code)
        XCTAssertTrue((view.json["watermark"] as? String ?? "").contains(code))
        let image = (view.json["images"] as? [[String: Any]])?.first?["src"] as? String ?? ""
        XCTAssertTrue(image.hasPrefix("data:image/svg+xml;base64,"))
        let svg = String(decoding: Data(base64Encoded: String(image.dropFirst("data:image/svg+xml;base64,".count))) ?? Data(), as: UTF8.self)
        XCTAssertTrue(svg.contains("VIEWED BY alice@hq"), "the watermark is written into the picture")
        XCTAssertTrue(svg.contains(code), "the viewer code is written into the picture")
        XCTAssertEqual(try browser.post("/api/burn/view", ["id": burn.hex], extra: [("Sec-Fetch-Site", "cross-site")]).status, 403)
        let again = try browser.post("/api/burn/view", ["id": burn.hex])
        XCTAssertEqual(again.status, 410, "the node handed it over once")
        XCTAssertEqual(try messages(browser, "wu@traffic").first { $0["id"] as? String == burn.hex }?["state"] as? String, "burned")

        XCTAssertEqual(try browser.post("/api/burn/capture", ["id": burn.hex, "how": "PrintScreen"]).status, 200)
        var got: [ReceivedMessage] = []
        try waitUntil("wu hears of the capture") {
            got += try wuReceives(ms: 200)
            return got.contains { $0.capture?.burn == burn }
        }
        XCTAssertEqual(got.first { $0.capture != nil }?.capture?.how, "PrintScreen")
        // Never on disk: not in the history database or its WAL.
        for suffix in [".history.db", ".history.db-wal"] {
            let bytes = FileManager.default.contents(atPath: alicePath + suffix) ?? Data()
            XCTAssertNil(bytes.range(of: Data(secret.utf8)), "burn content in \(suffix)")
        }
    }

    func testABurnMessageSentFromTheBrowserShowsEachNodesReceipt() throws {
        let browser = try loggedIn()
        let png = Data(Self.png).base64EncodedString()
        XCTAssertEqual(try browser.post("/api/burn", ["to": "wu@traffic", "text": "", "images": []]).status, 400)
        XCTAssertEqual(try browser.post("/api/burn", ["to": "wu@traffic", "text": "x",
                                                      "images": Array(repeating: ["name": "p.png", "data": png], count: 7)]).status, 400)
        XCTAssertEqual(try browser.post("/api/burn", ["to": "wu@traffic", "text": "x",
                                                      "images": [["name": "t.txt", "data": Data("hello".utf8).base64EncodedString()]]]).status, 400)
        let sent = try browser.post("/api/burn", ["to": "wu@traffic", "text": "gate code 4711", "images": [["name": "p.png", "data": png]]])
        XCTAssertEqual(sent.status, 200, String(decoding: sent.body, as: UTF8.self))
        let id = MessageID(hex: sent.json["id"] as? String ?? "")!
        var notice: ReceivedMessage?
        try waitUntil("wu gets the notice") {
            notice = try wuReceives(ms: 200).first { $0.burn != nil } ?? notice
            return notice != nil
        }
        let viewed = try wu.view(id)
        XCTAssertEqual(viewed.text, "gate code 4711")
        XCTAssertEqual(viewed.images.map(\.data), [Self.png])
        var receipts: [[String: Any]] = []
        try waitUntil("traffic's signed receipt on alice's message") {
            let m = try messages(browser, "wu@traffic").first { $0["id"] as? String == id.hex }
            receipts = (m?["burn"] as? [String: Any])?["receipts"] as? [[String: Any]] ?? []
            return receipts.contains { $0["node"] as? String == "traffic" && $0["event"] as? String == "viewed" }
        }
        XCTAssertEqual(receipts.first { $0["node"] as? String == "traffic" }?["verified"] as? Bool, true)
    }

    // MARK: contact cards

    func testContactCardsGoBothWaysAndAreCheckedAgainstTheNodesKeys() throws {
        let browser = try loggedIn()
        XCTAssertEqual(try browser.post("/api/card", ["to": "wu@traffic", "contact": "alice@hq"]).status, 200)
        var got: [ReceivedMessage] = []
        try waitUntil("wu gets alice's card") {
            got += try wuReceives(ms: 200)
            return got.contains { $0.card != nil }
        }
        XCTAssertEqual(got.first { $0.card != nil }?.card?.verified, true)
        _ = try wu.sendCard(to: Address("alice@hq")!, contact: Address("wu@traffic")!)
        // A card whose entry was altered on the way (its signature's last byte): shown, not verified, with the reason.
        let item = try wu.lookupItem(Address("wu@traffic")!)
        var altered = item.entry
        altered[altered.count - 1] ^= 0x01
        _ = try wu.send(ContactCard.member(entry: altered, homeSignKey: item.homeSignKey), to: Address("alice@hq")!)
        var cards: [[String: Any]] = []
        try waitUntil("both cards in alice's history") {
            cards = try messages(browser, "wu@traffic").filter { $0["kind"] as? String == "card" && $0["outgoing"] as? Bool == false }
                .map { object($0["text"]) }
            return cards.count == 2
        }
        XCTAssertEqual(cards.map { $0["address"] as? String }, ["wu@traffic", "wu@traffic"])
        XCTAssertEqual(cards.map { $0["unit"] as? String }, ["traffic", "traffic"])
        XCTAssertEqual(cards.map { $0["verified"] as? Bool }, [true, false])
        XCTAssertEqual(cards[0]["reason"] as? String, "")
        XCTAssertTrue((cards[1]["reason"] as? String ?? "").contains("altered"), "\(cards[1])")
    }
}
