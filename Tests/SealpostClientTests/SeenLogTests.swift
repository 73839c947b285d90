import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// The seen log (exactly once on the screen) and the profile lock.
final class SeenLogTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "sealpost-seen-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func ids(_ n: Int) -> [MessageID] { (0..<n).map { _ in MessageID(bytes: Sodium.randomBytes(16))! } }

    func inode(_ path: String) throws -> UInt64 {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? UInt64)
    }

    func size(_ path: String) throws -> Int {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    func tempFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains(".tmp-") }
    }

    /// Regression: every batch rewrote and fsynced the whole file (660 KB at 20k ids).
    func testSeenLogAppendsOneLinePerBatchInsteadOfRewritingTheFile() throws {
        let profile = root + "/profile"
        let log = try SeenLog(profilePath: profile)
        let first = ids(5), second = ids(3)
        try log.record(first)
        let node = try inode(log.path), before = try size(log.path)
        XCTAssertEqual(before, 5 * 33 + 10, "one line: five ids and a check")
        try log.record(second + [first[0]])
        XCTAssertEqual(try inode(log.path), node, "appended in place, not replaced")
        XCTAssertEqual(try size(log.path), before + 3 * 33 + 10, "only the three new ids were appended")
        try log.record(first)
        XCTAssertEqual(try size(log.path), before + 3 * 33 + 10, "nothing new, nothing written")

        let again = try SeenLog(profilePath: profile)
        XCTAssertTrue((first + second).allSatisfy(again.contains))
        XCTAssertFalse(again.contains(ids(1)[0]))
        XCTAssertEqual(again.count, 8)
        XCTAssertEqual(again.damagedLines, 0)
        XCTAssertEqual(try tempFiles(), [])
    }

    func testSeenLogIgnoresATornLastRecordAndAppendsAfterIt() throws {
        let profile = root + "/profile"
        let kept = ids(4)
        try SeenLog(profilePath: profile).record(kept)
        let good = try size(profile + ".seen")
        // A crash in the middle of the next append: half a line, no newline.
        let torn = ids(2)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: profile + ".seen"))
        handle.seekToEndOfFile()
        handle.write(Data((torn[0].hex + " " + torn[1].hex.prefix(10)).utf8))
        handle.closeFile()

        let log = try SeenLog(profilePath: profile)
        XCTAssertTrue(kept.allSatisfy(log.contains))
        XCTAssertFalse(log.contains(torn[0]), "a torn batch is not taken in part: none of it was shown")
        XCTAssertEqual(log.damagedLines, 1)
        XCTAssertEqual(try size(profile + ".seen"), good, "the torn tail is cut off")
        let later = ids(2)
        try log.record(later)

        // A whole line whose check does not match (a damaged block) is skipped too.
        let bad = ids(1)[0]
        let h2 = try XCTUnwrap(FileHandle(forWritingAtPath: profile + ".seen"))
        h2.seekToEndOfFile()
        h2.write(Data("\(bad.hex) #00000000\n".utf8))
        h2.closeFile()
        let back = try SeenLog(profilePath: profile)
        XCTAssertTrue((kept + later).allSatisfy(back.contains))
        XCTAssertFalse(back.contains(bad))
        XCTAssertEqual(back.damagedLines, 1)
    }

    /// A process killed between writing a batch's line and committing it (before the batch
    /// was shown): the next process does not count the batch as seen.
    func testSeenLogBatchPreparedButNotCommittedIsNotSeen() throws {
        let profile = root + "/profile"
        let log = try SeenLog(profilePath: profile)
        let shown = ids(2), notShown = ids(3)
        try log.record(shown)
        try log.prepare(notShown)
        let other = try SeenLog(profilePath: profile)
        XCTAssertTrue(shown.allSatisfy(other.contains))
        XCTAssertFalse(notShown.contains(where: other.contains))
        XCTAssertEqual(other.damagedLines, 1, "read as a torn last line")
        // Committed, the same line counts.
        let again = ids(2)
        try other.prepare(again)
        other.commit()
        XCTAssertTrue(again.allSatisfy(try SeenLog(profilePath: profile).contains), "seen once committed, before any sync")
    }

    func testSeenLogReadsTheEarlierOneIdPerLineFormat() throws {
        let profile = root + "/profile"
        let old = ids(3)
        try Data((old.map(\.hex).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: profile + ".seen"))
        let log = try SeenLog(profilePath: profile)
        XCTAssertTrue(old.allSatisfy(log.contains))
        let new = ids(2)
        try log.record(new)
        XCTAssertTrue((old + new).allSatisfy(try SeenLog(profilePath: profile).contains))
    }

    func testSeenLogStaysBoundedAndCompactsAtomically() throws {
        let profile = root + "/profile"
        let log = try SeenLog(profilePath: profile, capacity: 100)
        var all: [MessageID] = []
        var largest = 0
        for _ in 0..<100 {
            let batch = ids(10)
            all += batch
            try log.record(batch)
            largest = max(largest, try size(log.path))
            XCTAssertEqual(try tempFiles(), [], "no temp file is left behind")
        }
        // At most capacity + capacity / 2 ids in the file (past that it is compacted to capacity).
        XCTAssertLessThanOrEqual(largest, 150 * 33 + 15 * 10)
        XCTAssertLessThanOrEqual(log.idsInFile, 150)
        XCTAssertEqual(log.count, 100)
        XCTAssertTrue(all.suffix(100).allSatisfy(log.contains), "the newest ids are kept")
        XCTAssertFalse(all.prefix(900).contains(where: log.contains), "the oldest go first")
        let again = try SeenLog(profilePath: profile, capacity: 100)
        XCTAssertTrue(all.suffix(100).allSatisfy(again.contains))
        XCTAssertEqual(again.damagedLines, 0)
        // After a compaction, appends go to the new file (not to the replaced one).
        try log.compact()
        let after = ids(1)
        try log.record(after)
        XCTAssertTrue(try SeenLog(profilePath: profile, capacity: 100).contains(after[0]))
    }

    func testSeenLogRemovesTempFilesOfDeadProcessesWhenOpened() throws {
        let profile = root + "/profile"
        let dead = root + "/profile.seen.tmp-2147483646"
        let alive = root + "/profile.seen.tmp-1"
        FileManager.default.createFile(atPath: dead, contents: Data("x".utf8))
        FileManager.default.createFile(atPath: alive, contents: Data("x".utf8))
        _ = try SeenLog(profilePath: profile)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead), "left by a process that no longer runs")
        XCTAssertTrue(FileManager.default.fileExists(atPath: alive), "a running process may still be writing it")
    }

    func testTakingTheProfileRemovesTempFilesOfItsBooksLeftByDeadProcesses() throws {
        let profile = root + "/profile"
        let stale = ["profile.tmp-2147483646", "profile.groups.tmp-2147483646", "profile.seen.tmp-2147483646"]
        let kept = ["profile.reminders.tmp-1", "other.tmp-2147483646", "profile.notes"]
        for name in stale + kept { FileManager.default.createFile(atPath: root + "/" + name, contents: Data("x".utf8)) }
        _ = try ProfileLock(profilePath: profile)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: root))
        XCTAssertTrue(left.isDisjoint(with: stale), "\(left)")
        XCTAssertTrue(left.isSuperset(of: kept), "a live pid, another profile, not a temp file: \(left)")
    }

    func testSecondHolderOfAProfileIsRefusedWithThePidOfTheFirst() throws {
        let profile = root + "/profile"
        var first: ProfileLock? = try ProfileLock(profilePath: profile)
        XCTAssertThrowsError(try ProfileLock(profilePath: profile)) { error in
            XCTAssertEqual("\(error)", "this profile is already in use by another sealpost process (pid \(getpid())); close it first")
        }
        _ = first
        first = nil
        XCTAssertNoThrow(try ProfileLock(profilePath: profile), "free again once the first lets go")
    }

    /// The receive loop's order: the batch is durable in the seen log when it is shown,
    /// and acknowledged only after; a batch taken but not settled comes again.
    func testReaderRecordsTheBatchBeforeShowingItAndAcknowledgesAfter() throws {
        let hq = try TestNode("hq")
        try hq.start()
        defer { hq.stop() }
        let alice = try Client(profile: try hq.join("alice")), bobProfile = try hq.join("bob")
        defer { alice.close() }
        var sent: [MessageID] = []
        for i in 0..<3 { sent.append(try alice.sendText(to: Address("bob@hq")!, text: "m\(i)")) }

        func read(settle: Bool) throws -> [MessageID] {
            let bob = try Client(profile: bobProfile)
            defer { bob.close(lingerMs: 500) }
            let reader = MailboxReader(client: bob, seen: try SeenLog(profilePath: hq.profilePath("bob")), books: nil)
            try reader.attach()
            let deadline = Clock.monotonicNs() + 10_000_000_000
            var synced = false
            while !synced && Clock.monotonicNs() < deadline {
                if case .synced? = try reader.next(timeoutMs: 200) { synced = true }
            }
            XCTAssertTrue(synced)
            guard settle else { return reader.batch.map(\.id) }
            var shown: [MessageID] = []
            var rendered: [MessageID] = []
            try reader.settle(render: { batch in
                rendered = batch.map(\.id)
                return batch.map(\.id.hex)
            }, output: { text in
                let onDisk = try SeenLog(profilePath: hq.profilePath("bob"))
                XCTAssertTrue(rendered.allSatisfy(onDisk.contains), "recorded before it is shown")
                shown = text.split(separator: "\n").compactMap { MessageID(hex: String($0)) }
            })
            try reader.detach()
            try bob.flush()
            return shown
        }
        XCTAssertEqual(try read(settle: false), sent, "taken, never settled")
        XCTAssertEqual(try read(settle: true), sent, "so shown the next time")
        XCTAssertEqual(try read(settle: true), [], "acknowledged: never again")
    }
}
