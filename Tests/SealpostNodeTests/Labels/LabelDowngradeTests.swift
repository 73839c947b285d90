import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Downgrades (SPEC 7.11.11): a person the originating unit allows (`labels.downgraders`) lowers
/// a 工作秘密 message to 内部; the node countersigns it and records it in its audit log, and the
/// new label and the signed record travel with every later forward. A lowered label without a
/// downgrade that holds is refused at the forwarder's node, and, when nodes let it through, by
/// the recipient's client.
final class LabelDowngradeTests: XCTestCase {
    /// hq with `labels.downgraders: [li]`; office, li and wang cleared to 工作秘密, wu and zhou to 内部.
    func unit() throws -> (hq: TestNode, clients: [String: Client]) {
        let hq = try TestNode(name: "hq") { $0.labels.downgraders = ["li"] }
        try hq.start()
        var clients: [String: Client] = [:]
        for user in ["office", "li", "wang", "wu", "zhou"] { clients[user] = try Client(profile: try hq.join(user)) }
        for user in ["office", "li", "wang"] { _ = try Operator.clearUser(dataDir: hq.dir, user: user, label: "工作秘密") }
        for c in clients.values { c.directoryRefreshMs = 0 }
        try waitUntil("the clearances", timeout: 10) { (try? clients["office"]!.lookup(Address("li@hq")!))?.clearance == 3 }
        return (hq, clients)
    }

    /// A 工作秘密 text from office to `to`, as `to` received it.
    func workSecret(_ clients: [String: Client], to: String, text: String = "the budget draft") throws -> ForwardSource {
        let office = clients["office"]!, reader = clients[to]!
        office.sendLabel = "工作秘密"
        let id = try office.sendText(to: Address("\(to)@hq")!, text: text)
        let received = try XCTUnwrap(try reader.receive(1).first)
        XCTAssertEqual(received.id, id)
        let source = try XCTUnwrap(received.forwardable)
        XCTAssertEqual(source.origin.label, 3, "the origin (version 2) signs the label")
        return source
    }

    func testAnAllowedPersonDowngradesAndEveryLaterForwardCarriesIt() throws {
        let (hq, c) = try unit()
        defer { for client in c.values { client.close() } }
        let li = c["li"]!, wu = c["wu"]!, zhou = c["zhou"]!
        let source = try workSecret(c, to: "li")
        // Not yet: wu is cleared to 内部 only.
        XCTAssertThrowsError(try li.forward(source, to: [Address("wu@hq")!], groups: [:])) { error in
            guard case ClientError.refused(451, _) = error else { return XCTFail("\(error)") }
        }

        let downgraded = try li.downgrade(source, to: "内部", reason: "published in the bulletin")
        let record = try XCTUnwrap(downgraded.downgrade)
        XCTAssertEqual([record.from, record.to], [3, 1])
        XCTAssertEqual(record.by, "li@hq")
        XCTAssertEqual(record.node, "hq")
        XCTAssertNil(record.problem(for: source.origin, nodeKey: try hq.dir.loadKeys().sign.publicKey))
        XCTAssertEqual(downgraded.forwardLabel?.rank, 1)

        // li forwards it to wu under 内部: delivered, with the downgrade.
        _ = try li.forward(downgraded, to: [Address("wu@hq")!], groups: [:])
        let atWu = try XCTUnwrap(try wu.receive(1).first)
        XCTAssertEqual(atWu.text, "the budget draft")
        XCTAssertEqual(atWu.label, "内部 internal")
        XCTAssertEqual(atWu.effectiveLabelRank, 1)
        XCTAssertEqual(atWu.forward?.header.downgrade, record)
        XCTAssertTrue(atWu.forward?.check.isVerified ?? false, atWu.forward?.summary ?? "")
        // wu's own forward carries it on: zhou (内部) gets it, with the same record.
        let wuSource = try XCTUnwrap(atWu.forwardable)
        XCTAssertEqual(wuSource.downgrade, record)
        _ = try wu.forward(wuSource, to: [Address("zhou@hq")!], groups: [:])
        let atZhou = try XCTUnwrap(try zhou.receive(1).first)
        XCTAssertEqual(atZhou.label, "内部 internal")
        XCTAssertEqual(atZhou.forward?.header.downgrade, record)
        XCTAssertEqual(atZhou.forward?.header.hops.count, 2)

        // The audit log holds the countersigned record; status counts it.
        let audited = try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .labelDowngraded))
        XCTAssertEqual(audited.count, 1)
        guard case .labelDowngraded(let origin, let originator, let by, let from, let to, let bytes)? =
                try audited.first.map({ try AuditEvent($0.record.fields) }) else { return XCTFail("no label_downgraded record") }
        XCTAssertEqual(origin, source.origin.id)
        XCTAssertEqual(originator, "office@hq")
        XCTAssertEqual(by, "li@hq")
        XCTAssertEqual([from, to], [3, 1])
        XCTAssertEqual(try DowngradeRecord.decode(bytes), record)
        XCTAssertEqual(try hq.status().labels.downgrades, 1)
    }

    func testOnlyDowngradersOfTheOriginatingUnitMayDowngrade() throws {
        let (hq, c) = try unit()
        defer { for client in c.values { client.close() } }
        // wang holds the message but is not in labels.downgraders.
        let atWang = try workSecret(c, to: "wang")
        XCTAssertThrowsError(try c["wang"]!.downgrade(atWang, to: "内部", reason: "I think it is fine")) { error in
            guard case ClientError.refused(453, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("labels.downgraders"), reason)
        }
        // Another unit's node: traffic allows bob, but the message is hq's.
        let traffic = try TestNode(name: "traffic") { $0.labels.downgraders = ["bob"] }
        try traffic.start()
        try hq.peer(with: traffic)
        let bob = try Client(profile: try traffic.join("bob"))
        defer { bob.close() }
        _ = try Operator.clearUser(dataDir: traffic.dir, user: "bob", label: "工作秘密")
        try waitUntil("bob's clearance at hq", timeout: 20) { (try? c["office"]!.lookup(Address("bob@traffic")!))?.clearance == 3 }
        try waitUntilKnown(bob, "office@hq")
        c["office"]!.sendLabel = "工作秘密"
        _ = try c["office"]!.sendText(to: Address("bob@traffic")!, text: "for traffic")
        let atBob = try XCTUnwrap(try XCTUnwrap(try bob.receive(1, timeoutMs: 15_000).first).forwardable)
        // The client says so before asking; a modified one that asks anyway gets 453 from its node.
        XCTAssertThrowsError(try bob.downgrade(atBob, to: "内部", reason: "ours now")) { error in
            guard case ClientError.invalid(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("only a person of that unit"), reason)
        }
        let request = DowngradeRequest.signed(origin: atBob.origin, previous: nil, to: 1, reason: "ours now", by: "bob@traffic",
                                              at: Clock.nowMs(), key: bob.profile.sign)
        let answer = try rawRequest(bob, .downgrade(request))
        guard case .error(453, let ref, let reason) = answer else { return XCTFail("\(String(describing: answer))") }
        XCTAssertEqual(ref, atBob.origin.id)
        XCTAssertTrue(reason.contains("only its originating unit hq"), reason)
        XCTAssertEqual(try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .labelDowngraded)).count, 0)
        XCTAssertEqual(try Operator.auditRecords(dataDir: traffic.dir, filter: AuditFilter(kind: .labelDowngraded)).count, 0)

        // The operator adds wang to labels.downgraders: the running node applies it without a restart.
        var config = try hq.dir.loadConfig()
        config.labels.downgraders.append("wang")
        try hq.dir.saveConfig(config)
        var record: DowngradeRecord?
        try waitUntil("hq to apply labels.downgraders", timeout: 15, every: 0.2) {
            record = (try? c["wang"]!.downgrade(atWang, to: "敏感", reason: "cleared for the working group"))?.downgrade
            return record != nil
        }
        XCTAssertEqual(record.map { [$0.from, $0.to] }, [3, 2])
        XCTAssertEqual(try hq.status().labels.downgrades, 1)
    }

    /// A downgrade whose commit fails (its `label_downgraded` record is not written) hands out no
    /// countersigned record: the client gets ERROR 500 and retries, and only the retry counts.
    func testADowngradeWhoseCommitFailedHandsOutNoRecord() throws {
        let (hq, c) = try unit()
        defer { for client in c.values { client.close() } }
        let li = c["li"]!
        let source = try workSecret(c, to: "li")
        let fault = try CommitFault(databasePath: hq.dir.databasePath)
        try fault.arm("audit", when: "NEW.kind = \(AuditKind.labelDowngraded.rawValue)")
        XCTAssertThrowsError(try li.downgrade(source, to: "内部", reason: "published in the bulletin")) { error in
            guard case ClientError.refused(500, _) = error else { return XCTFail("a record without its audit record: \(error)") }
        }
        XCTAssertEqual(try hq.status().labels.downgrades, 0)
        try fault.disarm()
        let record = try XCTUnwrap(try li.downgrade(source, to: "内部", reason: "published in the bulletin").downgrade)
        XCTAssertEqual(record.to, 1)
        XCTAssertEqual(try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .labelDowngraded)).count, 1)
        XCTAssertEqual(try hq.status().labels.downgrades, 1)
    }

    func testALoweredLabelWithoutADowngradeThatHoldsIsRefusedAtTheForwardersNode() throws {
        let (hq, c) = try unit()
        defer { for client in c.values { client.close() } }
        let li = c["li"]!, wu = c["wu"]!
        let source = try workSecret(c, to: "li", text: "first")
        let other = try workSecret(c, to: "li", text: "second")
        let otherDowngraded = try li.downgrade(other, to: "内部", reason: "published")
        var tampered = try li.downgrade(source, to: "内部", reason: "published too")
        tampered.downgrade?.nodeSignature[0] ^= 1

        // A modified client: no checks of its own, labels its forward 内部.
        li.checksLabels = false
        var plain = source
        plain.label = EnvelopeLabel(rank: 1)
        var borrowed = source
        borrowed.apply(try XCTUnwrap(otherDowngraded.downgrade))
        let cases: [(ForwardSource, String)] = [(plain, "without a downgrade"), (tampered, "not signed by hq"),
                                                (borrowed, "of another message")]
        for (forged, why) in cases {
            XCTAssertEqual(forged.forwardLabel?.rank, 1)
            let envelope = try XCTUnwrap(try li.prepareForward(forged, to: [Address("wu@hq")!], groups: [:], note: "").first)
            XCTAssertEqual(envelope.label?.rank, 1)
            XCTAssertThrowsError(try li.store(envelope), why) { error in
                guard case ClientError.refused(451, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains(why), reason)
            }
        }
        // The honest client says so itself, before anything is sent.
        li.checksLabels = true
        XCTAssertThrowsError(try li.forward(plain, to: [Address("wu@hq")!], groups: [:])) { error in
            guard case ClientError.invalid(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("without a downgrade"), reason)
        }
        let refused = try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .forwardRefused)).map { try AuditEvent($0.record.fields) }
        XCTAssertEqual(refused.count, 3)
        for event in refused {
            guard case .forwardRefused(_, _, "li@hq", let reason) = event else { return XCTFail("\(event)") }
            XCTAssertEqual(reason, "label_lowered")
        }
        XCTAssertEqual(try hq.status().labels.refused["lowered"], 3)
        XCTAssertEqual(try wu.drain(ms: 300).count, 0, "wu got nothing of them")
    }

    /// bob@hq cleared to 工作秘密; mallory@fake in the fake peer's directory; mallory's 工作秘密
    /// origin of "the inspection list" and the key she seals to bob with.
    func mallorysNotice(_ hq: TestNode, _ fake: FakePeerNode, _ bob: Client) throws
        -> (sign: SignKeyPair, key: BoxSharedKey, text: [UInt8], hashKey: [UInt8], provenance: Provenance) {
        _ = try Operator.clearUser(dataDir: hq.dir, user: "bob", label: "工作秘密")
        let (_, mallorySign, key) = try malloryOnTheFake(fake, seenBy: bob)
        let text = Array("the inspection list".utf8), hashKey = Sodium.randomBytes(32)
        let provenance = Provenance.make(id: MessageID(bytes: Sodium.randomBytes(16))!, sender: "mallory@fake", to: "mallory@fake",
                                         sentAt: Clock.nowMs() - 1000, kind: .text, content: text, policy: ForwardPolicy(),
                                         key: mallorySign, label: 3, hashKey: hashKey)
        return (mallorySign, key, text, hashKey, provenance)
    }

    /// A FakePeerNode relays two forwards of mallory's 工作秘密 message to bob@hq (cleared to
    /// 工作秘密): one labelled 工作秘密, shown; one labelled 内部 without a downgrade, which hq lets
    /// through (bob is cleared for what it forwards) and bob's client refuses unopened.
    func testARelayedForwardWithALoweredLabelIsRefusedByTheRecipientsClient() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let (mallorySign, key, text, hashKey, provenance) = try mallorysNotice(hq, fake, bob)
        func forward(labelled rank: UInt8) -> Envelope {
            var hop = ForwardHop(forwarder: "mallory@fake", via: "mallory@fake", recipients: 1,
                                 recipientSet: Forward.recipientSetHash(["bob@hq"], hashKey: hashKey), at: Clock.nowMs(),
                                 parent: provenance.origin.link)
            hop.sign(with: mallorySign)
            let header = ForwardHeader(origin: provenance.origin, hops: [hop])
            let id = MessageID(bytes: Sodium.randomBytes(16))!, now = Clock.nowMs()
            let content = ForwardContent(hashKey: hashKey, content: text, note: "", recipients: ["bob@hq"]).encode()
            let sealed = Sealed.seal(kind: EnvelopeKind.forward.rawValue, id: id, from: "mallory@fake", to: "bob@hq", sentAt: now,
                                     label: EnvelopeLabel(rank: rank), content: content, key: key)
            return Envelope(id: id, from: "mallory@fake", to: "bob@hq", kind: EnvelopeKind.forward.rawValue, sentAt: now,
                            label: EnvelopeLabel(rank: rank), body: header.body(sealed: sealed))
        }
        let honest = forward(labelled: 3), lowered = forward(labelled: 1)
        for (seq, e) in [honest, lowered].enumerated() {
            try fake.send(.relay(jid: UInt64(seq + 1), origin: "fake", dest: "hq", streamSeq: UInt64(seq + 1), hops: 0, envelope: e, epoch: 0))
        }
        try bob.attach()
        var shown: [ReceivedMessage] = [], refused: [MessageID: String] = [:]
        let deadline = Clock.monotonicNs() + 15_000_000_000
        while shown.count + refused.count < 2, Clock.monotonicNs() < deadline {
            try fake.serve(ms: 20)
            switch try bob.next(timeoutMs: 100) {
            case .message(let m)?: shown.append(m); try bob.ack(m.seq)
            case .undecryptable(let seq, let id, _, let reason)?: refused[id] = reason; try bob.ack(seq)
            default: break
            }
        }
        XCTAssertEqual(shown.map(\.id), [honest.id])
        XCTAssertEqual(shown.first?.text, "the inspection list")
        XCTAssertTrue(shown.first?.forward?.check.isVerified ?? false, shown.first?.forward?.summary ?? "")
        XCTAssertEqual(Array(refused.keys), [lowered.id])
        XCTAssertTrue(refused[lowered.id]?.contains("label lowered without a downgrade") ?? false, refused[lowered.id] ?? "")
    }

    /// The downgrade of a forward is signed by no hop: a relay can add one that does not hold (here
    /// countersigned by a key that is not fake's). bob's client shows the forward under its origin's
    /// label and keeps no such downgrade, so bob's own forwards of it are not labelled lower.
    func testADowngradeThatDoesNotHoldIsNotKeptForLaterForwards() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let (mallorySign, key, text, hashKey, provenance) = try mallorysNotice(hq, fake, bob)
        var hop = ForwardHop(forwarder: "mallory@fake", via: "mallory@fake", recipients: 1,
                             recipientSet: Forward.recipientSetHash(["bob@hq"], hashKey: hashKey), at: Clock.nowMs(),
                             parent: provenance.origin.link)
        hop.sign(with: mallorySign)
        var forged = DowngradeRecord(originLink: provenance.origin.link, from: 3, to: 1, by: "mallory@fake", at: Clock.nowMs(),
                                     reason: "added on the way")
        forged.signAsUser(with: mallorySign)
        forged.countersign(node: "fake", with: SignKeyPair.generate())
        let header = ForwardHeader(origin: provenance.origin, hops: [hop], downgrade: forged)
        let id = MessageID(bytes: Sodium.randomBytes(16))!, now = Clock.nowMs()
        let content = ForwardContent(hashKey: hashKey, content: text, note: "", recipients: ["bob@hq"]).encode()
        let sealed = Sealed.seal(kind: EnvelopeKind.forward.rawValue, id: id, from: "mallory@fake", to: "bob@hq", sentAt: now,
                                 label: EnvelopeLabel(rank: 3), content: content, key: key)
        let envelope = Envelope(id: id, from: "mallory@fake", to: "bob@hq", kind: EnvelopeKind.forward.rawValue, sentAt: now,
                                label: EnvelopeLabel(rank: 3), body: header.body(sealed: sealed))
        try fake.send(.relay(jid: 1, origin: "fake", dest: "hq", streamSeq: 1, hops: 0, envelope: envelope, epoch: 0))
        try bob.attach()
        var shown: ReceivedMessage?
        let deadline = Clock.monotonicNs() + 15_000_000_000
        while shown == nil, Clock.monotonicNs() < deadline {
            try fake.serve(ms: 20)
            if case .message(let m)? = try bob.next(timeoutMs: 100) { shown = m; try bob.ack(m.seq) }
        }
        let message = try XCTUnwrap(shown)
        XCTAssertEqual(message.effectiveLabelRank, 3, "the downgrade does not hold: the origin's label")
        let source = try XCTUnwrap(message.forwardable)
        XCTAssertNil(source.downgrade, "a downgrade that does not hold is not carried on")
        XCTAssertEqual(source.forwardLabel?.rank, 3)
    }

    /// A relay refuses a lowered forward like a ceiling: a FakePeerNode sends, through hq, a
    /// forward of a 工作秘密 message labelled 内部 to wu@traffic; hq passes only a place-keeper on,
    /// counts it as `lowered` and sends the sender a signed refusal notice of reason 7.
    func testARelayRefusesALoweredForwardWithANotice() throws {
        let (hq, traffic, alice, wu) = try twoUnits()
        defer { alice.close(); wu.close() }
        let fake = try FakePeerNode()
        try fake.configure(on: hq)
        try fake.run("hq to connect to the fake") { try hq.status().peers.contains { $0.name == "fake" && $0.state == "connected" } }
        let mallory = SignKeyPair.generate(), hashKey = Sodium.randomBytes(32)
        let provenance = Provenance.make(id: MessageID(bytes: Sodium.randomBytes(16))!, sender: "mallory@fake", to: "mallory@fake",
                                         sentAt: Clock.nowMs(), kind: .text, content: Array("list".utf8), policy: ForwardPolicy(),
                                         key: mallory, label: 3, hashKey: hashKey)
        var hop = ForwardHop(forwarder: "mallory@fake", via: "mallory@fake", recipients: 1,
                             recipientSet: Forward.recipientSetHash(["wu@traffic"], hashKey: hashKey), at: Clock.nowMs(), parent: provenance.origin.link)
        hop.sign(with: mallory)
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let lowered = Envelope(id: id, from: "mallory@fake", to: "wu@traffic", kind: EnvelopeKind.forward.rawValue, sentAt: Clock.nowMs(),
                               label: EnvelopeLabel(rank: 1), body: ForwardHeader(origin: provenance.origin, hops: [hop]).body(sealed: [1, 2, 3]))
        var notice: LabelNotice?
        let deadline = Clock.monotonicNs() + 20_000_000_000
        while notice == nil, Clock.monotonicNs() < deadline {
            // Sent again until hq took it (one sent before the link is up is not taken).
            if try hq.status().labels.refused["lowered"] == 0 {
                try fake.send(.relay(jid: 1, origin: "fake", dest: "traffic", streamSeq: 1, hops: 0, envelope: lowered, epoch: 0))
            }
            try fake.announce()
            try fake.serve(ms: 200) { command, _ in
                if case .relay(_, "hq", "fake", _, _, let e, _) = command, e.knownKind == .refusal { notice = try? LabelNotice.decode(e.body) }
            }
        }
        XCTAssertEqual(notice?.ref, id)
        XCTAssertEqual(notice?.reason, .lowered)
        XCTAssertTrue(notice?.text.contains("without a downgrade") ?? false, notice?.text ?? "")
        XCTAssertTrue(notice?.verify(nodeKey: try hq.dir.loadKeys().sign.publicKey) ?? false)
        XCTAssertEqual(try hq.status().labels.refused["lowered"], 1)
        try traffic.waitFor("the place-keeper at traffic") { $0.counters.undeliverable == 1 }
        XCTAssertEqual(try wu.drain(ms: 300).count, 0, "wu got nothing of it")
    }

    /// Sends one command on the client's connection and waits for the node's answer to it.
    func rawRequest(_ client: Client, _ command: Command) throws -> Command? {
        _ = try client.connection.send(command)
        let deadline = Clock.monotonicNs() + 10_000_000_000
        while Clock.monotonicNs() < deadline {
            switch try client.connection.receive(timeoutMs: 200) {
            case let answer? where answer.commandID == .downgrade || answer.commandID == .error: return answer
            default: continue
            }
        }
        return nil
    }
}
