import SealpostCore
import Sodium
import XCTest

/// The end-to-end body: only the right key opens it, and it only opens in the
/// envelope it was sealed for.
final class SealedTests: XCTestCase {
    let alice = BoxKeyPair.generate()
    let bob = BoxKeyPair.generate()
    let carol = BoxKeyPair.generate()
    let content = Array("Meet at the east gate at 09:00. 東門 ✓".utf8)

    func key(_ mine: BoxKeyPair, _ theirs: BoxKeyPair) throws -> BoxSharedKey {
        try XCTUnwrap(BoxSharedKey(theirPublicKey: theirs.publicKey, mySecretKey: mine.secretKey))
    }

    /// An envelope as the recipient sees it (`from` stamped by the node) with a body sealed by alice for bob.
    func sealedEnvelope(content: [UInt8]? = nil) throws -> Envelope {
        var envelope = Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "alice@hq", to: "bob@hq",
                                kind: EnvelopeKind.text.rawValue, sentAt: 1_764_000_000_123, body: [])
        envelope.body = Sealed.seal(kind: envelope.kind, id: envelope.id, from: envelope.from, to: envelope.to,
                                    sentAt: envelope.sentAt, content: content ?? self.content, key: try key(alice, bob))
        return envelope
    }

    func assertOpenFails(_ envelope: Envelope, key: BoxSharedKey, _ expected: Sealed.OpenError,
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Sealed.open(envelope, key: key), file: file, line: line) { error in
            XCTAssertEqual(error as? Sealed.OpenError, expected, file: file, line: line)
        }
    }

    func testOpensWithTheRecipientsKey() throws {
        let envelope = try sealedEnvelope()
        XCTAssertEqual(try Sealed.open(envelope, key: try key(bob, alice)), content)
        XCTAssertEqual(envelope.body.first, Sealed.version)
        // 1 + nonce + MAC + inner(kind, id, from, to, sent_at, content)
        let inner = 1 + 16 + (1 + 8) + (1 + 6) + 8 + (4 + content.count)
        XCTAssertEqual(envelope.body.count, 1 + 24 + 16 + inner)
    }

    func testEmptyAndLargestContent() throws {
        let bobKey = try key(bob, alice)
        XCTAssertEqual(try Sealed.open(try sealedEnvelope(content: []), key: bobKey), [])
        let largest = (0..<Sealed.maxTextBytes).map { UInt8(truncatingIfNeeded: $0 * 13) }
        XCTAssertEqual(try Sealed.open(try sealedEnvelope(content: largest), key: bobKey), largest)
    }

    func testEachSealUsesAFreshNonce() throws {
        let a = try sealedEnvelope(), b = try sealedEnvelope()
        XCTAssertNotEqual(Array(a.body[1..<25]), Array(b.body[1..<25]))
    }

    func testFixedNonceIsDeterministic() throws {
        let envelope = try sealedEnvelope()
        let nonce = [UInt8](repeating: 7, count: 24)
        func seal() throws -> [UInt8] {
            Sealed.seal(kind: envelope.kind, id: envelope.id, from: envelope.from, to: envelope.to,
                        sentAt: envelope.sentAt, content: content, key: try key(alice, bob), nonce: nonce)
        }
        XCTAssertEqual(try seal(), try seal())
        XCTAssertEqual(Array(try seal()[1..<25]), nonce)
    }

    func testAnyFlippedByteDoesNotAuthenticate() throws {
        let envelope = try sealedEnvelope()
        let bobKey = try key(bob, alice)
        for index in 1..<envelope.body.count { // the nonce, the MAC and the ciphertext
            var tampered = envelope
            tampered.body[index] ^= 0x01
            assertOpenFails(tampered, key: bobKey, .doesNotAuthenticate)
        }
        var extended = envelope
        extended.body.append(0)
        assertOpenFails(extended, key: bobKey, .doesNotAuthenticate)
        var cut = envelope
        cut.body.removeLast()
        assertOpenFails(cut, key: bobKey, .doesNotAuthenticate)
    }

    func testWrongKeyDoesNotAuthenticate() throws {
        let envelope = try sealedEnvelope()
        assertOpenFails(envelope, key: try key(bob, carol), .doesNotAuthenticate) // bob thinks carol sent it
        assertOpenFails(envelope, key: try key(carol, alice), .doesNotAuthenticate) // carol is not the recipient
    }

    /// A relay must not be able to move a valid body into another envelope.
    func testHeaderMismatchForEveryClearField() throws {
        let envelope = try sealedEnvelope()
        let bobKey = try key(bob, alice)

        var other = envelope
        other.id = MessageID(bytes: Sodium.randomBytes(16))!
        assertOpenFails(other, key: bobKey, .headerMismatch("id"))

        other = envelope
        other.from = "mallory@hq"
        assertOpenFails(other, key: bobKey, .headerMismatch("from"))

        other = envelope
        other.to = "dave@hq"
        assertOpenFails(other, key: bobKey, .headerMismatch("to"))

        other = envelope
        other.kind = 2
        assertOpenFails(other, key: bobKey, .headerMismatch("kind"))

        other = envelope
        other.sentAt += 1
        assertOpenFails(other, key: bobKey, .headerMismatch("sent_at"))
    }

    func testBodyMovedIntoAnotherEnvelope() throws {
        let first = try sealedEnvelope(content: Array("first".utf8))
        var second = try sealedEnvelope(content: Array("second".utf8))
        let bobKey = try key(bob, alice)
        XCTAssertEqual(try Sealed.open(second, key: bobKey), Array("second".utf8))
        second.body = first.body
        assertOpenFails(second, key: bobKey, .headerMismatch("id"))
    }

    func testUnsupportedVersion() throws {
        var envelope = try sealedEnvelope()
        let bobKey = try key(bob, alice)
        for version: UInt8 in [0, 3, 0xFF] { // 2 is a labelled body (section 7.11.3)
            envelope.body[0] = version
            assertOpenFails(envelope, key: bobKey, .unsupportedVersion)
        }
        envelope.body = [3]
        assertOpenFails(envelope, key: bobKey, .unsupportedVersion)
    }

    func testShortBodiesAreMalformed() throws {
        var envelope = try sealedEnvelope()
        let bobKey = try key(bob, alice)
        envelope.body = []
        assertOpenFails(envelope, key: bobKey, .malformed("empty"))
        for count in [1, 2, 25, 40] { // the minimum is 1 + 24 + 16 = 41
            envelope.body = [1] + [UInt8](repeating: 0, count: count - 1)
            assertOpenFails(envelope, key: bobKey, .malformed("too short"))
        }
        envelope.body = [1] + [UInt8](repeating: 0, count: 40)
        assertOpenFails(envelope, key: bobKey, .doesNotAuthenticate)
    }

    func testAuthenticInnerThatDoesNotDecodeIsMalformed() throws {
        let envelope = try sealedEnvelope()
        let aliceKey = try key(alice, bob), bobKey = try key(bob, alice)
        func body(_ inner: [UInt8]) -> [UInt8] {
            let nonce = Sodium.randomBytes(24)
            return [1] + nonce + aliceKey.seal(inner, nonce: nonce)
        }
        var w = WireWriter()
        w.u8(envelope.kind); w.octets(envelope.id.bytes); w.string(envelope.from); w.string(envelope.to)
        w.u64(envelope.sentAt); w.longstr(content)

        var other = envelope
        other.body = body(w.bytes)
        XCTAssertEqual(try Sealed.open(other, key: bobKey), content, "the hand-built inner is the real one")

        other.body = body(w.bytes + [0, 0])
        assertOpenFails(other, key: bobKey, .malformed(WireError.trailingBytes(2).description))

        other.body = body(Array(w.bytes.dropLast()))
        assertOpenFails(other, key: bobKey, .malformed(WireError.truncated(field: "content").description))

        other.body = body([])
        assertOpenFails(other, key: bobKey, .malformed(WireError.truncated(field: "kind").description))
    }
}
