import Sodium
import XCTest

final class SignTests: XCTestCase {
    // RFC 8032 section 7.1, test 1 (empty message).
    static let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let publicKey = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    static let signature = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"

    func testRFC8032KnownAnswer() throws {
        var seed = hex(Self.seed)
        let pair = try XCTUnwrap(SignKeyPair(seed: &seed))
        XCTAssertEqual(hex(pair.publicKey), Self.publicKey)
        XCTAssertEqual(hex(pair.sign([])), Self.signature)
        XCTAssertEqual(hex(pair.seed()), Self.seed)
        XCTAssertTrue(SignKeyPair.verify(signature: hex(Self.signature), message: [], publicKey: hex(Self.publicKey)))
    }

    func testSignAndVerify() {
        let pair = SignKeyPair.generate()
        XCTAssertEqual(pair.publicKey.count, 32)
        XCTAssertEqual(pair.secretKey.count, 64)
        let message = Array("directory entry bytes".utf8)
        let signature = pair.sign(message)
        XCTAssertEqual(signature.count, 64)
        XCTAssertTrue(SignKeyPair.verify(signature: signature, message: message, publicKey: pair.publicKey))
        XCTAssertEqual(pair.sign(message), signature, "Ed25519 is deterministic")
    }

    func testTamperedMessageOrSignatureOrKeyFails() {
        let pair = SignKeyPair.generate()
        let message = Array("pay 10 to bob".utf8)
        let signature = pair.sign(message)
        for i in message.indices {
            var tampered = message
            tampered[i] ^= 0x01
            XCTAssertFalse(SignKeyPair.verify(signature: signature, message: tampered, publicKey: pair.publicKey), "message byte \(i)")
        }
        XCTAssertFalse(SignKeyPair.verify(signature: signature, message: message + [0], publicKey: pair.publicKey))
        XCTAssertFalse(SignKeyPair.verify(signature: signature, message: Array(message.dropLast()), publicKey: pair.publicKey))
        for i in signature.indices {
            var tampered = signature
            tampered[i] ^= 0x40
            XCTAssertFalse(SignKeyPair.verify(signature: tampered, message: message, publicKey: pair.publicKey), "signature byte \(i)")
        }
        XCTAssertFalse(SignKeyPair.verify(signature: signature, message: message, publicKey: SignKeyPair.generate().publicKey))
        XCTAssertFalse(SignKeyPair.verify(signature: Array(signature.prefix(63)), message: message, publicKey: pair.publicKey))
        XCTAssertFalse(SignKeyPair.verify(signature: [], message: message, publicKey: pair.publicKey))
        XCTAssertFalse(SignKeyPair.verify(signature: signature, message: message, publicKey: Array(pair.publicKey.prefix(31))))
    }

    func testSeedIsDeterministicAndWipesTheCallersArray() throws {
        let seedBytes = Sodium.randomBytes(32)
        var first = seedBytes, second = seedBytes
        let a = try XCTUnwrap(SignKeyPair(seed: &first))
        let b = try XCTUnwrap(SignKeyPair(seed: &second))
        XCTAssertEqual(a.publicKey, b.publicKey)
        XCTAssertEqual(a.seed(), seedBytes)
        XCTAssertEqual(a.sign([1, 2, 3]), b.sign([1, 2, 3]))
        XCTAssertEqual(first, [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(second, [UInt8](repeating: 0, count: 32))

        var other = seedBytes
        other[0] ^= 1
        XCTAssertNotEqual(try XCTUnwrap(SignKeyPair(seed: &other)).publicKey, a.publicKey)
    }

    /// The seed must be zeroed where it lies, not swapped for a zeroed copy that leaves
    /// the secret in the caller's old (now freed) buffer.
    func testSeedIsWipedInPlace() throws {
        var seed = Sodium.randomBytes(32)
        let storage = seed.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        _ = try XCTUnwrap(SignKeyPair(seed: &seed))
        XCTAssertEqual(seed, [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(seed.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, storage,
                       "the caller's buffer was replaced instead of wiped")
    }

    func testMisSizedSeedIsNil() {
        var short = [UInt8](repeating: 1, count: 31)
        XCTAssertNil(SignKeyPair(seed: &short))
        var long = [UInt8](repeating: 1, count: 64)
        XCTAssertNil(SignKeyPair(seed: &long))
    }
}
