import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// Forward policies (protocol/SPEC.md 7.9.5) refused by the forwarder's client and, when a
/// modified client skips its checks (`prepareForward` + `store`), by the forwarder's node.
final class ForwardPolicyTests: XCTestCase {
    /// The client refuses with a reason naming `expect`, before sending anything.
    func assertClientRefuses(_ f: ForwardFederation, _ forwarder: String, _ source: ForwardSource, to: [String],
                             groups: [String: [String]] = [:], expect: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try f.client(forwarder).forward(source, to: to.map { Address($0)! }, groups: groups), file: file, line: line) { error in
            guard case ClientError.invalid(let reason) = error else { return XCTFail("not the client's refusal: \(error)", file: file, line: line) }
            XCTAssertTrue(reason.contains(expect), reason, file: file, line: line)
        }
    }

    /// The node refuses the same with ERROR 422 (the client skipped its checks).
    func assertNodeRefuses(_ f: ForwardFederation, _ forwarder: String, _ envelopes: [Envelope], expect: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        guard let e = envelopes.last else { return XCTFail("nothing to send", file: file, line: line) }
        XCTAssertThrowsError(try f.client(forwarder).store(e), file: file, line: line) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(code, ErrorCode.forwardRefused.rawValue, reason, file: file, line: line)
            XCTAssertTrue(reason.contains(expect), reason, file: file, line: line)
        }
    }

    func unchecked(_ f: ForwardFederation, _ forwarder: String, _ source: ForwardSource, to: [String],
                   groups: [String: [String]] = [:]) throws -> [Envelope] {
        try f.client(forwarder).prepareForward(source, to: to.map { Address($0)! }, groups: groups, note: "")
    }

    func send(_ f: ForwardFederation, from: String, to: String, policy: ForwardPolicy) throws -> ForwardSource {
        let c = f.client(from)
        c.forwardPolicy = policy
        defer { c.forwardPolicy = ForwardPolicy() }
        let id = try c.sendText(to: Address(to)!, text: "policy test \(policy)")
        return try XCTUnwrap(try f.next(to) { $0.id == id }.forwardable)
    }

    func testPoliciesAreRefusedByTheClientAndByTheNodeWithAClientThatSkipsThem() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let refusedBefore = try f.nodes.mapValues { try Operator.auditRecords(dataDir: $0.dir, filter: AuditFilter(kind: .forwardRefused)).count }

        // No forwarding at all.
        let closed = try send(f, from: "li@hq", to: "bob@traffic", policy: ForwardPolicy(scope: .none))
        assertClientRefuses(f, "bob@traffic", closed, to: ["ma@traffic"], expect: "may not be forwarded")
        assertNodeRefuses(f, "bob@traffic", try unchecked(f, "bob@traffic", closed, to: ["ma@traffic"]), expect: "may not be forwarded")

        // Unit only, across a unit boundary (a person, and a group whose home is elsewhere); within the unit it goes.
        let unit = try send(f, from: "li@hq", to: "chen@hq", policy: ForwardPolicy(scope: .unit))
        assertClientRefuses(f, "chen@hq", unit, to: ["bob@traffic"], expect: "only within unit hq")
        assertNodeRefuses(f, "chen@hq", try unchecked(f, "chen@hq", unit, to: ["bob@traffic"]), expect: "only within unit hq; bob@traffic is at traffic")
        let team = [ForwardFederation.team: f.teamMembers]
        assertClientRefuses(f, "chen@hq", unit, to: [ForwardFederation.team], groups: team, expect: "only within unit hq")
        assertNodeRefuses(f, "chen@hq", try unchecked(f, "chen@hq", unit, to: [ForwardFederation.team], groups: team), expect: "only within unit hq")
        // A group homed in the origin's unit with members elsewhere: the client knows its members and refuses; without
        // that check, chen's node cannot see them and passes it on, and the group's home refuses to fan it out.
        let traffics = try send(f, from: "bob@traffic", to: "chen@hq", policy: ForwardPolicy(scope: .unit))
        assertClientRefuses(f, "chen@hq", traffics, to: [ForwardFederation.team], groups: team, expect: "group team@traffic has members elsewhere")
        let toTeam = try unchecked(f, "chen@hq", traffics, to: [ForwardFederation.team], groups: team)
        try f.client("chen@hq").store(toTeam[0])
        let refusal = try f.next("chen@hq") { $0.kind == .groupEvent && $0.groupEvent?.op == Group.Event.refused }
        XCTAssertTrue(refusal.text.contains("may not reach every member of team@traffic under its forward policy; outside it: chen@hq, sun@district"),
                      refusal.text)
        let homeRefused = try Operator.auditRecords(dataDir: f.nodes["traffic"]!.dir, filter: AuditFilter(kind: .forwardRefused, ref: toTeam[0].id))
        XCTAssertEqual(homeRefused.count, 1, "the group's home recorded its refusal")
        let inside = try f.client("chen@hq").forward(unit, to: [Address("gao@hq")!], groups: [:])
        XCTAssertEqual(try f.next("gao@hq") { $0.id == inside[0].id }.forward?.check.status, .verified)

        // At most two hops.
        let short = try send(f, from: "li@hq", to: "bob@traffic", policy: ForwardPolicy(maxHops: 2))
        let h1 = try f.client("bob@traffic").forward(short, to: [Address("zhao@district")!], groups: [:])
        let s1 = try XCTUnwrap(try f.next("zhao@district") { $0.id == h1[0].id }.forwardable)
        let h2 = try f.client("zhao@district").forward(s1, to: [Address("wu@school")!], groups: [:])
        let s2 = try XCTUnwrap(try f.next("wu@school") { $0.id == h2[0].id }.forwardable)
        assertClientRefuses(f, "wu@school", s2, to: ["chen@hq"], expect: "at most 2 times")
        assertNodeRefuses(f, "wu@school", try unchecked(f, "wu@school", s2, to: ["chen@hq"]), expect: "at most 2 times in a chain; this would be forward 3")

        // Fan-out: 5 recipients at once by default (the group counts as one), fewer when the origin says so.
        let wide = try send(f, from: "li@hq", to: "bob@traffic", policy: ForwardPolicy())
        let six = ["ma@traffic", "zhao@district", "sun@district", "wu@school", "he@school", "gao@hq"]
        assertClientRefuses(f, "bob@traffic", wide, to: six, expect: "at most 5 recipients")
        assertNodeRefuses(f, "bob@traffic", try unchecked(f, "bob@traffic", wide, to: six), expect: "at most 5 recipients at once (a group counts as one); this one names 6")
        let five = try f.client("bob@traffic").forward(wide, to: ["ma@traffic", "zhao@district", "wu@school", "he@school", "gao@hq"].map { Address($0)! }, groups: [:])
        XCTAssertEqual(five.count, 5)
        let narrow = try send(f, from: "li@hq", to: "bob@traffic", policy: ForwardPolicy(maxRecipients: 1))
        assertClientRefuses(f, "bob@traffic", narrow, to: ["ma@traffic", "gao@hq"], expect: "at most 1 recipient")
        assertNodeRefuses(f, "bob@traffic", try unchecked(f, "bob@traffic", narrow, to: ["ma@traffic", "gao@hq"]), expect: "at most 1 recipient")
        // A hop signed for one recipient, sent to a second one as well: the node counts it.
        let one = try unchecked(f, "bob@traffic", narrow, to: ["ma@traffic"])
        try f.client("bob@traffic").store(one[0])
        var again = one[0]
        again.id = MessageID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })!
        again.to = "gao@hq"
        assertNodeRefuses(f, "bob@traffic", [again], expect: "was already sent to 1: gao@hq would be one more")

        // A burn message never: its sender's own forged origin naming it is refused by the node that handled it.
        let li = f.client("li@hq")
        let burn = try li.sendBurn(to: Address("chen@hq")!, text: "burn me")
        var origin = closed.origin
        origin.id = burn
        origin.sender = "li@hq"
        origin.to = "chen@hq"
        origin.policy = ForwardPolicy(scope: .anywhere)
        origin.sign(with: li.profile.sign)
        let fake = ForwardSource(id: burn, from: "li@hq", via: "chen@hq", origin: origin, hops: [], offer: nil, content: closed.content,
                                 hashKey: closed.hashKey, problem: nil)
        assertNodeRefuses(f, "li@hq", try unchecked(f, "li@hq", fake, to: ["gao@hq"]), expect: "burn messages cannot be forwarded")

        // Every refusal was recorded at the forwarder's node, none elsewhere.
        let refusedAfter = try f.nodes.mapValues { try Operator.auditRecords(dataDir: $0.dir, filter: AuditFilter(kind: .forwardRefused)).count }
        XCTAssertEqual(refusedAfter["traffic"]! - refusedBefore["traffic"]!, 5, "no-forward, two fan-outs, the reused hop; the group's home")
        XCTAssertEqual(refusedAfter["hq"]! - refusedBefore["hq"]!, 3, "unit (person, group), burn")
        XCTAssertEqual(refusedAfter["school"]! - refusedBefore["school"]!, 1, "hops")
        XCTAssertEqual(refusedAfter["district"]! - refusedBefore["district"]!, 0)
        XCTAssertEqual(try f.nodes["traffic"]!.status().forwards.refused, 5)
    }

    /// A forward's first hop claims it was received at the origin's recipient: a person other
    /// than its forwarder cannot have received it there. Without that check a later forwarder
    /// drops the hops before its own (hiding them) and starts the hop count again.
    func testAHopReceivedAtSomeoneElsesAddressIsRefusedAndShownAsForged() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let once = try send(f, from: "li@hq", to: "bob@traffic", policy: ForwardPolicy(maxHops: 1))
        let h1 = try f.client("bob@traffic").forward(once, to: [Address("zhao@district")!], groups: [:])
        let s1 = try XCTUnwrap(try f.next("zhao@district") { $0.id == h1[0].id }.forwardable)
        // zhao drops bob's hop and signs a first hop "received at bob@traffic".
        let reset = ForwardSource(id: s1.id, from: s1.from, via: once.via, origin: s1.origin, hops: [], offer: s1.offer,
                                  content: s1.content, hashKey: s1.hashKey, problem: nil, label: s1.label)
        let forged = try unchecked(f, "zhao@district", reset, to: ["wu@school"])
        assertNodeRefuses(f, "zhao@district", forged, expect: "hop 1: zhao@district says it received it at bob@traffic")
        // A node on the way that passes it anyway: the recipient shows it as forged.
        var delivered = forged[0]
        delivered.from = "zhao@district"
        let shown = try f.client("wu@school").open(delivered, seq: 1)
        XCTAssertEqual(shown.forward?.check.status, .forged)
    }

    /// The same through a group: a hop "received through" a group whose home is the
    /// forwarder's node, by someone who is not a member of it, is refused there.
    func testAHopReceivedThroughAGroupByANonMemberIsRefusedAtTheGroupsHome() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let team = Address(ForwardFederation.team)!
        let chen = f.client("chen@hq")
        chen.forwardPolicy = ForwardPolicy(maxHops: 1)
        let id = try chen.sendGroupText(group: team, members: f.teamMembers, text: "to the team")
        let got = try XCTUnwrap(try f.next("sun@district") { $0.id == id }.forwardable)
        XCTAssertEqual(got.via, ForwardFederation.team)
        let h1 = try f.client("sun@district").forward(got, to: [Address("bob@traffic")!], groups: [:])
        let s1 = try XCTUnwrap(try f.next("bob@traffic") { $0.id == h1[0].id }.forwardable)
        // bob (not a member) drops sun's hop and signs a first hop "received through team@traffic".
        let reset = ForwardSource(id: s1.id, from: s1.from, via: ForwardFederation.team, origin: s1.origin, hops: [], offer: s1.offer,
                                  content: s1.content, hashKey: s1.hashKey, problem: nil, label: s1.label)
        assertNodeRefuses(f, "bob@traffic", try unchecked(f, "bob@traffic", reset, to: ["gao@hq"]),
                          expect: "bob@traffic says it received it through team@traffic, but is not a member of it")
    }

    /// A group's home holds forwards it fans out to its own hop and fan-out limits (SPEC 7.9.5
    /// rules 5 and 6), also when they come from another node whose settings are looser: here
    /// traffic (the home of team@traffic) allows 2 hops and 1 recipient, hq the defaults (10, 5).
    func testAGroupsHomeHoldsForwardsFromOtherNodesToItsOwnHopAndFanOutLimits() throws {
        let f = try ForwardFederation()
        // In traffic's node.yaml, which it reloads while running.
        let traffic = f.nodes["traffic"]!
        var config = try traffic.dir.loadConfig()
        config.forwarding.maxHops = 2
        config.forwarding.maxRecipients = 1
        try traffic.dir.saveConfig(config)
        try traffic.waitFor("traffic's new forwarding limits") { $0.forwards.maxHops == 2 && $0.forwards.maxRecipients == 1 }
        defer { f.close() }
        let team = [ForwardFederation.team: f.teamMembers]
        let chen = f.client("chen@hq")
        // Three hops within hq (allowed there), the third to the group: its home refuses to fan it out.
        let first = try send(f, from: "li@hq", to: "chen@hq", policy: ForwardPolicy())
        let h1 = try chen.forward(first, to: [Address("gao@hq")!], groups: [:])
        let s1 = try XCTUnwrap(try f.next("gao@hq") { $0.id == h1[0].id }.forwardable)
        let h2 = try f.client("gao@hq").forward(s1, to: [Address("chen@hq")!], groups: [:])
        let s2 = try XCTUnwrap(try f.next("chen@hq") { $0.id == h2[0].id }.forwardable)
        let deep = try unchecked(f, "chen@hq", s2, to: [ForwardFederation.team], groups: team)
        try chen.store(deep[0])
        let tooDeep = try f.next("chen@hq") { $0.kind == .groupEvent && $0.groupEvent?.op == Group.Event.refused }
        XCTAssertTrue(tooDeep.text.contains("may be forwarded at most 2 times in a chain at traffic; this is forward 3"), tooDeep.text)

        // One hop to the group and one person (two recipients: allowed at hq, one too many at traffic).
        let second = try send(f, from: "li@hq", to: "chen@hq", policy: ForwardPolicy())
        let wide = try unchecked(f, "chen@hq", second, to: [ForwardFederation.team, "gao@hq"], groups: team)
        try chen.store(wide[0])
        try chen.store(wide[1])
        let tooWide = try f.next("chen@hq") { $0.kind == .groupEvent && $0.groupEvent?.op == Group.Event.refused }
        XCTAssertTrue(tooWide.text.contains("may go to at most 1 recipient at once at traffic"), tooWide.text)
        XCTAssertEqual(try f.next("gao@hq") { $0.id == wide[1].id }.forward?.check.status, .verified, "hq's own recipient has it")

        // Within traffic's limits it goes out to the members; the refused ones reached none of them.
        let third = try send(f, from: "li@hq", to: "chen@hq", policy: ForwardPolicy())
        let fine = try chen.forward(third, to: [Address(ForwardFederation.team)!], groups: team)
        let got = try f.next("sun@district") { $0.forward != nil }
        XCTAssertEqual(got.id, fine[0].id, "the first forward sun gets is the one within the limits")
        XCTAssertEqual(try f.next("ma@traffic") { $0.forward != nil }.id, fine[0].id)
        for id in [deep[0].id, wide[0].id] {
            let recorded = try Operator.auditRecords(dataDir: f.nodes["traffic"]!.dir, filter: AuditFilter(kind: .forwardRefused, ref: id))
            XCTAssertEqual(recorded.count, 1, "the home recorded its refusal")
        }
        XCTAssertEqual(try f.nodes["traffic"]!.status().forwards.refused, 2)
        XCTAssertEqual(try f.nodes["hq"]!.status().forwards.refused, 0, "hq's limits allowed both")
    }
}
