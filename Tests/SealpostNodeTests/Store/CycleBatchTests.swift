import Foundation
@testable import SealpostNode
import SealpostCore
import XCTest

/// The cycle's transaction on its own, over a real database file: what runs when it
/// commits, what runs when it is rolled back, and what the cycle then answers.
final class CycleBatchTests: XCTestCase {
    var root = ""
    var store: NodeStore!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "sealpost-batch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        store = try NodeStore(path: root + "/node.db")
    }

    override func tearDown() {
        store?.close()
        try? FileManager.default.removeItem(atPath: root)
    }

    let alice: [UInt8] = [1], peer: [UInt8] = [2]
    let id = MessageID(bytes: Array(repeating: 7, count: 16))!

    func testCommitRunsAfterCommitActionsInOrderAndNoUndoAndKeepsAcknowledgements() throws {
        let batch = CycleBatch(store: store)
        var log: [String] = []
        try batch.write(ref: id) { try store.setMeta("a", 1) }
        batch.afterCommit { log.append("first") }
        batch.onRollback { log.append("undo") }
        batch.afterCommit { log.append("second") }
        batch.reply(alice, .stored(id: id))
        batch.ack(peer, jid: 5)
        batch.ack(peer, jid: 6)
        var beforeCommitRan = false
        let outcome = batch.finish(beforeCommit: { beforeCommitRan = true }, rolledBack: { XCTFail("rolled back: \($0)") })
        XCTAssertTrue(outcome.committed)
        XCTAssertTrue(beforeCommitRan)
        XCTAssertEqual(log, ["first", "second"])
        XCTAssertEqual(outcome.replies.map(\.1), [.stored(id: id)])
        XCTAssertEqual(outcome.acks[peer], [5, 6])
        XCTAssertEqual(try store.meta("a"), 1)
    }

    func testFailedWriteRollsBackRunsUndosInReverseTurnsAcknowledgementsIntoErrorsAndDropsRelayAcks() throws {
        let batch = CycleBatch(store: store)
        var log: [String] = []
        var mirror = 0
        try batch.write(ref: id) { try store.setMeta("a", 1) }
        mirror = 1
        batch.onRollback { log.append("undo 1"); mirror = 0 }
        batch.afterCommit { log.append("never") }
        try batch.write(ref: id) { try store.setMeta("b", 2) }
        mirror = 2
        batch.onRollback { log.append("undo 2"); mirror = 1 }
        batch.reply(alice, .stored(id: id))
        batch.reply(alice, .enrolled(address: "alice@hq", nodeSignKey: []))
        batch.reply(alice, .pong(attached: true))
        batch.ack(peer, jid: 9)
        struct Broken: Error {}
        XCTAssertThrowsError(try batch.write(ref: id) { throw Broken() }) { XCTAssertTrue($0 is Reactor.StorageFailure) }
        XCTAssertTrue(batch.hasFailed)
        // Later writes of the failed batch are refused without running.
        XCTAssertThrowsError(try batch.write(ref: id) { XCTFail("ran in a failed batch") })
        var reason: Error?
        let outcome = batch.finish(beforeCommit: { XCTFail("a failed batch has no last writes") }, rolledBack: { reason = $0 })
        XCTAssertFalse(outcome.committed)
        XCTAssertNotNil(reason)
        XCTAssertEqual(log, ["undo 2", "undo 1"])
        XCTAssertEqual(mirror, 0)
        XCTAssertEqual(outcome.replies.map(\.1), [
            .error(code: ErrorCode.internalError.rawValue, ref: id, reason: "storage failure, retry later"),
            .error(code: ErrorCode.internalError.rawValue, ref: .zero, reason: "storage failure, retry later"),
            .pong(attached: true),
        ])
        XCTAssertTrue(outcome.acks.isEmpty)
        XCTAssertNil(try store.meta("a"))
        XCTAssertNil(try store.meta("b"))
    }

    func testCommitThatFailsInSQLiteRollsBackTheRowsAndRunsTheUndos() throws {
        let fault = try CommitFault(databasePath: root + "/node.db")
        try fault.arm("meta", when: "NEW.key = 'doomed'")
        let batch = CycleBatch(store: store)
        var undone = false, committedAction = false
        try batch.write(ref: id) {
            try store.setMeta("kept", 1)
            try store.setMeta("doomed", 1)
        }
        batch.onRollback { undone = true }
        batch.afterCommit { committedAction = true }
        batch.reply(alice, .viewing(Envelope(id: id, from: "bob@hq", to: "alice@hq", kind: 1, sentAt: 0, body: [])))
        var reason: Error?
        let outcome = batch.finish(beforeCommit: {}, rolledBack: { reason = $0 })
        XCTAssertFalse(outcome.committed)
        XCTAssertTrue("\(reason!)".contains("FOREIGN KEY"), "\(reason!)")
        XCTAssertTrue(undone)
        XCTAssertFalse(committedAction)
        XCTAssertEqual(outcome.replies.map(\.1), [.error(code: ErrorCode.internalError.rawValue, ref: id, reason: "storage failure, retry later")])
        XCTAssertNil(try store.meta("kept"))

        // The next batch starts clean: nothing of the failed one is left in it.
        try fault.disarm()
        try batch.write(ref: id) { try store.setMeta("kept", 2) }
        let next = batch.finish(beforeCommit: {}, rolledBack: { XCTFail("rolled back: \($0)") })
        XCTAssertTrue(next.committed)
        XCTAssertTrue(next.replies.isEmpty)
        XCTAssertEqual(try store.meta("kept"), 2)
    }

    func testBatchWithoutWritesCountsAsCommitted() throws {
        let batch = CycleBatch(store: store)
        var ran = false
        batch.afterCommit { ran = true }
        batch.onRollback { XCTFail("nothing to roll back") }
        batch.reply(alice, .pong(attached: false))
        let outcome = batch.finish(beforeCommit: { XCTFail("no transaction: no last writes") }, rolledBack: { XCTFail("\($0)") })
        XCTAssertTrue(outcome.committed)
        XCTAssertTrue(ran)
        XCTAssertEqual(outcome.replies.map(\.1), [.pong(attached: false)])
    }

    func testRepliesAddedByAfterCommitActionsAreSentWithTheBatch() throws {
        let batch = CycleBatch(store: store)
        try batch.write(ref: id) { try store.setMeta("a", 1) }
        batch.afterCommit { batch.reply(self.alice, .pong(attached: true)) }
        let outcome = batch.finish(beforeCommit: {}, rolledBack: { XCTFail("\($0)") })
        XCTAssertEqual(outcome.replies.map(\.1), [.pong(attached: true)])
    }

    func testPushesAreTakenOnceInSeqOrder() throws {
        let batch = CycleBatch(store: store)
        let e = Envelope(id: id, from: "a@hq", to: "b@hq", kind: 1, sentAt: 0, body: [])
        batch.push(to: "b", seq: 3, e)
        batch.push(to: "b", seq: 4, e)
        XCTAssertEqual(batch.takePushes()["b"]?.map(\.0), [3, 4])
        XCTAssertTrue(batch.takePushes().isEmpty)
    }
}
