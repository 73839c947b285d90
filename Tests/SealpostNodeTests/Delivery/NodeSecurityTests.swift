import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import SQLite
import XCTest
import ZeroMQ

/// Authentication, enrolment and hostile input against a real node.
final class NodeSecurityTests: XCTestCase {
    /// A raw DEALER speaking the protocol with the given CURVE keys.
    func rawConnection(_ hq: TestNode, keys: BoxKeyPair) throws -> Connection {
        try Connection(endpoint: hq.endpoint, serverKey: hq.node!.publicKey, curve: keys)
    }

    func testUnknownKeyIsRefusedAtTheHandshake() throws {
        let hq = try TestNode()
        try hq.start()
        _ = try hq.join("alice")
        let stranger = try rawConnection(hq, keys: .generate())
        defer { stranger.close() }
        try stranger.send(.lookup(requestId: 1, address: "alice@hq"))
        try stranger.send(.ping)
        // Nothing the stranger sent is answered: the node refuses the key at the handshake (ZAP 400),
        // the connection says so at once, and the node counted it.
        XCTAssertThrowsError(try stranger.receive(timeoutMs: 1500)) { error in
            XCTAssertTrue("\(error)".contains("refused this key"), "\(error)")
        }
        XCTAssertGreaterThanOrEqual(try hq.counter(\.refusedKeys), 1)
    }

    func testSenderIsStampedAndCannotBeForged() throws {
        let hq = try TestNode()
        try hq.start()
        let mallory = try Client(profile: try hq.join("mallory"))
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { mallory.close(); alice.close(); bob.close() }

        // Mallory claims to be alice in the clear header.
        var forged = try mallory.prepareText(to: Address("bob@hq")!, text: "transfer the funds")
        forged.from = "alice@hq"
        XCTAssertThrowsError(try mallory.store(forged)) { error in
            guard case .refused(let code, _) = error as? ClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(code, ErrorCode.forgedSender.rawValue)
        }
        // Mallory also cannot make a body that opens as alice's: even with from left
        // empty, the node stamps mallory@hq, and the body names mallory inside.
        let honest = try mallory.sendText(to: Address("bob@hq")!, text: "hi, it's mallory")
        let got = try bob.receive(1)
        XCTAssertEqual(got.map(\.id), [honest])
        XCTAssertEqual(got.first?.from, "mallory@hq")
    }

    func testInviteWorksOnceAndExpires() throws {
        let hq = try TestNode()
        try hq.start()
        let invite = try Operator.invite(dataDir: hq.dir, user: "wu", endpoint: hq.endpoint)
        _ = try Enrollment.join(code: invite.code, display: "Wu Lei", profilePath: hq.root + "/wu1")
        XCTAssertThrowsError(try Enrollment.join(code: invite.code, display: nil, profilePath: hq.root + "/wu2", timeoutMs: 3000)) { error in
            XCTAssertTrue("\(error)".contains("already used"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: hq.root + "/wu2"), "nothing half-done is left behind")
        XCTAssertFalse(FileManager.default.fileExists(atPath: hq.root + "/wu2.pending"))

        // An expired invite: made valid for an hour, then its expiry moved into the past.
        let late = try Operator.invite(dataDir: hq.dir, user: "li", endpoint: hq.endpoint)
        let code = try InviteCode(text: late.code)
        var expired = code
        expired.expiresAt = 1
        XCTAssertThrowsError(try Enrollment.join(code: expired.text, display: nil, profilePath: hq.root + "/li")) { error in
            XCTAssertTrue("\(error)".contains("expired"), "\(error)")
        }
        // The node enforces expiry too, whatever the code claims.
        let db = try Database(path: hq.dir.databasePath)
        try db.run("UPDATE invites SET expires_at = 1")
        db.close()
        XCTAssertThrowsError(try Enrollment.join(code: late.code, display: nil, profilePath: hq.root + "/li", timeoutMs: 1500)) { error in
            XCTAssertTrue("\(error)".contains("refused this invite code"), "refused at the handshake: \(error)")
        }
        XCTAssertEqual(try Operator.users(dataDir: hq.dir).map(\.user.name), ["wu"])
    }

    func testInviteConnectionMayOnlyEnrol() throws {
        let hq = try TestNode()
        try hq.start()
        _ = try hq.join("alice")
        let invite = try InviteCode(text: try Operator.invite(dataDir: hq.dir, user: "eve", endpoint: hq.endpoint).code)
        var secret = invite.secret
        let conn = try rawConnection(hq, keys: try XCTUnwrap(BoxKeyPair(secretKey: &secret)))
        defer { conn.close() }
        try conn.send(.lookup(requestId: 9, address: "alice@hq"))
        guard case .error(let code, _, _)? = try conn.receive(timeoutMs: 3000) else { return XCTFail("no error reply") }
        XCTAssertEqual(code, ErrorCode.notAllowed.rawValue)
    }

    func testMalformedFramesGetErrorsAndNeverStopTheNode() throws {
        let hq = try TestNode()
        try hq.start()
        let aliceProfile = try hq.join("alice")
        let alice = try Client(profile: aliceProfile)
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }

        // A second, raw connection with alice's own keys sends garbage.
        let raw = Socket.testDealer(endpoint: hq.endpoint, serverKey: hq.node!.publicKey, keys: aliceProfile.curve)
        let valid = Command.send(try alice.prepareText(to: Address("bob@hq")!, text: "x")).encode()
        var garbage: [[[UInt8]]] = [
            [[]],
            [[0x00, 0x01, 0x02]],
            [[0xAA, 0x5C]],
            [[0xAA, 0x5C, 0x02, 0x05]],           // wrong version
            [[0xAA, 0x5C, 0x01, 0x7F]],           // unknown command
            [[0xAA, 0x5C, 0x01, 0x06, 1, 2]],     // truncated STORED
            [Array(valid.dropLast(3))],           // truncated SEND
            [valid + [0]],                        // trailing byte
            [valid, valid],                       // two frames
            [Command.deliver(seq: 1, envelope: Envelope(id: .zero, from: "x@hq", to: "bob@hq", kind: 1, sentAt: 0, body: [])).encode()],
        ]
        for i in 0..<valid.count where i % 7 == 0 { garbage.append([Array(valid.prefix(i))]) }
        for frames in garbage { try raw.send(frames, dontWait: false) }
        var errors = 0
        while let message = try raw.receiveWithin(ms: 1500) {
            if case .error(let code, _, _) = try Command.decode(message.frames[0]) {
                XCTAssertEqual(code, ErrorCode.badRequest.rawValue)
                errors += 1
            }
        }
        XCTAssertEqual(errors, garbage.count - 1, "every single-frame garbage gets ERROR 400; the two-frame one is dropped")

        // The node still serves everyone.
        let id = try alice.sendText(to: Address("bob@hq")!, text: "still here")
        XCTAssertEqual(try bob.receive(1).map(\.id), [id])
    }

    func testOversizeFrameDropsOnlyThatConnection() throws {
        let hq = try TestNode()
        try hq.start()
        let aliceProfile = try hq.join("alice")
        let alice = try Client(profile: aliceProfile)
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let raw = Socket.testDealer(endpoint: hq.endpoint, serverKey: hq.node!.publicKey, keys: aliceProfile.curve)
        try raw.send([[UInt8](repeating: 0xAA, count: Int(Command.maxLargeFrameBytes) + 1)], dontWait: false)
        XCTAssertNil(try raw.receiveWithin(ms: 500))
        let id = try alice.sendText(to: Address("bob@hq")!, text: "fine")
        XCTAssertEqual(try bob.receive(1).map(\.id), [id])
    }
}

extension Socket {
    /// A DEALER with CURVE keys, for sending hand-made frames.
    static func testDealer(endpoint: String, serverKey: [UInt8], keys: BoxKeyPair) -> Socket {
        let socket = try! Socket(Context(), .dealer) // the socket keeps its context alive
        var secret = keys.secretKey.copyBytes()
        try! socket.makeCurveClient(serverKey: serverKey, publicKey: keys.publicKey, secretKey: secret)
        wipe(&secret)
        try! socket.connect(endpoint)
        return socket
    }

    func receiveWithin(ms: Int) throws -> Message? {
        let events = try poll([(.socket(self), .readable)], timeoutMs: ms)
        return events[0].contains(.readable) ? try receive(dontWait: true) : nil
    }
}
