import Sodium
import XCTest

final class PasswordHashTests: XCTestCase {
    let fast = PasswordHash.Limits(ops: 1, memBytes: 8 * 1024 * 1024)

    func testSamePassphraseAndSaltGiveTheSameKeyAndAnythingElseAnother() throws {
        let salt = Sodium.randomBytes(PasswordHash.saltBytes)
        let a = try XCTUnwrap(PasswordHash.deriveKey(length: 32, passphrase: "correct horse 电池", salt: salt, limits: fast)).copyBytes()
        let b = try XCTUnwrap(PasswordHash.deriveKey(length: 32, passphrase: "correct horse 电池", salt: salt, limits: fast)).copyBytes()
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 32)
        let other = try XCTUnwrap(PasswordHash.deriveKey(length: 32, passphrase: "correct horse 电池!", salt: salt, limits: fast)).copyBytes()
        XCTAssertNotEqual(a, other)
        let salted = try XCTUnwrap(PasswordHash.deriveKey(length: 32, passphrase: "correct horse 电池", salt: Sodium.randomBytes(16), limits: fast)).copyBytes()
        XCTAssertNotEqual(a, salted)
    }

    func testBadInputIsRefused() {
        XCTAssertNil(PasswordHash.deriveKey(length: 32, passphrase: "x", salt: [1, 2, 3], limits: fast))
        XCTAssertNil(PasswordHash.deriveKey(length: 32, passphrase: "x", salt: Sodium.randomBytes(16), limits: PasswordHash.Limits(ops: 0, memBytes: 1)))
        XCTAssertTrue(PasswordHash.Limits.interactive.isValid)
    }
}
