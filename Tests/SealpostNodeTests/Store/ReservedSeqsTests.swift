@testable import SealpostNode
import XCTest

/// Seqs reserved a block at a time (hi/lo), with plain values: what is handed out, when a
/// reservation is asked for, what a rollback undoes, and where a restart begins.
final class ReservedSeqsTests: XCTestCase {
    /// A start, then a cycle that takes `count` seqs and commits with the reservation it wants.
    private func committedCycle(_ seqs: inout ReservedSeqs, taking count: Int) -> [UInt64] {
        let taken = (0..<count).map { _ in seqs.take() }
        if let end = seqs.wanted() { seqs.writing(end) }
        seqs.committed()
        return taken
    }

    func testHandsOutConsecutiveSeqsFromWhereTheReservationEnds() {
        var seqs = ReservedSeqs(saved: 100, block: 8)
        XCTAssertEqual(seqs.next, 100)
        XCTAssertEqual((0..<5).map { _ in seqs.take() }, [100, 101, 102, 103, 104])
        XCTAssertEqual(seqs.next, 105)
    }

    func testAStartAsksForABlockAndNothingLeavesEarlyBeforeItCommits() {
        var seqs = ReservedSeqs(saved: 100, block: 8)
        XCTAssertNil(seqs.wanted(), "nothing taken: nothing to reserve yet")
        XCTAssertEqual(seqs.wanted(taking: 1), 109, "a seq to take before any commit: a block past it")
        let first = seqs.take()
        XCTAssertFalse(seqs.isSaved(first), "past the committed end: it waits for the commit")
        XCTAssertEqual(seqs.wanted(), 109, "the first seq taken asks for a block past it")
        seqs.writing(109)
        XCTAssertNil(seqs.wanted(), "written in the open transaction: not asked for again")
        XCTAssertFalse(seqs.isSaved(first), "written is not committed")
        seqs.committed()
        XCTAssertTrue(seqs.isSaved(first))
        XCTAssertTrue(seqs.isSaved(108))
        XCTAssertFalse(seqs.isSaved(109))
    }

    func testTheBlockRunningLowAsksForTheNextOneAndOnlyThen() {
        var seqs = ReservedSeqs(saved: 1, block: 8)
        _ = committedCycle(&seqs, taking: 1)
        XCTAssertEqual(seqs.saved, 10, "seqs 1…9 reserved")
        for _ in 0..<4 {
            _ = seqs.take()
            XCTAssertNil(seqs.wanted(), "half a block or more left: no write")
        }
        XCTAssertEqual(seqs.next, 6)
        _ = seqs.take()
        XCTAssertEqual(seqs.wanted(), 15, "three left, under half of eight: the next block, ahead of running out")
        XCTAssertTrue(seqs.isSaved(6), "the seqs of this block still leave early meanwhile")
        seqs.writing(15)
        seqs.committed()
        XCTAssertEqual(seqs.saved, 15)
        XCTAssertNil(seqs.wanted())
    }

    func testACycleThatRunsPastTheEndAsksForABlockPastItsLastSeq() {
        var seqs = ReservedSeqs(saved: 1, block: 8)
        _ = committedCycle(&seqs, taking: 1)
        let taken = (0..<20).map { _ in seqs.take() }
        XCTAssertEqual(taken.filter { seqs.isSaved($0) }, Array(2...9), "only those below the committed end leave early")
        XCTAssertEqual(seqs.wanted(), 22 + 8)
    }

    func testARollbackUndoesTheUncommittedReservationButNeverTheSeqsTaken() throws {
        var seqs = ReservedSeqs(saved: 1, block: 8)
        _ = committedCycle(&seqs, taking: 1)
        XCTAssertEqual(seqs.saved, 10)
        let taken = (0..<9).map { _ in seqs.take() }
        XCTAssertEqual(taken, Array(2...10))
        let end = try XCTUnwrap(seqs.wanted())
        seqs.writing(end)
        seqs.rolledBack()
        XCTAssertEqual(seqs.saved, 10, "the end is the one committed")
        XCTAssertFalse(seqs.isSaved(10), "seq 10 was past it: it did not leave early and cannot leave now")
        XCTAssertEqual(seqs.next, 11, "a seq taken in the rolled-back cycle may have left: it is not handed out again")
        XCTAssertEqual(seqs.wanted(), 19, "the next cycle asks for the block again, from where the seqs are")
        XCTAssertEqual(seqs.take(), 11)
        seqs.writing(try XCTUnwrap(seqs.wanted()))
        seqs.committed()
        XCTAssertEqual(seqs.saved, 20)
        XCTAssertTrue(seqs.isSaved(11))
    }

    func testACommitWithoutAWriteChangesNothingAndTwoWritesKeepTheLarger() {
        var seqs = ReservedSeqs(saved: 50, block: 4)
        seqs.committed()
        XCTAssertEqual(seqs.saved, 50)
        seqs.writing(60)
        seqs.writing(55)
        seqs.committed()
        XCTAssertEqual(seqs.saved, 60)
        seqs.writing(40)
        seqs.committed()
        XCTAssertEqual(seqs.saved, 60, "an end never moves back")
    }

    func testARestartBeginsAtTheSavedEndOrPastTheHighestRow() {
        var before = ReservedSeqs(saved: 1, block: 8)
        let left = committedCycle(&before, taking: 3) + (0..<3).map { _ in before.take() }
        // A crash: the database keeps the committed end (12) and the rows of committed cycles (1…3).
        XCTAssertEqual(before.saved, 12)
        let restarted = ReservedSeqs(saved: before.saved, above: 3, block: 8)
        XCTAssertEqual(restarted.next, 12, "from the end of the reservation, not from the rows")
        XCTAssertTrue(left.allSatisfy { $0 < restarted.next }, "every seq handed out before the crash stays behind")
        let fromRows = ReservedSeqs(saved: 10, above: 41, block: 8)
        XCTAssertEqual(fromRows.next, 42, "a mailbox higher than the reservation (an older database): past its rows")
        XCTAssertNil(fromRows.wanted())
        XCTAssertEqual(fromRows.wanted(taking: 1), 51)
        XCTAssertEqual(ReservedSeqs(saved: 0, block: 8).next, 1, "nothing stored, nothing reserved: from 1")
    }

    func testNoSeqThatLeftEarlyComesAgainAfterACrashAtAnyPoint() {
        // Cycles of varying size, some rolled back; after each, a crash: a restart from what was
        // committed never hands out a seq that left before (early, or after its commit).
        var seqs = ReservedSeqs(saved: 1, block: 16)
        var left: UInt64 = 0
        var highestRow: UInt64 = 0
        for (cycle, count) in [1, 3, 7, 20, 2, 9, 40, 1, 15].enumerated() {
            let taken = (0..<count).map { _ in seqs.take() }
            for seq in taken where seqs.isSaved(seq) { left = max(left, seq) }
            if let end = seqs.wanted() { seqs.writing(end) }
            if cycle % 3 == 2 {
                seqs.rolledBack()
            } else {
                seqs.committed()
                highestRow = taken.last ?? highestRow
                left = max(left, highestRow)
            }
            let restarted = ReservedSeqs(saved: seqs.saved, above: highestRow, block: 16)
            XCTAssertGreaterThan(restarted.next, left, "cycle \(cycle)")
        }
    }

    func testTheEndStaysWithinWhatTheDatabaseStores() {
        var seqs = ReservedSeqs(saved: ReservedSeqs.maxEnd - 3, block: 8)
        XCTAssertEqual(seqs.wanted(taking: 1), ReservedSeqs.maxEnd)
        _ = seqs.take()
        XCTAssertEqual(ReservedSeqs(saved: .max, block: 8).saved, ReservedSeqs.maxEnd)
    }
}
