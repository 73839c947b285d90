import Foundation
import SealpostCore
import XCTest
@testable import SealpostClient

/// The profile's books share one file type (`Book`); files written by earlier versions load.
final class BookTests: XCTestCase {
    var profile = ""

    override func setUpWithError() throws {
        profile = NSTemporaryDirectory() + "sealpost-books-\(UUID().uuidString)/me.profile"
        try FileManager.default.createDirectory(atPath: (profile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: (profile as NSString).deletingLastPathComponent)
    }

    func write(_ suffix: String, _ json: String) {
        FileManager.default.createFile(atPath: profile + suffix, contents: Data(json.utf8))
    }

    /// The files as the hand-written books before `Book` wrote them.
    func testFilesOfEarlierVersionsLoad() throws {
        write(".groups", #"{"team@hq":{"admins":["a@hq"],"members":["a@hq","me@hq"]}}"#)
        write(".reminders", #"{"received":{},"sent":{"00ff":{"cancelled":false,"done":["b@hq"],"due_at":5,"text":"t","to":["b@hq","c@hq"]}}}"#)
        write(".burns", #"{"received":{"0a":{"expires_at":9,"from":"b@hq","images":2,"sent_at":1,"state":"waiting"}},"sent":{}}"#)
        write(".files", #"{"ab":{"flags":0,"from":"b@hq","hash":"00","header":"AA==","key":"AA==","name":"n.pdf","receivedAt":3,"size":7}}"#)
        write(".uploads", #"{"k":{"fileId":[1,2],"header":[3],"key":[4]}}"#)
        write(".keys", #"{"entries":{},"unshown":[{"address":"b@hq","now":"N","was":"W"}]}"#)

        XCTAssertEqual(GroupBook(profilePath: profile).groups["team@hq"]?.members, ["a@hq", "me@hq"])
        XCTAssertEqual(ReminderBook(profilePath: profile).sent("00ff")?.done, ["b@hq"])
        XCTAssertEqual(BurnBook(profilePath: profile).received("0a")?.images, 2)
        XCTAssertEqual(FileBook(profilePath: profile).files["ab"]?.name, "n.pdf")
        XCTAssertEqual(UploadBook(profilePath: profile).entry("k")?.fileId, [1, 2])
        XCTAssertEqual(KeyPins(profilePath: profile).takeChanges(), [KeyPins.Change(address: "b@hq", was: "W", now: "N")])
        XCTAssertEqual(KeyPins(profilePath: profile).takeChanges(), [], "taken changes are written as shown")
    }

    /// 保密期限 (SPEC 7.11.9): a received file's kept key and manifest go at its readable-until
    /// time, to the millisecond, when the book loads, is asked and is saved; none: kept.
    func testFileBookForgetsAFileAtItsReadableUntil() throws {
        let now = Clock.nowMs()
        func entry(_ until: UInt64?) -> String {
            #"{"flags":0,"from":"b@hq","hash":"00","header":"AA==","key":"AA==","name":"n.pdf","receivedAt":3,"size":7"#
                + (until.map { #","until":\#($0)"# } ?? "") + "}"
        }
        write(".files", "{\"aa\":\(entry(now - 1)),\"bb\":\(entry(now + 60_000)),\"cc\":\(entry(nil))}")
        let book = FileBook(profilePath: profile)
        XCTAssertEqual(Set(book.files.keys), ["bb", "cc"], "past its time at load: gone")
        book.purgeExpired(now: now + 59_999)
        XCTAssertNotNil(book.files["bb"], "not a millisecond early")
        book.purgeExpired(now: now + 60_000)
        XCTAssertEqual(Set(book.files.keys), ["cc"], "at its time; one with no time stays")
        try book.save()
        XCTAssertEqual(Set(FileBook(profilePath: profile).files.keys), ["cc"], "and on disk")
    }

    func testABookWritesOnlyWhenChangedAndKeepsAFailedWritePending() throws {
        let book = Book<[String: Int]>(path: profile + ".test", empty: [:])
        try book.save()
        XCTAssertFalse(FileManager.default.fileExists(atPath: profile + ".test"), "nothing changed: nothing written")
        book.update { $0["a"] = 1 }
        try book.save()
        XCTAssertEqual(Book<[String: Int]>(path: profile + ".test", empty: [:]).value, ["a": 1])
        let attributes = try FileManager.default.attributesOfItem(atPath: profile + ".test")
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        write(".test", "not json")
        XCTAssertEqual(Book<[String: Int]>(path: profile + ".test", empty: ["empty": 0]).value, ["empty": 0], "unreadable: empty")
        let nowhere = Book<[String: Int]>(path: profile + ".test/x", empty: [:]) // .test is a file: no directory there
        nowhere.update { $0["b"] = 2 }
        XCTAssertThrowsError(try nowhere.save())
        XCTAssertThrowsError(try nowhere.save(), "still pending after a failed write")
        let memory = Book<[String: Int]>(path: nil, empty: [:])
        memory.update { $0["c"] = 3 }
        XCTAssertNoThrow(try memory.save())
        XCTAssertEqual(memory.value, ["c": 3])
    }
}
