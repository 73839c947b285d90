import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import SQLite
import XCTest

/// A cycle whose COMMIT fails (a real SQLite failure, `CommitFault`) leaves every in-memory
/// mirror of its rows as it was: after the client's retry, memory and disk agree, and a
/// restart (which loads everything from disk) changes nothing a client can see.
final class CommitFailureTests: XCTestCase {
    func randomID() -> MessageID { MessageID(bytes: Sodium.randomBytes(16))! }

    func failures(_ node: TestNode) throws -> Int { try node.counter(\.commitFailures) }

    /// Waits until `node` has rolled back `count` batches in all.
    func waitForFailedCommit(_ node: TestNode, count: Int = 1) throws {
        try node.waitFor("\(count) failed commit(s)") { s in
            (s.counters.commitFailures) >= count
        }
    }

    func count(_ fault: CommitFault, _ sql: String, _ values: SQLValue...) throws -> Int64 {
        let statement = try fault.db.statement(sql)
        try statement.bind(values)
        defer { statement.reset() }
        return try statement.step() ? statement.int(0) : 0
    }

    /// Waits until `check` holds, or fails after `timeout` seconds.
    func eventually(_ what: String, timeout: Double = 10, _ check: () throws -> Bool) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
        var pause = PollPause(upTo: 0.05)
        while Clock.monotonicNs() < deadline {
            if try check() { return }
            pause.sleep()
        }
        throw TimedOut(description: "timed out waiting for \(what)")
    }

    /// A started node hq with alice and bob enrolled and connected.
    func aliceAndBob() throws -> (TestNode, Client, Client) {
        let hq = try TestNode("hq")
        try hq.start()
        return (hq, try Client(profile: try hq.join("alice")), try Client(profile: try hq.join("bob")))
    }

    /// alice's text to bob: its first commit fails (`fault` is armed), the retry is STORED.
    func sendFailingOnce(_ alice: Client, _ hq: TestNode, _ fault: CommitFault) throws -> Envelope {
        let text = try alice.prepareText(to: Address("bob@hq")!, text: "one message")
        try alice.submit(text)
        try waitForFailedCommit(hq)
        try fault.disarm()
        try alice.store(text)
        return text
    }

    // MARK: groups

    func testGroupAddWhoseCommitFailedIsStoredByTheRetryAndKeptAfterARestart() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let ops = Address("ops@hq")!
        try alice.groupOp(.create, group: ops)
        XCTAssertEqual(try alice.awaitGroupEvent(group: ops, timeoutMs: 5000)?.groupEvent?.opName, "create")

        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("group_members", when: "NEW.member = 'bob@hq'")
        let add = Envelope(id: randomID(), from: "", to: ops.description, kind: EnvelopeKind.groupOp.rawValue,
                           sentAt: Clock.nowMs(), body: Group.opBody(.add, members: ["bob@hq"]))
        try alice.submit(add)
        try waitForFailedCommit(hq)
        try fault.disarm()
        try alice.store(add) // the client's retry, same id: STORED
        XCTAssertEqual(try failures(hq), 1, "exactly one commit failed")
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM group_members WHERE grp = 'ops' AND member = 'bob@hq'"), 1,
                       "the retry wrote the member: it was not taken as already there")

        try hq.restart()
        // Bob is a member after the restart: he can be made an admin (a non-member is refused).
        try alice.groupOp(.admin, group: ops, members: ["bob@hq"])
        var event: Group.Event?
        let deadline = Clock.monotonicNs() + 5_000_000_000
        while Clock.monotonicNs() < deadline, event?.opName != "admin" && event?.opName != "refused" {
            event = try alice.awaitGroupEvent(group: ops, timeoutMs: 1000)?.groupEvent
        }
        XCTAssertEqual(event?.opName, "admin", "refused: \(event?.reason ?? "-")")
        XCTAssertEqual(event?.members.map(\.address), ["alice@hq", "bob@hq"])
    }

    // MARK: waiting

    func testWaitingCountAfterAFailedCommitAndItsRetryIsTheStoredOne() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("mailbox", when: "NEW.recipient = 'bob'")
        let text = try sendFailingOnce(alice, hq, fault)
        XCTAssertEqual(try failures(hq), 1)
        func waitingForBob() throws -> Int {
            try hq.status().waiting.byUser["bob"] ?? 0
        }
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM mailbox WHERE recipient = 'bob'"), 1)
        XCTAssertEqual(try waitingForBob(), 1, "the rolled-back entry is not counted")
        XCTAssertEqual(try hq.counter(\.envelopesIn), 1, "counted at the commit: the rolled-back try is not")
        try hq.restart()
        XCTAssertEqual(try waitingForBob(), 1)
    }

    // MARK: mailbox seqs

    /// Mailbox seqs come from a block reserved in the database (`ReservedSeqs`), written in the
    /// transaction of the first entry that needs it. A DELIVER leaves before its commit only
    /// with a seq below the committed end (so that a crash cannot give it to another entry): a new
    /// node's first entry is pushed after its commit, and when that commit fails (here: the
    /// reservation's write) it never leaves. The retry's seq is a new one, and a restart begins
    /// past the committed end.
    func testDeliverWaitsForTheCommitThatReservesItsSeqAndNoSeqIsReused() throws {
        let (hq, alice, bob) = try aliceAndBob()
        defer { alice.close(); bob.close() }
        try bob.attach()
        try eventually("bob caught up (SYNCED)") {
            if case .synced? = try bob.connection.receive(timeoutMs: 50) { return true }
            return false
        }
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM meta WHERE key = 'mailbox_seq_end'"), 0, "nothing reserved yet")
        try fault.arm("meta", when: "NEW.key = 'mailbox_seq_end'")
        let text = try sendFailingOnce(alice, hq, fault)
        let stored = try count(fault, "SELECT seq FROM mailbox WHERE recipient = 'bob'")
        var seqs: [Int64] = []
        try eventually("bob's DELIVER of the stored entry") {
            if case let .deliver(seq, e)? = try bob.connection.receive(timeoutMs: 50), e.id == text.id { seqs.append(Int64(seq)) }
            return seqs.last == stored
        }
        XCTAssertEqual(seqs, [stored], "the rolled-back cycle's seq was not reserved: its DELIVER never left")
        XCTAssertEqual(stored, 2, "seq 1 went with the rolled-back cycle and is not given again")
        let end = try count(fault, "SELECT value FROM meta WHERE key = 'mailbox_seq_end'")
        XCTAssertGreaterThan(end, stored, "committed with the entry: a block past its seq")

        try hq.restart()
        _ = try alice.sendText(to: Address("bob@hq")!, text: "after the restart")
        XCTAssertEqual(try count(fault, "SELECT MAX(seq) FROM mailbox WHERE recipient = 'bob'"), end,
                       "a restart begins at the reservation's end")
    }

    // MARK: files

    /// One chunk of random bytes of the length the declared size gives it.
    func chunk(_ index: UInt32, chunks: UInt32, size: UInt64) -> [UInt8] {
        Sodium.randomBytes(FileChunks.cipherLength(index: index, chunks: chunks, cipherSize: size))
    }

    /// The next FILE-STATUS for `id` (an ERROR for it fails the test).
    func fileStatus(_ client: Client, _ id: FileID, atLeast: UInt32 = 0, timeoutMs: Int = 10_000) throws -> UInt32 {
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            guard let command = try client.connection.receive(timeoutMs: 100) else { continue }
            switch command {
            case let .fileStatus(fileId, have, _) where fileId == id && have >= atLeast: return have
            case let .error(code, ref, reason) where ref == id: XCTFail("refused: \(code) \(reason)")
            default: continue
            }
        }
        throw TimedOut(description: "no FILE-STATUS for the file")
    }

    func testUploadWhoseFileRowFailedToCommitIsStoredByTheRetryAndKeptAfterARestart() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        let id = randomID(), size = FileChunks.cipherSize(plainSize: 1000), chunks: UInt32 = 1
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("files")
        _ = try alice.connection.send(.fileBegin(fileId: id, size: size, chunks: chunks))
        try waitForFailedCommit(hq)
        try fault.disarm()
        // The client's retry of FILE-BEGIN, then the upload.
        _ = try alice.connection.send(.fileBegin(fileId: id, size: size, chunks: chunks))
        _ = try alice.connection.send(.fileChunk(fileId: id, index: 0, data: chunk(0, chunks: chunks, size: size)))
        XCTAssertEqual(try fileStatus(alice, id, atLeast: 1), 1)
        XCTAssertEqual(try failures(hq), 1)
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM files WHERE id = ?", .blob(id.bytes)), 1,
                       "the retry wrote the file's row: it was not taken as an upload already begun")

        try hq.restart()
        let again = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        defer { again.close() }
        _ = try again.connection.send(.fileBegin(fileId: id, size: size, chunks: chunks))
        XCTAssertEqual(try fileStatus(again, id), 1, "the whole upload is still on the node")
    }

    func testChunkWhoseCommitFailedIsNotCountedAsHeldAndIsTakenAgain() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        let plain = UInt64(2 * FileChunks.plainChunkBytes + 100)
        let id = randomID(), size = FileChunks.cipherSize(plainSize: plain), chunks = FileChunks.chunkCount(plainSize: plain)
        XCTAssertEqual(chunks, 3)
        let data = (0..<chunks).map { chunk($0, chunks: chunks, size: size) }
        _ = try alice.connection.send(.fileBegin(fileId: id, size: size, chunks: chunks))
        XCTAssertEqual(try fileStatus(alice, id), 0)
        _ = try alice.connection.send(.fileChunk(fileId: id, index: 0, data: data[0]))
        XCTAssertEqual(try fileStatus(alice, id, atLeast: 1), 1)

        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("file_chunks", when: "NEW.idx = 1")
        _ = try alice.connection.send(.fileChunk(fileId: id, index: 1, data: data[1]))
        try waitForFailedCommit(hq)
        try fault.disarm()
        // No FILE-STATUS came for chunk 1: the client asks where the node is, and continues from there.
        _ = try alice.connection.send(.fileBegin(fileId: id, size: size, chunks: chunks))
        let have = try fileStatus(alice, id)
        XCTAssertEqual(have, 1, "chunk 1 was never durable: the node must not count it")
        for index in have..<chunks {
            _ = try alice.connection.send(.fileChunk(fileId: id, index: index, data: data[Int(index)]))
        }
        XCTAssertEqual(try fileStatus(alice, id, atLeast: chunks), chunks)
        XCTAssertEqual(try failures(hq), 1)
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM file_chunks WHERE id = ?", .blob(id.bytes)), Int64(chunks),
                       "every chunk the node counts has its hash on disk")

        // After a restart the owner downloads every chunk, as uploaded.
        try hq.restart()
        let again = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        defer { again.close() }
        _ = try again.connection.send(.fileGet(fileId: id, from: 0, count: chunks))
        var got: [UInt32: [UInt8]] = [:]
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while got.count < chunks, Clock.monotonicNs() < deadline {
            guard let command = try again.connection.receive(timeoutMs: 100) else { continue }
            if case let .fileChunk(fileId, index, bytes) = command, fileId == id { got[index] = bytes }
            if case let .error(code, ref, reason) = command, ref == id { XCTFail("refused: \(code) \(reason)"); break }
        }
        XCTAssertEqual(got.count, Int(chunks), "every chunk is served")
        XCTAssertTrue((0..<chunks).allSatisfy { got[$0] == data[Int($0)] }, "as uploaded")
    }

    func testFileOfferWhoseCommitFailedLetsTheRecipientFetchAfterTheRetryAndARestart() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        _ = try hq.join("bob")
        defer { alice.close() }
        let file = try upload(alice)
        let offer = Envelope(id: randomID(), from: "", to: "bob@hq", kind: EnvelopeKind.file.rawValue, sentAt: Clock.nowMs(),
                             body: FileOffer(fileId: file.id, cipherSize: file.size, chunks: 1).body(sealed: Sodium.randomBytes(64)))
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("file_readers", when: "NEW.reader = 'user:bob'")
        try alice.submit(offer)
        try waitForFailedCommit(hq)
        try fault.disarm()
        try alice.store(offer)
        XCTAssertEqual(try failures(hq), 1)
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM file_readers WHERE id = ? AND reader = 'user:bob'", .blob(file.id.bytes)), 1,
                       "the retry made bob a reader: it was not taken as already done")
        try hq.restart()
        let bob = try Client(profile: try Profile.load(from: hq.profilePath("bob")))
        defer { bob.close() }
        let fetched = try fetch(bob, file.id)
        if case .failure(let error) = fetched { XCTFail("bob cannot fetch the file offered to him: \(error)") }
        XCTAssertTrue((try? fetched.get()) == file.data)
    }

    // MARK: reminders

    func testDueNoticeWhoseCommitFailedIsFiredAgainAndDeliveredOnce() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        let me = Address("alice@hq")!
        let reminder = try alice.remind(to: me, at: Clock.nowMs() + 1500, text: "call back")
        XCTAssertEqual(try alice.receive(1).map(\.id), [reminder])
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("mailbox", when: "NEW.recipient = 'alice'")
        try waitForFailedCommit(hq)
        try fault.disarm()
        try eventually("the notice fired") { try count(fault, "SELECT count(*) FROM reminders") == 0 }
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM mailbox WHERE recipient = 'alice'"), 1, "stored once")
        // Each failed cycle may already have pushed its DELIVER (no promise of durability, SPEC "DELIVER"):
        // the client drops those repeats by id. What counts: one notice, stored once, and nothing left due.
        let due = try alice.receive(1, timeoutMs: 10_000) + alice.drain(ms: 1000)
        XCTAssertEqual(Set(due.map(\.kind)), [.reminderDue])
        XCTAssertEqual(Set(due.map(\.id)).count, 1, "one notice")
        XCTAssertEqual(due.first?.reminder?.id, reminder)
        XCTAssertEqual(try hq.status().reminders.pending, 0)
        XCTAssertEqual(try hq.status().reminders.fired, 1, "counted once, at the commit that stored it")
    }

    // MARK: view-once files

    /// A whole one-chunk file uploaded by `client` over the protocol.
    func upload(_ client: Client) throws -> (id: FileID, size: UInt64, data: [UInt8]) {
        let id = randomID(), size = FileChunks.cipherSize(plainSize: 1000)
        let data = chunk(0, chunks: 1, size: size)
        _ = try client.connection.send(.fileBegin(fileId: id, size: size, chunks: 1))
        _ = try client.connection.send(.fileChunk(fileId: id, index: 0, data: data))
        XCTAssertEqual(try fileStatus(client, id, atLeast: 1), 1)
        return (id, size, data)
    }

    /// Fetches the one chunk of file `id`: its bytes, or the node's refusal.
    func fetch(_ client: Client, _ id: FileID) throws -> Result<[UInt8], ClientError> {
        _ = try client.connection.send(.fileGet(fileId: id, from: 0, count: 1))
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while Clock.monotonicNs() < deadline {
            guard let command = try client.connection.receive(timeoutMs: 100) else { continue }
            if case let .fileChunk(fileId, 0, bytes) = command, fileId == id { return .success(bytes) }
            if case let .error(code, ref, reason) = command, ref == id { return .failure(.refused(code: code, reason: reason)) }
        }
        throw TimedOut(description: "no answer to FILE-GET")
    }

    func testViewOnceOfferWhoseCommitFailedLeavesAnOrdinaryFileOrdinary() throws {
        let (hq, alice, bob) = try aliceAndBob()
        defer { alice.close(); bob.close() }
        let file = try upload(alice)
        let offer = FileOffer(fileId: file.id, cipherSize: file.size, chunks: 1)
        func offerEnvelope(flags: UInt16) -> Envelope {
            Envelope(id: randomID(), from: "", to: "bob@hq", kind: EnvelopeKind.file.rawValue, flags: flags, sentAt: Clock.nowMs(),
                     body: offer.body(sealed: Sodium.randomBytes(64)))
        }

        // Offered view-once: the commit fails, and the sender never sends it again.
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("burn_files")
        try alice.submit(offerEnvelope(flags: Burn.fileFlag))
        try waitForFailedCommit(hq)
        try fault.disarm()
        XCTAssertEqual(try count(fault, "SELECT count(*) FROM burn_files"), 0)

        // Offered as an ordinary file: bob may fetch it more than once.
        try alice.store(offerEnvelope(flags: 0))
        XCTAssertTrue(try fetch(bob, file.id).get() == file.data)
        _ = try bob.connection.send(.fileDone(fileId: file.id))
        let second = try fetch(bob, file.id)
        if case .failure(let error) = second { XCTFail("the file is treated as view-once: \(error)") }
        XCTAssertTrue((try? second.get()) == file.data, "fetched again, as uploaded")
        XCTAssertEqual(try failures(hq), 1)
    }

    // MARK: node keys

    func testPeerKeyWhosePinFailedToCommitIsPinnedOnDiskOnItsNextAnswer() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try hq.start()
        try traffic.start()
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        let key = try traffic.dir.loadKeys().sign.publicKey
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("remote_nodes", when: "NEW.name = 'traffic'")
        try hq.peer(with: traffic)
        try waitForFailedCommit(hq)
        try fault.disarm()
        try eventually("traffic's key pinned on disk") {
            try count(fault, "SELECT count(*) FROM remote_nodes WHERE name = 'traffic' AND sign_key = ?", .blob(key)) == 1
        }
        XCTAssertEqual(try alice.nodeKeys()["traffic"], key)
    }

    func testKeyPinnedOnFirstSightWhoseCommitFailedIsPinnedOnDiskFromTheNextAnnouncement() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic"), district = try TestNode("district")
        for n in [hq, traffic, district] { try n.start() }
        let alice = try Client(profile: try hq.join("alice"))
        defer { alice.close() }
        let key = try district.dir.loadKeys().sign.publicKey
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("remote_nodes", when: "NEW.name = 'district'")
        try hq.peer(with: traffic)
        try traffic.peer(with: district)
        try waitForFailedCommit(hq)
        try fault.disarm()
        try eventually("district's key pinned on disk") {
            try count(fault, "SELECT count(*) FROM remote_nodes WHERE name = 'district' AND sign_key = ?", .blob(key)) == 1
        }
        XCTAssertEqual(try alice.nodeKeys()["district"], key)
        // The pin holds across a restart, before any announcement is heard again.
        try hq.restart()
        let again = try Client(profile: try Profile.load(from: hq.profilePath("alice")))
        defer { again.close() }
        XCTAssertEqual(try again.nodeKeys()["district"], key)
    }
}
