import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import SQLite
import Synchronization
import XCTest
import ZeroMQ

/// One user must not take the node down: mailbox and burn quotas, per-sender rate limits,
/// refused handshakes logged in aggregate, a full disk refused early and recovered from.
final class LimitsTests: XCTestCase {
    func setLimits(_ node: TestNode, _ limits: LimitsConfig) throws {
        var config = try node.dir.loadConfig()
        config.limits = limits
        try node.dir.saveConfig(config)
    }

    func refusedCount(_ s: NodeStatus, _ reason: String) -> Int {
        s.limits.refused[reason] ?? -1
    }

    

    /// Sends until the node refuses; returns how many were stored and the refusal.
    func sendUntilRefused(_ client: Client, to: String, text: String, max: Int) throws -> (stored: Int, code: UInt16, reason: String)? {
        for i in 0..<max {
            do {
                _ = try client.sendText(to: Address(to)!, text: text)
            } catch ClientError.refused(let code, let reason) {
                return (i, code, reason)
            }
        }
        return nil
    }

    /// A misspelt limit would be ignored without a word, leaving the default in force.
    func testAMisspeltOrOutOfRangeLimitInNodeYamlIsAClearError() throws {
        XCTAssertThrowsError(try NodeConfig.parse(yaml: "name: hq\nlimits:\n  mailbox_mbs: 5\n", file: "node.yaml")) { error in
            XCTAssertTrue("\(error)".contains("unknown key 'limits.mailbox_mbs'"), "\(error)")
        }
        XCTAssertThrowsError(try NodeConfig.parse(yaml: "name: hq\nlimits:\n  burn_mb: 1\n", file: "node.yaml")) { error in
            XCTAssertTrue("\(error)".contains("limits.burn_mb must be 13"), "\(error)")
        }
        let config = try NodeConfig.parse(yaml: "name: hq\nlimits:\n  mailbox_mb: 5\n", file: "node.yaml")
        XCTAssertEqual(config.limits.mailboxMB, 5)
        XCTAssertEqual(config.limits.mailboxMessages, LimitsConfig().mailboxMessages, "the others keep their defaults")
    }

    // MARK: mailbox and burn quotas

    /// 620 MB in 2 s went into one offline user's mailbox: now a full mailbox refuses with 507,
    /// by bytes and by count, and other users go on as before.
    func testFloodIntoAnOfflineMailboxIsRefusedWhenFullAndOthersAreUnaffected() throws {
        let hq = try TestNode("hq")
        try setLimits(hq, LimitsConfig(mailboxMessages: 25, mailboxMB: 1))
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        let carol = try Client(profile: try hq.join("carol"))
        let dave = try Client(profile: try hq.join("dave"))
        defer { alice.close(); bob.close(); carol.close(); dave.close() }

        // By bytes: 60 KiB texts, 1 MiB waiting at most.
        let big = String(repeating: "x", count: 60_000)
        guard let byBytes = try sendUntilRefused(alice, to: "bob@hq", text: big, max: 40) else {
            return XCTFail("40 × 60 KB went into a 1 MiB mailbox")
        }
        XCTAssertEqual(byBytes.code, ErrorCode.insufficientStorage.rawValue)
        XCTAssertTrue(byBytes.reason.contains("mailbox of bob@hq is full"), byBytes.reason)
        XCTAssertGreaterThan(byBytes.stored, 10)
        XCTAssertLessThanOrEqual(byBytes.stored, 17)

        // Others are unaffected: carol writes to dave, and alice to carol.
        XCTAssertNoThrow(try carol.sendText(to: Address("dave@hq")!, text: "the meeting is at 10"))
        XCTAssertNoThrow(try alice.sendText(to: Address("carol@hq")!, text: "hello"))

        // By count: 25 entries at most.
        guard let byCount = try sendUntilRefused(carol, to: "dave@hq", text: "ping", max: 40) else {
            return XCTFail("40 messages went into a mailbox of 25")
        }
        XCTAssertEqual(byCount.code, ErrorCode.insufficientStorage.rawValue)
        XCTAssertEqual(byCount.stored, 24, "25 in all, with the first one")
        XCTAssertTrue(byCount.reason.contains("mailbox of dave@hq is full"), byCount.reason)

        let s = try hq.status()
        XCTAssertEqual(refusedCount(s, "mailbox_full"), 2)

        // Bob reads his messages: there is room again.
        XCTAssertEqual(try bob.receive(byBytes.stored).count, byBytes.stored)
        XCTAssertNoThrow(try alice.sendText(to: Address("bob@hq")!, text: big))
    }

    /// One sender spreading a flood over many mailboxes (each under its own quota) is bounded by
    /// what it has waiting on the node in all; the bound survives a restart.
    func testOneSenderSpreadingAFloodOverManyMailboxesIsBoundedInAll() throws {
        let hq = try TestNode("hq")
        try setLimits(hq, LimitsConfig(senderMB: 1))
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let carol = try Client(profile: try hq.join("carol"))
        for u in ["bob", "dave", "erin"] { _ = try hq.join(u) }
        defer { alice.close(); carol.close() }
        let big = String(repeating: "x", count: 60_000)
        var stored = 0
        var refusal: (code: UInt16, reason: String)?
        outer: for round in 0..<20 {
            for to in ["bob@hq", "carol@hq", "dave@hq", "erin@hq"] {
                do {
                    _ = try alice.sendText(to: Address(to)!, text: "\(round) " + big)
                    stored += 1
                } catch ClientError.refused(let code, let reason) {
                    refusal = (code, reason)
                    break outer
                }
            }
        }
        guard let refusal else { return XCTFail("80 × 60 KB from one sender with a quota of 1 MiB") }
        XCTAssertEqual(refusal.code, ErrorCode.insufficientStorage.rawValue)
        XCTAssertTrue(refusal.reason.contains("waiting on hq") && refusal.reason.contains("per sender"), refusal.reason)
        XCTAssertGreaterThan(stored, 10)
        XCTAssertLessThanOrEqual(stored, 17)
        // Others send as before.
        XCTAssertNoThrow(try carol.sendText(to: Address("bob@hq")!, text: big))
        XCTAssertEqual(refusedCount(try hq.status(), "sender_full"), 1)

        // Still bounded after a restart (counted from the mailbox rows), and freed when read.
        alice.close(); carol.close()
        try hq.restart()
        let alice2 = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        let carol2 = try Client(profile: try Profile.load(from: hq.profilePath("carol")))
        defer { alice2.close(); carol2.close() }
        XCTAssertThrowsError(try alice2.sendText(to: Address("bob@hq")!, text: big))
        let carolHas = stored / 4 + (stored % 4 >= 2 ? 1 : 0)
        XCTAssertEqual(try carol2.receive(carolHas).count, carolHas)
        XCTAssertNoThrow(try alice2.sendText(to: Address("bob@hq")!, text: big))
    }

    /// Burn content is kept apart from the mailbox: it has its own quota per recipient.
    func testBurnContentOverTheRecipientsBurnQuotaIsRefused() throws {
        let hq = try TestNode("hq")
        try setLimits(hq, LimitsConfig(burnMB: 13))
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        _ = try hq.join("carol")
        defer { alice.close() }
        let images = (0..<5).map { Burn.Image(name: "scan\($0).png", data: Sodium.randomBytes(2 * 1024 * 1024)) }
        XCTAssertNoThrow(try alice.sendBurn(to: Address("bob@hq")!, text: "eyes only", images: images))
        XCTAssertThrowsError(try alice.sendBurn(to: Address("bob@hq")!, text: "eyes only", images: images)) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, ErrorCode.insufficientStorage.rawValue)
            XCTAssertTrue(reason.contains("burn messages for bob@hq are full"), reason)
        }
        // Another recipient has a quota of their own.
        XCTAssertNoThrow(try alice.sendBurn(to: Address("carol@hq")!, text: "eyes only", images: images))
        XCTAssertEqual(refusedCount(try hq.status(), "burn_full"), 1)
    }

    // MARK: rate limits

    /// A sender over its rate is refused with 429 and a time to retry in; other senders are not held up,
    /// and `store` backs off and gets through once the bucket refills.
    func testASenderOverItsRateGets429AndOthersAreNotHeldUp() throws {
        let hq = try TestNode("hq")
        try setLimits(hq, LimitsConfig(sendPerS: 5, sendBurst: 10))
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let carol = try Client(profile: try hq.join("carol"))
        _ = try hq.join("bob")
        defer { alice.close(); carol.close() }

        var pending = Set<MessageID>()
        for i in 0..<40 {
            let e = try alice.prepareText(to: Address("bob@hq")!, text: "burst \(i)")
            pending.insert(e.id)
            try alice.submit(e)
        }
        var stored = 0, limited = 0
        var reason = ""
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while !pending.isEmpty, Clock.monotonicNs() < deadline, let event = try alice.next(timeoutMs: 1000) {
            switch event {
            case .stored(let id) where pending.contains(id):
                pending.remove(id); stored += 1
            case .refused(let code, let id, let r) where pending.contains(id):
                pending.remove(id)
                XCTAssertEqual(code, ErrorCode.rateLimited.rawValue)
                limited += 1; reason = r
            default: break
            }
        }
        XCTAssertTrue(pending.isEmpty, "every send answered")
        XCTAssertGreaterThanOrEqual(stored, 10)
        XCTAssertLessThan(stored, 20, "the burst is 10, the rate 5/s")
        XCTAssertEqual(stored + limited, 40)
        XCTAssertTrue(reason.hasPrefix("rate limit:") && reason.contains("retry in"), reason)
        XCTAssertEqual(refusedCount(try hq.status(), "rate_limited"), limited)

        // Carol is not held up by alice's flood.
        XCTAssertNoThrow(try carol.sendText(to: Address("bob@hq")!, text: "unrelated"))
        // Alice's client backs off on 429 and gets through once there is room.
        XCTAssertNoThrow(try alice.sendText(to: Address("bob@hq")!, text: "after the burst"))
    }

    // MARK: relayed envelopes

    /// A remote sender filling a local mailbox: what does not fit is acknowledged to the peer
    /// and dropped (counted), so the link is not blocked by an envelope that will never fit.
    func testRelayedEnvelopesForAFullMailboxAreAcknowledgedCountedAndTheLinkMovesOn() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try setLimits(hq, LimitsConfig(mailboxMessages: 5))
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        let bob = try Client(profile: try hq.join("bob"))
        let carol = try Client(profile: try hq.join("carol"))
        let wu = try Client(profile: try traffic.join("wu"))
        defer { bob.close(); carol.close(); wu.close() }
        try waitUntilKnown(wu, "bob@hq")
        try waitUntilKnown(wu, "carol@hq")
        try waitUntilKnown(bob, "wu@traffic")
        try waitUntilKnown(carol, "wu@traffic")
        for i in 0..<8 { _ = try wu.sendText(to: Address("bob@hq")!, text: "relayed \(i)") }
        _ = try wu.sendText(to: Address("carol@hq")!, text: "after the full mailbox")
        try hq.waitFor("the over-quota relays counted") { self.refusedCount($0, "relay_dropped") == 3 }
        try traffic.waitFor("traffic's journal to empty (every relay acknowledged)") { $0.journal == 0 }
        XCTAssertEqual(try carol.receive(1).map(\.text), ["after the full mailbox"], "the stream goes on past them")
        XCTAssertEqual(try bob.receive(5).map(\.text), (0..<5).map { "relayed \($0)" })
    }

    // MARK: refused handshakes

    /// One client retrying a wrong key made one log line per attempt: now the first of a minute is
    /// logged and the rest are counted (and summed up when the minute is over).
    func testRefusedHandshakesAreLoggedOncePerMinuteNotOncePerAttempt() throws {
        let hq = try TestNode("hq")
        let lines = LogLines()
        var logger = Logger(label: "test.limits") { _ in CapturingHandler(lines: lines) }
        logger.logLevel = .info
        let node = try Node.start(dataDir: hq.dir, logger: logger) { $0.listen = "tcp://127.0.0.1:*" }
        defer { node.stop() }
        // Strangers with keys the node does not know (one client reconnecting does the same).
        let context = Context()
        var strangers: [Socket] = []
        for _ in 0..<30 {
            let s = try Socket(context, .dealer)
            let keys = BoxKeyPair.generate()
            var secret = keys.secretKey.copyBytes()
            try s.makeCurveClient(serverKey: node.publicKey, publicKey: keys.publicKey, secretKey: secret)
            wipe(&secret)
            try s.connect(node.routerEndpoint)
            _ = try s.send([[1]], dontWait: true)
            strangers.append(s)
        }
        defer { for s in strangers { s.close() } }
        let deadline = Clock.monotonicNs() + 15_000_000_000
        var refused = 0
        var pause = PollPause(upTo: 0.1)
        while refused < 20, Clock.monotonicNs() < deadline {
            let s = try hq.status()
            refused = s.counters.refusedKeys
            if refused < 20 { pause.sleep() }
        }
        XCTAssertGreaterThanOrEqual(refused, 20, "the strangers' handshakes were refused and counted")
        XCTAssertEqual(lines.matching("refused unknown key"), 1, lines.all.joined(separator: "\n"))
    }

    // MARK: disk full

    /// Under the free-space floor the node refuses new messages with 507 "node storage is full",
    /// says "disk full" in status (once in the log), keeps taking acks, and recovers by itself
    /// when there is room again (here: the operator lowers the floor; the node reloads it).
    func testUnderTheFreeSpaceFloorSendsAreRefusedAsStorageFullAndTheNodeRecovers() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        _ = try alice.sendText(to: Address("bob@hq")!, text: "before")
        let free = try hq.status().storage.freeBytes
        XCTAssertGreaterThan(free, 0)
        try setLimits(hq, LimitsConfig(minFreeMB: min(free / 1_048_576 + 10_000, 1_048_576)))
        try hq.waitFor("disk full in status") { $0.storage.state == "disk full" }
        XCTAssertThrowsError(try alice.sendText(to: Address("bob@hq")!, text: "while full")) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, ErrorCode.insufficientStorage.rawValue)
            XCTAssertTrue(reason.hasPrefix("node storage is full"), reason)
        }
        // Reading (and acknowledging) still works: it frees space.
        XCTAssertEqual(try bob.receive(1).map(\.text), ["before"])
        XCTAssertEqual(refusedCount(try hq.status(), "storage_full"), 1)
        try setLimits(hq, LimitsConfig())
        try hq.waitFor("storage ok again", timeout: 20) { $0.storage.state == "ok" }
        XCTAssertNoThrow(try alice.sendText(to: Address("bob@hq")!, text: "after"))
    }

    /// A node under its floor tells the federation: its neighbour sees "disk full" in the
    /// federation view (its RELAYs wait there), not only a peer that looks stuck.
    func testANodeWithAFullDiskSaysSoToTheFederation() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        _ = try hq.join("bob")
        let wu = try Client(profile: try traffic.join("wu"))
        defer { wu.close() }
        try waitUntilKnown(wu, "bob@hq")
        try setLimits(hq, LimitsConfig(minFreeMB: 1_048_576))
        try hq.waitFor("disk full in status") { $0.storage.state == "disk full" }
        // wu's own node takes the message; hq leaves the RELAY unacknowledged, so it waits at traffic.
        XCTAssertNoThrow(try wu.sendText(to: Address("bob@hq")!, text: "waits at traffic"))
        var seen: NodeSummary?
        try? waitUntil("hq's summary to say its disk is full", timeout: 20, every: 0.2) {
            seen = try AdminClient.federation(dataDir: traffic.dir).nodes.first { $0.node == "hq" }?.summary
            return seen?.storage == "disk full"
        }
        XCTAssertEqual(seen?.storage, "disk full", "\(String(describing: seen))")
        let peerRow = try traffic.status().peers.first { $0.name == "hq" }
        XCTAssertEqual(peerRow?.storage, "disk full", "traffic's peer row says why hq takes nothing")
        try hq.waitFor("the deferred relay counted") { self.refusedCount($0, "relay_deferred") >= 1 }
        XCTAssertEqual(try traffic.status().journal, 1, "kept by the previous hop, not lost")

        // Space back: the relay goes through.
        try setLimits(hq, LimitsConfig())
        try traffic.waitFor("traffic's journal to empty", timeout: 30) { $0.journal == 0 }
    }

    /// A real full disk (the data dir on a small tmpfs): the first failed commit answers
    /// 507 and turns on "disk full", so clients stop at once instead of retrying thousands of
    /// times a second; once the filler is deleted the node stores messages again by itself.
    func testRealFullDiskStopsRetriesAndRecoversWhenSpaceReturns() throws {
        let mount = try TmpfsMount(sizeMB: 24)
        defer { mount.unmount() }
        let dir = DataDir(mount.path + "/node")
        _ = try dir.create(config: NodeConfig(name: "hq", listen: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*",
                                              limits: LimitsConfig(minFreeMB: 0)))
        let lines = LogLines()
        var logger = Logger(label: "test.limits") { _ in CapturingHandler(lines: lines) }
        logger.logLevel = .info
        let node = try Node.start(dataDir: dir, logger: logger)
        defer { node.stop() }
        let profiles = NSTemporaryDirectory() + "sealpost-limits-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: profiles) }
        func join(_ user: String) throws -> Client {
            let invite = try Operator.invite(dataDir: dir, user: user, endpoint: node.routerEndpoint)
            return try Client(profile: try Enrollment.join(code: invite.code, display: nil, profilePath: profiles + "/\(user).profile"))
        }
        let alice = try join("alice"), bob = try join("bob")
        defer { alice.close(); bob.close() }
        _ = try alice.sendText(to: Address("bob@hq")!, text: "before")

        let filler = mount.path + "/filler"
        mount.fill(filler)
        let big = String(repeating: "y", count: 60_000)
        let start = Clock.monotonicNs()
        var refusal: (code: UInt16, reason: String)?
        for _ in 0..<200 {
            do {
                _ = try alice.sendText(to: Address("bob@hq")!, text: big)
            } catch ClientError.refused(let code, let reason) {
                refusal = (code, reason)
                break
            }
        }
        guard let refusal else { return XCTFail("200 × 60 KB stored on a full 24 MiB disk") }
        XCTAssertEqual(refusal.code, ErrorCode.insufficientStorage.rawValue)
        XCTAssertTrue(refusal.reason.hasPrefix("node storage is full"), refusal.reason)
        XCTAssertLessThan(Clock.monotonicNs() - start, 5_000_000_000, "refused at once, not after the client's timeout")
        var s = try AdminClient.status(dataDir: dir)
        XCTAssertEqual(s.storage.state, "disk full")
        let failures = s.counters.commitFailures
        XCTAssertLessThanOrEqual(failures, 3, "no retry storm against failing commits")
        // A second sender is refused early, without another failing commit.
        XCTAssertThrowsError(try bob.sendText(to: Address("alice@hq")!, text: "hi"))
        s = try AdminClient.status(dataDir: dir)
        XCTAssertEqual(s.counters.commitFailures, failures)

        try FileManager.default.removeItem(atPath: filler)
        let deadline = Clock.monotonicNs() + 15_000_000_000
        var pause = PollPause(upTo: 0.1)
        while Clock.monotonicNs() < deadline {
            s = try AdminClient.status(dataDir: dir)
            if s.storage.state == "ok" { break }
            pause.sleep()
        }
        XCTAssertEqual(s.storage.state, "ok", "recovered by itself")
        // Said once each way, not once per failed commit or refused message.
        XCTAssertEqual(lines.matching("disk full"), 1, lines.all.joined(separator: "\n"))
        XCTAssertEqual(lines.matching("disk space is back"), 1, lines.all.joined(separator: "\n"))
        XCTAssertEqual(lines.matching("nothing of this batch is acknowledged") + lines.matching("storage failure:"), 0, lines.all.joined(separator: "\n"))
        XCTAssertNoThrow(try alice.sendText(to: Address("bob@hq")!, text: "after"))
        let texts = try bob.receive(2).map(\.text)
        XCTAssertEqual(texts.first, "before")
        XCTAssertEqual(texts.last, "after")
    }

    /// A client resent a SEND at once after every 500 (~3,500 failed commits a second against a
    /// node that could not write): it now backs off exponentially, and says why when it gives up.
    func testClientBacksOffOnStorageFailuresInsteadOfRetryingAtOnce() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        hq.stop()
        // Every mailbox write fails (not for lack of space): the node answers 500, "retry".
        let db = try Database(path: hq.dir.databasePath)
        try db.execute("CREATE TRIGGER test_mailbox_fails BEFORE INSERT ON mailbox BEGIN SELECT RAISE(ABORT, 'test: mailbox write fails'); END")
        db.close()
        try hq.start()
        alice.timeoutMs = 3000
        XCTAssertThrowsError(try alice.sendText(to: Address("bob@hq")!, text: "hello")) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("not the node's reason: \(error)") }
            XCTAssertEqual(code, ErrorCode.internalError.rawValue)
            XCTAssertTrue(reason.contains("storage failure"), reason)
        }
        let failures = try hq.counter(\.commitFailures)
        XCTAssertGreaterThanOrEqual(failures, 3, "it did retry")
        XCTAssertLessThanOrEqual(failures, 12, "50 ms doubling: a handful of attempts in 3 s, not thousands")
    }

    /// The WAL stayed at its largest size for good after a burst (PASSIVE checkpoints never
    /// shrink it): past `limits.wal_max_mb` it is checkpointed and truncated.
    func testTheWALIsTruncatedOnceItGrowsPastItsLimit() throws {
        let hq = try TestNode("hq")
        try setLimits(hq, LimitsConfig(walMaxMB: 1))
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let big = String(repeating: "z", count: 60_000)
        var ids = Set<MessageID>()
        for _ in 0..<60 {
            let e = try alice.prepareText(to: Address("bob@hq")!, text: big)
            ids.insert(e.id)
            try alice.submit(e)
        }
        while !ids.isEmpty, let event = try alice.next(timeoutMs: 5000) {
            if case .stored(let id) = event { ids.remove(id) }
        }
        XCTAssertTrue(ids.isEmpty, "every send stored")
        try hq.waitFor("the WAL back under 1 MiB", timeout: 10) { $0.storage.walBytes <= 1_048_576 }
    }
}

/// Log lines kept for a test to count.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
    func matching(_ text: String) -> Int { all.filter { $0.contains(text) }.count }
}

struct CapturingHandler: LogHandler {
    let lines: LogLines
    var logLevel: Logger.Level = .info
    /// Also keep each line's metadata (for tests that look for what must never be logged).
    var withMetadata = false
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        lines.append(withMetadata ? "\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })" : "\(level) \(message)")
    }
}

/// A small real file system for a data dir (needs root to mount; the test is skipped otherwise).
final class TmpfsMount {
    let path: String
    private var mounted = true

    init(sizeMB: Int) throws {
        path = NSTemporaryDirectory() + "sealpost-tmpfs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(sizeMB)m", "tmpfs", path]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil, ({ mount.waitUntilExit(); return mount.terminationStatus == 0 })() else {
            try? FileManager.default.removeItem(atPath: path)
            mounted = false
            throw XCTSkip("cannot mount a tmpfs here (not root)")
        }
    }

    /// Writes `file` until the file system is full.
    func fill(_ file: String) {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0xA5, count: 1 << 20)
        while chunk.count >= 512 {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < chunk.count { chunk = [UInt8](repeating: 0xA5, count: chunk.count / 2) }
        }
    }

    func unmount() {
        guard mounted else { return }
        mounted = false
        let umount = Process()
        umount.executableURL = URL(fileURLWithPath: "/bin/umount")
        umount.arguments = ["-l", path]
        try? umount.run()
        umount.waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
}
