import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Labels and clearances across units (protocol/SPEC.md 7.11), adversarially: a client that
/// skips its checks or lies about the label, a relay that rewrites it, links with ceilings.
/// Nobody receives more than their clearance; every rewrite is detected; every refusal reaches
/// the sender with its reason.
final class LabelTests: XCTestCase {
    /// Sets `user`'s clearance on `node` and waits until `observer` sees it in the signed entry.
    func clear(_ user: String, on node: TestNode, to label: String, rank: UInt8, seenBy observers: [Client]) throws {
        _ = try Operator.clearUser(dataDir: node.dir, user: user, label: label)
        let address = Address("\(user)@\(node.name)")!
        for observer in observers {
            observer.directoryRefreshMs = 0
            try waitUntil("\(address)'s clearance to reach \(observer.profile.address)", timeout: 20, every: 0.1) {
                (try? observer.lookup(address))?.clearance == rank
            }
        }
    }

    /// Sets the ceiling of `node`'s link to `peer` and waits until the node applies it.
    func setLinkCeiling(_ node: TestNode, peer: String, _ label: String, display: String) throws {
        var config = try node.dir.loadConfig()
        let i = try XCTUnwrap(config.peers.firstIndex { $0.name == peer })
        config.peers[i].ceiling = label
        try node.dir.saveConfig(config)
        try node.waitFor("the link ceiling toward \(peer)") { s in
            s.labels.links[peer] == display
        }
    }

    func refusals(_ node: TestNode) throws -> [String: Int] {
        try node.status().labels.refused
    }

    func assertRefused(_ code: UInt16, naming: String, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case ClientError.refused(let c, let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(c, code, reason, file: file, line: line)
            XCTAssertTrue(reason.contains(naming), "\(reason) names \(naming)", file: file, line: line)
        }
    }

    /// hq — traffic — district. Each check point refuses what it can see: the sender's client
    /// and node (naming who), a relay's link ceiling (the refusal reaches the sender, and the
    /// stream behind it still flows), accreditation; what is allowed arrives with its label.
    func testThreeUnitsEveryCheckPointAndTheRefusalReachesTheSender() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        defer { for c in [alice, bob, wu, zhao] { c.close() } }
        let wuAddress = Address("wu@traffic")!, zhaoAddress = Address("zhao@district")!
        try clear("wu", on: traffic, to: "敏感", rank: 2, seenBy: [alice])
        try clear("zhao", on: district, to: "工作秘密", rank: 3, seenBy: [alice])
        // traffic lets at most 敏感 leave toward district.
        try setLinkCeiling(traffic, peer: "district", "sensitive", display: "敏感 sensitive")

        // 1. The sender's client names who is not cleared; nothing leaves.
        alice.sendLabel = "工作秘密"
        assertRefused(451, naming: "wu@traffic") { _ = try alice.sendText(to: wuAddress, text: "above wu") }
        // 2. A modified client that skips its checks: its node refuses, naming wu and his clearance.
        alice.checksLabels = false
        assertRefused(451, naming: "wu@traffic (cleared to 敏感 sensitive)") { _ = try alice.sendText(to: wuAddress, text: "above wu") }
        // A state secret: hq is not accredited, and says so (452), whatever the client skipped.
        alice.sendLabel = "机密"
        assertRefused(452, naming: "not accredited") { _ = try alice.sendText(to: zhaoAddress, text: "state secret") }
        alice.checksLabels = true
        assertRefused(452, naming: "not accredited") { _ = try alice.sendText(to: zhaoAddress, text: "state secret") }

        // 3. zhao is cleared for 工作秘密, and hq's link to traffic carries it; traffic's link to
        // district does not: traffic refuses it, alice gets the signed reason, zhao gets nothing of it.
        alice.sendLabel = "工作秘密"
        let refused = try alice.sendText(to: zhaoAddress, text: "work secret for zhao")
        // 4. The stream from hq to district is not stopped at the refused envelope.
        alice.sendLabel = nil
        _ = try alice.sendText(to: zhaoAddress, text: "internal for zhao")
        let got = try zhao.receive(1, timeoutMs: 15_000)
        XCTAssertEqual(got.map(\.text), ["internal for zhao"])
        XCTAssertEqual(got.first?.label, "内部 internal")
        let notices = try alice.receive(1, timeoutMs: 15_000)
        let notice = try XCTUnwrap(notices.first?.refusal, "alice got the refusal notice")
        XCTAssertEqual(notices.first?.kind, .refusal)
        XCTAssertEqual(notice.notice.ref, refused)
        XCTAssertEqual(notice.notice.node, "traffic")
        XCTAssertEqual(notice.notice.reason, .linkCeiling)
        XCTAssertTrue(notice.notice.text.contains("district"), notice.notice.text)
        XCTAssertTrue(notice.verified, "signed by traffic: \(notice.reason ?? "")")
        XCTAssertEqual(try refusals(traffic)["link_ceiling"], 1)
        XCTAssertEqual(try refusals(hq)["not_cleared"], 1)
        XCTAssertEqual(try refusals(hq)["not_accredited"], 1)
        // Each refusal is in the refusing node's audit log; so is the clearance the operator set.
        let atTraffic = try Operator.auditRecords(dataDir: traffic.dir, filter: AuditFilter(kind: .labelRefused)).map { try AuditEvent($0.record.fields) }
        XCTAssertEqual(atTraffic, [.labelRefused(id: refused, from: "alice@hq", to: "zhao@district",
                                                 reason: LabelReason.linkCeiling.rawValue, label: 3)])
        XCTAssertEqual(try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .labelRefused)).count, 2)
        XCTAssertEqual(try Operator.auditRecords(dataDir: traffic.dir, filter: AuditFilter(kind: .clearanceSet)).map { try AuditEvent($0.record.fields) },
                       [.clearanceSet(user: "wu@traffic", label: 2, by: "operator")])
        XCTAssertEqual(try zhao.drain(ms: 500).count, 0, "nothing above the link's ceiling reached district")
        XCTAssertEqual(try district.counter(\.undeliverable), 1, "district used the place-keeper's stream number and stored nothing")

        // 5. What everyone is cleared for arrives, with its label shown.
        alice.sendLabel = "敏感"
        _ = try alice.sendText(to: wuAddress, text: "sensitive for wu")
        let forWu = try wu.receive(1, timeoutMs: 15_000)
        XCTAssertEqual(forWu.map(\.text), ["sensitive for wu"])
        XCTAssertEqual(forWu.first?.label, "敏感 sensitive")
    }

    /// A FakePeerNode relays envelopes of its user mallory to bob@hq (cleared to the default,
    /// 内部): one honestly labelled above bob's clearance (hq refuses it and the signed notice goes
    /// back toward the sender), and three whose clear label the relay rewrote, stripped or
    /// added — each detected by bob's client; only the one within bob's clearance is shown.
    func testRelayThatRewritesTheLabelIsDetectedAndNothingAboveClearanceIsShown() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let mallory = BoxKeyPair.generate()
        fake.serveDirectory([DirectoryEntry(address: "mallory@fake", display: "Mallory", boxKey: mallory.publicKey,
                                            signKey: SignKeyPair.generate().publicKey, updatedAt: 1)])
        try fake.run("hq to take mallory's entry") { (try? bob.lookup(Address("mallory@fake")!)) != nil }
        let bobEntry = try bob.lookup(Address("bob@hq")!)
        let key = try XCTUnwrap(BoxSharedKey(theirPublicKey: bobEntry.boxKey, mySecretKey: mallory.secretKey))

        func envelope(_ text: String, sealed: EnvelopeLabel?, header: EnvelopeLabel?) -> Envelope {
            let id = MessageID(bytes: Sodium.randomBytes(16))!, now = Clock.nowMs()
            let body = Sealed.seal(kind: 1, id: id, from: "mallory@fake", to: "bob@hq", sentAt: now, label: sealed,
                                   content: Array(text.utf8), key: key)
            return Envelope(id: id, from: "mallory@fake", to: "bob@hq", kind: 1, sentAt: now, label: header, body: body)
        }
        let secret = EnvelopeLabel(rank: 3), internalLabel = EnvelopeLabel(rank: 1), publicLabel = EnvelopeLabel(rank: 0)
        let honest = envelope("honest work secret", sealed: secret, header: secret)
        let rewritten = envelope("rewritten", sealed: secret, header: internalLabel)
        let stripped = envelope("stripped", sealed: secret, header: nil)
        let added = envelope("label added to v1", sealed: nil, header: publicLabel)
        let fine = envelope("internal", sealed: internalLabel, header: internalLabel)
        for (seq, e) in [honest, rewritten, stripped, added, fine].enumerated() {
            try fake.send(.relay(jid: UInt64(seq + 1), origin: "fake", dest: "hq", streamSeq: UInt64(seq + 1), hops: 0, envelope: e, epoch: 0))
        }
        // The refusal of the honest one travels back to the fake (toward mallory), signed by hq.
        // One handler sees every command (a nested `run` would hand some to its own, which drops them).
        var notice: LabelNotice?
        let noticeDeadline = Clock.monotonicNs() + 30_000_000_000
        while notice == nil, Clock.monotonicNs() < noticeDeadline {
            try fake.announce()
            try fake.serve(ms: 200) { command, _ in
                if case .relay(_, "hq", "fake", _, _, let e, _) = command, e.knownKind == .refusal { notice = try? LabelNotice.decode(e.body) }
            }
        }
        XCTAssertEqual(notice?.ref, honest.id)
        XCTAssertEqual(notice?.reason, .notCleared)
        XCTAssertEqual(notice?.sender, "mallory@fake")
        XCTAssertTrue(notice?.verify(nodeKey: try hq.dir.loadKeys().sign.publicKey) ?? false)
        XCTAssertTrue(notice?.text.contains("bob@hq") ?? false, notice?.text ?? "")

        // bob: the one within his clearance is shown; each rewrite is refused as such.
        try bob.attach()
        var shown: [ReceivedMessage] = [], refused: [MessageID: String] = [:]
        let deadline = Clock.monotonicNs() + 15_000_000_000
        while shown.count + refused.count < 4, Clock.monotonicNs() < deadline {
            switch try bob.next(timeoutMs: 200) {
            case .message(let m)?: shown.append(m); try bob.ack(m.seq)
            case .undecryptable(let seq, let id, _, let reason)?: refused[id] = reason; try bob.ack(seq)
            default: break
            }
        }
        XCTAssertEqual(shown.map(\.text), ["internal"], "zero deliveries above bob's clearance")
        XCTAssertEqual(shown.first?.label, "内部 internal")
        XCTAssertEqual(Set(refused.keys), [rewritten.id, stripped.id, added.id])
        for reason in refused.values { XCTAssertTrue(reason.contains("label"), reason) }
        XCTAssertEqual(try refusals(hq)["not_cleared"], 1)
    }

    /// A modified client that lies: the clear label says 内部, the sealed one 工作秘密 (or the
    /// other way round). The nodes see only the clear one; the recipient's client refuses both.
    func testClientThatLiesAboutTheLabelIsCaughtByTheRecipient() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close(); _ = (hq, traffic) }
        let to = Address("wu@traffic")!
        let entry = try alice.lookup(to)
        let key = try XCTUnwrap(BoxSharedKey(theirPublicKey: entry.boxKey, mySecretKey: alice.profile.box.secretKey))
        for (sealed, header) in [(UInt8(3), UInt8(1)), (UInt8(0), UInt8(1))] {
            let id = MessageID(bytes: Sodium.randomBytes(16))!, now = Clock.nowMs()
            let body = Sealed.seal(kind: 1, id: id, from: "alice@hq", to: to.description, sentAt: now,
                                   label: EnvelopeLabel(rank: sealed), content: Array("lie".utf8), key: key)
            try alice.store(Envelope(id: id, from: "", to: to.description, kind: 1, sentAt: now, label: EnvelopeLabel(rank: header), body: body))
        }
        try wu.attach()
        var undecryptable: [String] = [], messages = 0
        let deadline = Clock.monotonicNs() + 15_000_000_000
        while undecryptable.count < 2, Clock.monotonicNs() < deadline {
            switch try wu.next(timeoutMs: 200) {
            case .message(let m)?: messages += 1; try wu.ack(m.seq)
            case .undecryptable(let seq, _, _, let reason)?: undecryptable.append(reason); try wu.ack(seq)
            default: break
            }
        }
        XCTAssertEqual(messages, 0)
        XCTAssertEqual(undecryptable.count, 2)
        for reason in undecryptable { XCTAssertTrue(reason.contains("label"), reason) }
    }

    /// Groups: a member must be cleared for the group's label (at create and add); raising the label is
    /// refused while a member is not cleared; posts are at most the label and checked against every
    /// member's clearance now (a clearance lowered after joining counts).
    func testGroupLabelRules() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bob = try Client(profile: try hq.join("bob"))
        let carol = try Client(profile: try hq.join("carol"))
        defer { for c in [alice, bob, carol] { c.close() } }
        let group = Address("board@hq")!
        func request(_ op: Group.Op, _ members: [String] = [], label: UInt8? = nil) throws -> Group.Event {
            try alice.groupOp(op, group: group, members: members, label: label)
            let answer = try XCTUnwrap(try alice.awaitGroupEvent(group: group, timeoutMs: 10_000))
            try alice.ack(answer.seq) // so the next request's answer is the next one
            try alice.flush()
            return try XCTUnwrap(answer.groupEvent)
        }
        try clear("alice", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])

        var event = try request(.create, ["bob@hq"], label: 2)
        XCTAssertEqual(event.op, Group.Event.refused)
        XCTAssertTrue(event.reason.contains("bob@hq (cleared to 内部 internal)"), event.reason)
        try clear("bob", on: hq, to: "敏感", rank: 2, seenBy: [alice])
        event = try request(.create, ["bob@hq"], label: 2)
        XCTAssertEqual(event.opName, "create")
        XCTAssertEqual(event.label, 2)

        event = try request(.add, ["carol@hq"])
        XCTAssertEqual(event.op, Group.Event.refused, "carol is cleared to 内部 only")
        XCTAssertTrue(event.reason.contains("carol@hq"), event.reason)
        event = try request(.label, label: 3)
        XCTAssertEqual(event.op, Group.Event.refused, "bob is not cleared for 工作秘密")
        XCTAssertTrue(event.reason.contains("bob@hq"), event.reason)

        let members = ["alice@hq", "bob@hq"]
        // Above the group's label: the client names bob; a modified client's post is refused by the node.
        alice.sendLabel = "工作秘密"
        assertRefused(451, naming: "bob@hq") { _ = try alice.sendGroupText(group: group, members: members, text: "too high") }
        alice.checksLabels = false
        assertRefused(451, naming: "敏感 sensitive group") { _ = try alice.sendGroupText(group: group, members: members, text: "too high") }
        // bob's clearance lowered after he joined: a 敏感 post is refused naming him.
        try clear("bob", on: hq, to: "公开", rank: 0, seenBy: [alice])
        alice.sendLabel = "敏感"
        assertRefused(451, naming: "bob@hq (cleared to 公开 public)") { _ = try alice.sendGroupText(group: group, members: members, text: "x") }
        // Cleared again: the post arrives with its label, and raising the group's label works.
        try clear("bob", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        alice.checksLabels = true
        let post = try alice.sendGroupText(group: group, members: members, text: "sensitive post")
        // Until the post is in (not a 5 s wait for three messages): a refused post sent earlier
        // on the same stream would have arrived before it.
        var received: [ReceivedMessage] = []
        try bob.attach()
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while !received.contains(where: { $0.id == post }), Clock.monotonicNs() < deadline {
            guard case .message(let m)? = try bob.next(timeoutMs: 100) else { continue }
            received.append(m)
            try bob.ack(m.seq)
        }
        try bob.flush()
        let got = received.filter { $0.kind == .text }
        XCTAssertEqual(got.map(\.text), ["sensitive post"])
        XCTAssertEqual(got.first?.label, "敏感 sensitive")
        event = try request(.label, label: 3)
        XCTAssertEqual(event.opName, "label")
        XCTAssertEqual(event.label, 3)
        event = try request(.label, label: 1)
        XCTAssertEqual(event.label, 1, "an admin may lower it: recorded as a downgrade")
        XCTAssertEqual(try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .groupLabelChanged)).map { try AuditEvent($0.record.fields) },
                       [.groupLabelChanged(group: "board@hq", from: 2, to: 3, by: "alice@hq"),
                        .groupLabelChanged(group: "board@hq", from: 3, to: 1, by: "alice@hq")])
        XCTAssertEqual(try refusals(hq)["group_label"], 1)
    }

    /// 保密期限: at its readable-until time the recipient's node deletes the content still waiting
    /// (the header stays) and sends the sender a signed `expired` receipt; the client shows it as
    /// expired. A message without a time is untouched.
    func testReadableUntilDeletesWaitingContentWithASignedReceipt() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let to = Address("bob@hq")!
        alice.readableUntil = Clock.nowMs() + 1_500
        let short = try alice.sendText(to: to, text: "readable briefly")
        alice.readableUntil = 0
        _ = try alice.sendText(to: to, text: "kept")
        try hq.waitFor("the content to expire", timeout: 10) { $0.labels.expired == 1 }
        let got = try bob.receive(2)
        XCTAssertEqual(got.map(\.kind), [.expired, .text])
        XCTAssertEqual(got.first?.id, short)
        XCTAssertFalse(got.first?.text.contains("readable briefly") ?? true, "the content is gone")
        XCTAssertEqual(got.last?.text, "kept")
        let receipts = try alice.receive(1)
        XCTAssertEqual(receipts.first?.receipt?.receipt.event, .expired)
        XCTAssertEqual(receipts.first?.receipt?.receipt.burn, short)
        XCTAssertEqual(receipts.first?.receipt?.verified, true)
    }
    /// A clearance lowered while a message waits in the person's mailbox: the waiting content above
    /// the new clearance is not handed out (not even to a client that skips its checks), its
    /// content is deleted, and its sender gets the signed refusal notice.
    func testClearanceLoweredWithholdsWaitingContentAboveIt() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let to = Address("bob@hq")!
        try clear("alice", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        try clear("bob", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        alice.sendLabel = "工作秘密"
        let secret = try alice.sendText(to: to, text: "work secret waiting")
        alice.sendLabel = nil
        _ = try alice.sendText(to: to, text: "internal waiting")
        try clear("bob", on: hq, to: "公开", rank: 0, seenBy: [alice])
        bob.checksLabels = false
        let got = try bob.drain(ms: 1_500)
        XCTAssertFalse(got.contains { $0.text == "work secret waiting" }, "nothing above bob's clearance now: \(got.map(\.text))")
        XCTAssertFalse(got.contains { $0.text == "internal waiting" }, "bob is cleared to 公开 only now")
        let notices = try alice.receive(2, timeoutMs: 10_000).compactMap(\.refusal)
        XCTAssertEqual(Set(notices.map(\.notice.ref)).contains(secret), true)
        XCTAssertTrue(notices.allSatisfy { $0.verified && $0.notice.reason == .notCleared })
    }
    /// A group post fanned out to a member on another node, refused by a relay for its link's
    /// ceiling: the poster (not the group) gets the signed refusal notice for their post.
    func testFanoutRefusedByARelayReachesThePoster() throws {
        let (nodes, alice, bob, wu, zhao) = try threeUnits()
        let (hq, traffic, district) = (nodes[0], nodes[1], nodes[2])
        defer { for c in [alice, bob, wu, zhao] { c.close() }; _ = district }
        try clear("alice", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        try clear("zhao", on: district, to: "工作秘密", rank: 3, seenBy: [alice])
        try setLinkCeiling(traffic, peer: "district", "sensitive", display: "敏感 sensitive")
        let group = Address("board@hq")!, members = ["alice@hq", "zhao@district"]
        try alice.groupOp(.create, group: group, members: ["zhao@district"], label: 3)
        let answer = try XCTUnwrap(try alice.awaitGroupEvent(group: group, timeoutMs: 10_000))
        XCTAssertEqual(answer.groupEvent?.opName, "create", answer.groupEvent?.reason ?? "")
        try alice.ack(answer.seq)
        try alice.flush()
        alice.sendLabel = "工作秘密"
        let post = try alice.sendGroupText(group: group, members: members, text: "work secret post")
        var notice: ReceivedRefusal?
        let deadline = Clock.monotonicNs() + 15_000_000_000
        while notice == nil, Clock.monotonicNs() < deadline {
            for m in try alice.drain(ms: 300) where m.refusal != nil { notice = m.refusal }
        }
        let got = try XCTUnwrap(notice, "alice got the refusal notice for her post")
        XCTAssertEqual(got.notice.ref, post)
        XCTAssertEqual(got.notice.node, "traffic")
        XCTAssertEqual(got.notice.reason, .linkCeiling)
        XCTAssertTrue(got.verified, got.reason ?? "")
        XCTAssertFalse(try zhao.drain(ms: 300).contains { $0.text == "work secret post" })
    }
    /// A burn message kept for a person whose clearance is then lowered below its label: VIEW does
    /// not hand its content over (not even to a client that skips its checks).
    func testBurnAboveALoweredClearanceIsNotHandedOverAtView() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        try clear("alice", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        try clear("bob", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        alice.sendLabel = "工作秘密"
        let id = try alice.sendBurn(to: Address("bob@hq")!, text: "work secret burn")
        XCTAssertTrue(try bob.receive(1).contains { $0.id == id && $0.kind == .burn })
        XCTAssertEqual(try hq.status().burns.pending, 1)
        try clear("bob", on: hq, to: "公开", rank: 0, seenBy: [alice])
        // Withheld content is deleted at once, not kept until the burn message's expiry.
        XCTAssertEqual(try hq.status().burns.pending, 0, "the kept burn message went with the clearance")
        bob.checksLabels = false
        assertRefused(410, naming: "expired unviewed") { _ = try bob.view(id) }
        let notice = try XCTUnwrap(try alice.receive(1, timeoutMs: 10_000).first?.refusal, "alice is told")
        XCTAssertEqual(notice.notice.ref, id)
        XCTAssertEqual(notice.notice.reason, .notCleared)
    }
    /// A file offered to a person whose clearance is then lowered below its label: its content is
    /// not handed over at download (not even to a client that skips its checks), and, held for
    /// nobody else, is deleted from the node at once.
    func testFileAboveALoweredClearanceIsNotHandedOverAtDownload() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let alice = try Client(profile: try hq.join("alice")), bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        try clear("alice", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        try clear("bob", on: hq, to: "工作秘密", rank: 3, seenBy: [alice])
        let source = hq.root + "/secret.txt"
        try Data("work secret file".utf8).write(to: URL(fileURLWithPath: source))
        alice.sendLabel = "工作秘密"
        _ = try alice.sendFile(to: Address("bob@hq")!, path: source, uploads: UploadBook(profilePath: hq.profilePath("alice")))
        let offer = try XCTUnwrap(try bob.receive(1).first?.file)
        XCTAssertEqual(try hq.status().files.files, 1)
        try clear("bob", on: hq, to: "公开", rank: 0, seenBy: [alice])
        // Nobody else is to get it from hq: its content is deleted at once.
        XCTAssertEqual(try hq.status().files.files, 0, "the withheld file's content is gone from the node")
        bob.checksLabels = false
        XCTAssertThrowsError(try bob.fetchFile(offer, to: hq.root + "/got.txt"), "the file's content reached bob above his clearance")
    }
}
