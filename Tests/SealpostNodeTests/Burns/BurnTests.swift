import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Burn after reading on real nodes: one view, then gone from every node, with
/// signed receipts; expiry; groups across three nodes; no quoting; capture reports.
final class BurnTests: XCTestCase {
    /// Everything that arrives within `ms` (or until `until` holds), acknowledged.
    func collect(_ client: Client, ms: Int, until: ([ReceivedMessage]) -> Bool = { _ in false }) throws -> [ReceivedMessage] {
        try client.attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
        while Clock.monotonicNs() < deadline, !until(out) {
            guard let event = try client.next(timeoutMs: 50) else { continue }
            if case .message(let m) = event {
                if !out.contains(where: { $0.id == m.id }) { out.append(m) }
                try client.ack(m.seq)
            }
        }
        try client.flush()
        try client.detach()
        return out
    }

    /// The files of a node's data dir (database, WAL, everything) that contain `needle`.
    func filesHolding(_ needle: [UInt8], in node: TestNode) -> [String] {
        var hits: [String] = []
        let root = node.dir.path
        let needleData = Data(needle)
        for case let name as String in FileManager.default.enumerator(atPath: root) ?? FileManager.DirectoryEnumerator() {
            let path = root + "/" + name
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            if data.range(of: needleData) != nil { hits.append(name) }
        }
        return hits
    }

    /// Waits until no file of `nodes` holds `needle` (the WAL is truncated shortly after a burn).
    func assertGone(_ needle: [UInt8], from nodes: [TestNode], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Clock.monotonicNs() + 10_000_000_000
        var left: [String] = []
        var pause = PollPause(upTo: 0.1)
        repeat {
            left = nodes.flatMap { n in filesHolding(needle, in: n).map { "\(n.name)/\($0)" } }
            if left.isEmpty { return }
            pause.sleep()
        } while Clock.monotonicNs() < deadline
        XCTFail("\(what): the burn message's ciphertext is still in \(left)", file: file, line: line)
    }

    /// 32 bytes from the middle of the sealed part: what must not survive anywhere.
    func sample(_ envelope: Envelope) -> [UInt8] {
        let sealed = envelope.body.dropFirst(Burn.headerBytes)
        let start = sealed.startIndex + sealed.count / 2
        return Array(sealed[start..<(start + 32)])
    }

    func testBurnAcrossTwoNodesIsViewedOnceAndEveryNodeSignsItsDeletion() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let secret = "the raid is at 06:00, gate 3"
        let envelope = try alice.prepareBurn(to: Address("wu@traffic")!, text: secret, images: [])
        try alice.store(envelope)

        // The inbox shows that it waits, never what it says.
        let notices = try collect(wu, ms: 5000) { $0.contains { $0.kind == .burn } }
        let notice = try XCTUnwrap(notices.first { $0.kind == .burn })
        XCTAssertEqual(notice.id, envelope.id)
        XCTAssertEqual(notice.burn?.images, 0)
        XCTAssertFalse(notice.text.contains(secret))
        // The scan below can fail: before the view, the ciphertext is on traffic's disk.
        XCTAssertFalse(filesHolding(sample(envelope), in: traffic).isEmpty, "the unviewed burn message is stored")

        let viewed = try wu.view(envelope.id)
        XCTAssertEqual(viewed.text, secret)
        XCTAssertEqual(viewed.from, "alice@hq")
        XCTAssertThrowsError(try wu.view(envelope.id)) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 410)
            XCTAssertTrue(reason.contains("viewed"), reason)
        }

        // hq passed it on and deleted its journal copy; traffic deleted it as wu viewed it.
        let receipts = try collect(alice, ms: 8000) { got in got.filter { $0.receipt != nil }.count >= 2 }.compactMap(\.receipt)
        XCTAssertEqual(receipts.count, 2, "\(receipts)")
        let byNode = Dictionary(uniqueKeysWithValues: receipts.map { ($0.receipt.node, $0) })
        XCTAssertEqual(byNode["hq"]?.receipt.event, .forwarded)
        XCTAssertEqual(byNode["hq"]?.receipt.subject, "traffic")
        XCTAssertEqual(byNode["traffic"]?.receipt.event, .viewed)
        XCTAssertEqual(byNode["traffic"]?.receipt.subject, "wu@traffic")
        XCTAssertTrue(receipts.allSatisfy(\.verified), "\(receipts)")
        for r in receipts { XCTAssertEqual(r.receipt.burn, envelope.id) }

        // A receipt altered on the way does not verify.
        var forged = try XCTUnwrap(byNode["traffic"]).receipt
        forged.deletedAt += 1
        XCTAssertFalse(alice.check(receipt: forged).verified)

        assertGone(sample(envelope), from: [hq, traffic], "after viewing")
        let status = try traffic.status().burns
        XCTAssertEqual(status.pending, 0)
        XCTAssertEqual(status.viewed, 1)
    }

    func testUnviewedBurnExpiresEverywhereWithReceipts() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let envelope = try alice.prepareBurn(to: Address("wu@traffic")!, text: "expires unread", images: [], ttlMs: 1500)
        try alice.store(envelope)
        let receipts = try collect(alice, ms: 10_000) { got in got.contains { $0.kind == .burnExpired } }
        let expired = try XCTUnwrap(receipts.first { $0.kind == .burnExpired }?.receipt)
        XCTAssertEqual(expired.receipt.node, "traffic")
        XCTAssertEqual(expired.receipt.subject, "wu@traffic")
        XCTAssertTrue(expired.verified)
        XCTAssertThrowsError(try wu.view(envelope.id)) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 410)
            XCTAssertTrue(reason.contains("expired"), reason)
        }
        assertGone(sample(envelope), from: [hq, traffic], "after expiry")
    }

    func testBurnExpiringInTheJournalWhileTheNextHopIsDownLosesItsContent() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        traffic.stop()
        let envelope = try alice.prepareBurn(to: Address("wu@traffic")!, text: "stuck on the way", images: [], ttlMs: 1500)
        try alice.store(envelope)
        XCTAssertFalse(filesHolding(sample(envelope), in: hq).isEmpty, "waiting in hq's journal")
        // hq's copy expires where it waits: its content goes, its place in the stream stays.
        let got = try collect(alice, ms: 15_000) { $0.contains { $0.kind == .burnExpired } }
        let expired = try XCTUnwrap(got.first { $0.kind == .burnExpired }?.receipt)
        XCTAssertEqual(expired.receipt.node, "hq")
        XCTAssertTrue(expired.verified)
        assertGone(sample(envelope), from: [hq], "expired in the journal")

        // traffic comes back: only the notice arrives, already expired; a later text still flows behind it.
        try traffic.start()
        let later = try alice.sendText(to: Address("wu@traffic")!, text: "after the burn")
        let wuGot = try collect(wu, ms: 15_000) { $0.contains { $0.id == later } }
        XCTAssertTrue(wuGot.contains { $0.id == envelope.id && $0.kind == .burn })
        XCTAssertThrowsError(try wu.view(envelope.id)) { error in
            guard case ClientError.refused(let code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 410)
        }
        assertGone(sample(envelope), from: [hq, traffic], "after the notice arrived")
    }

    func testBurnExpiringInARelaysJournalIsReportedByTheRelay() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { alice.close(); bob.close(); wu.close(); zhao.close() }
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        district.stop()
        let envelope = try alice.prepareBurn(to: Address("zhao@district")!, text: "via traffic", images: [], ttlMs: 1500)
        try alice.store(envelope)
        // hq hands it to traffic; traffic holds it for district, which is down, until it expires there.
        let got = try collect(alice, ms: 15_000) { $0.contains { $0.kind == .burnExpired } }
        let receipts = got.compactMap(\.receipt)
        XCTAssertTrue(receipts.contains { $0.receipt.node == "hq" && $0.receipt.event == .forwarded && $0.verified }, "\(receipts)")
        let expired = try XCTUnwrap(receipts.first { $0.receipt.event == .expired })
        XCTAssertEqual(expired.receipt.node, "traffic")
        XCTAssertEqual(expired.receipt.subject, "zhao@district")
        XCTAssertTrue(expired.verified)
        assertGone(sample(envelope), from: [hq, traffic], "expired in the relay's journal")
    }

    /// A backup never carries burn content: neither a burn message waiting to be viewed nor
    /// a view-once file's chunks are in it, and after a restore both are gone (the notice
    /// says expired), so nothing burned can be viewed again.
    func testBackupCarriesNoBurnContentAndARestoreBringsNoneBack() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close() }
        let burn = try alice.prepareBurn(to: Address("bob@hq")!, text: "for your eyes", images: [])
        try alice.store(burn)
        let source = hq.root + "/plan.pdf"
        FileManager.default.createFile(atPath: source, contents: Data(Sodium.randomBytes(2 * FileChunks.plainChunkBytes + 5)))
        let sent = try alice.sendFile(to: Address("bob@hq")!, path: source, burn: true,
                                      uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let chunkFile = hq.dir.path + "/files/" + sent.fileId.hex + ".chunks"
        let stored = try XCTUnwrap(FileManager.default.contents(atPath: chunkFile))
        let needle = Array(stored[stored.index(stored.startIndex, offsetBy: 70_000)..<stored.index(stored.startIndex, offsetBy: 70_032)])
        let offer = try XCTUnwrap(try collect(bob, ms: 8000) { $0.contains { $0.file != nil } }.first { $0.file != nil })
        let manifest = try XCTUnwrap(offer.file)

        let backup = hq.root + "/backup"
        _ = try Backup.backup(dataDir: hq.dir, to: backup)
        var inBackup: [String] = []
        for case let name as String in FileManager.default.enumerator(atPath: backup) ?? FileManager.DirectoryEnumerator() {
            guard let data = FileManager.default.contents(atPath: backup + "/" + name) else { continue }
            for (what, bytes) in [("burn message", sample(burn)), ("view-once file", needle)] where data.range(of: Data(bytes)) != nil {
                inBackup.append("\(what) in \(name)")
            }
        }
        XCTAssertEqual(inBackup, [], "a backup holds no burn content")
        XCTAssertFalse(FileManager.default.fileExists(atPath: backup + "/files/" + sent.fileId.hex + ".chunks"))

        bob.close()
        hq.stop()
        _ = try Backup.restore(from: backup, into: hq.dir)
        try hq.start()
        let again = try Client(profile: try Profile.load(from: hq.profilePath("bob")))
        defer { again.close() }
        XCTAssertThrowsError(try again.view(burn.id)) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 410)
            XCTAssertTrue(reason.contains("expired"), reason)
        }
        XCTAssertThrowsError(try again.fetchFile(manifest, to: hq.root + "/again.pdf"))
    }

    func testViewOnceFileIsFetchedOnceThenGoneFromBothNodesWithReceipts() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let source = hq.root + "/plan.pdf"
        FileManager.default.createFile(atPath: source, contents: Data(Sodium.randomBytes(3 * FileChunks.plainChunkBytes + 77)))
        let sent = try alice.sendFile(to: Address("wu@traffic")!, path: source, burn: true,
                                      uploads: UploadBook(profilePath: hq.profilePath("alice")))
        // 32 bytes of the ciphertext on the sender's node: what must not survive anywhere.
        let chunkFile = hq.dir.path + "/files/" + sent.fileId.hex + ".chunks"
        let stored = try XCTUnwrap(FileManager.default.contents(atPath: chunkFile))
        let needle = Array(stored[stored.index(stored.startIndex, offsetBy: 70_000)..<stored.index(stored.startIndex, offsetBy: 70_032)])

        let offer = try XCTUnwrap(try collect(wu, ms: 8000) { $0.contains { $0.file != nil } }.first { $0.file != nil })
        XCTAssertNotNil(offer.burn, "shown as burn after reading")
        let manifest = try XCTUnwrap(offer.file)
        XCTAssertEqual(manifest.flags & Burn.manifestFlag, Burn.manifestFlag)
        let target = traffic.root + "/plan.pdf"
        _ = try wu.fetchFile(manifest, to: target)
        XCTAssertEqual(FileManager.default.contents(atPath: target), FileManager.default.contents(atPath: source))
        XCTAssertThrowsError(try wu.fetchFile(manifest, to: traffic.root + "/again.pdf")) { error in
            guard case ClientError.refused(let code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 410)
        }

        // traffic: viewed by wu; hq: pulled by traffic. Both signed.
        let receipts = try collect(alice, ms: 10_000) { got in got.compactMap(\.receipt).count >= 2 }.compactMap(\.receipt)
        XCTAssertEqual(receipts.map { "\($0.receipt.node):\($0.receipt.event.name):\($0.receipt.subject)" }.sorted(),
                       ["hq:forwarded:traffic", "traffic:viewed:wu@traffic"])
        XCTAssertTrue(receipts.allSatisfy { $0.verified && $0.receipt.burn == sent.id }, "\(receipts)")
        assertGone(needle, from: [hq, traffic], "after the view-once file was fetched")
        for node in [hq, traffic] {
            XCTAssertEqual(try node.status().files.files, 0, node.name)
        }
        // Nothing may quote it.
        XCTAssertThrowsError(try wu.sendText(to: Address("alice@hq")!, text: "fwd", quoting: sent.id))
    }

    func testViewOnceFileThroughARelayLeavesNoCopyOnTheWay() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        defer { alice.close(); bob.close(); wu.close(); zhao.close() }
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        let source = hq.root + "/map.pdf"
        FileManager.default.createFile(atPath: source, contents: Data(Sodium.randomBytes(2 * FileChunks.plainChunkBytes + 5)))
        let sent = try alice.sendFile(to: Address("zhao@district")!, path: source, burn: true,
                                      uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let offer = try XCTUnwrap(try collect(zhao, ms: 10_000) { $0.contains { $0.file != nil } }.first { $0.file != nil })
        _ = try zhao.fetchFile(try XCTUnwrap(offer.file), to: district.root + "/map.pdf")
        XCTAssertEqual(FileManager.default.contents(atPath: district.root + "/map.pdf"), FileManager.default.contents(atPath: source))
        // district: viewed; traffic kept a copy on the way and let it go once district had it; hq once traffic had it.
        let receipts = try collect(alice, ms: 10_000) { got in got.compactMap(\.receipt).count >= 3 }.compactMap(\.receipt)
        XCTAssertEqual(receipts.map { "\($0.receipt.node):\($0.receipt.event.name):\($0.receipt.subject)" }.sorted(),
                       ["district:viewed:zhao@district", "hq:forwarded:traffic", "traffic:forwarded:district"])
        XCTAssertTrue(receipts.allSatisfy { $0.verified && $0.receipt.burn == sent.id }, "\(receipts)")
        for node in [hq, traffic, district] {
            XCTAssertEqual(try node.status().files.files, 0, node.name)
            let left = (try? FileManager.default.contentsOfDirectory(atPath: node.dir.path + "/files")) ?? []
            XCTAssertFalse(left.contains { $0.hasPrefix(sent.fileId.hex) }, "\(node.name): \(left)")
        }
    }

    func testImagesLimitsAndAViewAfterRestart() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 1, 0, 0, 0, 0, 200]
        func image(_ n: Int, bytes: Int) -> Burn.Image {
            // Random bytes (made in C): a closure per byte took ~3 s of a debug build for the six 2 MiB images.
            Burn.Image(name: "photo\(n).png", data: png + Sodium.randomBytes(bytes - png.count))
        }
        let bobAddress = Address("bob@hq")!
        let before = try hq.counter(\.envelopesIn)
        XCTAssertThrowsError(try alice.sendBurn(to: bobAddress, text: "", images: (1...7).map { image($0, bytes: 100) })) { error in
            XCTAssertTrue("\(error)".contains("at most 6 images"), "\(error)")
        }
        XCTAssertThrowsError(try alice.sendBurn(to: bobAddress, text: "", images: [image(1, bytes: Burn.maxImageBytes + 1)])) { error in
            XCTAssertTrue("\(error)".contains("MiB per image"), "\(error)")
        }
        XCTAssertEqual(try hq.counter(\.envelopesIn), before, "nothing was sent")

        // Six images of 2 MiB (the largest burn message) with a text.
        let images = (1...6).map { image($0, bytes: Burn.maxImageBytes) }
        let envelope = try alice.prepareBurn(to: bobAddress, text: "six photos", images: images)
        try alice.store(envelope)
        XCTAssertEqual(try collect(bob, ms: 5000) { $0.contains { $0.kind == .burn } }.first { $0.kind == .burn }?.burn?.images, 6)

        // Kept durably: the node restarts, the burn message still waits.
        try hq.restart()
        let again = try Client(profile: try Profile.load(from: hq.profilePath("bob")))
        defer { again.close() }
        let viewed = try again.view(envelope.id)
        XCTAssertEqual(viewed.text, "six photos")
        XCTAssertEqual(viewed.images, images)
        XCTAssertNotNil(Watermark.svg(image: viewed.images[0].data, text: Watermark.line(viewer: "bob@hq", at: 0)))
        XCTAssertThrowsError(try again.view(envelope.id))
        assertGone(sample(envelope), from: [hq], "after viewing six images")
    }

    func testGroupBurnAcrossThreeNodesEachMemberViewsOnce() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        defer { alice.close(); bob.close(); wu.close(); zhao.close() }

        let ops = Address("ops@hq")!
        try alice.groupOp(.create, group: ops, members: ["bob@hq", "wu@traffic", "zhao@district"])
        let members = try XCTUnwrap(try alice.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent).members.map(\.address)
        XCTAssertEqual(members.count, 4)

        let envelope = try alice.prepareBurn(to: ops, text: "group secret", images: [], members: members)
        try alice.store(envelope)
        for (name, member) in [("bob", bob), ("wu", wu), ("zhao", zhao)] {
            let got = try collect(member, ms: 8000) { $0.contains { $0.kind == .burn } }
            let notice = try XCTUnwrap(got.first { $0.kind == .burn }, name)
            XCTAssertEqual(notice.group, "ops@hq", name)
            XCTAssertEqual(try member.view(envelope.id).text, "group secret", name)
            XCTAssertThrowsError(try member.view(envelope.id), name)
        }
        // Viewed by three members on three nodes; hq passed its copies on to traffic (wu's, and
        // zhao's on its way to district), traffic passed zhao's on to district.
        let receipts = try collect(alice, ms: 10_000) { got in got.compactMap(\.receipt).count >= 6 }.compactMap(\.receipt)
        let viewed = receipts.filter { $0.receipt.event == .viewed }.map { "\($0.receipt.node):\($0.receipt.subject)" }.sorted()
        XCTAssertEqual(viewed, ["district:zhao@district", "hq:bob@hq", "traffic:wu@traffic"])
        let forwarded = receipts.filter { $0.receipt.event == .forwarded }.map { "\($0.receipt.node)>\($0.receipt.subject)" }.sorted()
        XCTAssertEqual(forwarded, ["hq>district via traffic", "hq>traffic", "traffic>district"])
        XCTAssertTrue(receipts.allSatisfy(\.verified), "\(receipts)")
        assertGone(sample(envelope), from: [hq, traffic, district], "after every member viewed")

        // A member two nodes away from the group's home posts one too.
        let far = try zhao.prepareBurn(to: ops, text: "from the district", images: [], members: members)
        try zhao.store(far)
        _ = try collect(alice, ms: 8000) { $0.contains { $0.id == far.id } }
        XCTAssertEqual(try alice.view(far.id).text, "from the district")
    }

    func testBurnMessagesCannotBeQuotedAndCapturesReachTheSender() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close(); hq.stop() }
        let burn = try alice.sendBurn(to: Address("wu@traffic")!, text: "do not forward")
        _ = try collect(wu, ms: 5000) { $0.contains { $0.kind == .burn } }

        // traffic handled the burn message: quoting it is refused, as is naming it in a reminder receipt.
        XCTAssertThrowsError(try wu.sendText(to: Address("alice@hq")!, text: "fwd", quoting: burn)) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 400)
            XCTAssertTrue(reason.contains("cannot be forwarded or quoted"), reason)
        }
        XCTAssertThrowsError(try wu.markReminderDone(burn, sender: Address("alice@hq")!))
        XCTAssertEqual(try traffic.counter(\.undeliverable), 0)

        // An ordinary quote goes through and names what it quotes.
        let plain = try alice.sendText(to: Address("wu@traffic")!, text: "original")
        _ = try collect(wu, ms: 5000) { $0.contains { $0.id == plain } }
        let reply = try wu.sendText(to: Address("alice@hq")!, text: "re: original", quoting: plain)

        // People cannot make receipts.
        let receipt = Burn.Receipt(burn: burn, sender: "alice@hq", node: "traffic", event: .viewed, subject: "wu@traffic", deletedAt: 1)
        XCTAssertThrowsError(try wu.store(Envelope(id: MessageID(bytes: Array(repeating: 7, count: 16))!, from: "", to: "alice@hq",
                                                  kind: EnvelopeKind.burnReceipt.rawValue, sentAt: 1, body: receipt.encode())))

        // The recipient's device saw a screenshot: the sender is told.
        _ = try wu.reportCapture(burn: burn, sender: Address("alice@hq")!, how: "screenshot")
        let got = try collect(alice, ms: 8000) { got in got.contains { $0.kind == .capture } && got.contains { $0.id == reply } }
        let capture = try XCTUnwrap(got.first { $0.kind == .capture }?.capture)
        XCTAssertEqual(capture.burn, burn)
        XCTAssertEqual(capture.how, "screenshot")
        XCTAssertEqual(got.first { $0.id == reply }?.quote, plain)
        XCTAssertEqual(got.first { $0.id == reply }?.text, "re: original")
    }

    func testMalformedBurnEnvelopesAreRefused() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let now = Clock.nowMs()
        let cases: [(String, [UInt8])] = [
            ("no sealed part", Burn.body(expiresAt: now + 60_000, images: 0, sealed: [])),
            ("already expired", Burn.body(expiresAt: now - 1, images: 0, sealed: [1, 2, 3])),
            ("too far ahead", Burn.body(expiresAt: now + Burn.maxTTLMs + 3_600_000, images: 0, sealed: [1, 2, 3])),
            ("seven images", Burn.body(expiresAt: now + 60_000, images: 7, sealed: [1, 2, 3])),
            ("short header", [0, 1, 2]),
        ]
        for (what, body) in cases {
            let envelope = Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: "", to: "bob@hq",
                                    kind: EnvelopeKind.burn.rawValue, sentAt: now, body: body)
            XCTAssertThrowsError(try alice.store(envelope), what) { error in
                guard case ClientError.refused(let code, _) = error else { return XCTFail("\(what): \(error)") }
                XCTAssertEqual(code, 400, what)
            }
        }
        XCTAssertEqual(try hq.status().burns.pending, 0)
        // A VIEW of something that is not there.
        XCTAssertThrowsError(try alice.view(MessageID(bytes: Array(repeating: 1, count: 16))!)) { error in
            guard case ClientError.refused(let code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 404)
        }
    }
}
