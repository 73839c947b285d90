import Foundation
@testable import SealpostNode
import SealpostClient
import SealpostCore
import SealpostTestSupport
import Sodium
import SQLite
import XCTest

/// The audit log on real nodes (protocol/SPEC.md §15.7): records appear after the real
/// actions, hold no content, verify, prove against the signed head; `audit verify` finds
/// a record edited, removed, swapped or cut in the SQLite file; a failed commit leaves the
/// in-memory head as it was.
final class AuditNodeTests: XCTestCase {
    func records(_ node: TestNode, _ filter: AuditFilter = AuditFilter()) throws -> [AuditRecord] {
        try Operator.auditRecords(dataDir: node.dir, filter: filter).map(\.record)
    }

    func events(_ node: TestNode) throws -> [AuditEvent] { try records(node).map { try $0.event() } }

    /// Waits until `node`'s log holds a record for which `match` holds.
    func waitForRecord(_ node: TestNode, _ what: String, timeout: Double = 10, _ match: (AuditEvent) -> Bool) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
        var pause = PollPause(upTo: 0.05)
        while Clock.monotonicNs() < deadline {
            if try events(node).contains(where: match) { return }
            pause.sleep()
        }
        throw TimedOut(description: "no \(what) in \(node.name)'s audit log: \(try events(node))")
    }

    /// The next message `client` receives (acknowledged), detached again.
    func next(_ client: Client) throws -> ReceivedMessage {
        defer { try? client.detach() }
        return try XCTUnwrap(try client.receive(1).first, "nothing arrived")
    }

    // MARK: events

    func testRealActionsAreRecordedAndTheLogVerifiesAndProvesAgainstItsSignedHead() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let secret = "audit-needle: the raid is at 06:00, gate 3"

        // A burn message viewed on traffic.
        let burn = try alice.prepareBurn(to: Address("wu@traffic")!, text: secret, images: [])
        try alice.store(burn)
        XCTAssertEqual(try next(wu).kind, .burn)
        XCTAssertEqual(try wu.view(burn.id).text, secret)
        try waitForRecord(traffic, "burn_viewed") { $0 == .burnViewed(id: burn.id, viewer: "wu@traffic", sender: "alice@hq") }

        // A file: pulled by traffic from hq, fetched by wu from traffic.
        let source = hq.root + "/plan.pdf"
        let plain = Sodium.randomBytes(FileChunks.plainChunkBytes + 99)
        FileManager.default.createFile(atPath: source, contents: Data(plain))
        let sent = try alice.sendFile(to: Address("wu@traffic")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let offer = try XCTUnwrap(try next(wu).file)
        _ = try wu.fetchFile(offer, to: traffic.root + "/plan.pdf")
        try waitForRecord(traffic, "wu's fetch") { $0 == .fileFetched(file: sent.fileId, by: "wu@traffic", owner: "") }
        try waitForRecord(hq, "traffic's pull") { $0 == .fileFetched(file: sent.fileId, by: "traffic", owner: "alice@hq") }

        // Account lifecycle on the running node, an invite revoked, directory admin, a backup.
        _ = try hq.join("bob")
        for action in [Operator.UserAction.disable, .enable, .rekey, .remove] {
            _ = try Operator.changeUser(dataDir: hq.dir, user: "bob", action: action, endpoint: hq.endpoint)
        }
        let spare = try Operator.invite(dataDir: hq.dir, user: "carol", endpoint: hq.endpoint)
        let carolInvite = try XCTUnwrap(try Operator.invites(dataDir: hq.dir).first { $0.user == "carol" })
        _ = try Operator.revokeInvite(dataDir: hq.dir, id: carolInvite.id)
        _ = spare
        let forgot = try AdminClient.request(dataDir: hq.dir, ["cmd": "directory-forget", "node": "traffic"])
        XCTAssertNil(forgot["error"], "\(forgot)")
        _ = try Backup.backup(dataDir: hq.dir, to: hq.root + "/backup")

        let trafficKey = try traffic.dir.loadKeys().curve.publicKey
        try waitForRecord(hq, "directory_forget") { $0 == .directoryForget(address: "traffic", by: AuditActor.operator) }
        try Operator.removePeer(dataDir: traffic.dir, name: "hq")
        try waitForRecord(traffic, "peer_removed") { $0 == .peerRemoved(peer: "hq", by: AuditActor.operator) }
        let hqEvents = try events(hq)
        for expected: AuditEvent in [
            .inviteUsed(invite: try XCTUnwrap(try Operator.invites(dataDir: hq.dir).first { $0.user == "alice" }).id, user: "alice@hq"),
            .peerAdded(peer: "traffic", key: trafficKey, by: AuditActor.operator),
            .userDisabled(user: "bob@hq", by: AuditActor.operator), .userEnabled(user: "bob@hq", by: AuditActor.operator),
            .userRekeyed(user: "bob@hq", by: AuditActor.operator), .userRemoved(user: "bob@hq", by: AuditActor.operator),
            .inviteRevoked(invite: carolInvite.id, user: "carol@hq", by: AuditActor.operator),
            .backup(destination: hq.root + "/backup", by: AuditActor.operator),
        ] {
            XCTAssertTrue(hqEvents.contains(expected), "\(expected) missing from \(hqEvents)")
        }
        let kinds = Set(hqEvents.map(\.kind))
        XCTAssertTrue(kinds.isSuperset(of: [.inviteCreated, .inviteUsed, .fileFetched]), "\(kinds)")
        // Queries by user, by kind, by id.
        XCTAssertEqual(try records(hq, AuditFilter(user: "bob@hq")).map(\.fields.kind),
                       [.inviteCreated, .inviteUsed, .userDisabled, .userEnabled, .userRekeyed, .inviteCreated, .userRemoved])
        XCTAssertEqual(try records(traffic, AuditFilter(ref: burn.id)).map(\.fields.kind), [.burnViewed])
        XCTAssertEqual(try records(hq, AuditFilter(kind: .userRemoved)).count, 1)
        XCTAssertTrue(try records(hq, AuditFilter(since: Clock.nowMs() + 60_000)).isEmpty)

        // The head is signed on request; the log verifies; a record proves against the head.
        for node in [hq, traffic] {
            let report = try Operator.auditHead(dataDir: node.dir)
            let head = try XCTUnwrap(report.head)
            XCTAssertTrue(head.verify(nodeKey: try node.dir.loadKeys().sign.publicKey))
            let v = try Operator.auditVerify(dataDir: node.dir)
            XCTAssertTrue(v.ok, "\(node.name): \(v.problem ?? "")")
            XCTAssertEqual(v.headsChecked, 1, "the first periodic head is due a minute after the start")
            let store = try NodeStore(path: node.dir.databasePath)
            defer { store.close() }
            for position in [1, head.position] {
                let proof = try XCTUnwrap(try store.auditProof(position: position, node: node.name))
                XCTAssertNoThrow(try proof.verify(nodeKey: try node.dir.loadKeys().sign.publicKey))
            }
            XCTAssertNil(try store.auditProof(position: head.position + 2, node: node.name), "no proof above the head")
        }

        // No content in any audit table: neither the text nor the ciphertext it travelled in.
        let sample = Array(burn.body.suffix(48).prefix(32))
        for node in [hq, traffic] {
            let db = try Database(path: node.dir.databasePath, readOnly: true, create: false)
            defer { db.close() }
            let rows = try db.query("SELECT actor, subject, COALESCE(ref, x''), detail, prev, hash FROM audit") { s in
                Array(s.text(0).utf8) + Array(s.text(1).utf8) + s.blob(2) + s.blob(3) + s.blob(4) + s.blob(5)
            }
            XCTAssertFalse(rows.isEmpty)
            let all = Data(rows.joined())
            for (what, needle) in [("text", Array(secret.utf8)), ("part of the text", Array("raid".utf8)),
                                   ("ciphertext", sample), ("file bytes", Array(plain.prefix(32)))] {
                XCTAssertNil(all.range(of: Data(needle)), "\(node.name): \(what) in the audit table")
            }
        }
    }

    // MARK: tampering

    /// A stopped node with a signed log of a few records, and a pristine copy of its database.
    func stoppedNodeWithSignedLog() throws -> (TestNode, pristine: String) {
        let hq = try TestNode("hq")
        try hq.start()
        for user in ["zhao", "qian", "sun"] { _ = try hq.join(user) }
        _ = try Operator.changeUser(dataDir: hq.dir, user: "zhao", action: .disable)
        _ = try Operator.changeUser(dataDir: hq.dir, user: "zhao", action: .enable)
        hq.stop()
        _ = try Operator.auditHead(dataDir: hq.dir) // signed by the stopped node's key: head at 8
        let v = try Operator.auditVerify(dataDir: hq.dir)
        XCTAssertTrue(v.ok, v.problem ?? "")
        XCTAssertEqual(v.records, 9) // 3 × (invite_created, invite_used), disabled, enabled, the head's checkpoint
        let pristine = hq.root + "/pristine.db"
        try FileManager.default.copyItem(atPath: hq.dir.databasePath, toPath: pristine)
        return (hq, pristine)
    }

    /// Runs `sql` on a fresh copy of the pristine database, then `audit verify` (as the CLI does).
    func verifyAfter(_ sql: String, on node: TestNode, pristine: String) throws -> AuditVerification {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: node.dir.databasePath + suffix) }
        try FileManager.default.copyItem(atPath: pristine, toPath: node.dir.databasePath)
        let db = try Database(path: node.dir.databasePath, create: false)
        try db.execute(sql)
        db.close()
        return try Operator.auditVerify(dataDir: node.dir)
    }

    func testVerifyFindsAnEditedRemovedSwappedOrCutRecordAtItsPosition() throws {
        let (hq, pristine) = try stoppedNodeWithSignedLog()
        XCTAssertTrue(try verifyAfter("SELECT 1", on: hq, pristine: pristine).ok, "the copy itself verifies")

        var v = try verifyAfter("UPDATE audit SET subject = 'someone@hq' WHERE position = 4", on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 4, v.problem ?? "")
        v = try verifyAfter("UPDATE audit SET time = time + 1 WHERE position = 2", on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 2, v.problem ?? "")
        // Edited with its hash recomputed cannot be done in SQL; edited kind that no longer decodes:
        v = try verifyAfter("UPDATE audit SET kind = 99 WHERE position = 5", on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 5, v.problem ?? "")

        v = try verifyAfter("DELETE FROM audit WHERE position = 3", on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 3, v.problem ?? "")
        XCTAssertTrue(v.problem?.contains("missing") == true, v.problem ?? "")

        // Two rows swapped: every column but the position exchanged.
        v = try verifyAfter("""
            CREATE TEMP TABLE a AS SELECT * FROM audit WHERE position IN (5, 6);
            UPDATE audit SET (time, kind, actor, subject, ref, detail, prev, hash) =
                (SELECT time, kind, actor, subject, ref, detail, prev, hash FROM a WHERE a.position = 11 - audit.position)
                WHERE position IN (5, 6);
            """, on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 5, v.problem ?? "")

        // The tail cut below the signed head (at 8).
        v = try verifyAfter("DELETE FROM audit WHERE position >= 7", on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 7, v.problem ?? "")
        XCTAssertTrue(v.problem?.contains("cut") == true, v.problem ?? "")

        // A forged head (its root changed).
        v = try verifyAfter("UPDATE audit_heads SET root = zeroblob(32)", on: hq, pristine: pristine)
        XCTAssertEqual(v.firstBad, 8, v.problem ?? "")
    }

    func testRunningNodeFindsATailCutAboveTheSignedHead() throws {
        let hq = try TestNode("hq")
        try hq.start()
        for user in ["zhao", "qian"] { _ = try hq.join(user) }
        XCTAssertTrue(try Operator.auditVerify(dataDir: hq.dir).ok)
        let db = try Database(path: hq.dir.databasePath, create: false)
        try db.execute("DELETE FROM audit WHERE position = (SELECT MAX(position) FROM audit)")
        db.close()
        let v = try Operator.auditVerify(dataDir: hq.dir)
        XCTAssertEqual(v.firstBad, 4, v.problem ?? "")
    }

    func testTheHeadIsSignedPeriodicallyOnlyWhenTheLogChanged() throws {
        let hq = try TestNode("hq")
        try hq.start { $0.audit.signEveryS = 1 }
        _ = try hq.join("zhao")
        func heads() throws -> [AuditHead] {
            let store = try NodeStore(path: hq.dir.databasePath)
            defer { store.close() }
            return try store.auditHeads(node: "hq")
        }
        let deadline = Clock.monotonicNs() + 10_000_000_000
        var pause = PollPause(upTo: 0.05)
        while try heads().isEmpty, Clock.monotonicNs() < deadline { pause.sleep() }
        let first = try XCTUnwrap(try heads().first, "no head signed within 10 s at sign_every_s 1")
        XCTAssertEqual(first.position, 2, "invite_created, invite_used")
        XCTAssertTrue(first.verify(nodeKey: try hq.dir.loadKeys().sign.publicKey))
        // Its own checkpoint record does not call for another head.
        try hq.waitFor("two more signing intervals") { s in s.uptimeS >= 3 }
        XCTAssertEqual(try heads().count, 1)
        XCTAssertEqual(try records(hq).last?.fields.kind, .auditHeadSigned)
        let status = try hq.status().audit
        XCTAssertEqual(status.records, 3)
        XCTAssertEqual(status.signedThrough, 2)
        XCTAssertEqual(status.signEveryS, 1)
        XCTAssertNotNil(status.lastSigned)

        // A restart starts from the head's kept frontier: the next head is over the same tree.
        try hq.restart()
        _ = try hq.join("qian")
        let next = try XCTUnwrap(try Operator.auditHead(dataDir: hq.dir).head)
        XCTAssertEqual(next.position, 5)
        let v = try Operator.auditVerify(dataDir: hq.dir)
        XCTAssertTrue(v.ok, v.problem ?? "")
        XCTAssertEqual(v.headsChecked, 2)
    }

    func testARestoredLogIsTheBackupsWithARestoreRecordAndVerifies() throws {
        let hq = try TestNode("hq")
        try hq.start()
        _ = try hq.join("zhao")
        let backup = hq.root + "/backup"
        _ = try Backup.backup(dataDir: hq.dir, to: backup)
        _ = try Operator.changeUser(dataDir: hq.dir, user: "zhao", action: .disable)
        XCTAssertEqual(try records(hq).map(\.fields.kind), [.inviteCreated, .inviteUsed, .backup, .userDisabled])
        hq.stop()
        let restored = try Backup.restore(from: backup, into: hq.dir)
        let log = try events(hq)
        XCTAssertEqual(log.map(\.kind), [.inviteCreated, .inviteUsed, .restore], "the backup's log, then the restore")
        XCTAssertEqual(log.last, .restore(source: backup, epoch: try XCTUnwrap(restored.epoch), by: AuditActor.operator))
        XCTAssertTrue(try Operator.auditVerify(dataDir: hq.dir).ok)
        try hq.start()
        _ = try Operator.changeUser(dataDir: hq.dir, user: "zhao", action: .disable)
        XCTAssertEqual(try records(hq).last?.position, 4, "the restarted node appends after the restore record")
        XCTAssertTrue(try Operator.auditVerify(dataDir: hq.dir).ok)
    }

    // MARK: commit failure

    func testAFailedCommitLeavesTheHeadAsItWasAndTheNextRecordChainsFromIt() throws {
        let hq = try TestNode("hq")
        try hq.start()
        _ = try hq.join("zhao")
        let before = try records(hq).count
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("audit", when: "NEW.kind = \(AuditKind.userDisabled.rawValue)")
        XCTAssertThrowsError(try Operator.changeUser(dataDir: hq.dir, user: "zhao", action: .disable))
        try fault.disarm()
        XCTAssertEqual(try records(hq).count, before, "nothing of the failed cycle was written")
        // Had the head moved with the failed cycle, this record would leave a gap and a wrong prev.
        _ = try Operator.changeUser(dataDir: hq.dir, user: "zhao", action: .disable)
        let log = try records(hq)
        XCTAssertEqual(log.count, before + 1)
        XCTAssertEqual(log.last?.position, UInt64(before + 1))
        let v = try Operator.auditVerify(dataDir: hq.dir)
        XCTAssertTrue(v.ok, v.problem ?? "")
        XCTAssertEqual(try Operator.auditHead(dataDir: hq.dir).position, UInt64(before + 2), "the head's checkpoint follows")
    }
}
