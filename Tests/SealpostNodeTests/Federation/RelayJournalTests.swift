@testable import SealpostNode
import SealpostCore
import XCTest

/// The relay journal's memory with plain entries: queues per destination in journal
/// order, sends, resends after a failed send or link, acknowledgements.
final class RelayJournalTests: XCTestCase {
    func entry(_ jid: UInt64, to dest: String = "province", createdMs: UInt64? = nil) -> RelayJournal.Entry {
        let envelope = Envelope(id: MessageID(bytes: Array(repeating: UInt8(jid & 0xff), count: 16))!, from: "li@district",
                                to: "zhao@\(dest)", kind: .text, sentAt: 1, body: Array("m\(jid)".utf8))
        return RelayJournal.Entry(jid: jid, dest: dest, origin: "district", streamSeq: jid, hops: 0, envelope: envelope,
                                  createdMs: createdMs ?? 1000 + jid)
    }

    func testEntriesWaitPerDestinationOldestFirst() {
        var journal = RelayJournal()
        XCTAssertTrue(journal.isEmpty)
        for jid in [1, 2, 3] as [UInt64] { journal.add(entry(jid)) }
        journal.add(entry(4, to: "city"))
        XCTAssertEqual(journal.count, 4)
        XCTAssertEqual(journal.destinationsWaiting, ["city", "province"])
        XCTAssertEqual(journal.queuedCount(dest: "province"), 3)
        XCTAssertEqual(journal.oldestQueuedMs(dest: "province"), 1001)
        XCTAssertEqual(journal.take(dest: "province", limit: 0).map(\.jid), [], "no room: nothing taken")
        XCTAssertEqual(journal.take(dest: "province", limit: 2).map(\.jid), [1, 2])
        XCTAssertEqual(journal.oldestQueuedMs(dest: "province"), 1003)
        XCTAssertEqual(journal.take(dest: "province", limit: 10).map(\.jid), [3])
        XCTAssertEqual(journal.destinationsWaiting, ["city"], "taken entries are not waiting")
        XCTAssertEqual(journal.count, 4, "taken is not forgotten: only an acknowledgement removes")
        XCTAssertEqual(journal.take(dest: "mars", limit: 10).map(\.jid), [])
    }

    func testSentEntriesCountAttemptsAndAResendGoesBackBeforeNewerOnes() {
        var journal = RelayJournal()
        for jid in 1...5 as ClosedRange<UInt64> { journal.add(entry(jid)) }
        for e in journal.take(dest: "province", limit: 3) { journal.markSent(e.jid, to: "city") }
        XCTAssertEqual(journal.entries[2]?.sentTo, "city")
        XCTAssertEqual(journal.entries[2]?.attempts, 1)
        // Link failed: what was in flight goes back, in journal order, before 4 and 5.
        for jid in [3, 1, 2] as [UInt64] { journal.requeue(jid) }
        XCTAssertNil(journal.entries[2]?.sentTo)
        XCTAssertEqual(journal.take(dest: "province", limit: 10).map(\.jid), [1, 2, 3, 4, 5])
        journal.markSent(1, to: "city")
        XCTAssertEqual(journal.entries[1]?.attempts, 2, "a resend is another attempt (its backoff grows)")
    }

    func testEntriesTakenButNotSentGoBackInOrder() {
        // dispatchJournal: the pipe filled after the first send; the rest go back.
        var journal = RelayJournal()
        for jid in 1...4 as ClosedRange<UInt64> { journal.add(entry(jid)) }
        let batch = journal.take(dest: "province", limit: 3)
        journal.markSent(batch[0].jid, to: "city")
        for rest in batch[1...] { journal.requeue(rest.jid) }
        XCTAssertEqual(journal.take(dest: "province", limit: 10).map(\.jid), [2, 3, 4])
    }

    func testARequeueOfAQueuedEntryDoesNotQueueItTwice() {
        var journal = RelayJournal()
        for jid in 1...3 as ClosedRange<UInt64> { journal.add(entry(jid)) }
        journal.requeue(2)
        journal.requeue(3)
        journal.requeue(99)
        XCTAssertEqual(journal.queuedCount(dest: "province"), 3)
        XCTAssertEqual(journal.take(dest: "province", limit: 10).map(\.jid), [1, 2, 3])
    }

    func testAcknowledgedEntriesAreForgottenWhetherQueuedOrSent() {
        var journal = RelayJournal()
        for jid in 1...3 as ClosedRange<UInt64> { journal.add(entry(jid)) }
        let sent = journal.take(dest: "province", limit: 1)
        journal.markSent(sent[0].jid, to: "city")
        XCTAssertEqual(journal.remove(1)?.jid, 1)
        XCTAssertEqual(journal.remove(3)?.jid, 3, "a queued entry acknowledged through another copy")
        XCTAssertNil(journal.remove(3))
        XCTAssertEqual(journal.count, 1)
        XCTAssertEqual(journal.queuedCount(dest: "province"), 1, "out of its queue too")
        XCTAssertEqual(journal.take(dest: "province", limit: 10).map(\.jid), [2])
        XCTAssertEqual(journal.destinationsWaiting, [])
    }

    func testReplacedEnvelopeKeepsItsPlace() {
        var journal = RelayJournal()
        for jid in 1...2 as ClosedRange<UInt64> { journal.add(entry(jid)) }
        let notice = entry(9).envelope
        journal.replaceEnvelope(1, with: notice)
        let taken = journal.take(dest: "province", limit: 10)
        XCTAssertEqual(taken.map(\.jid), [1, 2])
        XCTAssertEqual(taken[0].envelope.id, notice.id)
    }

    func testALongQueueStaysInOrderAcrossItsCompaction() {
        var journal = RelayJournal()
        for jid in 1...10_000 as ClosedRange<UInt64> { journal.add(entry(jid)) }
        var seen: [UInt64] = []
        var batches = 0
        while true {
            let batch = journal.take(dest: "province", limit: 1000)
            guard !batch.isEmpty else { break }
            batches += 1
            // Every third batch fails after its first entry: the rest go back.
            if batches % 3 == 0 {
                seen.append(batch[0].jid)
                for rest in batch[1...] { journal.requeue(rest.jid) }
            } else {
                seen += batch.map(\.jid)
            }
        }
        XCTAssertEqual(seen, Array(1...10_000))
    }
}
