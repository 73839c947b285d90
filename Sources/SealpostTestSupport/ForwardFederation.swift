import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode

/// Four units for forwarding tests and benchmarks (protocol/SPEC.md 7.9): `hq` peers with
/// `traffic` and `school`, `traffic` with `district` (reached only through `traffic`), with
/// two or three people each and a group `team@traffic` (members `ma@traffic`, `chen@hq`,
/// `sun@district`). `chain()` builds a 10-hop forward chain across all four units, one hop
/// through the group. The trace tests reuse it.
public final class ForwardFederation {
    public let nodes: [String: TestNode]
    public private(set) var clients: [String: Client] = [:]
    /// The group's members, as its home announced them.
    public private(set) var teamMembers: [String] = []
    public static let team = "team@traffic"
    public static let people = ["li@hq", "chen@hq", "gao@hq", "bob@traffic", "ma@traffic", "zhao@district", "sun@district",
                                "wu@school", "he@school"]

    /// Starts the four nodes (`configure` adjusts each one's settings), enrols everyone, makes
    /// the group and waits until every person is in every node's directory.
    public init(logger: Logger = TestNode.logger, configure: @escaping @Sendable (inout NodeConfig) -> Void = { _ in }) throws {
        var made: [String: TestNode] = [:]
        for name in ["hq", "traffic", "district", "school"] {
            let node = try TestNode(name: name, logger: logger)
            try node.start(configure: configure)
            made[name] = node
        }
        nodes = made
        try made["hq"]!.peer(with: made["traffic"]!)
        try made["traffic"]!.peer(with: made["district"]!)
        try made["hq"]!.peer(with: made["school"]!)
        for address in Self.people {
            let a = Address(address)!
            clients[address] = try Client(profile: try made[a.node]!.join(a.local))
        }
        // Everyone reaches everyone (the district's entries come to school through traffic and hq).
        for address in Self.people {
            for other in Self.people where other != address { try waitUntilKnown(clients[address]!, other, timeout: 30) }
        }
        let ma = client("ma@traffic")
        try ma.groupOp(.create, group: Address(Self.team)!, members: ["chen@hq", "sun@district"])
        guard let event = try ma.awaitGroupEvent(group: Address(Self.team)!, timeoutMs: 10_000), let e = event.groupEvent else {
            throw TimedOut(description: "the group \(Self.team) was not created")
        }
        teamMembers = e.members.map(\.address)
        // The members' own group events, so that later receives see only forwards.
        for m in teamMembers where m != "ma@traffic" { _ = try next(m, timeoutMs: 10_000) { $0.kind == "group_event" } }
    }

    public func client(_ address: String) -> Client { clients[address]! }

    /// The next message `address` receives that `matches` (acknowledging everything up to it).
    public func next(_ address: String, timeoutMs: Int = 10_000, _ matches: (ReceivedMessage) -> Bool = { _ in true }) throws -> ReceivedMessage {
        let c = client(address)
        try c.attach()
        defer { try? c.detach() }
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            guard let event = try c.next(timeoutMs: 100) else { continue }
            if case .message(let m) = event {
                try c.ack(m.seq)
                if matches(m) {
                    try c.flush()
                    return m
                }
            }
        }
        throw TimedOut(description: "\(address) received nothing matching within \(timeoutMs) ms")
    }

    /// One step of a chain: who forwards, to whom (a person or the group).
    public struct Step: Sendable {
        public var forwarder: String
        public var to: String
    }

    /// The 10 forwards of `chain()`: across all four units, the fourth to the group, the fifth by a member who got it through it.
    public static let steps: [Step] = [
        Step(forwarder: "bob@traffic", to: "zhao@district"),
        Step(forwarder: "zhao@district", to: "wu@school"),
        Step(forwarder: "wu@school", to: "chen@hq"),
        Step(forwarder: "chen@hq", to: team),
        Step(forwarder: "ma@traffic", to: "he@school"),
        Step(forwarder: "he@school", to: "gao@hq"),
        Step(forwarder: "gao@hq", to: "sun@district"),
        Step(forwarder: "sun@district", to: "wu@school"),
        Step(forwarder: "wu@school", to: "li@hq"),
        Step(forwarder: "li@hq", to: "bob@traffic"),
    ]

    /// The result of `chain()`.
    public struct Chain {
        /// The original message (li@hq to bob@traffic).
        public var origin: MessageID
        /// Every forward envelope's id, hop by hop (the group hop has one envelope, to the group).
        public var forwards: [[MessageID]]
        /// The last recipient's view of the last forward.
        public var last: ReceivedMessage
    }

    /// li@hq sends `text` to bob@traffic with `policy`; then the 10 `steps` forward it on, each
    /// forwarder forwarding what it received (through the group, ma@traffic's copy).
    public func chain(text: String = "notice 17: the inspection is on Friday", policy: ForwardPolicy = ForwardPolicy()) throws -> Chain {
        let li = client("li@hq")
        li.forwardPolicy = policy
        let origin = try li.sendText(to: Address("bob@traffic")!, text: text)
        var received = try next("bob@traffic") { $0.id == origin }
        var forwards: [[MessageID]] = []
        for step in Self.steps {
            guard let source = received.forwardable else {
                throw TimedOut(description: "\(step.forwarder) received \(received.id.hex) without a forwardable origin")
            }
            let groups = step.to == Self.team ? [Self.team: teamMembers] : [:]
            let sent = try client(step.forwarder).forward(source, to: [Address(step.to)!], groups: groups)
            forwards.append(sent.map(\.id))
            let reader = step.to == Self.team ? "ma@traffic" : step.to
            received = try next(reader) { m in sent.contains { $0.id == m.id } }
        }
        return Chain(origin: origin, forwards: forwards, last: received)
    }

    public func close() {
        for c in clients.values { c.close() }
        for n in nodes.values { n.close() }
    }
}
