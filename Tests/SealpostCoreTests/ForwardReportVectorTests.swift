import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/forward_report.json (SPEC 7.9.9): a forward report signed with the node sign
/// seed of directory.json, its envelope id and the kind 19 envelope that carries it, and decoding
/// rules. `SEALPOST_WRITE_VECTORS=1` rewrites it.
final class ForwardReportVectorTests: XCTestCase {
    func testForwardReportVector() throws {
        var seed = (0..<32).map { 0x21 + UInt8($0) }
        let node = try XCTUnwrap(SignKeyPair(seed: &seed))
        var report = ForwardReport(ref: VectorTests.id1, origin: MessageID(bytes: (0..<16).map { 0xA0 + UInt8($0) })!,
                                   originator: "li@hq", forwarder: "wu@traffic", to: "teachers@traffic", reason: "label_group_label",
                                   label: 3, hops: 1, suppressed: 2, refusedAt: 1_764_000_000_500, node: "traffic")
        report.sign(with: node)
        let envelope = Envelope(id: report.messageID, from: "node@traffic", to: "node@hq", kind: .forwardReport,
                                sentAt: report.refusedAt, body: report.encode())
        var w = WireWriter()
        envelope.encode(into: &w)
        if ProcessInfo.processInfo.environment["SEALPOST_WRITE_VECTORS"] == "1" {
            try VectorTests.save("forward_report.json", [
                "description": "A forward report (SPEC.md 7.9.9), signed with the node sign seed of directory.json (seq(21, 32)).",
                "fields": ["ref": VectorTests.id1.hex, "origin": report.origin.hex, "originator": report.originator,
                           "forwarder": report.forwarder, "to": report.to, "reason": report.reason, "label": Int(report.label),
                           "hops": Int(report.hops), "suppressed": Int(report.suppressed), "refused_at": Int(report.refusedAt),
                           "node": report.node] as [String: Any],
                "body": Hex.encode(report.encode()),
                "id": report.messageID.hex,
                "envelope": Hex.encode(w.bytes),
                "malformed": [
                    ["reason": "version 2", "hex": Hex.encode([2] + Array(report.encode().dropFirst()))],
                    ["reason": "trailing byte", "hex": Hex.encode(report.encode() + [0])],
                    ["reason": "truncated signature", "hex": Hex.encode(Array(report.encode().dropLast()))],
                ],
            ])
        }
        let stored = try VectorTests.load("forward_report.json")
        XCTAssertEqual(stored["body"] as? String, Hex.encode(report.encode()))
        XCTAssertEqual(stored["id"] as? String, report.messageID.hex)
        XCTAssertEqual(stored["envelope"] as? String, Hex.encode(w.bytes))
        let decoded = try ForwardReport.decode(Hex.decode(stored["body"] as! String)!)
        XCTAssertEqual(decoded, report)
        XCTAssertTrue(decoded.verify(nodeKey: node.publicKey))
        var moved = decoded
        moved.reason = "no_forward"
        XCTAssertFalse(moved.verify(nodeKey: node.publicKey), "a changed reason does not verify")
        for bad in stored["malformed"] as? [[String: String]] ?? [] {
            XCTAssertThrowsError(try ForwardReport.decode(Hex.decode(bad["hex"]!)!), bad["reason"]!)
        }
    }
}
