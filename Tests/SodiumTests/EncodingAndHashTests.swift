import Sodium
import XCTest

final class EncodingAndHashTests: XCTestCase {
    // MARK: base64

    func testBase64KnownValues() {
        XCTAssertEqual(Sodium.base64([]), "")
        XCTAssertEqual(Sodium.base64(Array("f".utf8)), "Zg")
        XCTAssertEqual(Sodium.base64(Array("fo".utf8)), "Zm8")
        XCTAssertEqual(Sodium.base64(Array("foo".utf8)), "Zm9v")
        XCTAssertEqual(Sodium.base64(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(Sodium.base64([0xFB, 0xFF, 0xBF]), "-_-_", "URL-safe alphabet")
    }

    func testBase64RoundTripOfEveryLength() {
        for length in 0...100 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ length) }
            let text = Sodium.base64(bytes)
            XCTAssertFalse(text.contains("="), "no padding")
            XCTAssertEqual(text.utf8.count, (length * 4 + 2) / 3)
            XCTAssertEqual(Sodium.fromBase64(text), bytes, "length \(length)")
        }
        let random = Sodium.randomBytes(1000)
        XCTAssertEqual(Sodium.fromBase64(Sodium.base64(random)), random)
    }

    func testInvalidBase64IsNil() {
        for text in ["Zm9v!", "Zm9v YmFy", "Zm+v", "Zm/v", "Zg==", "Zm8=", "Z", "Zm9vY", "é", "Zm9v\n"] {
            XCTAssertNil(Sodium.fromBase64(text), text.debugDescription)
        }
        XCTAssertEqual(Sodium.fromBase64(""), [])
    }

    // MARK: BLAKE2b

    func testGenericHashKnownAnswers() {
        XCTAssertEqual(hex(Sodium.genericHash([])), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        XCTAssertEqual(hex(Sodium.genericHash(Array("abc".utf8))), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        XCTAssertEqual(hex(Sodium.genericHash(Array("abc".utf8), outputLength: 64)),
                       "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }

    func testGenericHashLengthAndKey() {
        let input = Array("sealpost".utf8)
        XCTAssertEqual(Sodium.genericHash(input, outputLength: 16).count, 16)
        XCTAssertEqual(Sodium.genericHash(input), Sodium.genericHash(input))
        let keyed = Sodium.genericHash(input, key: [UInt8](repeating: 7, count: 32))
        XCTAssertNotEqual(keyed, Sodium.genericHash(input))
        XCTAssertNotEqual(keyed, Sodium.genericHash(input, key: [UInt8](repeating: 8, count: 32)))
        XCTAssertNotEqual(Sodium.genericHash(input), Sodium.genericHash(input + [0]))
    }

    // MARK: comparisons and randomness

    func testConstantTimeEqual() {
        let a = Sodium.randomBytes(32)
        XCTAssertTrue(Sodium.constantTimeEqual(a, a))
        XCTAssertTrue(Sodium.constantTimeEqual(a, Array(a)))
        for i in [0, 15, 31] {
            var b = a
            b[i] ^= 0x80
            XCTAssertFalse(Sodium.constantTimeEqual(a, b), "byte \(i)")
        }
        XCTAssertFalse(Sodium.constantTimeEqual(a, Array(a.prefix(31))))
        XCTAssertFalse(Sodium.constantTimeEqual(a, a + [0]))
        XCTAssertTrue(Sodium.constantTimeEqual([], []))
    }

    func testRandomBytes() {
        XCTAssertEqual(Sodium.randomBytes(0), [])
        XCTAssertEqual(Sodium.randomBytes(24).count, 24)
        XCTAssertNotEqual(Sodium.randomBytes(32), Sodium.randomBytes(32))
    }

    func testWipe() {
        var secret: [UInt8] = [1, 2, 3, 4]
        wipe(&secret)
        XCTAssertEqual(secret, [0, 0, 0, 0])
        var empty: [UInt8] = []
        wipe(&empty)
        XCTAssertEqual(empty, [])
    }

    func testSecretBytesCopiesAndWipesTheSource() {
        var source: [UInt8] = [9, 8, 7]
        let secret = SecretBytes(wiping: &source)
        XCTAssertEqual(source, [0, 0, 0])
        XCTAssertEqual(secret.count, 3)
        XCTAssertEqual(secret.copyBytes(), [9, 8, 7])
    }
}
