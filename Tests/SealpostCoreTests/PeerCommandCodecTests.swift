import SealpostCore
import SealpostTestSupport
import XCTest

/// Node-to-node frames get the same robustness checks as client frames.
final class PeerCommandCodecTests: XCTestCase {
    static let envelope = Envelope(id: MessageID(bytes: [UInt8](repeating: 9, count: 16))!, from: "alice@hq", to: "wu@traffic",
                                   kind: 1, flags: 0, sentAt: 1_764_000_000_123, body: [1, 2, 3, 0])
    static let key = [UInt8](repeating: 0x42, count: 32)

    static var commands: [PeerCommand] {
        [
            .hello(node: "hq", signKey: key, credit: 1000, epoch: 1_764_000_000_000, labels: LabelSet.standard.digest),
            .relay(jid: 7, origin: "hq", dest: "traffic", streamSeq: WireReader.maxU64 - 1, hops: 3, envelope: envelope, epoch: WireReader.maxU64),
            .relayed(jids: [1, 2, WireReader.maxU64]),
            .relayed(jids: []),
            .ping(sentNs: 123),
            .pong(echoNs: WireReader.maxU64),
            .routes(node: "hq", seq: 5, entries: [
                RouteEntry(dest: "hq", signKey: key, directoryVersion: 1, path: []),
                RouteEntry(dest: "traffic", signKey: key, directoryVersion: 9, path: ["relay1", "traffic"]),
            ]),
            .routes(node: "hq", seq: 0, entries: []),
            .directoryRequest(home: "traffic"),
            .directorySnapshot(home: "traffic", version: 3, entries: [[1, 2], [], [UInt8](repeating: 7, count: 300)],
                               signature: [UInt8](repeating: 9, count: 64)),
            .summary(node: "hq", seq: 1, json: Array("{\"users\":3}".utf8)),
        ]
    }

    func testEveryCommandRoundTripsAndEveryPrefixThrows() throws {
        for command in Self.commands {
            let frame = command.encode()
            XCTAssertTrue(PeerCommand.isPeerFrame(frame), command.name)
            XCTAssertEqual(try PeerCommand.decode(frame), command, command.name)
            XCTAssertThrowsError(try PeerCommand.decode(frame + [0]), command.name) { error in
                XCTAssertEqual(error as? WireError, .trailingBytes(1), command.name)
            }
            for length in 0..<frame.count {
                // HELLO and RELAY end in an optional epoch: without it they are a node of an earlier release.
                if case .hello(_, _, _, _, let labels) = command, length == frame.count - 8 - labels.count { continue }
                // ... and then in the optional digest of its label set (a node that predates labels).
                if case .hello(_, _, _, _, let labels) = command, !labels.isEmpty, length == frame.count - 16 { continue }
                if case .relay = command, length == frame.count - 8 { continue }
                XCTAssertThrowsError(try PeerCommand.decode(Array(frame.prefix(length)))) { error in
                    guard case .truncated? = error as? WireError else {
                        return XCTFail("\(command.name) cut to \(length): \(error)")
                    }
                }
            }
        }
        XCTAssertFalse(PeerCommand.isPeerFrame(Command.ping.encode()))
    }

    /// A node of an earlier release sends HELLO and RELAY without the epoch: they read as epoch 0.
    func testHelloAndRelayWithoutEpochDecodeAsEpochZero() throws {
        for command in Self.commands {
            let frame = command.encode()
            switch command {
            case let .hello(node, signKey, credit, epoch, labels):
                XCTAssertEqual(try PeerCommand.decode(Array(frame.dropLast(8 + labels.count))), .hello(node: node, signKey: signKey, credit: credit, epoch: 0))
                XCTAssertEqual(try PeerCommand.decode(Array(frame.dropLast(labels.count))), .hello(node: node, signKey: signKey, credit: credit, epoch: epoch))
            case let .relay(jid, origin, dest, seq, hops, envelope, _):
                XCTAssertEqual(try PeerCommand.decode(Array(frame.dropLast(8))),
                               .relay(jid: jid, origin: origin, dest: dest, streamSeq: seq, hops: hops, envelope: envelope, epoch: 0))
            default:
                continue
            }
        }
    }

    func testFuzzedFramesDecodeOrThrowWireError() {
        var rng = SplitMix64(state: 0xF00D)
        let frames = Self.commands.map { $0.encode() }
        var decoded = 0
        for round in 0..<10_000 {
            let frame = CommandCodecTests.mutate(frames[round % frames.count], &rng)
            do {
                let command = try PeerCommand.decode(frame)
                decoded += 1
                // A frame without the optional epoch comes back with epoch 0 written out.
                let again = command.encode()
                XCTAssertTrue(again == frame || again == frame + [UInt8](repeating: 0, count: 8), "round \(round)")
            } catch {
                XCTAssertNotNil(error as? WireError, "round \(round): \(error)")
            }
        }
        XCTAssertGreaterThan(decoded, 50)
    }
    /// Every u64 of the protocol is under 2^63 (SPEC 3): a node stores them as signed
    /// 64-bit integers, and a conversion of a larger one used to trap (the node crashed).
    func testU64FieldsOf2p63OrMoreAreMalformed() {
        let file = MessageID(bytes: [UInt8](repeating: 3, count: 16))!
        for v: UInt64 in [1 << 63, .max] {
            var late = Self.envelope
            late.sentAt = v
            let reminder = Envelope(id: Self.envelope.id, from: "alice@hq", to: "wu@traffic", kind: EnvelopeKind.reminder.rawValue,
                                    sentAt: 1, body: Reminder.body(dueAt: v, sealed: [1]))
            let burn = Envelope(id: Self.envelope.id, from: "alice@hq", to: "wu@traffic", kind: EnvelopeKind.burn.rawValue,
                                sentAt: 1, body: Burn.body(expiresAt: v, images: 0, sealed: [1]))
            let offer = Envelope(id: Self.envelope.id, from: "alice@hq", to: "wu@traffic", kind: EnvelopeKind.file.rawValue,
                                 sentAt: 1, body: FileOffer(fileId: file, cipherSize: v, chunks: 1).body(sealed: [1]))
            let commands: [(PeerCommand, String)] = [
                (.relay(jid: v, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0, envelope: Self.envelope), "jid"),
                (.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: v, hops: 0, envelope: Self.envelope), "stream_seq"),
                (.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0, envelope: late), "envelope.sent_at"),
                (.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0, envelope: reminder), "due_at"),
                (.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0, envelope: burn), "expires_at"),
                (.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0, envelope: offer), "cipher_size"),
                (.relayed(jids: [1, v]), "jid"),
                (.ping(sentNs: v), "sent_ns"),
                (.pong(echoNs: v), "echo_ns"),
                (.routes(node: "hq", seq: v, entries: []), "seq"),
                (.routes(node: "hq", seq: 1, entries: [RouteEntry(dest: "hq", signKey: Self.key, directoryVersion: v, path: [])]),
                 "directory_version"),
                (.directorySnapshot(home: "traffic", version: v, entries: [], signature: DirectoryHead.noSignature), "version"),
                (.summary(node: "hq", seq: v, json: []), "seq"),
                (.filePull(fileId: file, origin: "hq", size: v, chunks: 1, from: 0, count: 1), "size"),
            ]
            for (command, field) in commands {
                XCTAssertThrowsError(try PeerCommand.decode(command.encode()), "\(command.name) \(field) = \(v)") { error in
                    guard case .invalid(field, _)? = error as? WireError else { return XCTFail("\(command.name) \(field): \(error)") }
                }
            }
        }
    }

    /// A stream counter moves one past the seq it delivered, so `stream_seq` stops one short of
    /// the other u64s: 2^63 − 1 would make the next expected seq 2^63 (review: it trapped).
    func testRelayStreamSeqOf2p63Minus1IsMalformed() throws {
        let frame = PeerCommand.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: WireReader.maxU64, hops: 0,
                                      envelope: Self.envelope).encode()
        XCTAssertThrowsError(try PeerCommand.decode(frame)) { error in
            guard case .invalid("stream_seq", _)? = error as? WireError else { return XCTFail("\(error)") }
        }
        let below = PeerCommand.relay(jid: 1, origin: "hq", dest: "traffic", streamSeq: WireReader.maxU64 - 1, hops: 0,
                                      envelope: Self.envelope)
        XCTAssertEqual(try PeerCommand.decode(below.encode()), below)
    }

    func testRelayFromANodeToItselfIsMalformed() {
        let own = Envelope(id: Self.envelope.id, from: "alice@hq", to: "bob@hq", kind: 1, sentAt: 1, body: [])
        XCTAssertThrowsError(try PeerCommand.decode(PeerCommand.relay(jid: 1, origin: "hq", dest: "hq", streamSeq: 1, hops: 0,
                                                                      envelope: own).encode())) { error in
            XCTAssertEqual(error as? WireError, .invalid(field: "dest", reason: "the same node as origin"))
        }
    }

    func testRelayJidIsReadFromAMalformedRelay() {
        let frame = PeerCommand.relay(jid: 77, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0, envelope: Self.envelope).encode()
        XCTAssertEqual(PeerCommand.relayJid(Array(frame.prefix(12))), 77)
        XCTAssertEqual(PeerCommand.relayJid(frame + [0]), 77)
        XCTAssertNil(PeerCommand.relayJid(Array(frame.prefix(11))), "no whole jid")
        XCTAssertNil(PeerCommand.relayJid(PeerCommand.ping(sentNs: 77).encode()), "not a RELAY")
        XCTAssertNil(PeerCommand.relayJid(PeerCommand.relay(jid: 1 << 63, origin: "hq", dest: "traffic", streamSeq: 1, hops: 0,
                                                            envelope: Self.envelope).encode()), "a jid out of range")
    }
}
