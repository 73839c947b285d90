import XCTest
import ZeroMQ

final class Z85Tests: XCTestCase {
    /// ZeroMQ RFC 32 (Z85), the test vector of the specification.
    func testRFC32Vector() {
        let raw: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        XCTAssertEqual(Z85.encode(raw), "HelloWorld")
        XCTAssertEqual(Z85.decode("HelloWorld"), raw)
    }

    func testRoundTripOf32ByteKeys() {
        let keys: [[UInt8]] = [
            (0..<32).map { UInt8($0) },
            [UInt8](repeating: 0, count: 32),
            [UInt8](repeating: 0xFF, count: 32),
            (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) },
        ]
        for key in keys {
            let text = Z85.encode(key)
            XCTAssertEqual(text.utf8.count, 40)
            XCTAssertEqual(Z85.decode(text), key)
        }
        XCTAssertEqual(Z85.encode([UInt8](repeating: 0, count: 32)), String(repeating: "0", count: 40))
        XCTAssertEqual(Z85.encode([]), "")
    }

    func testKnownCurveKeyText() throws {
        // The server key pair of libzmq's own CURVE tests: Z85 text decodes to 32 bytes and back.
        for text in [CurveTests.serverPublicText, CurveTests.serverSecretText, CurveTests.clientPublicText, CurveTests.clientSecretText] {
            let key = try XCTUnwrap(Z85.decode(text), text)
            XCTAssertEqual(key.count, 32)
            XCTAssertEqual(Z85.encode(key), text)
        }
    }

    func testDecodeRejectsBadLength() {
        XCTAssertNil(Z85.decode(""))
        XCTAssertNil(Z85.decode("Hell"))
        XCTAssertNil(Z85.decode("HelloWorl"))
        XCTAssertNil(Z85.decode("HelloWorld0"))
        XCTAssertNotNil(Z85.decode("Hello"))
    }

    func testDecodeRejectsBadCharacters() {
        for text in ["Hello Worl", "Hello\"orld", "Hell,World", "HelloWor\\d", "HelloWor~d", "Hell\u{0}World", "Hellö", "HELLO'orld"] {
            XCTAssertNil(Z85.decode(text), text.debugDescription)
        }
    }

    func testDecodeRejectsAGroupAbove32Bits() {
        XCTAssertNil(Z85.decode("#####"), "85^5 - 1 does not fit in 32 bits")
        XCTAssertEqual(Z85.decode("%nSc0"), [0xFF, 0xFF, 0xFF, 0xFF])
    }
}
