import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// 保密期限 per label (`labels.expiry`, protocol/SPEC.md 7.11.9), with real nodes: the client
/// fills in `readable_until` from LABELS, the sender's node refuses what would outlive the
/// label's period (ERROR 454), and the recipient's node deletes by its own period too.
final class LabelExpiryTests: XCTestCase {
    /// hq and traffic peered, each with its own `labels.expiry`; alice@hq and wu@traffic.
    func units(hq hqExpiry: [String: String], traffic trafficExpiry: [String: String]) throws
        -> (hq: TestNode, traffic: TestNode, alice: Client, wu: Client) {
        try twoUnits(hqConfig: { $0.labels.expiry = hqExpiry }, trafficConfig: { $0.labels.expiry = trafficExpiry })
    }

    func assertRefused(_ code: UInt16, naming: [String], _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case ClientError.refused(let c, let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(c, code, reason, file: file, line: line)
            for n in naming { XCTAssertTrue(reason.contains(n), "\(reason) names \(n)", file: file, line: line) }
        }
    }

    /// 内部 internal (the default) is readable for 2 s on hq: a text sent without `--until` gets
    /// `readable_until = sent_at + 2 s` from alice's client; traffic deletes it from wu's mailbox
    /// then, and alice gets traffic's signed `expired` receipt.
    func testLabelPeriodSetsReadableUntilAndTheRecipientsNodeDeletesItThen() throws {
        let (hq, traffic, alice, wu) = try units(hq: ["internal": "2s"], traffic: [:])
        defer { alice.close(); wu.close() }
        XCTAssertEqual(try alice.labelInfo().expiry, LabelExpiry([1: 2]), "LABELS carries the period")
        let envelope = try alice.prepareText(to: Address("wu@traffic")!, text: "readable for two seconds")
        let label = try XCTUnwrap(envelope.label)
        XCTAssertEqual(label.rank, 1)
        XCTAssertGreaterThan(label.readableUntil, envelope.sentAt)
        XCTAssertLessThanOrEqual(label.readableUntil, envelope.sentAt + 2_000)
        XCTAssertGreaterThan(label.readableUntil + 100, envelope.sentAt + 2_000)
        try alice.store(envelope)
        try traffic.waitFor("the content to be deleted on traffic", timeout: 15) { $0.labels.expired == 1 }
        XCTAssertGreaterThanOrEqual(Clock.nowMs(), label.readableUntil, "not before its time")
        let got = try wu.receive(1, timeoutMs: 10_000)
        XCTAssertEqual(got.map(\.kind), [.expired])
        XCTAssertEqual(got.first?.id, envelope.id)
        XCTAssertFalse(got.first?.text.contains("two seconds") ?? true, "the content is gone")
        let receipts = try alice.receive(1, timeoutMs: 10_000)
        XCTAssertEqual(receipts.first?.receipt?.receipt.event, .expired)
        XCTAssertEqual(receipts.first?.receipt?.receipt.burn, envelope.id)
        XCTAssertEqual(receipts.first?.receipt?.receipt.node, "traffic")
        XCTAssertEqual(receipts.first?.receipt?.verified, true)
        XCTAssertEqual(try hq.status().labels.expiry, ["内部 internal": "2s"])
    }

    /// A message whose readable-until time passed on the way (a link stalled, a peer that held it)
    /// is stored and handed out at its recipient's node without its content, and counted.
    func testWhatArrivesAfterItsReadableUntilTimeIsStoredWithoutItsContent() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let (_, _, key) = try malloryOnTheFake(fake, seenBy: bob)
        let id = MessageID(bytes: Sodium.randomBytes(16))!, sentAt = Clock.nowMs() - 120_000
        let label = EnvelopeLabel(rank: 1, readableUntil: sentAt + 60_000)
        let sealed = Sealed.seal(kind: EnvelopeKind.text.rawValue, id: id, from: "mallory@fake", to: "bob@hq", sentAt: sentAt,
                                 label: label, content: Array("held on the way".utf8), key: key)
        let late = Envelope(id: id, from: "mallory@fake", to: "bob@hq", kind: EnvelopeKind.text.rawValue, sentAt: sentAt,
                            label: label, body: sealed)
        // bob is attached and caught up: what is stored for him is pushed at once (DELIVER).
        try bob.attach()
        var answered = false
        try fake.run("the node to answer the ATTACH's LABELS") {
            if case .labels? = try? bob.connection.receive(timeoutMs: 50) { answered = true }
            return answered
        }
        try fake.send(.relay(jid: 1, origin: "fake", dest: "hq", streamSeq: 1, hops: 0, envelope: late, epoch: 0))
        var delivered: Envelope?
        let deadline = Clock.monotonicNs() + 15_000_000_000
        while delivered == nil, Clock.monotonicNs() < deadline {
            try fake.serve(ms: 20)
            if case .deliver(_, let e)? = try bob.connection.receive(timeoutMs: 100), e.id == id { delivered = e }
        }
        XCTAssertEqual(try XCTUnwrap(delivered).body, [], "the content is not handed out past its readable-until time")
        try hq.waitFor("the expiry round (the sender's expired receipt)") { $0.labels.expired == 1 }
    }

    /// `--until` later than the label's period is refused by the client; a modified client that
    /// sends no readable-until time, or a later one, gets ERROR 454 from its node, naming the
    /// label and its period. Within the period it goes.
    func testSendersNodeRefusesWhatOutlivesTheLabelsPeriodWith454() throws {
        let (hq, traffic, alice, wu) = try units(hq: ["内部": "30d"], traffic: [:])
        defer { alice.close(); wu.close(); withExtendedLifetime(traffic) {} }
        let to = Address("wu@traffic")!
        alice.readableUntil = Clock.nowMs() + 31 * 86_400_000
        XCTAssertThrowsError(try alice.sendText(to: to, text: "too long")) { error in
            guard case ClientError.invalid(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("内部 internal") && reason.contains("30d"), reason)
        }
        alice.checksLabels = false
        assertRefused(454, naming: ["内部 internal", "30d", "hq"]) { _ = try alice.sendText(to: to, text: "too long") }
        alice.readableUntil = 0
        assertRefused(454, naming: ["内部 internal", "30d", "no readable-until time"]) { _ = try alice.sendText(to: to, text: "no time") }
        XCTAssertEqual(try hq.status().labels.refused["readable_until"], 2)
        alice.readableUntil = Clock.nowMs() + 86_400_000
        _ = try alice.sendText(to: to, text: "a day")
        alice.checksLabels = true
        alice.readableUntil = 0
        _ = try alice.sendText(to: to, text: "the period")
        XCTAssertEqual(try wu.receive(2, timeoutMs: 10_000).map(\.text), ["a day", "the period"])
    }

    /// The recipient's node keeps its own rule: hq has no period for 内部, traffic one of 2 s. What
    /// alice sends readable for a day is deleted from wu's mailbox on traffic after 2 s.
    func testRecipientsNodeOwnShorterPeriodWins() throws {
        let (hq, traffic, alice, wu) = try units(hq: [:], traffic: ["internal": "2s"])
        defer { alice.close(); wu.close(); withExtendedLifetime(hq) {} }
        alice.readableUntil = Clock.nowMs() + 86_400_000
        let sentAt = Clock.nowMs()
        let id = try alice.sendText(to: Address("wu@traffic")!, text: "a day by hq's rule")
        try traffic.waitFor("traffic's own period to delete it", timeout: 15) { $0.labels.expired == 1 }
        XCTAssertGreaterThanOrEqual(Clock.nowMs(), sentAt + 2_000)
        let got = try wu.receive(1, timeoutMs: 10_000)
        XCTAssertEqual(got.map(\.kind), [.expired], "an emptied entry is shown as expired, though its header's time is later")
        XCTAssertEqual(got.first?.id, id)
        let receipts = try alice.receive(1, timeoutMs: 10_000)
        XCTAssertEqual(receipts.first?.receipt?.receipt.event, .expired)
        XCTAssertEqual(receipts.first?.receipt?.verified, true)
    }

    /// A burn message kept for wu on traffic goes at the label's time, not only at its own expiry.
    func testKeptBurnMessageGoesAtTheLabelsTime() throws {
        let (hq, traffic, alice, wu) = try units(hq: [:], traffic: ["internal": "2s"])
        defer { alice.close(); wu.close(); withExtendedLifetime(hq) {} }
        let burn = try alice.prepareBurn(to: Address("wu@traffic")!, text: "burn for wu", images: [], members: nil)
        try alice.store(burn)
        try traffic.waitFor("the burn message to be deleted at the label's time", timeout: 15) { $0.burns.expired == 1 && $0.burns.pending == 0 }
        XCTAssertThrowsError(try wu.view(burn.id), "its content is gone from traffic")
    }

    // MARK: plain values

    func testConfigValidation() throws {
        let ok = try LabelsConfig(expiry: ["工作秘密": "30d", "sensitive": "90d", "公开": "45s", "内部": "12h"]).policy(node: "hq")
        XCTAssertEqual(ok.expiry, LabelExpiry([3: 30 * 86_400, 2: 90 * 86_400, 0: 45, 1: 12 * 3_600]))
        for (entries, says) in [(["秘密x": "30d"], "'秘密x' is not a label"), (["敏感": "30"], "unit must be"), (["敏感": "30w"], "unit must be"),
                                (["敏感": "0d"], "1s to 3650d"), (["敏感": "3651d"], "1s to 3650d"), (["敏感": "-3d"], "not a duration"),
                                (["敏感": "30d", "Sensitive": "20d"], "listed twice"), (["敏感": "9999999999999999999d"], "1s to 3650d"), (["敏感": "d"], "not a duration")] {
            XCTAssertThrowsError(try LabelsConfig(expiry: entries).policy(node: "hq"), "\(entries)") { error in
                XCTAssertTrue("\(error)".contains("labels.expiry"), "\(error)")
                XCTAssertTrue("\(error)".contains(says), "\(error) says \(says)")
            }
        }
        let yaml = "name: hq\nlabels:\n  expiry:\n    工作秘密: 30d\n    sensitive: 90d\n"
        XCTAssertEqual(try NodeConfig.parse(yaml: yaml, file: "node.yaml").labels.expiry, ["工作秘密": "30d", "sensitive": "90d"])
        XCTAssertThrowsError(try NodeConfig.parse(yaml: "name: hq\nlabels:\n  expiry:\n    敏感: 90\n", file: "node.yaml")) {
            XCTAssertTrue("\($0)".contains("labels.expiry.敏感"), "\($0)")
        }
    }

    func testExpiryRules() throws {
        let e = LabelExpiry([2: 60])
        let set = LabelSet.standard
        XCTAssertNil(e.refusal(1, readableUntil: 0, sentAt: 1_000_000, now: 1_000_000, set: set, node: "hq"), "no period for 内部")
        XCTAssertNil(e.refusal(2, readableUntil: 1_060_000, sentAt: 1_000_000, now: 1_000_000, set: set, node: "hq"))
        XCTAssertNil(e.refusal(2, readableUntil: 1_060_000 + LabelExpiry.toleranceMs, sentAt: 1_000_000, now: 1_000_000, set: set, node: "hq"),
                     "within the clock tolerance")
        XCTAssertNotNil(e.refusal(2, readableUntil: 1_060_001 + LabelExpiry.toleranceMs, sentAt: 1_000_000, now: 1_000_000, set: set, node: "hq"))
        XCTAssertNotNil(e.refusal(2, readableUntil: 0, sentAt: 1_000_000, now: 1_000_000, set: set, node: "hq"))
        // A sending time in the future does not lengthen the period: the node's clock bounds it.
        XCTAssertNotNil(e.refusal(2, readableUntil: 90_000_000, sentAt: 90_000_000 - 60_000, now: 1_000_000, set: set, node: "hq"))
        XCTAssertEqual(e.deadline(2, readableUntil: 0, from: 5_000), 65_000)
        XCTAssertEqual(e.deadline(2, readableUntil: 10_000, from: 5_000), 10_000)
        XCTAssertEqual(e.deadline(2, readableUntil: 99_000, from: 5_000), 65_000)
        XCTAssertEqual(e.deadline(1, readableUntil: 99_000, from: 5_000), 99_000)
        XCTAssertEqual(e.deadline(1, readableUntil: 0, from: 5_000), 0)
        XCTAssertEqual(LabelExpiry.format(seconds: 90 * 86_400), "90d")
        XCTAssertEqual(LabelExpiry.format(seconds: 5_400), "90m")
    }

    func testLabelsAnswerCodec() throws {
        let info = LabelInfo(set: .standard, defaultRank: 1, ceiling: 3, accredited: 0, clearance: 2, expiry: LabelExpiry([3: 2_592_000, 2: 7_776_000]))
        XCTAssertEqual(try Command.decode(Command.labels(info).encode()), .labels(info))
        // An answer of a node before 保密期限 ends at the clearance: no period.
        var old = info
        old.expiry = LabelExpiry()
        let oldBytes = Command.labels(old).encode()
        XCTAssertEqual(try Command.decode(oldBytes), .labels(old))
        for (bad, why) in [([1, 7, 0, 0, 0, 0, 0, 0, 0, 60] as [UInt8], "rank outside the set"),
                           ([2, 3, 0, 0, 0, 0, 0, 0, 0, 60, 2, 0, 0, 0, 0, 0, 0, 0, 60], "ranks not ascending"),
                           ([1, 2, 0, 0, 0, 0, 0, 0, 0, 0], "zero seconds"),
                           ([1, 2, 0, 0, 0, 0], "truncated"),
                           ([8], "more entries than labels")] {
            XCTAssertThrowsError(try Command.decode(oldBytes + bad), why)
        }
    }
}
