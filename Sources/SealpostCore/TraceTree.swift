/// The forward tree of one message, rebuilt from what the nodes of the federation answered
/// to a trace (protocol/SPEC.md 11.7.5). Pure: it takes plain values (each node's state and
/// the hop records it reported, already checked against that node's signed head) and gives the
/// tree with every gap named: a node that did not answer, refused, or whose records do not
/// verify; a hop whose parent nobody reported; a hop a node should have countersigned and did
/// not report.
public struct TraceTree: Sendable, Equatable {
    /// What a hop's forwarder signature came to.
    public enum Signature: Sendable, Equatable {
        case valid
        /// It does not verify with the forwarder's directory key: the record is forged or altered.
        case forged
        /// The forwarder's key could not be had; `reason` says why.
        case unchecked(String)
    }

    /// One hop record as one node reported it (countersigned in its audit log at `position`).
    public struct Observation: Sendable, Equatable {
        public var node: String
        public var position: UInt64
        /// The hop's own link (what a next hop names as its parent).
        public var link: [UInt8]
        /// The link of the record before (the origin's link for a first hop).
        public var parent: [UInt8]
        /// The forward message's id.
        public var forward: MessageID
        public var forwarder: String
        /// Where the forwarder had it from (its own address, or the group it came through).
        public var via: String
        /// Whom this node saw it go to (envelope recipients); may be a group.
        public var to: [String]
        public var recipients: Int
        public var at: UInt64
        public var signature: Signature
        /// Whether the record's proof verified against the node's signed head (else: a gap).
        public var proven: Bool
        public var problem: String?

        public init(node: String, position: UInt64, link: [UInt8], parent: [UInt8], forward: MessageID, forwarder: String,
                    via: String, to: [String], recipients: Int, at: UInt64, signature: Signature, proven: Bool = true,
                    problem: String? = nil) {
            self.node = node
            self.position = position
            self.link = link
            self.parent = parent
            self.forward = forward
            self.forwarder = forwarder
            self.via = via
            self.to = to
            self.recipients = recipients
            self.at = at
            self.signature = signature
            self.proven = proven
            self.problem = problem
        }
    }

    /// The origin of the message, as the records (or the asker) know it.
    public struct Origin: Sendable, Equatable {
        public var id: MessageID
        public var link: [UInt8]
        public var sender: String
        public var to: String
        public var at: UInt64
        public var unit: String { Address(sender)?.node ?? "" }

        public init(id: MessageID, link: [UInt8], sender: String, to: String, at: UInt64) {
            self.id = id
            self.link = link
            self.sender = sender
            self.to = to
            self.at = at
        }
    }

    /// A node's part in the trace.
    public struct NodeReport: Sendable, Equatable {
        public enum State: Sendable, Equatable {
            /// Answered; every record it gave verified against its signed head.
            case answered(records: Int)
            /// Shown as a gap: no answer in time, no route, refused, or an answer that does not verify.
            case gap(String)
        }
        public var node: String
        public var state: State

        public init(node: String, state: State) {
            self.node = node
            self.state = state
        }

        public var isGap: Bool { if case .gap = state { return true } else { return false } }
    }

    /// One hop of the tree, with the nodes that countersigned it.
    public struct Hop: Sendable, Equatable {
        public var link: [UInt8]
        public var parent: [UInt8]
        public var forward: MessageID
        public var forwarder: String
        public var via: String
        public var to: [String]
        public var recipients: Int
        public var at: UInt64
        public var signature: Signature
        /// Node → audit log position, for each node that reported this hop (proven).
        public var countersigned: [String: UInt64]
        /// Nodes that should have countersigned it (the forwarder's, the recipients') and did not report it.
        public var missingFrom: [String]
        public var children: [Hop]

        /// The forwarder's unit.
        public var unit: String { Address(forwarder)?.node ?? "" }
    }

    /// A gap: something that should be in the tree and cannot be shown as proven.
    public struct Gap: Sendable, Equatable {
        public var node: String
        public var reason: String
    }

    public var origin: Origin?
    /// The first hops (children of the origin).
    public var hops: [Hop]
    /// Hops whose parent no node reported (under a gap, not dropped).
    public var orphans: [Hop]
    public var gaps: [Gap]
    public var nodes: [NodeReport]

    /// Every hop in the tree, depth first.
    public var allHops: [Hop] {
        func walk(_ h: Hop) -> [Hop] { [h] + h.children.flatMap(walk) }
        return (hops + orphans).flatMap(walk)
    }

    /// Rebuilds the tree.
    /// - Parameters:
    ///   - origin: the message traced, when known (from a record or the officer's own copy).
    ///   - reports: every node asked and its state.
    ///   - observations: the hop records the answering nodes gave (proven or not).
    public static func build(origin: Origin?, reports: [NodeReport], observations: [Observation]) -> TraceTree {
        var gaps: [Gap] = reports.compactMap { r in
            if case .gap(let why) = r.state { return Gap(node: r.node, reason: why) }
            return nil
        }
        let answered = Set(reports.filter { !$0.isGap }.map(\.node))
        // One hop per link; what several nodes reported is merged.
        var byLink: [[UInt8]: Hop] = [:]
        var order: [[UInt8]] = []
        for o in observations {
            guard o.proven else {
                gaps.append(Gap(node: o.node, reason: "record \(o.position) does not verify against \(o.node)'s signed audit head"
                                + (o.problem.map { " (\($0))" } ?? "")))
                continue
            }
            if var h = byLink[o.link] {
                h.countersigned[o.node] = o.position
                for t in o.to where !h.to.contains(t) { h.to.append(t) }
                if o.signature == .forged { h.signature = .forged }
                if case .unchecked = h.signature, o.signature == .valid { h.signature = .valid }
                byLink[o.link] = h
            } else {
                byLink[o.link] = Hop(link: o.link, parent: o.parent, forward: o.forward, forwarder: o.forwarder, via: o.via,
                                     to: o.to, recipients: o.recipients, at: o.at, signature: o.signature,
                                     countersigned: [o.node: o.position], missingFrom: [], children: [])
                order.append(o.link)
            }
        }
        // Who should have countersigned each hop: the forwarder's node, the nodes of whom it went to,
        // and the nodes of those who forwarded it on (they had it, so their node was its destination).
        var nextBy: [[UInt8]: [Hop]] = [:]
        for link in order { let h = byLink[link]!; nextBy[h.parent, default: []].append(h) }
        for link in order {
            var h = byLink[link]!
            var expected = Set([h.unit])
            for t in h.to { if let n = Address(t)?.node { expected.insert(n) } }
            for next in nextBy[link] ?? [] {
                if let n = Address(next.via)?.node { expected.insert(n) }
                expected.insert(next.unit)
            }
            h.missingFrom = expected.filter { answered.contains($0) && h.countersigned[$0] == nil }.sorted()
            for n in h.missingFrom {
                gaps.append(Gap(node: n, reason: "\(n) did not report the hop by \(h.forwarder) at \(Clock.rfc3339(ms: h.at)) that other nodes countersigned (a record missing from its log)"))
            }
            byLink[link] = h
        }
        func sortKey(_ a: Hop, _ b: Hop) -> Bool { a.at != b.at ? a.at < b.at : a.forwarder < b.forwarder }
        var childrenOf: [[UInt8]: [[UInt8]]] = [:]
        for link in order { childrenOf[byLink[link]!.parent, default: []].append(link) }
        var placed = Set<[UInt8]>()
        func grow(_ link: [UInt8], depth: Int) -> Hop {
            var h = byLink[link]!
            placed.insert(link)
            // A cycle cannot be signed honestly (each link hashes its parent); cut it anyway.
            if depth < 256 {
                h.children = (childrenOf[link] ?? []).filter { !placed.contains($0) }.map { grow($0, depth: depth + 1) }.sorted(by: sortKey)
            }
            return h
        }
        let roots: [Hop] = origin.map { o in (childrenOf[o.link] ?? []).map { grow($0, depth: 0) }.sorted(by: sortKey) } ?? []
        // The rest: hops whose parent is not in the tree.
        var orphans: [Hop] = []
        for link in order where !placed.contains(link) {
            let h = byLink[link]!
            if byLink[h.parent] != nil { continue } // under another orphan: grown with it
            orphans.append(grow(link, depth: 0))
        }
        for link in order where !placed.contains(link) { orphans.append(grow(link, depth: 0)) } // cycles only
        for o in orphans {
            gaps.append(Gap(node: o.unit, reason: "the hop by \(o.forwarder) at \(Clock.rfc3339(ms: o.at)) follows a hop no node reported"))
        }
        return TraceTree(origin: origin, hops: roots, orphans: orphans.sorted(by: sortKey), gaps: gaps,
                         nodes: reports.sorted { $0.node < $1.node })
    }
}
