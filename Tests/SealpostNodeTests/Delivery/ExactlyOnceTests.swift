import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// Exactly once across connections (protocol/SPEC.md 6.7–6.9): what a client acknowledged is
/// never pushed again once the node has taken the ACK, and whatever the node pushes again (an
/// ACK on a connection that is gone, a client killed before or after its ACK, an ACK and the
/// next connection's ATTACH in one cycle) the reader shows each message once and loses none.
final class ExactlyOnceTests: XCTestCase {
    func send(_ alice: Client, _ n: Int, tag: String) throws -> [MessageID] {
        try (0..<n).map { try alice.sendText(to: Address("bob@hq")!, text: "\(tag) \($0)") }
    }

    /// Raw deliveries on `client` until SYNCED (or nothing more for `quietMs`), without acknowledging.
    func pushed(_ client: Client, quietMs: Int = 300) throws -> [ReceivedMessage] {
        var out: [ReceivedMessage] = []
        while let event = try client.next(timeoutMs: quietMs) {
            if case .message(let m) = event { out.append(m) }
            if case .synced = event { break }
        }
        return out
    }

    /// An ACK the node has taken (its PING answered on the same connection) is applied before the
    /// next connection's ATTACH replays the mailbox: nothing acknowledged is pushed again, whether
    /// the first connection stays open, detaches, or is closed at once.
    func testAnAcknowledgedEntryIsNeverPushedAgainOnTheNextConnection() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bobProfile = try hq.join("bob")
        defer { alice.close() }
        for round in 0..<3 {
            let sent = try send(alice, 10, tag: "round \(round)")
            let first = try Client(profile: bobProfile)
            try first.attach()
            var got: [ReceivedMessage] = []
            let deadline = Clock.monotonicNs() + 10_000_000_000
            while got.count < sent.count, Clock.monotonicNs() < deadline {
                if case .message(let m)? = try first.next(timeoutMs: 200) { got.append(m) }
            }
            XCTAssertEqual(got.map(\.id), sent)
            // The first six acknowledged and taken by the node; the rest left for the next connection.
            try first.ack(got[5].seq)
            try first.flush()
            switch round {
            case 0: break // stays open (and is detached by the next ATTACH)
            case 1: try first.detach()
            default: first.close(lingerMs: 0)
            }
            let second = try Client(profile: bobProfile)
            try second.attach()
            let again = try pushed(second)
            XCTAssertEqual(again.map(\.id), Array(sent[6...]), "round \(round): only what was not acknowledged")
            if let last = again.last { try second.ack(last.seq) }
            try second.flush()
            second.close()
            first.close()
        }
        XCTAssertEqual(try hq.waitingMessages(), 0)
    }

    /// A receiving process killed at every point of its loop, each run on a new connection: taken
    /// and not settled; shown (its seen-log line committed) and killed before its ACK; settled and
    /// flushed; and settled with its ACK sent on the old connection right before the next
    /// connection, already handshaken, sends ATTACH (the two often land in one cycle of the node,
    /// in either order). Every message is shown exactly once, in order, none is lost, and the
    /// mailbox ends empty.
    func testAReaderKilledAroundItsAckOnNewConnectionsShowsEveryMessageExactlyOnce() throws {
        let hq = try TestNode()
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bobProfile = try hq.join("bob")
        defer { alice.close() }
        var sent: [MessageID] = []
        var shown: [MessageID] = []
        var repeats = 0
        struct Killed: Error {}

        /// A connection of the next run, handshaken (a PING answered) so that its ATTACH goes out at once.
        func connected() throws -> Client {
            let c = try Client(profile: bobProfile)
            try c.flush()
            return c
        }

        /// One run of the receiving process on `bob` (a new connection), the seen log read again from disk.
        /// - Returns: the next run's connection when this run's ACK is to race the next ATTACH.
        func run(_ ending: Int, on bob: Client) throws -> Client? {
            let reader = MailboxReader(client: bob, seen: try SeenLog(profilePath: hq.profilePath("bob")), books: nil)
            try reader.attach()
            let deadline = Clock.monotonicNs() + 10_000_000_000
            var synced = false
            while !synced, Clock.monotonicNs() < deadline {
                if case .synced? = try reader.next(timeoutMs: 200) { synced = true }
            }
            XCTAssertTrue(synced, "SYNCED after attach")
            repeats += reader.unacknowledged - reader.batch.count
            func show(_ text: String) { shown += text.split(separator: "\n").compactMap { MessageID(hex: String($0)) } }
            switch ending {
            case 0: // killed before settling: all of it comes again, and is shown then
                bob.close(lingerMs: 0)
                return nil
            case 1: // killed once shown, before its ACK: it comes again, and the seen log drops it
                XCTAssertThrowsError(try reader.settle(render: { $0.map(\.id.hex) }, output: { show($0); throw Killed() }))
                bob.close(lingerMs: 0)
                return nil
            case 2:
                try reader.settle(render: { $0.map(\.id.hex) }, output: show)
                try bob.flush()
                bob.close()
                return nil
            case 3:
                let next = try connected()
                try reader.settle(render: { $0.map(\.id.hex) }, output: show)
                try reader.detach()
                bob.close(lingerMs: 200)
                return next
            default:
                // The next connection's ATTACH first: the node replays the mailbox there while this ACK is on its way.
                let next = try connected()
                try next.attach()
                try reader.settle(render: { $0.map(\.id.hex) }, output: show)
                try reader.detach()
                bob.close(lingerMs: 200)
                return next
            }
        }

        var next: Client?
        for round in 0..<50 {
            sent += try send(alice, 1 + round % 7, tag: "round \(round)")
            next = try run(round % 5, on: next ?? (try connected()))
        }
        // The last two runs take whatever is left (a SYNCED of the raw ATTACH before may have ended one early).
        XCTAssertNil(try run(2, on: next ?? (try connected())))
        XCTAssertNil(try run(2, on: try connected()))
        XCTAssertEqual(Set(shown).count, shown.count, "a message was shown twice (\(shown.count - Set(shown).count) repeats)")
        XCTAssertEqual(Set(shown), Set(sent), "every message shown")
        XCTAssertTrue(shown == sent, "shown in another order than sent")
        XCTAssertEqual(try hq.waitingMessages(), 0, "everything acknowledged in the end")
        print("exactly-once: \(sent.count) messages, \(repeats) deliveries dropped by the seen log as repeats")
    }
}
