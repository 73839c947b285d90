import SealpostCore
import XCTest

/// `Envelope.kind` is any `u8` on the wire; code compares `knownKind`, which is nil for a
/// kind this version does not know, so such an envelope stays representable end to end.
final class EnvelopeKindTests: XCTestCase {
    static let id = MessageID(bytes: [UInt8](repeating: 7, count: 16))!

    func testEveryKindIsItsOwnKnownKindAndUnknownOnesAreNil() {
        for kind in EnvelopeKind.allCases {
            let typed = Envelope(id: Self.id, from: "", to: "bob@hq", kind: kind, sentAt: 1, body: [])
            XCTAssertEqual(typed, Envelope(id: Self.id, from: "", to: "bob@hq", kind: kind.rawValue, sentAt: 1, body: []), kind.name)
            XCTAssertEqual(typed.knownKind, kind, kind.name)
        }
        let known = Set(EnvelopeKind.allCases.map(\.rawValue))
        for raw in UInt8.min...UInt8.max where !known.contains(raw) {
            XCTAssertNil(Envelope(id: Self.id, from: "", to: "bob@hq", kind: raw, sentAt: 1, body: []).knownKind, "\(raw)")
        }
    }

    func testAnUnknownKindRoundTripsAndHasNoClearHeader() throws {
        let envelope = Envelope(id: Self.id, from: "alice@hq", to: "bob@hq", kind: 200, sentAt: 1, body: [1, 2, 3])
        let frame = Command.deliver(seq: 1, envelope: envelope).encode()
        XCTAssertEqual(try Command.decode(frame), .deliver(seq: 1, envelope: envelope))
        XCTAssertEqual(frame[4 + 8 + 16 + 1 + 8 + 1 + 6], 200, "the kind byte as sent")
        XCTAssertNoThrow(try envelope.checkClearHeader(), "nodes read no clear header of a kind they do not know")
    }

    func testBodyLimitsByKind() {
        for raw in UInt8.min...UInt8.max {
            let large = raw == EnvelopeKind.burn.rawValue || raw == EnvelopeKind.groupFanout.rawValue
            XCTAssertEqual(Envelope.maxBodyBytes(kind: raw), large ? Envelope.maxLargeBodyBytes : Envelope.maxBodyBytes, "\(raw)")
        }
    }
}
