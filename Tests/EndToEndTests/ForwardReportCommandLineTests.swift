import Foundation
import SealpostClient
import SealpostCore
import XCTest

/// What a security officer sees of a refused forward (SPEC 7.9.9) from the command line: li@hq
/// sends with `--no-forward`, wu@hq's modified client forwards it anyway, hq refuses (422) and
/// its officer sec@hq finds the signed report in `sealpost inbox` and `inbox --json`; `status`
/// counts it.
final class ForwardReportCommandLineTests: TempRootTestCase {
    override class var rootPrefix: String { "sealpost-e2e-forward-report" }

    func testOfficerSeesTheRefusedForwardInInbox() throws {
        let (node, data) = try runningNode("hq", users: ["li", "wu", "sec", "chen"])
        defer { _ = node.stop() }
        let granted = try Harness.run("sealpost-node", ["users", "officer", "grant", "--data", data, "sec"])
        XCTAssertEqual(granted.status, 0, granted.stderr)
        let sent = try Harness.run("sealpost", ["send", "wu@hq", "notice 17", "--no-forward", "--profile", root + "/li"])
        XCTAssertEqual(sent.status, 0, sent.stderr)

        let wu = try Client(profile: try Profile.load(from: root + "/wu"))
        defer { wu.close() }
        let received = try XCTUnwrap(try wu.receive(1, timeoutMs: 10_000).first)
        let source = try XCTUnwrap(received.forwardable)
        let forged = try XCTUnwrap(try wu.prepareForward(source, to: [Address("chen@hq")!], groups: [:], note: "").first)
        XCTAssertThrowsError(try wu.store(forged)) { error in
            guard case ClientError.refused(422, _) = error else { return XCTFail("\(error)") }
        }

        let inbox = try Harness.run("sealpost", ["inbox", "--json", "--profile", root + "/sec"])
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let messages = try inbox.lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(messages.map { $0["kind"] as? String }, ["forward_report"])
        let report = try XCTUnwrap(messages.first?["forward_report"] as? [String: Any])
        XCTAssertEqual(report["reason"] as? String, "no_forward")
        XCTAssertEqual(report["forwarder"] as? String, "wu@hq")
        XCTAssertEqual(report["originator"] as? String, "li@hq")
        XCTAssertEqual(report["origin"] as? String, received.id.hex)
        XCTAssertEqual(report["ref"] as? String, forged.id.hex)
        XCTAssertEqual(report["verified"] as? Bool, true)
        XCTAssertEqual(messages.first?["text"] as? String,
                       "forward refused at hq: wu@hq tried to forward li@hq's message \(received.id.hex) to chen@hq (no_forward) (signed by hq)")

        let status = try Harness.run("sealpost-node", ["status", "--data", data])
        XCTAssertTrue(status.stdout.contains("reports   0 refused forwards reported to other units, 0 withheld (over 5 at once, 12/h per person); 1 received for this unit"),
                      status.stdout)
    }
}
