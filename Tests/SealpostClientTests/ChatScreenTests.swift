import SealpostClient
import SealpostCore
import XCTest

/// `ChatScreen`: what `sealpost chat` writes, with plain values.
final class ChatScreenTests: XCTestCase {
    static let id1 = MessageID(bytes: [UInt8](repeating: 1, count: 16))!
    static let id2 = MessageID(bytes: [UInt8](repeating: 2, count: 16))!

    /// Regression: an incoming line was written where the cursor was, glued onto the line being typed.
    func testAnIncomingLineGoesAboveTheLineBeingTypedWhichIsRedrawn() {
        var screen = ChatScreen(terminal: true)
        let typed = screen.type(Array("hel".utf8))
        XCTAssertEqual(typed.keys, [])
        XCTAssertEqual(typed.output, "\r\u{1B}[K> h\r\u{1B}[K> he\r\u{1B}[K> hel")
        XCTAssertEqual(screen.show(["[09:00:00] wu@traffic: hi"]), "\r\u{1B}[K[09:00:00] wu@traffic: hi\n> hel")
        let rest = screen.type(Array("lo\r".utf8))
        XCTAssertEqual(rest.keys, [.line("hello")])
        XCTAssertEqual(String(screen.input), "")
    }

    func testEditingKeysUtf8AndTheEndOfInput() {
        var screen = ChatScreen(terminal: true)
        // Backspace, Ctrl-U, an arrow key (ignored), Chinese typed in UTF-8 split across reads.
        _ = screen.type(Array("ab".utf8) + [0x7F] + [0x1B, 0x5B, 0x44])
        XCTAssertEqual(String(screen.input), "a")
        _ = screen.type([0x15])
        XCTAssertEqual(String(screen.input), "")
        let han = Array("你好".utf8)
        _ = screen.type(Array(han[0..<2]))
        _ = screen.type(Array(han[2...]))
        XCTAssertEqual(String(screen.input), "你好")
        XCTAssertEqual(screen.type([0x04]).keys, [], "Ctrl-D on a line with text does not leave")
        _ = screen.type([0x0D])
        XCTAssertEqual(screen.type([0x04]).keys, [.end])
        XCTAssertEqual(screen.type([0x03]).keys, [.end], "Ctrl-C leaves too (the terminal is raw)")
    }

    func testOwnLinesCarryTimeAndStateUpdatedInPlace() {
        var screen = ChatScreen(terminal: true, width: 80, height: 24)
        let sent = screen.sent(Self.id1, text: "hello", at: 0)
        XCTAssertTrue(sent.contains("] you: hello  · sending\n"), sent)
        _ = screen.show(["[09:00:01] wu@traffic: hi"])
        // Two rows up (the incoming line, then the own line), rewritten, and back.
        let update = screen.update(Self.id1, state: "delivered")
        XCTAssertTrue(update.hasPrefix("\u{1B}7\u{1B}[2A\r\u{1B}[K["), update)
        XCTAssertTrue(update.hasSuffix("] you: hello  · delivered\u{1B}8"), update)
        XCTAssertEqual(screen.update(Self.id1, state: "delivered"), "", "no change, nothing written")
        XCTAssertEqual(screen.update(Self.id2, state: "seen"), "", "not an own line of this chat")
    }

    func testAStateOfALineScrolledAwayIsSaidOnANewLine() {
        var screen = ChatScreen(terminal: true, width: 20, height: 5)
        _ = screen.sent(Self.id1, text: "first", at: 0)
        // A wide line takes several rows: 12 Chinese characters are 24 columns, two rows of 20.
        _ = screen.show([String(repeating: "好", count: 12), "a", "b"])
        XCTAssertEqual(screen.update(Self.id1, state: "seen"), "\r\u{1B}[K* seen: first\n> ")
    }

    func testWithoutATerminalLinesAreWrittenPlainly() {
        var screen = ChatScreen(terminal: false)
        XCTAssertTrue(screen.sent(Self.id1, text: "hello", at: 0).hasSuffix("] you: hello  · sending\n"))
        XCTAssertEqual(screen.show(["x"]), "x\n")
        XCTAssertEqual(screen.update(Self.id1, state: "stored on your node"), "* stored on your node: hello\n")
    }
}
