import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Forward reports (protocol/SPEC.md 7.9.9, issue 13): a forward refused at the forwarder's node
/// is written in that node's audit log and reported, signed, to the originating unit's security
/// officers — exactly once, verified, rate-limited per forwarder; forged reports are dropped.
final class ForwardReportTests: XCTestCase {
    /// hq — traffic — school: li@hq (originator), sec@hq (officer, unless `officer` is false),
    /// wu@traffic (cleared to 工作秘密, admin of teachers@traffic, 内部, with teacher@school).
    struct Units {
        var hq: TestNode, traffic: TestNode, school: TestNode
        var li: Client, sec: Client, wu: Client, teacher: Client
        var members: [String]
        func close() { for c in [li, sec, wu, teacher] { c.close() }; for n in [hq, traffic, school] { n.close() } }
    }

    static let teachers = Address("teachers@traffic")!

    func units(officer: Bool = true) throws -> Units {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic"), school = try TestNode("school")
        try hq.start()
        try traffic.start()
        try school.start()
        try hq.peer(with: traffic)
        try traffic.peer(with: school)
        let li = try Client(profile: try hq.join("li")), sec = try Client(profile: try hq.join("sec"))
        let wu = try Client(profile: try traffic.join("wu")), teacher = try Client(profile: try school.join("teacher"))
        if officer { _ = try Operator.changeOfficer(dataDir: hq.dir, user: "sec", action: .grant) }
        _ = try Operator.clearUser(dataDir: traffic.dir, user: "wu", label: "工作秘密")
        li.directoryRefreshMs = 0
        try waitUntilKnown(li, "wu@traffic")
        try waitUntilKnown(wu, "li@hq")
        try waitUntilKnown(wu, "teacher@school")
        try waitUntil("wu's clearance to reach li", timeout: 20, every: 0.1) { (try? li.lookup(Address("wu@traffic")!))?.clearance == 3 }
        try wu.groupOp(.create, group: Self.teachers, members: ["teacher@school"])
        let created = try XCTUnwrap(try wu.awaitGroupEvent(group: Self.teachers, timeoutMs: 10_000))
        XCTAssertEqual(created.groupEvent?.opName, "create")
        try wu.ack(created.seq)
        return Units(hq: hq, traffic: traffic, school: school, li: li, sec: sec, wu: wu, teacher: teacher,
                     members: created.groupEvent?.members.map(\.address) ?? [])
    }

    /// li@hq's 工作秘密 notice, as wu@traffic received it.
    func notice(_ u: Units) throws -> (id: MessageID, source: ForwardSource) {
        u.li.sendLabel = "工作秘密"
        let id = try u.li.sendText(to: Address("wu@traffic")!, text: "Notice for principals only")
        let received = try XCTUnwrap(try u.wu.receive(1, timeoutMs: 15_000).first)
        XCTAssertEqual(received.id, id)
        return (id, try XCTUnwrap(received.forwardable))
    }

    /// wu's modified client forwards it into teachers@traffic anyway: traffic refuses it (451).
    @discardableResult
    func refusedForward(_ u: Units, _ source: ForwardSource) throws -> MessageID {
        u.wu.checksLabels = false
        let forged = try XCTUnwrap(try u.wu.prepareForward(source, to: [Self.teachers], groups: [Self.teachers.description: u.members],
                                                           note: "fyi").first)
        XCTAssertThrowsError(try u.wu.store(forged)) { error in
            guard case ClientError.refused(451, _) = error else { return XCTFail("\(error)") }
        }
        return forged.id
    }

    func reports(_ messages: [ReceivedMessage]) -> [ReceivedMessage] { messages.filter { $0.kind == .forwardReport } }

    /// The seed's case: the refusal at traffic reaches hq's officer exactly once, signed by traffic.
    func testRefusedForwardIsReportedToTheOriginatingUnitsOfficerOnceAndVerified() throws {
        let u = try units()
        defer { u.close() }
        let (origin, source) = try notice(u)
        let refused = try refusedForward(u, source)

        let got = reports(try u.sec.receive(1, timeoutMs: 15_000))
        let report = try XCTUnwrap(got.first?.forwardReport)
        XCTAssertTrue(report.verified, report.reason ?? "")
        XCTAssertEqual(report.report.ref, refused)
        XCTAssertEqual(report.report.origin, origin)
        XCTAssertEqual(report.report.originator, "li@hq")
        XCTAssertEqual(report.report.forwarder, "wu@traffic")
        XCTAssertEqual(report.report.to, "teachers@traffic")
        XCTAssertEqual(report.report.reason, "label_group_label")
        XCTAssertEqual(report.report.label, 3)
        XCTAssertEqual(report.report.node, "traffic")
        XCTAssertEqual(got.first?.text.hasPrefix("forward refused at traffic: wu@traffic tried to forward li@hq's message \(origin.hex) to teachers@traffic (label_group_label)"),
                       true, got.first?.text ?? "")
        XCTAssertEqual(got.first?.from, "node@traffic")
        // Exactly once: nothing more arrives, and each node counts one.
        XCTAssertEqual(reports(try u.sec.drain(ms: 1500)).count, 0)
        XCTAssertEqual(try u.traffic.status().forwards.reportsSent, 1)
        try u.hq.waitFor("hq to count the report") { $0.forwards.reportsReceived == 1 }
        XCTAssertEqual(try u.hq.status().forwards.reportsUnread, 0)
        // Audited on both sides: traffic's forward_refused, hq's forward_report_received with the signed report.
        let atTraffic = try Operator.auditRecords(dataDir: u.traffic.dir, filter: AuditFilter(kind: .forwardRefused))
        XCTAssertEqual(atTraffic.count, 1)
        let atHq = try Operator.auditRecords(dataDir: u.hq.dir, filter: AuditFilter(kind: .forwardReportReceived))
        XCTAssertEqual(atHq.count, 1)
        guard case .forwardReportReceived(let id, let node, let forwarder, let bytes)? = try atHq.first.map({ try AuditEvent($0.record.fields) }) else {
            return XCTFail("no forward_report_received record")
        }
        XCTAssertEqual([id.hex, node, forwarder], [refused.hex, "traffic", "wu@traffic"])
        XCTAssertTrue(try ForwardReport.decode(bytes).verify(nodeKey: try u.traffic.dir.loadKeys().sign.publicKey))
        // li, who is no officer, gets none; the teacher got nothing of the forward.
        XCTAssertEqual(reports(try u.li.drain(ms: 300)).count, 0)
        XCTAssertEqual(try u.teacher.drain(ms: 300).filter { $0.kind != .groupEvent }.count, 0)
    }

    /// A group's home that will not fan a forward out (school: the 内部 group staff@school gets
    /// the 工作秘密 notice) reports it too; the report travels school → traffic → hq.
    func testGroupHomeThatRefusesToFanOutReportsThroughARelay() throws {
        let u = try units()
        defer { u.close() }
        let staff = Address("staff@school")!
        try waitUntilKnown(u.teacher, "wu@traffic")
        try u.teacher.groupOp(.create, group: staff, members: ["wu@traffic"])
        let created = try XCTUnwrap(try u.teacher.awaitGroupEvent(group: staff, timeoutMs: 10_000))
        XCTAssertEqual(created.groupEvent?.opName, "create")
        try u.teacher.ack(created.seq)
        XCTAssertEqual(try u.wu.receive(1, timeoutMs: 10_000).first?.kind, .groupEvent, "wu is told of the group")
        let (origin, source) = try notice(u)
        u.wu.checksLabels = false
        let forward = try XCTUnwrap(try u.wu.prepareForward(source, to: [staff], groups: [staff.description: ["teacher@school", "wu@traffic"]],
                                                            note: "").first)
        try u.wu.store(forward)   // traffic cannot see the members of a group at school: the home judges it

        let got = reports(try u.sec.receive(1, timeoutMs: 20_000))
        let report = try XCTUnwrap(got.first?.forwardReport)
        XCTAssertTrue(report.verified, report.reason ?? "")
        XCTAssertEqual([report.report.node, report.report.forwarder, report.report.to, report.report.reason],
                       ["school", "wu@traffic", "staff@school", "label_group_label"])
        XCTAssertEqual(report.report.origin, origin)
        XCTAssertEqual(try Operator.auditRecords(dataDir: u.school.dir, filter: AuditFilter(kind: .forwardRefused)).count, 1)
        XCTAssertEqual(try u.school.status().forwards.reportsSent, 1)
    }

    /// No officer at the origin's unit: the report is audited there and counted as unread.
    func testWithoutAnOfficerTheReportIsAuditedAndCounted() throws {
        let u = try units(officer: false)
        defer { u.close() }
        let (_, source) = try notice(u)
        try refusedForward(u, source)
        try u.hq.waitFor("hq to count the report") { $0.forwards.reportsReceived == 1 && $0.forwards.reportsUnread == 1 }
        XCTAssertEqual(try Operator.auditRecords(dataDir: u.hq.dir, filter: AuditFilter(kind: .forwardReportReceived)).count, 1)
        XCTAssertEqual(reports(try u.sec.drain(ms: 500)).count, 0)
    }

    /// A person hammering refused forwards: traffic reports `report_burst` of them, withholds the
    /// rest (audited all the same), and the officer is not flooded.
    func testReportsAreRateLimitedPerForwarder() throws {
        let u = try units()
        defer { u.close() }
        var config = try u.traffic.dir.loadConfig()
        config.forwarding.reportBurst = 2
        config.forwarding.reportsPerHour = 1
        try u.traffic.dir.saveConfig(config)
        try u.traffic.waitFor("the report rate to apply") { $0.forwards.reportBurst == 2 && $0.forwards.reportsPerHour == 1 }
        let (_, source) = try notice(u)
        for _ in 0..<5 { try refusedForward(u, source) }
        XCTAssertEqual(try Operator.auditRecords(dataDir: u.traffic.dir, filter: AuditFilter(kind: .forwardRefused)).count, 5)
        let s = try u.traffic.status().forwards
        XCTAssertEqual([s.reportsSent, s.reportsWithheld], [2, 3])
        XCTAssertEqual(reports(try u.sec.receive(2, timeoutMs: 15_000)).count, 2)
        XCTAssertEqual(reports(try u.sec.drain(ms: 1000)).count, 0)
    }

    /// The limiter itself, with plain values: a burst, then the hourly rate; the withheld ones
    /// are counted in the next report; forwarders are limited apart.
    func testLimiterBurstRateAndWithheldCount() {
        var l = ForwardReportLimiter()
        let t0: UInt64 = 1_000_000
        XCTAssertEqual(l.take("wu@traffic", now: t0, burst: 2, perHour: 6), .report(suppressed: 0))
        XCTAssertEqual(l.take("wu@traffic", now: t0, burst: 2, perHour: 6), .report(suppressed: 0))
        XCTAssertEqual(l.take("wu@traffic", now: t0 + 1, burst: 2, perHour: 6), .suppress)
        XCTAssertEqual(l.take("wu@traffic", now: t0 + 2, burst: 2, perHour: 6), .suppress)
        XCTAssertEqual(l.take("ma@traffic", now: t0 + 2, burst: 2, perHour: 6), .report(suppressed: 0), "another forwarder")
        // Six an hour: one more after ten minutes, carrying the two withheld.
        XCTAssertEqual(l.take("wu@traffic", now: t0 + 599_000, burst: 2, perHour: 6), .suppress)
        XCTAssertEqual(l.take("wu@traffic", now: t0 + 600_100, burst: 2, perHour: 6), .report(suppressed: 3))
        XCTAssertEqual(l.take("wu@traffic", now: t0 + 600_200, burst: 2, perHour: 6), .suppress)
    }

    /// A client cannot send a report: ERROR 400.
    func testClientSendingAForwardReportIsRefused() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let li = try Client(profile: try hq.join("li"))
        defer { li.close() }
        var report = ForwardReport(ref: MessageID(bytes: Sodium.randomBytes(16))!, origin: MessageID(bytes: Sodium.randomBytes(16))!,
                                   originator: "li@hq", forwarder: "wu@traffic", to: "li@hq", reason: "no_forward", label: 1, hops: 1,
                                   refusedAt: Clock.nowMs(), node: "hq")
        report.sign(with: SignKeyPair.generate())
        let envelope = Envelope(id: report.messageID, from: "", to: "node@hq", kind: .forwardReport, sentAt: Clock.nowMs(), body: report.encode())
        XCTAssertThrowsError(try li.store(envelope)) { error in
            guard case ClientError.refused(400, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("forward reports are made by nodes"), reason)
        }
    }

    /// A peer that signs reports without end (each valid, about hq's person, each another
    /// forward): hq takes ten times the per-forwarder burst from that node, drops the rest and counts them.
    func testReportsFromOneNodeAreHeardOnlyUpToTenTimesTheRate() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        _ = try Operator.changeOfficer(dataDir: hq.dir, user: "bob", action: .grant)
        try fake.waitForNodeHello()
        let heard = ForwardingConfig().reportBurst * ForwardingState.receivedRateFactor, sent = heard + 3
        for jid in 1...UInt64(sent) {
            var report = ForwardReport(ref: MessageID(bytes: Sodium.randomBytes(16))!, origin: MessageID(bytes: Sodium.randomBytes(16))!,
                                       originator: "bob@hq", forwarder: "mallory\(jid)@fake", to: "eve@fake", reason: "no_forward",
                                       label: 1, hops: 1, refusedAt: Clock.nowMs(), node: "fake")
            report.sign(with: fake.keys.sign)
            let envelope = Envelope(id: report.messageID, from: "node@fake", to: "node@hq", kind: .forwardReport,
                                    sentAt: Clock.nowMs(), body: report.encode())
            try fake.send(.relay(jid: jid, origin: "fake", dest: "hq", streamSeq: jid, hops: 0, envelope: envelope, epoch: 0))
        }
        try fake.waitForAcks(Set(1...UInt64(sent)))
        try hq.waitFor("hq to judge every report") { $0.forwards.reportsReceived + $0.forwards.reportsDropped == sent }
        let status = try hq.status().forwards
        XCTAssertEqual(status.reportsReceived, heard)
        XCTAssertEqual(status.reportsDropped, 3)
        XCTAssertEqual(try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .forwardReportReceived)).count, heard)
        XCTAssertEqual(reports(try bob.receive(heard, timeoutMs: 10_000)).count, heard)
    }

    /// A fake peer relays reports to node@hq: one signed with its own key is taken (for hq's
    /// officer), one with a bad signature and one about another unit's message are dropped and counted.
    func testForgedReportFromAPeerIsDroppedAndCounted() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        _ = try Operator.changeOfficer(dataDir: hq.dir, user: "bob", action: .grant)
        try fake.waitForNodeHello()
        func relay(_ jid: UInt64, originator: String, key: SignKeyPair) -> PeerCommand {
            var report = ForwardReport(ref: MessageID(bytes: Sodium.randomBytes(16))!, origin: MessageID(bytes: Sodium.randomBytes(16))!,
                                       originator: originator, forwarder: "mallory@fake", to: "eve@fake", reason: "no_forward",
                                       label: 1, hops: 2, refusedAt: Clock.nowMs(), node: "fake")
            report.sign(with: key)
            let envelope = Envelope(id: report.messageID, from: "node@fake", to: "node@hq", kind: .forwardReport,
                                    sentAt: Clock.nowMs(), body: report.encode())
            return .relay(jid: jid, origin: "fake", dest: "hq", streamSeq: jid, hops: 0, envelope: envelope, epoch: 0)
        }
        try fake.send(relay(1, originator: "bob@hq", key: fake.keys.sign))
        try fake.send(relay(2, originator: "bob@hq", key: SignKeyPair.generate()))
        try fake.send(relay(3, originator: "li@school", key: fake.keys.sign))
        try fake.waitForAcks([1, 2, 3])
        try hq.waitFor("hq to judge the three reports") { $0.forwards.reportsReceived == 1 && $0.forwards.reportsDropped == 2 }
        let got = reports(try bob.receive(1, timeoutMs: 10_000))
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(got.first?.forwardReport?.verified, true)
        XCTAssertEqual(got.first?.forwardReport?.report.forwarder, "mallory@fake")
        XCTAssertEqual(try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .forwardReportReceived)).count, 1)
    }
}
