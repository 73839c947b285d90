import Foundation
@testable import SealpostNode
import SealpostCore
import Sodium
import XCTest

/// The reactor's audit head with plain values: appends move the tip, the committed head
/// moves only on commit, a rollback puts the tip back, signing is due only after events.
final class AuditLogTests: XCTestCase {
    let event = AuditEvent.userDisabled(user: "zhao", by: AuditActor.operator)

    func testCommittedHeadMovesOnlyOnCommit() throws {
        var log = AuditLog()
        let (first, hash1) = try log.append(event, time: 10)
        XCTAssertEqual(first.position, 1)
        XCTAssertEqual(first.prev, AuditRecord.genesis)
        XCTAssertEqual(hash1, first.hash)
        let (second, _) = try log.append(event, time: 11)
        XCTAssertEqual(second.prev, hash1)
        XCTAssertTrue(log.hasPending)
        XCTAssertEqual(log.committed.position, 0)
        log.committedCycle()
        XCTAssertEqual(log.committed.position, 2)
        XCTAssertEqual(log.committed.hash, second.hash)
        XCTAssertFalse(log.hasPending)
    }

    func testRollbackLeavesTheHeadAndTheNextRecordChainsFromIt() throws {
        var log = AuditLog()
        let (first, _) = try log.append(event, time: 10)
        log.committedCycle()
        let before = log.committed
        _ = try log.append(event, time: 11)
        _ = try log.append(event, time: 12)
        log.rolledBack()
        XCTAssertEqual(log.committed, before)
        XCTAssertEqual(log.tip, before)
        let (again, _) = try log.append(event, time: 13)
        XCTAssertEqual(again.position, 2)
        XCTAssertEqual(again.prev, first.hash)
    }

    func testSigningIsDueOnlyAfterCommittedEventsAndNotForItsOwnCheckpoint() throws {
        let key = SignKeyPair.generate()
        var log = AuditLog()
        XCTAssertFalse(log.signingDue(nowMs: 1_000, everyMs: 60_000), "an empty log is not signed")
        _ = try log.append(event, time: 10)
        XCTAssertFalse(log.needsSigning, "not committed yet")
        log.committedCycle()
        XCTAssertTrue(log.needsSigning)
        XCTAssertFalse(log.signingDue(nowMs: 2_000, everyMs: 60_000), "within the interval")
        XCTAssertEqual(log.msUntilSigning(nowMs: 2_000), 59_000)
        XCTAssertTrue(log.signingDue(nowMs: 61_000, everyMs: 60_000))
        let head = log.headToSign(node: "hq", time: 61_000).signed(with: key)
        XCTAssertEqual(head.position, 1)
        XCTAssertEqual(head.root, AuditTree.leaf(log.committed.hash))
        _ = try log.append(.auditHeadSigned(position: 1, root: head.root), time: 61_000)
        log.committedCycle()
        log.signed(head)
        XCTAssertFalse(log.needsSigning, "the checkpoint record alone does not call for another head")
        XCTAssertNil(log.msUntilSigning(nowMs: 200_000))
    }

    func testAnEventOverTheLimitsIsRefusedAndChangesNothing() throws {
        var log = AuditLog()
        XCTAssertThrowsError(try log.append(.userDisabled(user: String(repeating: "x", count: 256), by: AuditActor.operator), time: 1))
        XCTAssertThrowsError(try log.append(.backup(destination: String(repeating: "/d", count: 2049), by: AuditActor.operator), time: 1))
        XCTAssertFalse(log.hasPending)
        XCTAssertEqual(try log.append(event, time: 2).record.position, 1)
    }

    func testTheSigningIntervalIsReadCheckedAndMisspellingsRefused() throws {
        XCTAssertEqual(try NodeConfig.parse(yaml: "name: hq\n", file: "node.yaml").audit.signEveryS, 60)
        XCTAssertEqual(try NodeConfig.parse(yaml: "name: hq\naudit:\n  sign_every_s: 5\n", file: "node.yaml").audit.signEveryS, 5)
        for bad in ["sign_every_s: 0", "sign_every_s: 86401", "sign_every: 5"] {
            XCTAssertThrowsError(try NodeConfig.parse(yaml: "name: hq\naudit:\n  \(bad)\n", file: "node.yaml"), bad) { error in
                XCTAssertTrue("\(error)".contains("audit.sign_every"), "\(error)")
            }
        }
    }

    func testForeignRecordsAreAdopted() throws {
        var log = AuditLog()
        let r = AuditRecord(position: 1, time: 5, event: event, prev: AuditRecord.genesis)
        log.adopt([(1, r.hash, .userDisabled)])
        XCTAssertEqual(log.committed.position, 1)
        let (next, _) = try log.append(event, time: 6)
        XCTAssertEqual(next.prev, r.hash)
    }
}
