import SealpostCore
import XCTest

final class AddressTests: XCTestCase {
    static let thirtyTwo = String(repeating: "a", count: 31) + "9"
    static let thirtyThree = String(repeating: "b", count: 33)

    func testValidNames() {
        for name in ["a", "0", "wu", "traffic", "alice.smith", "a_b-c.d", "9lives", "a-", "a.", "a_", "x--y..z", Self.thirtyTwo] {
            XCTAssertTrue(Name.isValid(name), name)
        }
        XCTAssertEqual(Self.thirtyTwo.utf8.count, Name.maxLength)
    }

    func testInvalidNames() {
        let invalid = [
            "", "A", "Wu", "wU", "HQ",              // uppercase
            ".a", "_a", "-a", ".",                   // must start with a letter or digit
            Self.thirtyThree,                        // too long
            "a b", " a", "a ", "a\t", "a\n",         // whitespace
            "a@b", "a/b", "a+b", "a:b", "a,b", "a\u{0}", // other ASCII
            "é", "wü", "ｗｕ", "a\u{301}", "吴", "🚦",   // non-ASCII
        ]
        for name in invalid {
            XCTAssertFalse(Name.isValid(name), name.debugDescription)
        }
    }

    func testValidAddresses() throws {
        for text in ["wu@traffic", "alice@hq", "a@b", "0@0", "a.b_c-d@e.f_g-h", "\(Self.thirtyTwo)@\(Self.thirtyTwo)"] {
            XCTAssertTrue(Address.isValid(text), text)
            let address = try XCTUnwrap(Address(text), text)
            XCTAssertEqual(address.description, text)
        }
        let address = try XCTUnwrap(Address("wu@traffic"))
        XCTAssertEqual(address.local, "wu")
        XCTAssertEqual(address.node, "traffic")
        XCTAssertEqual(Address(local: "wu", node: "traffic"), address)
        XCTAssertEqual("\(Self.thirtyTwo)@\(Self.thirtyTwo)".utf8.count, 65, "the longest address")
    }

    func testInvalidAddresses() {
        let invalid = [
            "", "@", "wu", "wu@", "@traffic",              // empty parts, no @
            "wu@traffic@x", "wu@@traffic", "a@b@c",       // two @
            "Wu@HQ", "wu@HQ", "WU@traffic",                // uppercase
            ".wu@traffic", "wu@.traffic", "_wu@hq", "wu@-hq", // leading punctuation
            "\(Self.thirtyThree)@hq", "wu@\(Self.thirtyThree)", // 33 characters
            "wü@hq", "wu@hq\u{e9}", "wu@ｈｑ", "吴@hq",       // non-ASCII
            "wu @hq", "wu@ hq", " wu@hq", "wu@hq ", "wu@hq\n", // whitespace
        ]
        for text in invalid {
            XCTAssertFalse(Address.isValid(text), text.debugDescription)
            XCTAssertNil(Address(text), text.debugDescription)
        }
    }

    /// Regression: "@" followed by a combining mark forms one grapheme cluster. The node
    /// part must still be checked byte by byte, and the mark is not ASCII.
    func testCombiningMarkAfterAtIsRejected() {
        for text in ["wu@\u{301}traffic", "wu@\u{20DD}hq", "a@\u{200D}b"] {
            XCTAssertFalse(Address.isValid(text), text.debugDescription)
            XCTAssertNil(Address(text), text.debugDescription)
        }
    }

    func testMemberwiseInitValidatesBothParts() {
        XCTAssertNil(Address(local: "Wu", node: "hq"))
        XCTAssertNil(Address(local: "wu", node: ""))
        XCTAssertNil(Address(local: "", node: "hq"))
        XCTAssertNil(Address(local: "wu@x", node: "hq"))
        XCTAssertEqual(Address(local: "wu", node: "hq")?.description, "wu@hq")
    }

    func testOrderingAndEquality() throws {
        let a = try XCTUnwrap(Address("alice@hq")), b = try XCTUnwrap(Address("bob@hq")), c = try XCTUnwrap(Address("alice@zz"))
        XCTAssertLessThan(a, b)
        XCTAssertLessThan(a, c)
        XCTAssertEqual([b, c, a].sorted(), [a, c, b])
        XCTAssertEqual(Set([a, Address("alice@hq")!]).count, 1)
    }
}
