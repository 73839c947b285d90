import SealpostCore
import XCTest
@testable import SealpostClient

/// `UploadMachine` and `DownloadMachine` with plain values: transitions, timeouts by `now`, restarts.
final class TransferMachineTests: XCTestCase {
    let s: UInt64 = 1_000_000_000

    func upload(chunks: UInt32 = 40, window: UInt32 = 16) -> UploadMachine {
        UploadMachine(chunks: chunks, window: window, timeoutNs: 10 * s, retransmitNs: 2 * s, now: 0)
    }

    /// Sends every chunk the window allows; returns their indexes.
    func sendAll(_ m: inout UploadMachine) -> [UInt32] {
        var out: [UInt32] = []
        while let i = m.nextToSend { m.sent(i); out.append(i) }
        return out
    }

    func testUploadBeginsThenSendsWithinTheWindowAndCompletes() {
        var m = upload()
        XCTAssertEqual(m.start(), [.sendBegin])
        XCTAssertNil(m.nextToSend, "nothing before the node says how much it has")
        XCTAssertEqual(m.fileStatus(durable: 0, now: s), [.rewind(to: 0), .progress(0)])
        XCTAssertEqual(sendAll(&m), Array(0..<16), "a window of 16")
        XCTAssertEqual(m.fileStatus(durable: 10, now: 2 * s), [.progress(10)])
        XCTAssertEqual(sendAll(&m), Array(16..<26), "the window moves with what is durable")
        XCTAssertEqual(m.fileStatus(durable: 10, now: 3 * s), [], "no progress: nothing new to say")
        XCTAssertEqual(m.fileStatus(durable: 26, now: 4 * s), [.progress(26)])
        XCTAssertEqual(sendAll(&m), Array(26..<40))
        XCTAssertEqual(m.fileStatus(durable: 40, now: 5 * s), [.progress(40)])
        XCTAssertEqual(m.state, .complete)
        XCTAssertNil(m.nextToSend)
    }

    func testUploadResumesWhereTheNodesCopyEnds() {
        var m = upload()
        _ = m.start()
        XCTAssertEqual(m.fileStatus(durable: 30, now: s), [.rewind(to: 30), .progress(30)])
        XCTAssertEqual(sendAll(&m), Array(30..<40))
        var whole = upload()
        _ = whole.start()
        XCTAssertEqual(whole.fileStatus(durable: 40, now: s), [.rewind(to: 40), .progress(40)])
        XCTAssertEqual(whole.state, .complete, "all there already: nothing to send")
    }

    func testFileBeginIsSentAgainThenGivesUp() {
        var m = upload()
        _ = m.start()
        XCTAssertEqual(m.tick(now: s), [])
        XCTAssertEqual(m.tick(now: 2 * s), [.sendBegin])
        XCTAssertEqual(m.tick(now: 3 * s), [])
        XCTAssertEqual(m.tick(now: 4 * s), [.sendBegin])
        XCTAssertEqual(m.tick(now: 11 * s), [])
        XCTAssertEqual(m.state, .failed(.unreachable))
    }

    /// A node that restarted lost chunks that were not durable: it refuses what follows as out
    /// of order (400); the upload begins again, passing over the other refusals still coming.
    func testOutOfOrderRefusalsRestartFromTheDurableCopyAtMostThreeTimes() {
        var m = upload()
        _ = m.start()
        _ = m.fileStatus(durable: 0, now: 0)
        _ = sendAll(&m)
        _ = m.fileStatus(durable: 5, now: s)
        for restart in 1...3 {
            XCTAssertEqual(m.error(code: 400, reason: "out of order", now: 2 * s), [.sendBegin], "restart \(restart)")
            XCTAssertEqual(m.error(code: 400, reason: "out of order", now: 2 * s), [], "later refusals passed over")
            XCTAssertEqual(m.error(code: 404, reason: "no such upload", now: 2 * s), [])
            XCTAssertEqual(m.fileStatus(durable: 3, now: 3 * s), [.rewind(to: 3), .progress(3)])
            XCTAssertEqual(m.nextToSend, 3, "from the durable copy, even behind what was acknowledged before")
            _ = sendAll(&m)
        }
        XCTAssertEqual(m.error(code: 400, reason: "out of order", now: 4 * s), [])
        XCTAssertEqual(m.state, .failed(.refused(code: 400, reason: "out of order")))
    }

    func testRefusalsForGoodAndAFullNodeDropTheResumePoint() {
        var m = upload()
        _ = m.start()
        XCTAssertEqual(m.error(code: 413, reason: "too large", now: 0), [], "at FILE-BEGIN: refused")
        XCTAssertEqual(m.state, .failed(.refused(code: 413, reason: "too large")))
        var full = upload()
        _ = full.start()
        _ = full.fileStatus(durable: 0, now: 0)
        XCTAssertEqual(full.error(code: 507, reason: "full", now: s), [.forgetResumePoint])
        XCTAssertEqual(full.state, .failed(.refused(code: 507, reason: "full")))
    }

    func testASilentNodeRestartsTheUploadThenStalls() {
        var m = upload()
        _ = m.start()
        _ = m.fileStatus(durable: 0, now: 0)
        _ = sendAll(&m)
        XCTAssertEqual(m.tick(now: 10 * s), [], "silent for exactly the timeout: not yet")
        XCTAssertEqual(m.tick(now: 10 * s + 1), [.sendBegin])
        XCTAssertEqual(m.tick(now: 21 * s), [], "the new FILE-BEGIN unanswered")
        XCTAssertEqual(m.state, .failed(.stalled))
    }

    // MARK: download

    func download(chunks: UInt32 = 40, next: UInt32 = 0) -> DownloadMachine {
        DownloadMachine(chunks: chunks, next: next, window: 16, checkpointEvery: 8, timeoutNs: 10 * s, reaskNs: 3 * s, now: 0)
    }

    func testDownloadAsksAheadAcceptsInOrderAndCheckpoints() {
        var m = download(chunks: 20)
        XCTAssertEqual(m.start(now: 0), [.ask(from: 0, count: 16)])
        for i in UInt32(0)..<7 { XCTAssertEqual(m.chunk(index: i, now: s), [.accept(i)]) }
        XCTAssertEqual(m.chunk(index: 7, now: s), [.accept(7), .checkpoint(chunks: 8), .ask(from: 16, count: 4)],
                       "half the window in: the rest asked for")
        XCTAssertEqual(m.chunk(index: 7, now: s), [], "a repeat is passed over")
        XCTAssertEqual(m.chunk(index: 12, now: s), [], "out of order: not taken")
        for i in UInt32(8)..<19 { _ = m.chunk(index: i, now: s) }
        XCTAssertEqual(m.chunk(index: 19, now: s), [.accept(19)], "the last: no checkpoint, the file is renamed")
        XCTAssertEqual(m.state, .complete)
    }

    func testDownloadResumesFromItsCheckpointAndAsksAgainWhenTheNodeIsSilent() {
        var m = download(next: 24)
        XCTAssertEqual(m.start(now: 0), [.ask(from: 24, count: 16)])
        XCTAssertEqual(m.chunk(index: 24, now: s), [.accept(24)])
        XCTAssertEqual(m.tick(now: 3 * s), [], "not silent long enough")
        XCTAssertEqual(m.tick(now: 4 * s + 1), [.ask(from: 25, count: 15)], "asked again from the next missing chunk")
        XCTAssertEqual(m.tick(now: 5 * s), [], "just asked")
        m.fileStatus(have: 30, now: 6 * s)
        XCTAssertEqual(m.tick(now: 17 * s), [.checkpoint(chunks: 25)])
        XCTAssertEqual(m.state, .failed(.stalled(nodeHas: 30)), "the node was still pulling it")
        XCTAssertTrue(download(chunks: 3, next: 3).state == .complete)
    }

    func testADownloadRefusedStops() {
        var m = download()
        _ = m.start(now: 0)
        m.error(code: 410, reason: "gone")
        XCTAssertEqual(m.state, .failed(.refused(code: 410, reason: "gone")))
        XCTAssertEqual(m.chunk(index: 0, now: s), [])
    }
}
