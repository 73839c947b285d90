@testable import SealpostNode
import XCTest

/// A file's readers as values, and their stored form in `file_readers`.
final class FileReaderTests: XCTestCase {
    typealias Reader = StoredFile.Reader

    func testStoredFormRoundTrips() {
        XCTAssertEqual(Reader.user("bob").stored, "user:bob")
        XCTAssertEqual(Reader.node("city").stored, "node:city")
        for reader in [Reader.user("bob"), .node("city"), .user(""), .node("a:b")] {
            XCTAssertEqual(Reader(stored: reader.stored), reader)
        }
    }

    func testOtherTextIsNoReader() {
        for text in ["", "bob", "user", "group:x", "User:bob", "nod:x"] { XCTAssertNil(Reader(stored: text), text) }
    }

    func testAUserAndANodeOfTheSameNameAreDifferentReaders() {
        var readers: [Reader: Bool] = [.user("hq"): true]
        readers[.node("hq")] = false
        XCTAssertEqual(readers.count, 2)
        XCTAssertEqual(readers[.user("hq")], true)
    }

    func testReceiptOrderIsNodesThenUsersByName() {
        let readers: [Reader] = [.user("li"), .node("province"), .user("bob"), .node("city")]
        XCTAssertEqual(readers.sorted(), [.node("city"), .node("province"), .user("bob"), .user("li")])
    }
}
