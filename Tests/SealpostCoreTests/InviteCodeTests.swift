import SealpostCore
import XCTest

final class InviteCodeTests: XCTestCase {
    static let code = InviteCode(node: "hq", user: "wu.lei", endpoint: "tcp://203.0.113.7:7400",
                                 nodeCurveKey: (0..<32).map { UInt8($0) }, nodeSignKey: (0..<32).map { UInt8(0xFF - $0) },
                                 secret: [UInt8](repeating: 0xA5, count: 32), expiresAt: 1_764_086_400)

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    func assertParseError(_ text: String, _ expected: InviteCode.ParseError, _ message: String = "",
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try InviteCode(text: text), message, file: file, line: line) { error in
            XCTAssertEqual(error as? InviteCode.ParseError, expected, message, file: file, line: line)
        }
    }

    func testRoundTrip() throws {
        let text = Self.code.text
        XCTAssertTrue(text.hasPrefix("sp1-"))
        XCTAssertTrue(text.dropFirst(4).allSatisfy { Self.alphabet.contains($0) }, "URL-safe base64 without padding")
        let parsed = try InviteCode(text: text)
        XCTAssertEqual(parsed.node, "hq")
        XCTAssertEqual(parsed.user, "wu.lei")
        XCTAssertEqual(parsed.endpoint, "tcp://203.0.113.7:7400")
        XCTAssertEqual(parsed.nodeCurveKey, Self.code.nodeCurveKey)
        XCTAssertEqual(parsed.nodeSignKey, Self.code.nodeSignKey)
        XCTAssertEqual(parsed.secret, Self.code.secret)
        XCTAssertEqual(parsed.expiresAt, 1_764_086_400)
        XCTAssertEqual(parsed.text, text)
    }

    func testSurroundingWhitespaceIsIgnored() throws {
        let text = Self.code.text
        for padded in ["  \(text)", "\(text)  ", "\t\(text)\t", "\(text)\r\n", "\(text)\n", "\n\(text)\n", " \(text)\r"] {
            XCTAssertEqual(try InviteCode(text: padded).secret, Self.code.secret, padded.debugDescription)
        }
    }

    func testEveryChangedCharacterIsDamaged() {
        let text = Array(Self.code.text)
        for index in 4..<text.count {
            var changed = text
            let position = Self.alphabet.firstIndex(of: text[index])!
            changed[index] = Self.alphabet[(position + 1) % Self.alphabet.count]
            assertParseError(String(changed), .damaged, "character \(index)")
        }
    }

    func testCharactersOutsideTheAlphabetAreDamaged() {
        let text = Self.code.text
        for bad in ["+", "/", "=", " ", "é", "."] {
            var changed = text
            changed.insert(contentsOf: bad, at: changed.index(changed.startIndex, offsetBy: 10))
            assertParseError(changed, .damaged, bad)
        }
        assertParseError(text + "==", .damaged)
    }

    func testCutCodeIsDamaged() {
        let text = Array(Self.code.text)
        for length in 4..<text.count {
            assertParseError(String(text.prefix(length)), .damaged, "cut to \(length)")
        }
        XCTAssertThrowsError(try InviteCode(text: String(text.dropFirst(4).prefix(10))))
    }

    func testMissingPrefixIsNotAnInvite() {
        let text = Self.code.text
        assertParseError(String(text.dropFirst(4)), .notAnInvite)
        assertParseError("", .notAnInvite)
        assertParseError("sp1", .notAnInvite)
        assertParseError("SP1-" + text.dropFirst(4), .notAnInvite)
        assertParseError("sp2-" + text.dropFirst(4), .notAnInvite)
        assertParseError("https://example.com/invite", .notAnInvite)
    }

    func testInvalidNamesInsideAnIntactCodeAreDamaged() {
        var code = Self.code
        code.user = "Wu"
        assertParseError(code.text, .damaged, "uppercase user")
        code = Self.code
        code.node = ""
        assertParseError(code.text, .damaged, "empty node")
    }

    func testErrorsExplainThemselves() {
        XCTAssertTrue(InviteCode.ParseError.notAnInvite.description.contains("sp1-"))
        XCTAssertTrue(InviteCode.ParseError.damaged.description.contains("damaged"))
    }
}
