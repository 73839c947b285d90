import Sodium
import XCTest

final class BoxTests: XCTestCase {
    // RFC 7748 section 6.1 key pairs; the shared key is NaCl's crypto_box_beforenm test value.
    static let aliceSecret = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
    static let alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    static let bobSecret = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
    static let bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    static let sharedKey = "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389"

    func shared(_ mine: BoxKeyPair, _ theirs: BoxKeyPair) throws -> BoxSharedKey {
        try XCTUnwrap(BoxSharedKey(theirPublicKey: theirs.publicKey, mySecretKey: mine.secretKey))
    }

    func testKnownAnswer() throws {
        var aliceSecret = hex(Self.aliceSecret), bobSecret = hex(Self.bobSecret)
        let alice = try XCTUnwrap(BoxKeyPair(secretKey: &aliceSecret))
        let bob = try XCTUnwrap(BoxKeyPair(secretKey: &bobSecret))
        XCTAssertEqual(hex(alice.publicKey), Self.alicePublic)
        XCTAssertEqual(hex(bob.publicKey), Self.bobPublic)
        XCTAssertEqual(hex(try shared(alice, bob).key.copyBytes()), Self.sharedKey)
        XCTAssertEqual(hex(try shared(bob, alice).key.copyBytes()), Self.sharedKey)
        // crypto_box_easy_afternm("abc", nonce 0…0): MAC first, then the ciphertext.
        let sealed = try shared(alice, bob).seal(Array("abc".utf8), nonce: [UInt8](repeating: 0, count: 24))
        XCTAssertEqual(hex(sealed), "5320f7b1773b2c1d29d2ff5397201eec67b241")
    }

    func testSharedKeyRoundTripInBothDirections() throws {
        let alice = BoxKeyPair.generate(), bob = BoxKeyPair.generate()
        let aliceKey = try shared(alice, bob), bobKey = try shared(bob, alice)
        XCTAssertEqual(aliceKey.key.copyBytes(), bobKey.key.copyBytes())
        XCTAssertEqual(aliceKey.key.count, 32)

        let nonce = Sodium.randomBytes(BoxSharedKey.nonceBytes)
        let message = Array("to bob, from alice ✓".utf8)
        let sealed = aliceKey.seal(message, nonce: nonce)
        XCTAssertEqual(sealed.count, message.count + BoxSharedKey.macBytes)
        XCTAssertNotEqual(Array(sealed.suffix(message.count)), message, "encrypted")
        XCTAssertEqual(bobKey.open(sealed[...], nonce: nonce[...]), message)

        let answer = Array("to alice, from bob".utf8)
        let nonce2 = Sodium.randomBytes(BoxSharedKey.nonceBytes)
        XCTAssertEqual(aliceKey.open(bobKey.seal(answer, nonce: nonce2)[...], nonce: nonce2[...]), answer)
    }

    func testEmptyAndLargeMessages() throws {
        let alice = BoxKeyPair.generate(), bob = BoxKeyPair.generate()
        let aliceKey = try shared(alice, bob), bobKey = try shared(bob, alice)
        let nonce = Sodium.randomBytes(24)
        let empty = aliceKey.seal([], nonce: nonce)
        XCTAssertEqual(empty.count, 16)
        XCTAssertEqual(bobKey.open(empty[...], nonce: nonce[...]), [])
        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertEqual(bobKey.open(aliceKey.seal(large, nonce: nonce)[...], nonce: nonce[...]), large)
    }

    func testOpenWorksOnSlicesAtAnyOffset() throws {
        let alice = BoxKeyPair.generate(), bob = BoxKeyPair.generate()
        let nonce = Sodium.randomBytes(24)
        let body = [0x01] + nonce + (try shared(alice, bob)).seal(Array("sliced".utf8), nonce: nonce)
        XCTAssertEqual(try shared(bob, alice).open(body[25...], nonce: body[1..<25]), Array("sliced".utf8))
    }

    func testWrongKeyOrNonceOrTamperingFails() throws {
        let alice = BoxKeyPair.generate(), bob = BoxKeyPair.generate(), carol = BoxKeyPair.generate()
        let nonce = Sodium.randomBytes(24)
        let sealed = try shared(alice, bob).seal(Array("secret".utf8), nonce: nonce)
        XCTAssertNotNil(try shared(bob, alice).open(sealed[...], nonce: nonce[...]))

        XCTAssertNil(try shared(bob, carol).open(sealed[...], nonce: nonce[...]), "wrong sender")
        XCTAssertNil(try shared(carol, alice).open(sealed[...], nonce: nonce[...]), "wrong recipient")
        var otherNonce = nonce
        otherNonce[23] ^= 1
        XCTAssertNil(try shared(bob, alice).open(sealed[...], nonce: otherNonce[...]), "wrong nonce")
        for i in sealed.indices {
            var tampered = sealed
            tampered[i] ^= 0x20
            XCTAssertNil(try shared(bob, alice).open(tampered[...], nonce: nonce[...]), "byte \(i)")
        }
        XCTAssertNil(try shared(bob, alice).open(sealed.dropLast(), nonce: nonce[...]), "cut")
        XCTAssertNil(try shared(bob, alice).open(sealed.prefix(15), nonce: nonce[...]), "shorter than the MAC")
        XCTAssertNil(try shared(bob, alice).open(sealed[...], nonce: nonce.prefix(23)), "short nonce")
    }

    func testWeakOrMisSizedPublicKeysAreRefused() {
        let me = BoxKeyPair.generate()
        XCTAssertNil(BoxSharedKey(theirPublicKey: [UInt8](repeating: 0, count: 32), mySecretKey: me.secretKey), "the zero point")
        XCTAssertNil(BoxSharedKey(theirPublicKey: [UInt8](repeating: 9, count: 31), mySecretKey: me.secretKey))
        XCTAssertNil(BoxSharedKey(theirPublicKey: [], mySecretKey: me.secretKey))
    }

    func testKeyPairFromSecretKeyWipesTheInputAndDerivesTheSamePublicKey() throws {
        let generated = BoxKeyPair.generate()
        XCTAssertEqual(generated.publicKey.count, 32)
        XCTAssertEqual(generated.secretKey.count, 32)
        var secret = generated.secretKey.copyBytes()
        XCTAssertNotEqual(secret, [UInt8](repeating: 0, count: 32))
        let storage = secret.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }

        let rebuilt = try XCTUnwrap(BoxKeyPair(secretKey: &secret))
        XCTAssertEqual(rebuilt.publicKey, generated.publicKey)
        XCTAssertEqual(rebuilt.secretKey.copyBytes(), generated.secretKey.copyBytes())
        XCTAssertEqual(secret, [UInt8](repeating: 0, count: 32), "the caller's copy is wiped")
        XCTAssertEqual(secret.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, storage, "wiped in place, not replaced")
    }

    func testKeyPairFromAMisSizedSecretIsNil() {
        var short = [UInt8](repeating: 1, count: 31)
        XCTAssertNil(BoxKeyPair(secretKey: &short))
    }

    func testGeneratedKeyPairsDiffer() {
        let a = BoxKeyPair.generate(), b = BoxKeyPair.generate()
        XCTAssertNotEqual(a.publicKey, b.publicKey)
        XCTAssertNotEqual(a.secretKey.copyBytes(), b.secretKey.copyBytes())
    }
}
