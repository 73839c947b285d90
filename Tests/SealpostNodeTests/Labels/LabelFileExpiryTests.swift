import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// 保密期限 for files (protocol/SPEC.md 7.11.9), with real nodes: a file's chunks go from the
/// sender's node and from a node that pulled a copy at the readable-until time of the message
/// that offered it, and a FILE-GET is then answered `ERROR 410`.
final class LabelFileExpiryTests: XCTestCase {
    func makeFile(_ dir: String, _ name: String, size: Int) throws -> String {
        let path = dir + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(Sodium.randomBytes(size))))
        return path
    }

    /// The first file offer that arrives for `client` (acknowledged).
    func offer(_ client: Client) throws -> FileManifest {
        try client.attach()
        defer { try? client.detach(); try? client.flush() }
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while Clock.monotonicNs() < deadline {
            guard let event = try client.next(timeoutMs: 50) else { continue }
            if case .message(let m) = event {
                try client.ack(m.seq)
                if let file = m.file { return file }
            }
        }
        throw TimedOut(description: "no file offer within 10 s")
    }

    func chunkFile(_ node: TestNode, _ id: FileID) -> String { node.dir.path + "/files/" + id.hex + ".chunks" }

    func assertGone(_ client: Client, _ manifest: FileManifest, to out: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try client.fetchFile(manifest, to: out), file: file, line: line) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(code, 410, reason, file: file, line: line)
            XCTAssertTrue(reason.contains("readable-until"), reason, file: file, line: line)
        }
    }

    /// alice@hq offers wu@traffic a file readable for a few seconds; wu fetches it (traffic pulls a
    /// copy) and alice can fetch her own. At its time both nodes delete their chunks and refuse it.
    func testAFileGoesFromTheSendersNodeAndTheNodeThatPulledItAtItsReadableUntil() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let source = try makeFile(hq.root, "plan.pdf", size: 3 * FileChunks.plainChunkBytes + 17)
        let until = Clock.nowMs() + 4_000
        alice.readableUntil = until
        let sent = try alice.sendFile(to: Address("wu@traffic")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let manifest = try offer(wu)
        XCTAssertEqual(manifest.fileId, sent.fileId)
        _ = try wu.fetchFile(manifest, to: traffic.root + "/plan.pdf")
        _ = try alice.fetchFile(manifest, to: hq.root + "/plan-again.pdf")
        XCTAssertLessThan(Clock.nowMs(), until, "fetched before its time (raise the 4 s if this machine is slower)")
        for node in [hq, traffic] { XCTAssertTrue(FileManager.default.fileExists(atPath: chunkFile(node, sent.fileId)), node.name) }

        for node in [hq, traffic] { try node.waitFor("the file deleted on \(node.name)", timeout: 20) { $0.files.files == 0 } }
        XCTAssertGreaterThanOrEqual(Clock.nowMs(), until, "not before its time")
        for node in [hq, traffic] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: chunkFile(node, sent.fileId)), "chunks gone from \(node.name)'s data dir")
            XCTAssertGreaterThanOrEqual(try node.status().labels.expired, 1, node.name)
        }
        assertGone(wu, manifest, to: traffic.root + "/plan-late.pdf")
        assertGone(alice, manifest, to: hq.root + "/plan-late.pdf")
    }

    /// traffic is stopped while the file waits for its time and started after it: it deletes its
    /// copy then (the time is in its database), and refuses it.
    func testANodeStoppedOverTheTimeDeletesTheFileWhenItStarts() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let source = try makeFile(hq.root, "minutes.txt", size: FileChunks.plainChunkBytes + 5)
        let until = Clock.nowMs() + 3_000
        alice.readableUntil = until
        let sent = try alice.sendFile(to: Address("wu@traffic")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let manifest = try offer(wu)
        _ = try wu.fetchFile(manifest, to: traffic.root + "/minutes.txt")
        traffic.stop()
        try waitUntil("its readable-until time", timeout: 10) { Clock.nowMs() > until }
        XCTAssertTrue(FileManager.default.fileExists(atPath: chunkFile(traffic, sent.fileId)), "still there while traffic is stopped")
        try traffic.start()
        try traffic.waitFor("the file deleted after the start", timeout: 20) { $0.files.files == 0 }
        XCTAssertFalse(FileManager.default.fileExists(atPath: chunkFile(traffic, sent.fileId)))
        try waitUntilKnown(wu, "alice@hq")
        assertGone(wu, manifest, to: traffic.root + "/minutes-late.txt")
        try hq.waitFor("the file deleted on hq", timeout: 20) { $0.files.files == 0 }
    }

    /// traffic reads 内部 internal (the default) for 3 s (`labels.expiry`), hq has no period and
    /// alice gives no time: traffic deletes its copy 3 s after the offer arrived; hq keeps its own
    /// (the only message it stored for it has no time), and alice still fetches it there.
    func testTheRecipientsNodeAppliesItsOwnPeriodToTheCopyItPulled() throws {
        let (hq, traffic, alice, wu) = try twoUnits(trafficConfig: { $0.labels.expiry = ["internal": "3s"] })
        defer { alice.close(); wu.close() }
        let source = try makeFile(hq.root, "roster.xlsx", size: 2 * FileChunks.plainChunkBytes)
        let sent = try alice.sendFile(to: Address("wu@traffic")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let manifest = try offer(wu)
        _ = try wu.fetchFile(manifest, to: traffic.root + "/roster.xlsx")
        try traffic.waitFor("traffic's copy deleted by its own period", timeout: 20) { $0.files.files == 0 }
        XCTAssertFalse(FileManager.default.fileExists(atPath: chunkFile(traffic, sent.fileId)))
        assertGone(wu, manifest, to: traffic.root + "/roster-late.xlsx")
        XCTAssertEqual(try hq.status().files.files, 1, "hq has no period and the offer no time")
        XCTAssertTrue(FileManager.default.fileExists(atPath: chunkFile(hq, sent.fileId)))
        _ = try alice.fetchFile(manifest, to: hq.root + "/roster-again.xlsx")
    }
}
