import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// The admin `status` answer is one `NodeStatus`: its JSON members are SPEC 15.3's, absent
/// values are `null` (not left out), and what the node sends decodes back to the same value.
final class StatusTests: XCTestCase {
    /// The members of the tables of SPEC 15.3 (`| \`a\`, \`b\` | … |` rows), in table order.
    func specTables() throws -> [[String]] {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("protocol/SPEC.md").path) {
            url.deleteLastPathComponent()
        }
        let spec = try String(contentsOf: url.appendingPathComponent("protocol/SPEC.md"), encoding: .utf8)
        let start = try XCTUnwrap(spec.range(of: "### 15.3 `status`")), end = try XCTUnwrap(spec.range(of: "### 15.4"))
        var tables: [[String]] = [], current: [String] = []
        for line in spec[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("| `") else {
                if !current.isEmpty { tables.append(current); current = [] }
                continue
            }
            let cell = line.dropFirst(2).prefix { $0 != "|" }
            current += cell.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
        }
        if !current.isEmpty { tables.append(current) }
        return tables
    }

    func testTheStatusJSONHasExactlySpecMembersAndNulls() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let raw = try AdminClient.request(dataDir: hq.dir, ["cmd": "status"])
        let tables = try specTables()
        XCTAssertEqual(tables.count, 3, "status, a peer, counters")
        XCTAssertEqual(Set(raw.keys), Set(tables[0]), "status members against SPEC 15.3")
        let peer = try XCTUnwrap((raw["peers"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(peer.keys), Set(tables[1]), "peer members against SPEC 15.3")
        XCTAssertEqual(Set((raw["counters"] as? [String: Any] ?? [:]).keys), Set(tables[2]), "counters against SPEC 15.3")
        // Absent values are JSON null, present as members.
        XCTAssertTrue(peer["storage"] is NSNull, "no SUMMARY from the fake peer: storage null, not missing")
        XCTAssertTrue((raw["reminders"] as? [String: Any])?["next_due"] is NSNull)
        XCTAssertTrue((raw["limits"] as? [String: Any])?["fullest_mailbox"] is NSNull)

        let typed = try hq.status()
        XCTAssertEqual(typed.peers.map(\.name), [fake.name])
        XCTAssertNil(typed.peers[0].storage)
        XCTAssertNil(typed.reminders.nextDue)
        XCTAssertEqual(typed.users.enrolled, 1)
        // Encoding the decoded value gives the node's JSON back (the same keys and values).
        let again = try JSONSerialization.jsonObject(with: JSONEncoder.admin.encode(typed)) as? NSDictionary
        XCTAssertEqual(Set((again as? [String: Any] ?? [:]).keys), Set(raw.keys))
        XCTAssertEqual((again?["limits"] as? NSDictionary), raw["limits"] as? NSDictionary)
        XCTAssertEqual((again?["peers"] as? NSArray)?.count, 1)
    }

    func testPendingAndFederationAnswersDecode() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        let pending = try AdminClient.pending(dataDir: hq.dir, peer: fake.name)
        XCTAssertEqual(pending.peer, fake.name)
        XCTAssertEqual(pending.pending, [])
        XCTAssertThrowsError(try AdminClient.pending(dataDir: hq.dir, peer: "nobody")) { error in
            XCTAssertTrue("\(error)".contains("no peer named 'nobody'"), "\(error)")
        }
        try waitUntil("hq's own summary with bob", timeout: 10) {
            try AdminClient.federation(dataDir: hq.dir).nodes.contains { $0.node == "hq" && $0.summary.users == 1 }
        }
        let own = try XCTUnwrap(AdminClient.federation(dataDir: hq.dir).nodes.first { $0.node == "hq" })
        XCTAssertEqual(own.summary.name, "hq")
        XCTAssertEqual(own.summary.users, 1)
        XCTAssertEqual(own.summary.storage, "ok")
    }

    /// SPEC 15.5: a receiver accepts any JSON object as a SUMMARY; members of the wrong type are dropped one by one.
    func testASummaryOfAnotherVersionDecodesWhatItCan() throws {
        let odd = NodeSummary.decode(Array(#"{"name":"x","users":"many","peers":{"a":"connected"},"new_member":[1]}"#.utf8))
        XCTAssertEqual(odd?.name, "x")
        XCTAssertNil(odd?.users)
        XCTAssertEqual(odd?.peers, ["a": "connected"])
        XCTAssertNil(NodeSummary.decode(Array("[1,2]".utf8)))
    }
}
