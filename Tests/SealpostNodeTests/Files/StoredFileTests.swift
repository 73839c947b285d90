@testable import SealpostNode
import SealpostCore
import XCTest

/// A file's transfer with plain values: uploading, pulling (windows, gaps, timeouts, the
/// next hop changing), complete, failed, damaged chunks and rolled-back writes.
final class StoredFileTests: XCTestCase {
    let t0: UInt64 = 1_000_000_000_000
    let id = FileID(bytes: Array(repeating: 0xF0, count: 16))!

    func file(owner: String = "", chunks: UInt32 = 100, have: UInt32 = 0) -> StoredFile {
        StoredFile(record: FileRecord(id: id, origin: owner.isEmpty ? "province" : "hq", owner: owner, size: UInt64(chunks) * 131_088,
                                      chunks: chunks, have: have, createdAt: 1, completedAt: have == chunks ? 2 : nil))
    }

    func testStateFollowsTheRecordAtLoad() {
        XCTAssertEqual(file(owner: "bob").state, .uploading(uploader: nil))
        XCTAssertEqual(file(have: 7).state, .pulling(via: nil, requested: 7, lastData: 0))
        XCTAssertEqual(file(have: 7).written, 7)
        XCTAssertEqual(file(owner: "bob", have: 100).state, .complete)
        XCTAssertEqual(file(have: 100).state, .complete)
        XCTAssertFalse(file(have: 100).isPulling)
    }

    func testTheUploaderIsTheLastSessionHeard() {
        let f = file(owner: "bob")
        f.uploadHeard(from: [1])
        f.uploadHeard(from: [2])
        XCTAssertEqual(f.uploader, [2])
        XCTAssertNil(f.pullVia)
        let done = file(owner: "bob", have: 100)
        done.uploadHeard(from: [1])
        XCTAssertEqual(done.state, .complete, "a FILE-BEGIN for a complete file only gets its status")
    }

    func testAPullAsksAWindowAtATimeAndMoreAsChunksArrive() {
        let f = file()
        XCTAssertNil(f.pull(via: nil, now: t0), "no way to the origin: nothing asked")
        XCTAssertEqual(f.state, .pulling(via: nil, requested: 0, lastData: 0))
        let first = f.pull(via: "city", now: t0)
        XCTAssertEqual(first?.from, 0)
        XCTAssertEqual(first?.count, 16)
        XCTAssertEqual(f.state, .pulling(via: "city", requested: 16, lastData: t0))
        XCTAssertNil(f.pull(via: "city", now: t0 + 1), "more than half a window is on the way")
        f.written = 8
        let second = f.pull(via: "city", now: t0 + 2)
        XCTAssertEqual(second?.from, 16)
        XCTAssertEqual(second?.count, 16)
        XCTAssertEqual(f.state, .pulling(via: "city", requested: 32, lastData: t0), "the clock runs from the oldest ask")
    }

    func testAPullHoldsBackWhileTheWriterIsBehind() {
        let f = file()
        // 48 chunks asked for and received, none durable yet: a slow disk holds the pull back.
        f.written = 0
        for _ in 0..<3 {
            _ = f.pull(via: "city", now: t0)
            f.written += 16
        }
        XCTAssertEqual(f.state, .pulling(via: "city", requested: 48, lastData: t0))
        let fourth = f.pull(via: "city", now: t0)
        XCTAssertEqual(fourth?.from, 48)
        XCTAssertEqual(fourth?.count, 16, "48 outstanding: one more window at most")
        f.written = 64
        XCTAssertNil(f.pull(via: "city", now: t0), "64 outstanding past `have`: wait for the writer")
        _ = f.durable(through: 40, nowMs: 5)
        XCTAssertEqual(f.pull(via: "city", now: t0)?.count, 16)
    }

    func testASilentPullOrANewNextHopAsksAgainFromWhatArrived() {
        let f = file()
        _ = f.pull(via: "city", now: t0)
        f.written = 4
        XCTAssertNil(f.pull(via: "city", now: t0 + FileTransfers.pullTimeoutNs), "3 s exactly: still waiting")
        f.dataArrived(now: t0 + 2_000_000_000)
        XCTAssertNil(f.pull(via: "city", now: t0 + 4_000_000_000), "data came at 2 s: not silent")
        let again = f.pull(via: "city", now: t0 + 5_000_000_001)
        XCTAssertEqual(again?.from, 4, "silent past 3 s: asked again from what arrived")
        let rerouted = f.pull(via: "town", now: t0 + 5_000_000_002)
        XCTAssertEqual(rerouted?.from, 4, "another next hop is asked from what arrived")
        XCTAssertEqual(f.pullVia, "town")
    }

    func testAGapAsksAgain() {
        let f = file()
        _ = f.pull(via: "city", now: t0)
        f.written = 3
        f.askAgain()
        XCTAssertEqual(f.state, .pulling(via: "city", requested: 3, lastData: t0))
        XCTAssertEqual(f.pull(via: "city", now: t0)?.from, 3)
    }

    func testTheLastDurableChunkCompletesItAndARollbackUndoesThat() {
        let f = file(chunks: 20)
        _ = f.pull(via: "city", now: t0)
        f.written = 16
        _ = f.pull(via: "city", now: t0)
        f.written = 20
        let mid = f.durable(through: 16, nowMs: 5)
        XCTAssertEqual(mid, .pulling(via: "city", requested: 20, lastData: t0))
        XCTAssertEqual(f.record.have, 16)
        let before = f.durable(through: 20, nowMs: 6)
        XCTAssertEqual(f.state, .complete)
        XCTAssertTrue(f.isComplete)
        XCTAssertEqual(f.record.completedAt, 6)
        // The batch is rolled back: the undos run last first.
        f.rolledBack(to: before, have: 16, completedAt: nil)
        f.rolledBack(to: mid, have: 0, completedAt: nil)
        XCTAssertEqual(f.record.have, 0)
        XCTAssertNil(f.record.completedAt)
        XCTAssertEqual(f.written, 0, "what was on disk and not recorded is expected again")
        XCTAssertEqual(f.state, .pulling(via: "city", requested: 0, lastData: t0))
        XCTAssertEqual(f.pull(via: "city", now: t0)?.from, 0)
    }

    func testAnUploadCompletesAndKeepsItsUploaderThroughARollback() {
        let f = file(owner: "bob", chunks: 2)
        f.uploadHeard(from: [9])
        f.written = 2
        let before = f.durable(through: 2, nowMs: 7)
        XCTAssertEqual(before, .uploading(uploader: [9]))
        XCTAssertEqual(f.state, .complete)
        XCTAssertNil(f.uploader)
        f.rolledBack(to: before, have: 0, completedAt: nil)
        XCTAssertEqual(f.state, .uploading(uploader: [9]))
        XCTAssertEqual(f.written, 0)
    }

    func testAFailedFileStaysFailed() {
        let f = file(chunks: 20)
        _ = f.pull(via: "city", now: t0)
        f.fail(.unknownAddress, "the file is no longer on province")
        XCTAssertEqual(f.failure?.code, .unknownAddress)
        XCTAssertFalse(f.isPulling)
        XCTAssertNil(f.pullVia, "late FILE-DATA is not taken")
        f.askAgain()
        f.written = 20
        _ = f.durable(through: 20, nowMs: 3)
        XCTAssertEqual(f.state, .failed(code: .unknownAddress, reason: "the file is no longer on province"))
        f.damaged(at: 4)
        XCTAssertNotNil(f.failure)
    }

    func testADamagedChunkIsFetchedAgainFromItsSource() {
        let pulled = file(chunks: 20, have: 20)
        pulled.damaged(at: 5)
        XCTAssertEqual(pulled.record.have, 5)
        XCTAssertNil(pulled.record.completedAt)
        XCTAssertEqual(pulled.written, 5)
        XCTAssertEqual(pulled.state, .pulling(via: nil, requested: 5, lastData: 0))
        XCTAssertEqual(pulled.pull(via: "city", now: t0)?.from, 5)

        let uploaded = file(owner: "bob", chunks: 20, have: 20)
        uploaded.damaged(at: 0)
        XCTAssertEqual(uploaded.state, .uploading(uploader: nil), "the uploader's next attempt sends it again")

        let uploading = file(owner: "bob", chunks: 20, have: 10)
        uploading.uploadHeard(from: [3])
        uploading.damaged(at: 2)
        XCTAssertEqual(uploading.state, .uploading(uploader: [3]))
        XCTAssertEqual(uploading.written, 2)
    }
}
