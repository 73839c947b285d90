import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
@testable import SealpostWeb
import XCTest

/// Downgrades from the web client (protocol/SPEC.md 7.11.11): `POST /api/downgrade` lowers the
/// label of a message of alice's unit she received or sent, when hq's `labels.downgraders`
/// names her; the node's refusal (ERROR 453) comes back with its reason; the history shows the
/// effective label and who downgraded it and why; her later forwards carry the downgrade; and a
/// received forward that carries one shows its effective label.
extension WebDaemonTests {
    func testADowngradeThroughTheAPIIsRefusedUntilAllowedThenShownAndCarriedByForwards() throws {
        let li = try Client(profile: try Profile.load(from: try hq.join("li")))
        defer { li.close() }
        li.directoryRefreshMs = 0
        wu.directoryRefreshMs = 0
        try waitUntil("li@hq in traffic's directory", timeout: 15) { (try? wu.lookup(Address("li@hq")!)) != nil }
        _ = try Operator.clearUser(dataDir: hq.dir, user: "alice", label: "敏感")
        try waitUntil("alice's clearance in hq's directory", timeout: 15) { (try? li.lookup(Address("alice@hq")!))?.clearance == 2 }
        // Her daemon's client learns her clearance when it connects.
        stopDaemon(daemon)
        daemon = try startDaemon(alicePath)
        let browser = try loggedIn()
        li.sendLabel = "敏感"
        let original = try li.sendText(to: Address("alice@hq")!, text: "the new duty roster")
        func shown(_ conversation: String, _ id: String) throws -> [String: Any]? {
            try messages(browser, conversation).first { $0["id"] as? String == id }
        }
        try waitUntil("alice's daemon records li's text") { try shown("li@hq", original.hex) != nil }
        XCTAssertEqual(try shown("li@hq", original.hex)?["label"] as? String, "敏感 sensitive")
        XCTAssertEqual(try shown("li@hq", original.hex)?["effective_label"] as? String, "敏感 sensitive")
        XCTAssertNil(try shown("li@hq", original.hex)?["downgrade"])
        let labels = try browser.get("/api/state").json["labels"] as? [String]
        XCTAssertEqual(labels?.prefix(4), ["公开 public", "内部 internal", "敏感 sensitive", "工作秘密 work-secret"])

        // What the daemon can tell itself.
        XCTAssertEqual(try browser.post("/api/downgrade", ["id": original.hex, "to": "内部", "reason": "  "]).status, 400)
        XCTAssertEqual(try browser.post("/api/downgrade", ["id": "00112233", "to": "内部", "reason": "why"]).status, 400)
        XCTAssertEqual(try browser.post("/api/downgrade", ["id": String(repeating: "ab", count: 16), "to": "内部", "reason": "why"]).status, 404)
        let notLower = try browser.post("/api/downgrade", ["id": original.hex, "to": "工作秘密", "reason": "why"])
        XCTAssertEqual(notLower.status, 400, String(decoding: notLower.body, as: UTF8.self))

        // wu (cleared to 内部) cannot have it while it is 敏感.
        let early = try browser.post("/api/forward", ["id": original.hex, "to": ["wu@traffic"]])
        XCTAssertEqual(early.status, 422, String(decoding: early.body, as: UTF8.self))

        // hq names nobody in labels.downgraders: the node refuses, and says why.
        let refused = try browser.post("/api/downgrade", ["id": original.hex, "to": "内部", "reason": "for the traffic unit"])
        XCTAssertEqual(refused.status, 422, String(decoding: refused.body, as: UTF8.self))
        XCTAssertEqual(refused.json["code"] as? Int, 453)
        XCTAssertTrue((refused.json["error"] as? String ?? "").contains("labels.downgraders"), "\(refused.json)")
        XCTAssertEqual(try shown("li@hq", original.hex)?["effective_label"] as? String, "敏感 sensitive")

        // The operator names alice (applied without a restart).
        var config = try hq.dir.loadConfig()
        config.labels.downgraders = ["alice"]
        try hq.dir.saveConfig(config)
        var done = RawHTTP.Response(status: 0, headers: [], body: Data())
        try waitUntil("hq to apply labels.downgraders", timeout: 15) {
            done = try browser.post("/api/downgrade", ["id": original.hex, "to": "内部", "reason": "for the traffic unit"])
            return done.status == 200
        }
        XCTAssertEqual(done.json["label"] as? String, "内部 internal")
        XCTAssertEqual(done.json["by"] as? String, "alice@hq")
        let after = try XCTUnwrap(try shown("li@hq", original.hex))
        XCTAssertEqual(after["label"] as? String, "敏感 sensitive", "the label it came with stays")
        XCTAssertEqual(after["effective_label"] as? String, "内部 internal")
        XCTAssertEqual(after["downgrade"] as? [String: String], ["by": "alice@hq", "reason": "for the traffic unit"])
        XCTAssertEqual(after["text"] as? String, "the new duty roster")

        // Her forward carries it: wu, cleared to 内部, gets it.
        let sent = try browser.post("/api/forward", ["id": original.hex, "to": ["wu@traffic"]])
        XCTAssertEqual(sent.status, 200, String(decoding: sent.body, as: UTF8.self))
        var got: [ReceivedMessage] = []
        try waitUntil("wu receives the forward") {
            got += try wuReceives(ms: 300)
            return got.contains { $0.forward != nil }
        }
        let forward = try XCTUnwrap(got.first { $0.forward != nil })
        XCTAssertEqual(forward.forward?.header.downgrade?.by, "alice@hq")
        XCTAssertEqual(forward.labelRank, 1)
        XCTAssertEqual(forward.effectiveLabel, "内部 internal")

        // wu forwards it back (labelled as it carries it): alice's daemon shows its effective label, and the downgrade.
        let back = try wu.forward(try XCTUnwrap(forward.forwardable), to: [Address("alice@hq")!], groups: [:])
        try waitUntil("alice's daemon records wu's forward") { try shown("wu@traffic", back[0].id.hex) != nil }
        let received = try XCTUnwrap(try shown("wu@traffic", back[0].id.hex))
        XCTAssertEqual(received["label"] as? String, "内部 internal")
        XCTAssertEqual(received["effective_label"] as? String, "内部 internal")
        XCTAssertEqual(received["downgrade"] as? [String: String], ["by": "alice@hq", "reason": "for the traffic unit"])

        // A message she sent (内部, the default) is kept with its origin: she can downgrade it too.
        let own = try browser.post("/api/send", ["to": "li@hq", "text": "public notice draft"])
        let ownId = try XCTUnwrap((own.json["message"] as? [String: Any])?["id"] as? String)
        let lowered = try browser.post("/api/downgrade", ["id": ownId, "to": "public", "reason": "published"])
        XCTAssertEqual(lowered.status, 200, String(decoding: lowered.body, as: UTF8.self))
        XCTAssertEqual(try shown("li@hq", ownId)?["effective_label"] as? String, "公开 public")
    }
}
