import SealpostCore
@testable import SealpostNode
import Sodium
import XCTest

/// The forwarder's node's judgement (protocol/SPEC.md 7.9.5) with plain values: no sockets.
final class ForwardJudgeTests: XCTestCase {
    let li = SignKeyPair.generate(), bob = SignKeyPair.generate(), zhao = SignKeyPair.generate()
    let hashKey = Sodium.randomBytes(32)

    var keys: [String: [UInt8]] { ["li@hq": li.publicKey, "bob@traffic": bob.publicKey, "zhao@hq": zhao.publicKey] }

    func facts(groups: [String: [String]] = [:], units: Set<String> = ["hq", "traffic"]) -> ForwardJudge.Facts {
        let keys = self.keys
        return ForwardJudge.Facts(signKey: { keys[$0] }, knowsUnit: { units.contains($0) }, groupMembers: { groups[$0] })
    }

    /// li@hq's message to bob@traffic, forwarded by bob to `recipients`.
    func header(_ policy: ForwardPolicy, recipients: [String], hops: Int = 1) -> ForwardHeader {
        var origin = ForwardOrigin(id: MessageID(bytes: Sodium.randomBytes(16))!, sender: "li@hq", to: "bob@traffic", sentAt: 1, contentKind: 1,
                                   policy: policy, contentHash: Forward.contentHash(kind: 1, content: [1], hashKey: hashKey))
        origin.sign(with: li)
        var records: [ForwardHop] = []
        var parent = origin.link
        for i in 0..<hops {
            // Bob forwards to himself through the chain (each hop a valid, linked record).
            var hop = ForwardHop(forwarder: "bob@traffic", via: i == 0 ? "bob@traffic" : "bob@traffic", recipients: UInt16(recipients.count),
                                 recipientSet: Forward.recipientSetHash(recipients, hashKey: hashKey), at: UInt64(i + 2), parent: parent)
            hop.sign(with: bob)
            parent = hop.link
            records.append(hop)
        }
        return ForwardHeader(origin: origin, hops: records)
    }

    func verdict(_ h: ForwardHeader, to: String, accepted: Set<String> = [], limits: ForwardLimits = .standard,
                 facts f: ForwardJudge.Facts? = nil) -> ForwardJudge.Verdict {
        ForwardJudge(limits: limits).judge(h, from: "bob@traffic", to: to, accepted: accepted, facts: f ?? facts())
    }

    func code(_ v: ForwardJudge.Verdict) -> String? {
        if case .refuse(let r) = v { return r.code }
        return nil
    }

    func testPolicyResolution() {
        let node = ForwardLimits(defaultScope: .unit, maxHops: 4, maxRecipients: 3)
        XCTAssertEqual(node.effective(ForwardPolicy()).scope, .unit, "unset: the node's default")
        XCTAssertEqual(node.effective(ForwardPolicy(scope: .anywhere)).scope, .anywhere, "a set scope holds as set")
        XCTAssertEqual(node.effective(ForwardPolicy(maxHops: 9, maxRecipients: 9)).maxHops, 4, "hops: only stricter")
        XCTAssertEqual(node.effective(ForwardPolicy(maxHops: 2, maxRecipients: 9)).maxHops, 2)
        XCTAssertEqual(node.effective(ForwardPolicy(maxRecipients: 9)).maxRecipients, 3, "recipients: only stricter")
        XCTAssertEqual(node.effective(ForwardPolicy(maxRecipients: 1)).maxRecipients, 1)
    }

    /// A group's home (rules 5 and 6 at fan-out, by its own limits and the origin's tighter ones).
    func testHomeLimits() {
        let home = ForwardJudge(limits: ForwardLimits(defaultScope: .federation, maxHops: 2, maxRecipients: 1))
        XCTAssertNil(home.homeLimitRefusal(header(ForwardPolicy(), recipients: ["team@traffic"], hops: 2), home: "traffic"))
        XCTAssertEqual(home.homeLimitRefusal(header(ForwardPolicy(), recipients: ["team@traffic"], hops: 3), home: "traffic")?.code, "hops")
        XCTAssertEqual(home.homeLimitRefusal(header(ForwardPolicy(), recipients: ["team@traffic", "zhao@hq"]), home: "traffic")?.code, "fanout")
        let loose = ForwardJudge(limits: .standard)
        XCTAssertNil(loose.homeLimitRefusal(header(ForwardPolicy(), recipients: ["team@traffic", "zhao@hq"], hops: 3), home: "traffic"))
        XCTAssertEqual(loose.homeLimitRefusal(header(ForwardPolicy(maxHops: 1), recipients: ["team@traffic"], hops: 2), home: "traffic")?.code,
                       "hops", "the origin's tighter limit holds at the home too")
        XCTAssertEqual(loose.homeLimitRefusal(ForwardHeader(origin: header(ForwardPolicy(), recipients: []).origin, hops: []), home: "traffic")?.code,
                       "chain")
    }

    func testEachRule() {
        let open = header(ForwardPolicy(), recipients: ["zhao@hq"])
        XCTAssertEqual(verdict(open, to: "zhao@hq"), .accept)
        XCTAssertEqual(code(verdict(header(ForwardPolicy(scope: .none), recipients: ["zhao@hq"]), to: "zhao@hq")), "no_forward")
        XCTAssertEqual(code(verdict(header(ForwardPolicy(maxHops: 2), recipients: ["zhao@hq"], hops: 3), to: "zhao@hq")), "hops")
        XCTAssertEqual(verdict(header(ForwardPolicy(maxHops: 2), recipients: ["zhao@hq"], hops: 2), to: "zhao@hq"), .accept)
        let six = (1...6).map { "p\($0)@hq" }
        XCTAssertEqual(code(verdict(header(ForwardPolicy(), recipients: six), to: "p1@hq")), "fanout", "5 at once by default")
        XCTAssertEqual(code(verdict(open, to: "gao@hq", accepted: ["zhao@hq"])), "fanout", "a hop for one, reused for another")
        XCTAssertEqual(verdict(open, to: "zhao@hq", accepted: ["zhao@hq"]), .accept, "the same recipient again (a retransmission)")
        let unit = header(ForwardPolicy(scope: .unit), recipients: ["x@traffic"])
        XCTAssertEqual(code(verdict(unit, to: "x@traffic")), "unit")
        XCTAssertEqual(verdict(header(ForwardPolicy(scope: .unit), recipients: ["ops@hq"]), to: "ops@hq"), .accept)
        XCTAssertEqual(code(verdict(header(ForwardPolicy(scope: .unit), recipients: ["ops@hq"]), to: "ops@hq",
                                    facts: facts(groups: ["ops@hq": ["a@hq", "b@traffic"]]))), "unit", "a group counts by its members")
        XCTAssertEqual(code(verdict(header(ForwardPolicy(), recipients: ["x@mars"]), to: "x@mars")), "federation")
        XCTAssertEqual(verdict(header(ForwardPolicy(scope: .anywhere), recipients: ["x@mars"]), to: "x@mars"), .accept)
    }

    func testTheChainMustVerifyFromTheHeaderAlone() {
        var forged = header(ForwardPolicy(), recipients: ["zhao@hq"])
        forged.hops[0].signature[3] ^= 1
        XCTAssertEqual(code(verdict(forged, to: "zhao@hq")), "chain")
        var relinked = header(ForwardPolicy(), recipients: ["zhao@hq"], hops: 2)
        relinked.hops.remove(at: 0)
        XCTAssertEqual(code(verdict(relinked, to: "zhao@hq")), "chain", "a removed hop breaks the links")
        var loosened = header(ForwardPolicy(scope: .unit), recipients: ["x@traffic"])
        loosened.origin.policy.scope = .anywhere
        XCTAssertEqual(code(verdict(loosened, to: "x@traffic")), "chain", "the policy is signed by the originator")
        let unknown = ForwardJudge.Facts(signKey: { _ in nil }, knowsUnit: { _ in true }, groupMembers: { _ in nil })
        XCTAssertEqual(code(verdict(header(ForwardPolicy(), recipients: ["zhao@hq"]), to: "zhao@hq", facts: unknown)), "chain")
        XCTAssertEqual(code(ForwardJudge(limits: .standard).judge(header(ForwardPolicy(), recipients: ["zhao@hq"]), from: "zhao@hq", to: "x@hq",
                                                                  accepted: [], facts: facts())), "chain", "the last hop is the sender's")
    }

    func testAGroupsHomeFindsMembersOutsideTheScope() {
        let judge = ForwardJudge(limits: .standard)
        let members = ["a@hq", "b@traffic", "c@mars"]
        XCTAssertEqual(judge.outsideScope(header(ForwardPolicy(scope: .unit), recipients: ["g@hq"]), members: members, knowsUnit: { $0 != "mars" }),
                       ["b@traffic", "c@mars"])
        XCTAssertEqual(judge.outsideScope(header(ForwardPolicy(), recipients: ["g@hq"]), members: members, knowsUnit: { $0 != "mars" }), ["c@mars"])
        XCTAssertEqual(judge.outsideScope(header(ForwardPolicy(scope: .anywhere), recipients: ["g@hq"]), members: members, knowsUnit: { _ in false }), [])
    }
}
