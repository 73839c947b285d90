import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// Files end to end on real nodes: upload, offer, pull between nodes, download,
/// resume, bad input, damaged chunks, limits and collection.
final class FileTransferTests: XCTestCase {
    struct Stop: Error {}

    /// A file of `size` pseudo-random bytes in `dir`.
    func makeFile(_ dir: String, _ name: String, size: Int) throws -> String {
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var left = size
        var block = Sodium.randomBytes(1 << 20)
        while left > 0 {
            let n = min(left, block.count)
            handle.write(Data(block[0..<n]))
            block[0] &+= 1
            left -= n
        }
        try handle.close()
        return path
    }

    func digest(_ path: String) throws -> [UInt8] {
        let hash = GenericHashStream()
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hash.update(Array(data)[...]) }
        try handle.close()
        return hash.finish()
    }

    /// The file offers that arrive within `ms`.
    func offers(_ client: Client, ms: Int = 5000, count: Int = 1) throws -> [ReceivedMessage] {
        try client.attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
        while out.count < count, Clock.monotonicNs() < deadline {
            guard let event = try client.next(timeoutMs: 50) else { continue }
            if case .message(let m) = event {
                try client.ack(m.seq)
                if m.file != nil { out.append(m) }
            }
        }
        try client.detach()
        try client.flush()
        return out
    }

    func files(_ node: TestNode) throws -> NodeStatus.Files {
        try node.status().files
    }

    func testOneNodeUploadFetchAndEmptyFile() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alicePath = hq.profilePath("alice")
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let uploads = UploadBook(profilePath: alicePath)

        let source = try makeFile(hq.root, "report.pdf", size: 3 * FileChunks.plainChunkBytes + 1234)
        var reports: [UInt64] = []
        let sent = try alice.sendFile(to: Address("bob@hq")!, path: source, uploads: uploads) { done, _ in reports.append(done) }
        XCTAssertEqual(sent.name, "report.pdf")
        XCTAssertEqual(sent.size, UInt64(3 * FileChunks.plainChunkBytes + 1234))
        XCTAssertEqual(reports.last, sent.size)
        let empty = try makeFile(hq.root, "empty.txt", size: 0)
        let sentEmpty = try alice.sendFile(to: Address("bob@hq")!, path: empty, uploads: uploads)

        let got = try offers(bob, count: 2)
        XCTAssertEqual(got.map(\.kind), [.file, .file])
        XCTAssertEqual(got.compactMap(\.file).map(\.name), ["report.pdf", "empty.txt"])
        XCTAssertEqual(got.first?.file?.fileId, sent.fileId)

        let out = hq.root + "/fetched.pdf"
        let fetched = try bob.fetchFile(try XCTUnwrap(got[0].file), to: out)
        XCTAssertEqual(fetched.size, sent.size)
        XCTAssertEqual(try digest(out), try digest(source))
        let emptyOut = hq.root + "/fetched-empty.txt"
        _ = try bob.fetchFile(try XCTUnwrap(got[1].file), to: emptyOut)
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: emptyOut))[.size] as? Int, 0)
        XCTAssertEqual(sentEmpty.size, 0)
        // No temporary file is left next to the result.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hq.root).filter { $0.contains(".sealpost-") }, [])

        // Someone who was not sent the file cannot fetch it.
        let carol = try Client(profile: try hq.join("carol"))
        defer { carol.close() }
        XCTAssertThrowsError(try carol.fetchFile(try XCTUnwrap(got[0].file), to: hq.root + "/stolen")) { error in
            XCTAssertTrue("\(error)".contains("no file"), "\(error)")
        }
        let status = try files(hq)
        XCTAssertEqual(status.complete, 2)
    }

    func testTwoGiBBoundary() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        // Exactly 2 GiB is a valid file; one byte more is not.
        let max = FileChunks.maxFileBytes
        XCTAssertEqual(max, 2_147_483_648)
        XCTAssertEqual(FileChunks.chunkCount(plainSize: max), 16_384)
        XCTAssertTrue(FileChunks.isConsistent(cipherSize: FileChunks.cipherSize(plainSize: max), chunks: 16_384))
        XCTAssertFalse(FileChunks.isConsistent(cipherSize: FileChunks.cipherSize(plainSize: max + 1), chunks: 16_385))

        // A sparse file one byte over: refused before anything is sent.
        let big = hq.root + "/big.iso"
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: nil))
        XCTAssertEqual(truncate(big, off_t(max + 1)), 0)
        XCTAssertThrowsError(try alice.sendFile(to: Address("bob@hq")!, path: big, uploads: UploadBook(profilePath: hq.profilePath("alice")))) { error in
            XCTAssertEqual("\(error)", "the file is 2147483649 bytes; the limit is 2147483648 bytes (2 GiB)")
        }
        XCTAssertEqual(try files(hq).files, 0, "nothing reached the node")

        // The node checks too: it takes the exact 2 GiB and refuses one byte more.
        let c = alice.connection
        let okId = FileID(bytes: Sodium.randomBytes(16))!
        try c.send(.fileBegin(fileId: okId, size: FileChunks.cipherSize(plainSize: max), chunks: 16_384))
        XCTAssertEqual(try c.receive(timeoutMs: 5000), .fileStatus(fileId: okId, have: 0, chunks: 16_384))
        let overId = FileID(bytes: Sodium.randomBytes(16))!
        try c.send(.fileBegin(fileId: overId, size: FileChunks.cipherSize(plainSize: max + 1), chunks: 16_385))
        guard case .error(let code, let ref, let reason)? = try c.receive(timeoutMs: 5000) else { return XCTFail("no refusal") }
        XCTAssertEqual(code, ErrorCode.tooLarge.rawValue)
        XCTAssertEqual(ref, overId)
        XCTAssertTrue(reason.contains("2 GiB"), reason)
    }

    func testChunksOutOfOrderBeyondSizeOrWrongLengthAreRefused() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        let c = alice.connection
        let id = FileID(bytes: Sodium.randomBytes(16))!
        let size = FileChunks.cipherSize(plainSize: UInt64(2 * FileChunks.plainChunkBytes))
        try c.send(.fileBegin(fileId: id, size: size, chunks: 2))
        XCTAssertEqual(try c.receive(timeoutMs: 5000), .fileStatus(fileId: id, have: 0, chunks: 2))
        func refusal() throws -> String {
            guard case .error(let code, let ref, let reason)? = try c.receive(timeoutMs: 5000) else { XCTFail("no refusal"); return "" }
            XCTAssertEqual(code, ErrorCode.badRequest.rawValue)
            XCTAssertEqual(ref, id)
            return reason
        }
        let full = [UInt8](repeating: 7, count: FileChunks.cipherChunkBytes)
        try c.send(.fileChunk(fileId: id, index: 1, data: full))
        XCTAssertTrue(try refusal().contains("out of order"))
        try c.send(.fileChunk(fileId: id, index: 2, data: full))
        XCTAssertTrue(try refusal().contains("beyond the declared size"))
        try c.send(.fileChunk(fileId: id, index: 0, data: Array(full.dropLast())))
        XCTAssertTrue(try refusal().contains("declared size makes it"))
        // A chunk for a file never begun.
        try c.send(.fileChunk(fileId: FileID(bytes: Sodium.randomBytes(16))!, index: 0, data: full))
        guard case .error(let code, _, _)? = try c.receive(timeoutMs: 5000) else { return XCTFail("no refusal") }
        XCTAssertEqual(code, ErrorCode.unknownAddress.rawValue)
        // An offer for a file not (completely) uploaded is refused.
        try c.send(.fileChunk(fileId: id, index: 0, data: full))
        XCTAssertEqual(try c.receive(timeoutMs: 5000), .fileStatus(fileId: id, have: 1, chunks: 2))
        XCTAssertEqual(try files(hq).uploading, 1)
    }

    func testAcrossNodesInAGroupWithResumeAndDamagedChunk() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        let wu = try Client(profile: try traffic.join("wu"))
        defer { alice.close(); bob.close(); wu.close() }
        try waitUntilKnown(alice, "wu@traffic")
        try waitUntilKnown(wu, "alice@hq")

        let ops = Address("ops@hq")!
        try alice.groupOp(.create, group: ops, members: ["bob@hq", "wu@traffic"])
        let members = try XCTUnwrap(try alice.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent).members.map(\.address)

        // The upload is interrupted half-way, then the same command continues it.
        let size = 40 * FileChunks.plainChunkBytes + 99
        let source = try makeFile(hq.root, "video.mp4", size: size)
        let uploads = UploadBook(profilePath: hq.profilePath("alice"))
        XCTAssertThrowsError(try alice.sendFile(to: ops, path: source, groupMembers: members, uploads: uploads) { done, _ in
            if done >= UInt64(size / 2) { throw Stop() }
        })
        let sent = try alice.sendFile(to: ops, path: source, groupMembers: members, uploads: uploads)
        XCTAssertGreaterThanOrEqual(sent.resumedChunks, 20, "continued, not restarted")

        // wu's node pulls its own copy from hq; wu downloads from traffic.
        let offer = try XCTUnwrap(try offers(wu).first)
        XCTAssertEqual(offer.group, "ops@hq")
        XCTAssertEqual(offer.file?.name, "video.mp4")
        try traffic.waitFor("the pulled copy") { s in (s.files.complete) == 1 }

        // Damage a chunk of traffic's copy: detected on read, fetched again from hq, never delivered.
        let chunkFile = traffic.dir.path + "/files/" + sent.fileId.hex + ".chunks"
        let fd = open(chunkFile, O_RDWR)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var byte: UInt8 = 0
        XCTAssertEqual(pread(fd, &byte, 1, off_t(FileChunks.cipherOffset(index: 5)) + 100), 1)
        byte ^= 0xFF
        XCTAssertEqual(pwrite(fd, &byte, 1, off_t(FileChunks.cipherOffset(index: 5)) + 100), 1)
        close(fd)

        let out = traffic.root + "/video.mp4"
        _ = try wu.fetchFile(try XCTUnwrap(offer.file), to: out)
        XCTAssertEqual(try digest(out), try digest(source))
        let status = try files(traffic)
        XCTAssertGreaterThanOrEqual(status.damagedChunks, 1)

        // bob, on the origin node, fetches from it directly.
        let bobOffer = try XCTUnwrap(try offers(bob).first)
        let bobOut = hq.root + "/bob-video.mp4"
        _ = try bob.fetchFile(try XCTUnwrap(bobOffer.file), to: bobOut)
        XCTAssertEqual(try digest(bobOut), try digest(source))
    }

    func testNodeRestartDuringAnUploadIsContinued() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let size = 48 * FileChunks.plainChunkBytes
        let source = try makeFile(hq.root, "dump.sql", size: size)
        var restarted = false
        let sent = try alice.sendFile(to: Address("bob@hq")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice"))) { done, _ in
            if !restarted && done >= UInt64(size / 2) {
                restarted = true
                try hq.restart() // the chunks in flight are lost; the client asks where to continue
            }
        }
        XCTAssertTrue(restarted)
        let offer = try XCTUnwrap(try offers(bob).first?.file)
        XCTAssertEqual(offer.fileId, sent.fileId)
        let out = hq.root + "/dump-copy.sql"
        _ = try bob.fetchFile(offer, to: out)
        XCTAssertEqual(try digest(out), try digest(source))
    }

    func testThroughANodeInBetweenWhichKeepsACopyOnTheWay() throws {
        let district = try TestNode("district"), city = try TestNode("city"), province = try TestNode("province")
        for n in [district, city, province] { try n.start() }
        try district.peer(with: city)
        try city.peer(with: province)
        let li = try Client(profile: try district.join("li"))
        let chen = try Client(profile: try province.join("chen"))
        defer { li.close(); chen.close() }
        try waitUntilKnown(li, "chen@province")
        try waitUntilKnown(chen, "li@district")

        let source = try makeFile(district.root, "plan.dwg", size: 9 * FileChunks.plainChunkBytes + 7)
        _ = try li.sendFile(to: Address("chen@province")!, path: source, uploads: UploadBook(profilePath: district.profilePath("li")))
        let offer = try XCTUnwrap(try offers(chen).first?.file)
        let out = province.root + "/plan.dwg"
        _ = try chen.fetchFile(offer, to: out)
        XCTAssertEqual(try digest(out), try digest(source))
        // province pulled from city (its next hop), which pulled from district.
        try city.waitFor("the copy on the way") { s in (s.files.complete) == 1 }
    }

    func testInterruptedDownloadResumesAndNodeRestartMidPull() throws {
        var (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }

        let chunks = 266 // past the first download resume point (256 chunks)
        let size = chunks * FileChunks.plainChunkBytes - 5
        let source = try makeFile(hq.root, "archive.tar", size: size)
        let sent = try alice.sendFile(to: Address("wu@traffic")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice")))
        XCTAssertEqual(sent.resumedChunks, 0)

        // traffic restarts while it pulls; it continues from what it had.
        try traffic.waitFor("the pull to start") { s in (s.files.chunksIn) > 0 }
        try traffic.restart()
        try traffic.waitFor("the pulled copy") { s in (s.files.complete) == 1 }

        wu.close()
        wu = try Client(profile: try Profile.load(from: traffic.profilePath("wu")))
        let offer = try XCTUnwrap(try offers(wu).first?.file)
        let out = traffic.root + "/archive.tar"
        XCTAssertThrowsError(try wu.fetchFile(offer, to: out) { done, _ in
            if done >= UInt64(260 * FileChunks.plainChunkBytes) { throw Stop() }
        })
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing under the final name before it is complete")
        let fetched = try wu.fetchFile(offer, to: out)
        XCTAssertEqual(fetched.resumedChunks, 256)
        XCTAssertEqual(try digest(out), try digest(source))
    }

    /// A real full disk: the node's `files/` on a 2 MiB tmpfs (needs root to mount; skipped otherwise),
    /// filled by someone else after the upload was accepted.
    func testDiskFillingDuringAnUploadStopsItAndKeepsNothing() throws {
        let hq = try TestNode("hq")
        var config = try hq.dir.loadConfig()
        config.files = FilesConfig(quotaMB: 1024, retentionHours: 72, expireDays: 30, minFreeMB: 0)
        try hq.dir.saveConfig(config)
        let filesDir = hq.dir.path + "/files"
        try FileManager.default.createDirectory(atPath: filesDir, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=2m", "tmpfs", filesDir]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil, ({ mount.waitUntilExit(); return mount.terminationStatus == 0 })() else {
            throw XCTSkip("cannot mount a tmpfs here (not root)")
        }
        defer {
            hq.stop()
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [filesDir]
            try? umount.run()
            umount.waitUntilExit()
        }
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let source = try makeFile(hq.root, "scan.tiff", size: 1_500_000)
        XCTAssertThrowsError(try alice.sendFile(to: Address("bob@hq")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice"))) { done, _ in
            // Accepted (it fitted); now something else takes the space.
            if done == 0 { _ = FileManager.default.createFile(atPath: filesDir + "/other", contents: Data(count: 1_900_000)) }
        }) { error in
            XCTAssertTrue("\(error)".contains("disk is full") && "\(error)".contains("nothing of it is kept"), "\(error)")
        }
        try hq.waitFor("the upload to be removed", timeout: 5) { s in (s.files.files) == 0 }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: filesDir), ["other"], "nothing half-stored")
    }

    func testQuotaAndFullDiskRefuseCleanlyAndFetchedFilesAreCollected() throws {
        let hq = try TestNode("hq")
        var config = try hq.dir.loadConfig()
        config.files = FilesConfig(quotaMB: 1, retentionHours: 0, expireDays: 30, minFreeMB: 0)
        try hq.dir.saveConfig(config)
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let uploads = UploadBook(profilePath: hq.profilePath("alice"))

        let tooBig = try makeFile(hq.root, "big.bin", size: 2 * 1_048_576)
        XCTAssertThrowsError(try alice.sendFile(to: Address("bob@hq")!, path: tooBig, uploads: uploads)) { error in
            XCTAssertTrue("\(error)".contains("quota"), "\(error)")
        }
        XCTAssertEqual(try files(hq).files, 0)

        // A small one goes through; once bob has it (and retention 0 h passed), it is collected.
        let small = try makeFile(hq.root, "note.txt", size: 5000)
        _ = try alice.sendFile(to: Address("bob@hq")!, path: small, uploads: uploads)
        let offer = try XCTUnwrap(try offers(bob).first?.file)
        _ = try bob.fetchFile(offer, to: hq.root + "/note-copy.txt")
        try hq.waitFor("the fetched file to be collected", timeout: 5) { s in (s.files.files) == 0 }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hq.dir.path + "/files"), [])

        // Disk full (simulated: the node must keep more free space than the disk has): a clear refusal, nothing stored.
        hq.stop()
        config.files = FilesConfig(quotaMB: 1 << 30, retentionHours: 0, expireDays: 30, minFreeMB: 1 << 40)
        try hq.dir.saveConfig(config)
        try hq.start()
        let alice2 = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        defer { alice2.close() }
        XCTAssertThrowsError(try alice2.sendFile(to: Address("bob@hq")!, path: small, uploads: uploads)) { error in
            XCTAssertTrue("\(error)".contains("disk is full"), "\(error)")
        }
        XCTAssertEqual(try files(hq).files, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: hq.dir.path + "/files"), [])
    }
}
