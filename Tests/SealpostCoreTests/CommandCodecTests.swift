import SealpostCore
import SealpostTestSupport
import XCTest

/// `Command.decode` is the first thing a node runs on a peer's bytes: it must
/// round-trip every command, and turn every malformed frame into a `WireError`.
final class CommandCodecTests: XCTestCase {
    static let id = MessageID(bytes: (0..<16).map { UInt8($0 * 7 + 3) })!

    static let envelope = Envelope(id: id, from: "alice@hq", to: "wu@traffic", kind: 1, flags: 0x8001,
                                   sentAt: 1_764_000_000_123, body: Array("sealed body bytes \u{0}\u{1}".utf8))

    /// Every command, with some fields at their edges (empty, Unicode, extreme integers).
    static var commands: [Command] {
        var unstamped = envelope
        unstamped.from = ""
        var emptyBody = envelope
        emptyBody.body = []
        return [
            .enroll(display: "Wu Lei 吴磊 🚦", curveKey: [UInt8](repeating: 0x11, count: 32),
                    boxKey: [UInt8](repeating: 0x22, count: 32), signKey: [UInt8](repeating: 0x33, count: 32)),
            .enroll(display: "", curveKey: (0..<32).map { UInt8($0) }, boxKey: (0..<32).map { UInt8(255 - $0) },
                    signKey: [UInt8](repeating: 0, count: 32)),
            .enrolled(address: "wu@traffic", nodeSignKey: [UInt8](repeating: 0x44, count: 32)),
            .lookup(requestId: 0, address: "alice@hq"),
            .lookup(requestId: .max, address: ""),
            .entry(requestId: 7, entry: [1, 2, 3], homeSignKey: [UInt8](repeating: 0x55, count: 32)),
            .entry(requestId: 8, entry: [], homeSignKey: (0..<32).map { UInt8($0) }),
            .send(unstamped),
            .send(emptyBody),
            .stored(id: id),
            .stored(id: .zero),
            .attach(window: 1000),
            .attach(window: .max),
            .deliver(seq: 42, envelope: envelope),
            .deliver(seq: WireReader.maxU64, envelope: unstamped),
            .ack(seq: 0),
            .ack(seq: WireReader.maxU64),
            .synced(pending: 3),
            .ping,
            .pong(attached: true),
            .pong(attached: false),
            .error(code: 404, ref: id, reason: "no user 'carol' on node 'hq'"),
            .error(code: 0, ref: .zero, reason: ""),
            .error(code: .max, ref: id, reason: "ünïcödé ✓"),
            .detach,
            .directory(requestId: 8, query: "wu"),
            .directory(requestId: .max, query: ""),
            .entries(requestId: 8, items: [DirectoryItem(entry: [4, 5], homeSignKey: [UInt8](repeating: 0x66, count: 32)),
                                           DirectoryItem(entry: [], homeSignKey: [UInt8](repeating: 0x77, count: 32))]),
            .entries(requestId: 0, items: []),
        ]
    }

    /// The frame header of command `id`.
    func header(_ id: UInt8) -> [UInt8] { [0xAA, 0x5C, 0x01, id] }

    func assertWireError(_ frame: [UInt8], _ expected: WireError, _ message: String = "",
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Command.decode(frame), message, file: file, line: line) { error in
            XCTAssertEqual(error as? WireError, expected, message, file: file, line: line)
        }
    }

    // MARK: round trips

    func testEveryCommandRoundTrips() throws {
        var ids = Set<UInt8>()
        for command in Self.commands {
            let frame = command.encode()
            XCTAssertEqual(Array(frame.prefix(4)), header(command.id), command.name)
            XCTAssertEqual(try Command.decode(frame), command, command.name)
            ids.insert(command.id)
        }
        XCTAssertEqual(ids, Set(1...16), "the list covers every command id")
    }

    func testFieldsAreBigEndianAndUnpadded() throws {
        XCTAssertEqual(Command.ack(seq: 0x0102_0304_0506_0708).encode(), header(0x09) + [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(Command.lookup(requestId: 0x0A0B_0C0D, address: "a@b").encode(),
                       header(0x03) + [0x0A, 0x0B, 0x0C, 0x0D, 3] + Array("a@b".utf8))
        XCTAssertEqual(Command.pong(attached: false).encode(), header(0x0C) + [0])
        XCTAssertEqual(Command.ping.encode(), header(0x0B))
        XCTAssertEqual(Command.entry(requestId: 1, entry: [9], homeSignKey: [UInt8](repeating: 3, count: 32)).encode(),
                       header(0x04) + [0, 0, 0, 1, 0, 0, 0, 1, 9] + [UInt8](repeating: 3, count: 32))
    }

    func testLimitsAreInclusive() throws {
        let entry = Command.entry(requestId: 1, entry: [UInt8](repeating: 0xEE, count: 4096), homeSignKey: [UInt8](repeating: 1, count: 32))
        XCTAssertEqual(try Command.decode(entry.encode()), entry)
        var big = Self.envelope
        big.body = (0..<Envelope.maxBodyBytes).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertEqual(try Command.decode(Command.deliver(seq: 1, envelope: big).encode()), .deliver(seq: 1, envelope: big))
        let longest = String(repeating: "é", count: 127) + "x" // 255 bytes
        XCTAssertEqual(try Command.decode(Command.lookup(requestId: 1, address: longest).encode()),
                       .lookup(requestId: 1, address: longest))
    }

    func testErrorReasonIsTruncatedToWholeCharacters() throws {
        let reason = String(repeating: "é", count: 200) // 400 bytes
        let decoded = try Command.decode(Command.error(code: 400, ref: .zero, reason: reason).encode())
        guard case let .error(code, ref, back) = decoded else { return XCTFail("decoded \(decoded)") }
        XCTAssertEqual(code, 400)
        XCTAssertEqual(ref, .zero)
        XCTAssertEqual(back, String(repeating: "é", count: 127))
        XCTAssertEqual(back.utf8.count, 254)
    }

    // MARK: malformed frames

    func testEveryStrictPrefixThrowsTruncated() {
        for command in Self.commands {
            let frame = command.encode()
            for length in 0..<frame.count {
                XCTAssertThrowsError(try Command.decode(Array(frame.prefix(length)))) { error in
                    guard case .truncated? = error as? WireError else {
                        return XCTFail("\(command.name) cut to \(length) bytes: \(error)")
                    }
                }
            }
        }
    }

    func testTrailingBytesAfterEveryCommand() {
        for command in Self.commands {
            assertWireError(command.encode() + [0], .trailingBytes(1), command.name)
            assertWireError(command.encode() + [1, 2, 3], .trailingBytes(3), command.name)
        }
    }

    func testBadSignature() {
        assertWireError([0xAA, 0x5D, 0x01, 0x0B], .badSignature)
        assertWireError([0x5C, 0xAA, 0x01, 0x0B], .badSignature)
        assertWireError([0, 0, 0, 0], .badSignature)
        assertWireError(Array("GET / HTTP/1.1\r\n".utf8), .badSignature)
    }

    func testUnsupportedVersion() {
        assertWireError([0xAA, 0x5C, 0x02, 0x0B], .unsupportedVersion(2))
        assertWireError([0xAA, 0x5C, 0x00, 0x0B], .unsupportedVersion(0))
        assertWireError([0xAA, 0x5C, 0xFF], .unsupportedVersion(255))
    }

    func testUnknownCommandIds() {
        for id: UInt8 in [0x00, 0x16, 0x20, 0x7F, 0xFF] { // 0x20… are node-to-node commands
            assertWireError(header(id), .unknownCommand(id))
            assertWireError(header(id) + [1, 2, 3], .unknownCommand(id))
        }
    }

    func testStringsMustBeUTF8() {
        let invalid: [[UInt8]] = [
            [0xFF],             // never valid
            [0xC3, 0x28],       // bad continuation
            [0xC0, 0x80],       // overlong NUL
            [0xED, 0xA0, 0x80], // UTF-16 surrogate
            [0x61, 0xE2, 0x82], // cut multibyte sequence at the end of the field
            [0xF4, 0x90, 0x80, 0x80], // above U+10FFFF
        ]
        for bad in invalid {
            let field = [UInt8(bad.count)] + bad
            assertWireError(header(0x03) + [0, 0, 0, 1] + field, .invalid(field: "address", reason: "not UTF-8"), "\(bad)")
            assertWireError(header(0x02) + field + [UInt8](repeating: 0, count: 32),
                            .invalid(field: "address", reason: "not UTF-8"), "\(bad)")
            assertWireError(header(0x01) + field + [UInt8](repeating: 0, count: 96),
                            .invalid(field: "display", reason: "not UTF-8"), "\(bad)")
            assertWireError(header(0x0D) + [1, 0x90] + [UInt8](repeating: 0, count: 16) + field,
                            .invalid(field: "reason", reason: "not UTF-8"), "\(bad)")
        }
        // In an envelope too.
        let to = [UInt8(2), 0xC3, 0x28]
        let frame = header(0x05) + [UInt8](repeating: 1, count: 16) + [0] + to + [1, 0, 0] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 0]
        assertWireError(frame, .invalid(field: "envelope.to", reason: "not UTF-8"))
    }

    func testLongstrOverItsLimit() {
        // ENTRY allows 4096 bytes: the declared length is checked before the bytes are read.
        assertWireError(header(0x04) + [0, 0, 0, 7] + [0, 0, 0x10, 0x01] + [UInt8](repeating: 0, count: 4097),
                        .invalid(field: "entry", reason: "4097 bytes, limit 4096"))
        assertWireError(header(0x04) + [0, 0, 0, 7] + [0xFF, 0xFF, 0xFF, 0xFF],
                        .invalid(field: "entry", reason: "4294967295 bytes, limit 4096"))
        // An envelope body allows Envelope.maxBodyBytes (200 KiB).
        var w = WireWriter()
        w.octets(header(0x05))
        var big = Self.envelope
        big.body = [UInt8](repeating: 0, count: Envelope.maxBodyBytes + 1)
        big.encode(into: &w)
        assertWireError(w.bytes, .invalid(field: "envelope.body", reason: "\(Envelope.maxBodyBytes + 1) bytes, limit \(Envelope.maxBodyBytes)"))
    }

    func testLongstrLongerThanTheFrame() {
        assertWireError(header(0x04) + [0, 0, 0, 7] + [0, 0, 0, 100] + [1, 2, 3], .truncated(field: "entry"))
        assertWireError(header(0x04) + [0, 0, 0, 7] + [0, 0, 0x10, 0x00], .truncated(field: "entry"))
        var frame = Command.send(Self.envelope).encode()
        frame.removeLast() // body is now one byte shorter than declared
        assertWireError(frame, .truncated(field: "envelope.body"))
    }

    func testEntriesCountIsBounded() {
        assertWireError(header(0x10) + [0, 0, 0, 1] + [0x00, 0x01, 0x86, 0xA1], .invalid(field: "count", reason: "too many entries"))
        assertWireError(header(0x10) + [0, 0, 0, 1] + [0xFF, 0xFF, 0xFF, 0xFF], .invalid(field: "count", reason: "too many entries"))
        // A count the frame cannot hold is truncated, found without allocating for it.
        assertWireError(header(0x10) + [0, 0, 0, 1] + [0x00, 0x01, 0x86, 0xA0], .truncated(field: "entry"))
        assertWireError(header(0x10) + [0, 0, 0, 1] + [0, 0, 0, 1] + [0, 0, 0x10, 0x01],
                        .invalid(field: "entry", reason: "4097 bytes, limit 4096"))
    }

    func testStringLongerThanTheFrame() {
        assertWireError(header(0x03) + [0, 0, 0, 1] + [200] + Array("alice@hq".utf8), .truncated(field: "address"))
    }

    /// A client's u64s are bounded like a peer's (SPEC 3): ACK, DELIVER, FILE-BEGIN and an envelope's sent_at.
    func testU64FieldsOf2p63OrMoreAreMalformed() {
        let file = MessageID(bytes: [UInt8](repeating: 3, count: 16))!
        for v: UInt64 in [1 << 63, .max] {
            let late = Envelope(id: file, from: "", to: "bob@hq", kind: 1, sentAt: v, body: [])
            for (command, field) in [(Command.ack(seq: v), "seq"), (.deliver(seq: v, envelope: late), "seq"), (.send(late), "envelope.sent_at"),
                                     (.fileBegin(fileId: file, size: v, chunks: 1), "size")] {
                assertWireError(command.encode(), .invalid(field: field, reason: "\(v) is 2^63 or more"))
            }
        }
        XCTAssertEqual(try Command.decode(Command.ack(seq: WireReader.maxU64).encode()), .ack(seq: WireReader.maxU64))
    }

    func testPongFlagMustBeZeroOrOne() {
        XCTAssertEqual(try Command.decode(header(0x0C) + [0]), .pong(attached: false))
        XCTAssertEqual(try Command.decode(header(0x0C) + [1]), .pong(attached: true))
        for flag: UInt8 in [2, 0x80, 0xFF] {
            assertWireError(header(0x0C) + [flag], .invalid(field: "attached", reason: "must be 0 or 1"))
        }
        assertWireError(header(0x0C), .truncated(field: "attached"))
    }

    func testEnvelopeAddressesAreChecked() {
        func frame(from: String, to: String) -> [UInt8] {
            var w = WireWriter()
            w.octets(header(0x05))
            Envelope(id: Self.id, from: from, to: to, kind: 1, sentAt: 1, body: [1]).encode(into: &w)
            return w.bytes
        }
        XCTAssertNoThrow(try Command.decode(frame(from: "", to: "wu@traffic")))
        XCTAssertNoThrow(try Command.decode(frame(from: "alice@hq", to: "wu@traffic")))
        assertWireError(frame(from: "", to: "wu"), .invalid(field: "envelope.to", reason: "not an address"))
        assertWireError(frame(from: "", to: ""), .invalid(field: "envelope.to", reason: "not an address"))
        assertWireError(frame(from: "", to: "Wu@traffic"), .invalid(field: "envelope.to", reason: "not an address"))
        assertWireError(frame(from: "alice", to: "wu@traffic"), .invalid(field: "envelope.from", reason: "not an address"))
        assertWireError(frame(from: "alice@hq@x", to: "wu@traffic"), .invalid(field: "envelope.from", reason: "not an address"))
    }

    // MARK: fuzz

    static func mutate(_ frame: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var f = frame
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch UInt8.random(in: 0..<6, using: &rng) {
            case 0 where !f.isEmpty: // flip one bit
                let i = Int.random(in: 0..<f.count, using: &rng)
                f[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !f.isEmpty: // replace a byte, often with a boundary value
                let values: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0xC3, 0xED]
                f[Int.random(in: 0..<f.count, using: &rng)] = Bool.random(using: &rng)
                    ? values.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            case 2: // insert bytes
                let at = Int.random(in: 0...f.count, using: &rng)
                f.insert(contentsOf: (0..<Int.random(in: 1...3, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 3 where !f.isEmpty: // delete a range
                let at = Int.random(in: 0..<f.count, using: &rng)
                f.removeSubrange(at..<min(f.count, at + Int.random(in: 1...4, using: &rng)))
            case 4: // truncate
                f = Array(f.prefix(Int.random(in: 0...f.count, using: &rng)))
            default: // duplicate a chunk at the end
                if !f.isEmpty {
                    let at = Int.random(in: 0..<f.count, using: &rng)
                    f += f[at..<min(f.count, at + 8)]
                }
            }
        }
        return f
    }

    func testFuzzedFramesDecodeOrThrowWireError() {
        var rng = SplitMix64(state: 0x5EA1_9057)
        let frames = Self.commands.map { $0.encode() }
        var decoded = 0, rejected = 0
        for round in 0..<20_000 {
            let frame = Self.mutate(frames[round % frames.count], &rng)
            do {
                let command = try Command.decode(frame)
                decoded += 1
                // The encoding is canonical: whatever decodes re-encodes to the same bytes.
                XCTAssertEqual(command.encode(), frame, "round \(round)")
            } catch is WireError {
                rejected += 1
            } catch {
                XCTFail("round \(round): not a WireError: \(error)")
            }
        }
        XCTAssertEqual(decoded + rejected, 20_000)
        XCTAssertGreaterThan(decoded, 100, "mutations of payload bytes should often still decode")
        XCTAssertGreaterThan(rejected, 10_000)
    }

    func testRandomBytesAfterAValidHeader() {
        var rng = SplitMix64(state: 42)
        for round in 0..<5_000 {
            let id = UInt8(round % 18)
            let tail = (0..<Int.random(in: 0...120, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let frame = header(id) + tail
            do {
                let command = try Command.decode(frame)
                XCTAssertEqual(command.encode(), frame)
            } catch {
                XCTAssertNotNil(error as? WireError, "\(error)")
            }
        }
    }
}
