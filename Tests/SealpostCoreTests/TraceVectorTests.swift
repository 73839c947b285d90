import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/trace.json (SPEC.md 18.11), made by check_vectors.py's own encoder: the Swift
/// codec must give the same bytes for the trace commands, the signed query and answer bodies,
/// refuse the malformed answers by the same field, and parse the viewer codes alike.
final class TraceVectorTests: XCTestCase {
    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("protocol/vectors/trace.json")

    static func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    func load() throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.url)) as? [String: Any])
    }

    func bytes(_ any: Any?) throws -> [UInt8] { try XCTUnwrap(Hex.decode(try XCTUnwrap(any as? String))) }

    func testQueryIsSignedAndEncodedAsTheVector() throws {
        let v = try load()
        var seed = Self.seq(0x61, 32)
        let key = try XCTUnwrap(SignKeyPair(seed: &seed))
        XCTAssertEqual(Hex.encode(key.publicKey), v["asking_node_sign_key"] as? String)
        let q = try XCTUnwrap(v["query"] as? [String: Any])
        let f = try XCTUnwrap(q["fields"] as? [String: Any])
        var query = Trace.Query(queryId: try bytes(f["query_id"]), origin: "hq", dest: "school", askedAt: 1_764_000_000_000,
                                officer: "li@hq", subject: .message(MessageID(bytes: try bytes(f["subject"]))!))
        XCTAssertEqual(Hex.encode(query.signedBytes), q["signed"] as? String)
        query.sign(with: key)
        let frame = PeerCommand.traceQuery(query: query, hops: 0).encode()
        XCTAssertEqual(Hex.encode(frame), q["hex"] as? String)
        guard case let .traceQuery(decoded, hops) = try PeerCommand.decode(frame) else { return XCTFail("not a TRACE-QUERY") }
        XCTAssertEqual(decoded, query)
        XCTAssertEqual(hops, 0)
        XCTAssertTrue(decoded.verify(nodeKey: key.publicKey))
        var moved = decoded
        moved.dest = "traffic"
        XCTAssertFalse(moved.verify(nodeKey: key.publicKey), "a query cannot be sent on to another node than the one asked")
    }

    func testAnswersAreSignedAndEncodedAsTheVectors() throws {
        let v = try load()
        var seed = Self.seq(0x81, 32)
        let key = try XCTUnwrap(SignKeyPair(seed: &seed))
        XCTAssertEqual(Hex.encode(key.publicKey), v["answering_node_sign_key"] as? String)
        for a in try XCTUnwrap(v["answers"] as? [[String: Any]]) {
            let f = try XCTUnwrap(a["fields"] as? [String: Any])
            let records = try (f["records"] as? [[String: Any]] ?? []).map {
                Trace.Record(position: UInt64(try XCTUnwrap($0["position"] as? Int)), record: try bytes($0["record"]), proof: try bytes($0["proof"]))
            }
            var answer = Trace.Answer(queryId: try bytes(f["query_id"]), node: "school", asker: "hq",
                                      subject: .message(MessageID(bytes: try bytes(f["subject"]))!),
                                      status: Trace.Status(rawValue: UInt8(try XCTUnwrap(f["status"] as? Int)))!,
                                      reason: try XCTUnwrap(f["reason"] as? String), answeredAt: 1_764_000_000_500, records: records,
                                      head: try bytes(f["head"]), truncated: 0)
            answer.sign(with: key)
            XCTAssertEqual(Hex.encode(answer.encode()), a["body"] as? String, "\(a["name"] ?? "")")
            XCTAssertEqual(try Trace.Answer.decode(answer.encode()), answer)
            XCTAssertTrue(answer.verify(nodeKey: key.publicKey))
            let frame = PeerCommand.traceAnswer(queryId: answer.queryId, origin: "school", dest: "hq", hops: 0, answer: answer.encode()).encode()
            XCTAssertEqual(Hex.encode(frame), a["hex"] as? String)
        }
        for bad in try XCTUnwrap(v["malformed_answers"] as? [[String: Any]]) {
            let field = try XCTUnwrap(bad["field"] as? String)
            XCTAssertThrowsError(try Trace.Answer.decode(try bytes(bad["hex"])), "\(bad["why"] ?? "")") { error in
                guard case .invalid(let f, _)? = error as? WireError else { return XCTFail("\(error)") }
                XCTAssertEqual(f, field)
            }
        }
    }

    func testClientCommandsAndViewerCodes() throws {
        let v = try load()
        let commands = try XCTUnwrap(v["commands"] as? [[String: Any]])
        let trace = try Command.decode(try bytes(commands[0]["hex"]))
        XCTAssertEqual(trace, .trace(requestId: 5, op: .message, subject: .message(MessageID(bytes: Array(0..<16))!)))
        XCTAssertEqual(Hex.encode(trace.encode()), commands[0]["hex"] as? String)
        guard case let .traceResult(5, .message, "", nodes) = try Command.decode(try bytes(commands[1]["hex"])) else {
            return XCTFail("not the TRACE-RESULT")
        }
        XCTAssertEqual(nodes.map(\.node), ["school", "traffic"])
        XCTAssertEqual(nodes.map(\.state), [.answered, .timedOut])
        XCTAssertEqual(Hex.encode(nodes[0].answer), (v["answers"] as? [[String: Any]])?[1]["body"] as? String)
        for c in try XCTUnwrap(v["codes"] as? [[String: Any]]) {
            let text = try XCTUnwrap(c["text"] as? String)
            let parsed = ViewerCode(text).map { [$0.node, $0.token] }
            XCTAssertEqual(parsed, c["parsed"] as? [String], text)
        }
        let fresh = ViewerCode.random(node: "traffic")
        XCTAssertEqual(ViewerCode(fresh.description), fresh, "a drawn code parses back")
        XCTAssertEqual(fresh.description.count, "traffic-XXXX-XXXX".count)
        // A TRACE whose subject does not go with its op is malformed.
        var w = Command.trace(requestId: 1, op: .code, subject: .message(.zero)).encode()
        XCTAssertThrowsError(try Command.decode(w))
        w = Command.trace(requestId: 1, op: .mark, subject: .code("traffic-7KQ2-M9XD")).encode()
        XCTAssertThrowsError(try Command.decode(w))
    }
}
