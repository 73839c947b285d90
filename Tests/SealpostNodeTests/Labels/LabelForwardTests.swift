import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// The seed's case (issue 13): a 工作秘密 notice meant for principals, forwarded by one of them
/// into the teachers' group, whose members are not cleared for it. Refused at the forwarder's
/// client (naming who), and, from a modified client that skips that check, at the forwarder's
/// node with ERROR 451, written in its audit log; the teachers get nothing of it.
final class LabelForwardTests: XCTestCase {
    func testWorkSecretForwardedIntoAGroupWithUnclearedMembersIsRefusedAndAudited() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let office = try Client(profile: try hq.join("office")), principal = try Client(profile: try hq.join("principal"))
        let teacher = try Client(profile: try hq.join("teacher"))
        defer { for c in [office, principal, teacher] { c.close() } }
        for user in ["office", "principal"] { _ = try Operator.clearUser(dataDir: hq.dir, user: user, label: "工作秘密") }
        for c in [office, principal] { c.directoryRefreshMs = 0 }
        try waitUntil("the clearances", timeout: 10) { (try? office.lookup(Address("principal@hq")!))?.clearance == 3 }

        // The teachers' group (内部), with the principal and a teacher cleared to 内部.
        let teachers = Address("teachers@hq")!
        try principal.groupOp(.create, group: teachers, members: ["teacher@hq"])
        let created = try XCTUnwrap(try principal.awaitGroupEvent(group: teachers, timeoutMs: 10_000))
        XCTAssertEqual(created.groupEvent?.opName, "create")
        try principal.ack(created.seq)
        let members = ["principal@hq", "teacher@hq"]

        office.sendLabel = "工作秘密"
        let notice = try office.sendText(to: Address("principal@hq")!, text: "Notice for principals only")
        let received = try XCTUnwrap(try principal.receive(1).first)
        XCTAssertEqual(received.id, notice)
        XCTAssertEqual(received.label, "工作秘密 work-secret")
        let source = try XCTUnwrap(received.forwardable)
        XCTAssertEqual(source.label?.rank, 3, "the label travels with the message")

        // The forwarder's client names the teacher.
        XCTAssertThrowsError(try principal.forward(source, to: [teachers], groups: [teachers.description: members])) { error in
            guard case ClientError.refused(451, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("teacher@hq (cleared to 内部 internal)"), reason)
        }
        // A modified client skips it: the node refuses, naming the group's label and the teacher.
        principal.checksLabels = false
        let forged = try principal.prepareForward(source, to: [teachers], groups: [teachers.description: members], note: "fyi")
        XCTAssertEqual(forged.first?.label?.rank, 3)
        XCTAssertThrowsError(try principal.store(try XCTUnwrap(forged.first))) { error in
            guard case ClientError.refused(451, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("teachers@hq is a 内部 internal group"), reason)
            XCTAssertTrue(reason.contains("teacher@hq (cleared to 内部 internal)"), reason)
        }
        // Nor can a forward drop the label: an unlabelled forward is the default (内部) and its body
        // still says 工作秘密, so the teacher's client would refuse it; the honest path is refused above.
        let audited = try Operator.auditRecords(dataDir: hq.dir, filter: AuditFilter(kind: .forwardRefused))
        XCTAssertEqual(audited.count, 1)
        guard case .forwardRefused(let id, let origin, let by, let reason)? = try audited.first.map({ try AuditEvent($0.record.fields) }) else {
            return XCTFail("no forward_refused record")
        }
        XCTAssertEqual(id, forged.first?.id)
        XCTAssertEqual(origin, notice)
        XCTAssertEqual(by, "principal@hq")
        XCTAssertEqual(reason, "label_group_label")
        XCTAssertEqual(try teacher.drain(ms: 500).filter { $0.kind != .groupEvent }.count, 0, "the teacher got nothing of it")
    }
}
