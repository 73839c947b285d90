import SealpostCore
import SealpostTestSupport
import Sodium
import XCTest

/// The burn bodies, receipts, capture reports and quotes (protocol/SPEC.md 7.7):
/// round trips, limits, and that damaged input only ever throws.
final class BurnCodecTests: XCTestCase {
    let id = MessageID(bytes: Array(0..<16))!

    func testContentRoundTripAndLimits() throws {
        let content = Burn.Content(expiresAt: 99, text: Array("hi".utf8),
                                   images: [Burn.Image(name: "a.png", data: [1, 2, 3]), Burn.Image(name: "", data: [4])])
        XCTAssertEqual(try Burn.Content.decode(content.encode()), content)
        var seven = content
        seven.images = Array(repeating: Burn.Image(name: "x", data: [1]), count: 7)
        XCTAssertThrowsError(try Burn.Content.decode(seven.encode()))
        var big = content
        big.images = [Burn.Image(name: "x", data: [UInt8](repeating: 0, count: Burn.maxImageBytes + 1))]
        XCTAssertThrowsError(try Burn.Content.decode(big.encode()))
        var text = content
        text.text = [UInt8](repeating: 65, count: Sealed.maxTextBytes + 1)
        XCTAssertThrowsError(try Burn.Content.decode(text.encode()))
        XCTAssertThrowsError(try Burn.Content.decode(content.encode() + [0]), "trailing bytes")
        XCTAssertLessThanOrEqual(Burn.maxContentBytes + 20_000 + 500 * 104, Envelope.maxLargeBodyBytes - 4096 - 500 * 66,
                                 "the largest group burn message and its fan-out fit")
    }

    func testBodyNoticeAndSplit() throws {
        let body = Burn.body(expiresAt: 0x0102030405060708, images: 2, sealed: [9, 9, 9])
        XCTAssertEqual(body.count, Burn.headerBytes + 3)
        let (expiresAt, images, sealed) = try Burn.split(body)
        XCTAssertEqual(expiresAt, 0x0102030405060708)
        XCTAssertEqual(images, 2)
        XCTAssertEqual(sealed, [9, 9, 9])
        let envelope = Envelope(id: id, from: "a@hq", to: "b@hq", kind: EnvelopeKind.burn.rawValue, sentAt: 1, body: body)
        let notice = Burn.notice(of: envelope)
        XCTAssertEqual(notice.body, Array(body.prefix(9)))
        XCTAssertEqual(try Burn.split(notice.body).sealed, [])
        XCTAssertEqual(notice.id, envelope.id)
        XCTAssertThrowsError(try Burn.split([1, 2, 3]))
        XCTAssertThrowsError(try Burn.split(Burn.body(expiresAt: 1, images: 7, sealed: [])))
    }

    func testEnvelopeBodyLimitDependsOnKind() throws {
        let large = [UInt8](repeating: 7, count: Envelope.maxBodyBytes + 1)
        for (kind, ok) in [(EnvelopeKind.burn, true), (.groupFanout, true), (.text, false), (.capture, false)] {
            var w = WireWriter()
            Envelope(id: id, from: "", to: "b@hq", kind: kind.rawValue, sentAt: 1, body: large).encode(into: &w)
            var r = WireReader(w.bytes)
            if ok { XCTAssertNoThrow(try Envelope.decode(from: &r), kind.name) } else { XCTAssertThrowsError(try Envelope.decode(from: &r), kind.name) }
        }
        var w = WireWriter()
        Envelope(id: id, from: "", to: "b@hq", kind: EnvelopeKind.burn.rawValue, sentAt: 1,
                 body: [UInt8](repeating: 0, count: Envelope.maxLargeBodyBytes + 1)).encode(into: &w)
        var r = WireReader(w.bytes)
        XCTAssertThrowsError(try Envelope.decode(from: &r))
    }

    func testReceiptSignatureBindsEveryField() throws {
        var seed = [UInt8](repeating: 5, count: 32)
        let node = try XCTUnwrap(SignKeyPair(seed: &seed))
        var receipt = Burn.Receipt(burn: id, sender: "alice@hq", node: "traffic", event: .viewed, subject: "wu@traffic", deletedAt: 7)
        receipt.sign(with: node)
        XCTAssertEqual(try Burn.Receipt.decode(receipt.encode()), receipt)
        XCTAssertTrue(receipt.verify(nodeKey: node.publicKey))
        let changes: [(String, (inout Burn.Receipt) -> Void)] = [
            ("burn", { $0.burn = MessageID(bytes: Array(repeating: 1, count: 16))! }), ("sender", { $0.sender = "eve@hq" }),
            ("node", { $0.node = "hq" }), ("event", { $0.event = .expired }), ("subject", { $0.subject = "bob@traffic" }),
            ("deleted_at", { $0.deletedAt = 8 }),
        ]
        for (field, change) in changes {
            var altered = receipt
            change(&altered)
            XCTAssertFalse(altered.verify(nodeKey: node.publicKey), field)
            // The envelope id names the copy and the event, not the moment: made again after a crash, it is the same message.
            if ["burn", "node", "event", "subject"].contains(field) { XCTAssertNotEqual(altered.messageID, receipt.messageID, field) }
            if field == "deleted_at" { XCTAssertEqual(altered.messageID, receipt.messageID) }
        }
        var bytes = receipt.encode()
        bytes[16 + 1 + 8 + 1 + 7] = 9 // the event byte: unknown
        XCTAssertThrowsError(try Burn.Receipt.decode(bytes))
        XCTAssertThrowsError(try Burn.Receipt.decode(receipt.encode().dropLast().map { $0 }))
        XCTAssertFalse(Burn.Receipt(burn: id, sender: "a@hq", node: "hq", event: .viewed, subject: "x", deletedAt: 1).verify(nodeKey: node.publicKey),
                       "unsigned")
    }

    func testCaptureAndQuote() throws {
        let capture = Burn.Capture(burn: id, at: 5, how: String(repeating: "é", count: 200))
        let decoded = try Burn.Capture.decode(capture.encode())
        XCTAssertEqual(decoded.burn, id)
        XCTAssertEqual(decoded.how.utf8.count, 254, "cut at a character boundary within 255 bytes")
        var envelope = Envelope(id: id, from: "", to: "b@hq", kind: 1, flags: Quote.flag, sentAt: 1, body: Quote.body(ref: id, rest: [1, 2]))
        XCTAssertEqual(Quote.split(envelope)?.ref, id)
        XCTAssertEqual(Quote.split(envelope)?.rest, [1, 2])
        envelope.flags = 0
        XCTAssertNil(Quote.split(envelope), "no flag, no quote")
        envelope.flags = Quote.flag
        envelope.body = [1, 2, 3]
        XCTAssertNil(Quote.split(envelope), "too short to name a message")
    }

    func testFanoutInnerKindIsReadWithoutDecoding() {
        for kind in [EnvelopeKind.burn, .groupMessage, .file] {
            let inner = Envelope(id: id, from: "alice@hq", to: "ops@hq", kind: kind.rawValue, sentAt: 1, body: [1, 2, 3])
            let body = Group.fanoutBody(recipients: ["wu@traffic", "li@traffic"], envelope: inner)
            XCTAssertEqual(Group.fanoutInnerKind(body), kind.rawValue, kind.name)
            XCTAssertNil(Group.fanoutInnerKind(Array(body.prefix(30))), "truncated before the kind")
        }
        // Whenever a damaged fan-out still decodes, the kind read ahead is the kind decoded.
        var rng = SplitMix64(state: 0xFA17)
        let body = Group.fanoutBody(recipients: ["wu@traffic"], envelope: Envelope(id: id, from: "alice@hq", to: "ops@hq",
                                                                                 kind: 11, sentAt: 1, body: [9]))
        var decoded = 0
        for _ in 0..<5_000 {
            let bytes = CommandCodecTests.mutate(body, &rng)
            if let parsed = try? Group.parseFanout(bytes) {
                decoded += 1
                XCTAssertEqual(Group.fanoutInnerKind(bytes), parsed.envelope.kind)
            }
        }
        XCTAssertGreaterThan(decoded, 50)
    }

    func testDamagedInputOnlyThrows() {
        var rng = SplitMix64(state: 0xB0B)
        var seed = [UInt8](repeating: 5, count: 32)
        let node = SignKeyPair(seed: &seed)!
        var receipt = Burn.Receipt(burn: id, sender: "alice@hq", node: "traffic", event: .forwarded, subject: "x via y", deletedAt: 7)
        receipt.sign(with: node)
        let samples = [
            Burn.Content(expiresAt: 1, text: [1, 2], images: [Burn.Image(name: "n", data: [3])]).encode(),
            receipt.encode(), Burn.Capture(burn: id, at: 1, how: "screenshot").encode(), Burn.body(expiresAt: 1, images: 1, sealed: [1]),
        ]
        for round in 0..<20_000 {
            let bytes = CommandCodecTests.mutate(samples[round % samples.count], &rng)
            for decode in [{ _ = try Burn.Content.decode(bytes) }, { _ = try Burn.Receipt.decode(bytes) },
                           { _ = try Burn.Capture.decode(bytes) }, { _ = try Burn.split(bytes) }] as [() throws -> Void] {
                do { try decode() } catch { XCTAssertNotNil(error as? WireError, "round \(round): \(error)") }
            }
        }
    }
}
