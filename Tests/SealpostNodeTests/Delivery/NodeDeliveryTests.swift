import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// Real nodes on loopback, real sockets, real SQLite files, real crypto.
final class NodeDeliveryTests: XCTestCase {
    func testOnlineDeliveryIsEncryptedAndStamped() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        try bob.attach()
        let id = try alice.sendText(to: Address("bob@hq")!, text: "hello bob")
        let got = try bob.receive(1)
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(got.first?.id, id)
        XCTAssertEqual(got.first?.from, "alice@hq")
        XCTAssertEqual(got.first?.to, "bob@hq")
        XCTAssertEqual(got.first?.text, "hello bob")
        XCTAssertEqual(got.first?.kind, .text)
    }

    func testOfflineMessagesSurviveRestartAndArriveExactlyOnceInOrder() throws {
        let hq = try TestNode()
        try hq.start()
        let aliceProfile = try hq.join("alice")
        let bobProfile = try hq.join("bob")
        let alice = try Client(profile: aliceProfile)
        var sent: [MessageID] = []
        for i in 0..<60 {
            sent.append(try alice.sendText(to: Address("bob@hq")!, text: "message \(i)"))
        }
        alice.close()
        try hq.restart()
        let bob = try Client(profile: bobProfile)
        defer { bob.close() }
        let got = try bob.receive(60)
        XCTAssertEqual(got.map(\.id), sent)
        XCTAssertEqual(got.map(\.text), (0..<60).map { "message \($0)" })
        // Acknowledged: a second session gets nothing more, even after another restart.
        bob.close()
        try hq.restart()
        let again = try Client(profile: bobProfile)
        defer { again.close() }
        XCTAssertEqual(try again.drain(ms: 500).count, 0)
    }

    func testRetransmittedEnvelopeIsStoredOnce() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let envelope = try alice.prepareText(to: Address("bob@hq")!, text: "once")
        try alice.store(envelope)
        try alice.store(envelope)
        try alice.store(envelope)
        let got = try bob.drain(ms: 700)
        XCTAssertEqual(got.map(\.id), [envelope.id])
    }

    func testLargeBacklogIsPushedThroughASmallWindow() throws {
        let hq = try TestNode()
        // 3000 pipelined from one sender: more than the default burst of the rate limit.
        var config = try hq.dir.loadConfig()
        config.limits = .unmetered
        try hq.dir.saveConfig(config)
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let count = 3000
        var ids: [MessageID] = []
        for i in 0..<count {
            let e = try alice.prepareText(to: Address("bob@hq")!, text: "n\(i)")
            ids.append(e.id)
            try alice.submit(e)
        }
        // Wait for every STORED before reading.
        var stored = 0
        while stored < count, let event = try alice.next(timeoutMs: 5000) {
            if case .stored = event { stored += 1 }
        }
        XCTAssertEqual(stored, count)
        let got = try bob.receive(count, timeoutMs: 20_000, window: 64)
        XCTAssertEqual(got.count, count)
        XCTAssertTrue(got.map(\.id) == ids, "delivered out of order")
    }

    func testUnknownAddressesAreRefused() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        XCTAssertThrowsError(try alice.sendText(to: Address("carol@hq")!, text: "hi")) { error in
            XCTAssertEqual((error as? ClientError)?.description, "no user 'carol' on node 'hq'")
        }
        XCTAssertThrowsError(try alice.sendText(to: Address("carol@elsewhere")!, text: "hi")) { error in
            XCTAssertTrue("\(error)".contains("no route to node 'elsewhere'"), "\(error)")
        }
    }

    func testEmptyAndOversizeTextAreRefusedBeforeSending() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        XCTAssertThrowsError(try alice.sendText(to: Address("bob@hq")!, text: "  \n")) { error in
            XCTAssertEqual((error as? ClientError)?.description, "the message is empty")
        }
        let big = String(repeating: "x", count: Sealed.maxTextBytes + 1)
        XCTAssertThrowsError(try alice.sendText(to: Address("bob@hq")!, text: big)) { error in
            XCTAssertTrue("\(error)".contains("limit is 65536 bytes"), "\(error)")
        }
        // Exactly at the limit goes through.
        _ = try alice.sendText(to: Address("bob@hq")!, text: String(repeating: "y", count: Sealed.maxTextBytes))
    }

    func testNodeDatabaseNeverHoldsPlaintext() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bobProfile = try hq.join("bob")
        let marker = "PLAINTEXT-MARKER-\(UUID().uuidString)"
        for _ in 0..<5 { _ = try alice.sendText(to: Address("bob@hq")!, text: marker) }
        alice.close()
        // While stored (undelivered) and after delivery, neither DB nor WAL contains it.
        func scan() throws {
            for file in try FileManager.default.contentsOfDirectory(atPath: hq.dir.path) where !file.hasSuffix(".sock") {
                let data = try Data(contentsOf: URL(fileURLWithPath: hq.dir.path + "/" + file))
                XCTAssertNil(data.range(of: Data(marker.utf8)), "plaintext found in \(file)")
            }
        }
        try scan()
        let bob = try Client(profile: bobProfile)
        XCTAssertEqual(try bob.receive(5).map(\.text), Array(repeating: marker, count: 5))
        bob.close()
        hq.stop()
        try scan()
    }
}
