import Foundation
@testable import SealpostNode
import SealpostCore
import Sodium
import XCTest

/// The reactor's audit head with plain values: appends move the tip, the committed head
/// moves only on commit, a rollback puts the tip back, signing is due only after events.
final class AuditLogTests: XCTestCase {
    let event = AuditEvent.userDisabled(user: "zhao", by: AuditActor.operator)

    func testCommittedHeadMovesOnlyOnCommit() {
        var log = AuditLog()
        let (first, hash1) = log.append(event, time: 10)
        XCTAssertEqual(first.position, 1)
        XCTAssertEqual(first.prev, AuditRecord.genesis)
        XCTAssertEqual(hash1, first.hash)
        let (second, _) = log.append(event, time: 11)
        XCTAssertEqual(second.prev, hash1)
        XCTAssertTrue(log.hasPending)
        XCTAssertEqual(log.committed.position, 0)
        log.committedCycle()
        XCTAssertEqual(log.committed.position, 2)
        XCTAssertEqual(log.committed.hash, second.hash)
        XCTAssertFalse(log.hasPending)
    }

    func testRollbackLeavesTheHeadAndTheNextRecordChainsFromIt() {
        var log = AuditLog()
        let (first, _) = log.append(event, time: 10)
        log.committedCycle()
        let before = log.committed
        _ = log.append(event, time: 11)
        _ = log.append(event, time: 12)
        log.rolledBack()
        XCTAssertEqual(log.committed, before)
        XCTAssertEqual(log.tip, before)
        let (again, _) = log.append(event, time: 13)
        XCTAssertEqual(again.position, 2)
        XCTAssertEqual(again.prev, first.hash)
    }

    func testSigningIsDueOnlyAfterCommittedEventsAndNotForItsOwnCheckpoint() {
        let key = SignKeyPair.generate()
        var log = AuditLog()
        XCTAssertFalse(log.signingDue(nowMs: 1_000, everyMs: 60_000), "an empty log is not signed")
        _ = log.append(event, time: 10)
        XCTAssertFalse(log.needsSigning, "not committed yet")
        log.committedCycle()
        XCTAssertTrue(log.needsSigning)
        XCTAssertFalse(log.signingDue(nowMs: 2_000, everyMs: 60_000), "within the interval")
        XCTAssertEqual(log.msUntilSigning(nowMs: 2_000), 59_000)
        XCTAssertTrue(log.signingDue(nowMs: 61_000, everyMs: 60_000))
        let head = log.headToSign(node: "hq", time: 61_000).signed(with: key)
        XCTAssertEqual(head.position, 1)
        XCTAssertEqual(head.root, AuditTree.leaf(log.committed.hash))
        _ = log.append(.auditHeadSigned(position: 1, root: head.root), time: 61_000)
        log.committedCycle()
        log.signed(head)
        XCTAssertFalse(log.needsSigning, "the checkpoint record alone does not call for another head")
        XCTAssertNil(log.msUntilSigning(nowMs: 200_000))
    }

    func testForeignRecordsAreAdopted() {
        var log = AuditLog()
        let r = AuditRecord(position: 1, time: 5, event: event, prev: AuditRecord.genesis)
        log.adopt([(1, r.hash, .userDisabled)])
        XCTAssertEqual(log.committed.position, 1)
        let (next, _) = log.append(event, time: 6)
        XCTAssertEqual(next.prev, r.hash)
    }
}
