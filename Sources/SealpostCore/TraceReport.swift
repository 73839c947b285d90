/// The inclusion proof of one record in a trace answer: `n:u8 || n × octets[32]` (SPEC 11.7.2).
public enum TraceProof {
    public static func encode(_ path: [[UInt8]]) -> [UInt8] {
        var w = WireWriter(capacity: 1 + 32 * path.count)
        w.u8(UInt8(path.count))
        for p in path { w.octets(p) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var r = WireReader(bytes)
        let n = Int(try r.u8("proof"))
        guard n <= 64 else { throw WireError.invalid(field: "proof", reason: "\(n) hashes, limit 64") }
        var path: [[UInt8]] = []
        for _ in 0..<n { path.append(try r.octets(32, "proof")) }
        try r.expectEnd()
        return path
    }
}

/// What a trace reads from an audit record of the forward tree: the message it is about (the
/// origin), its unit, and for a countersigned hop the hop itself.
public struct TraceHopView: Sendable, Equatable {
    public var origin: MessageID
    /// The origin's unit, when the record says who sent the origin.
    public var originUnit: String?
    /// For a `forward_hop` record: the hop as the tree shows it (without node and position).
    public var hop: TraceTree.Observation?
    /// For a `forward_hop` record: the hop statement as the node wrote it.
    public var record: ForwardCountersign?

    public init?(_ record: AuditRecord) {
        guard let event = try? record.event() else { return nil }
        switch event {
        case .forward(_, let origin, _, _, _), .forwardRefused(_, let origin, _, _):
            self.origin = origin
            originUnit = nil
            hop = nil
            self.record = nil
        case .forwardHop(let id, let forwarder, let bytes, _):
            guard let r = try? ForwardCountersign.decode(bytes), r.hop.forwarder == forwarder else { return nil }
            origin = r.originID
            originUnit = Address(r.originator)?.node
            self.record = r
            hop = TraceTree.Observation(node: "", position: record.position, link: r.hop.link, parent: r.hop.parent, forward: id,
                                        forwarder: r.hop.forwarder, via: r.hop.via, to: [r.to], recipients: Int(r.hop.recipients),
                                        at: r.hop.at, signature: .unchecked("the key of \(r.hop.forwarder) could not be had"))
        default:
            return nil
        }
    }

    /// Checks the forwarder's signature on the hop, given the forwarder's key (nil when this view has no hop).
    var verifyHop: (([UInt8]) -> Bool)? {
        guard let hop = record?.hop else { return nil }
        return { hop.verify(signKey: $0) }
    }

    /// The origin as a first hop's statement states it (for the tree's root): its id, sender and
    /// link (the first hop's parent) and recipient (the first hop's `via`); its time is not in the statement.
    var originRecord: TraceTree.Origin? {
        guard let r = record, r.hopIndex == 1 else { return nil }
        // The first forwarder had it where the origin was sent (a chain that verifies says so, 7.9.6).
        return TraceTree.Origin(id: r.originID, link: r.hop.parent, sender: r.originator, to: r.hop.via, at: 0)
    }
}

/// What the officer's tool makes of a TRACE-RESULT: each answer checked with the key the officer's
/// own node holds for its node, each record checked against that node's signed head, and the
/// forward tree rebuilt from what holds (protocol/SPEC.md 11.7.5).
public struct TraceReport: Sendable {
    /// A viewer code resolved: who viewed what, when, by whose word (the issuing node's log).
    public struct Viewer: Sendable, Equatable {
        public var code: String
        public var viewer: String
        public var message: MessageID
        public var sender: String
        public var issuedAt: UInt64
        public var node: String
        public var position: UInt64
        /// When the content viewed was a forward: the message it forwards (what to trace).
        public var origin: MessageID?
    }

    public var tree: TraceTree
    public var viewers: [Viewer]

    /// Checks every node's answer and rebuilds.
    /// - Parameters:
    ///   - subject: what was traced.
    ///   - results: the TRACE-RESULT's nodes.
    ///   - nodeKeys: signing keys of nodes, as the officer's node holds them (NODE-LIST).
    ///   - userSignKey: a person's directory `sign_key`, for the hop signatures (nil: unknown).
    ///   - origin: the traced message's origin when the officer's client knows it (else from the records).
    public static func build(subject: Trace.Subject, results: [Trace.NodeResult], nodeKeys: [String: [UInt8]],
                             userSignKey: (String) -> [UInt8]?, origin: TraceTree.Origin? = nil) -> TraceReport {
        var reports: [TraceTree.NodeReport] = []
        var observations: [TraceTree.Observation] = []
        var viewers: [Viewer] = []
        var origin = origin
        /// Hop link → the origin its statement names (for viewed forwards).
        var origins: [[UInt8]: MessageID] = [:]
        for result in results {
            guard result.state == .answered else {
                reports.append(.init(node: result.node, state: .gap(result.state.name)))
                continue
            }
            guard let key = nodeKeys[result.node] else {
                reports.append(.init(node: result.node, state: .gap("your node holds no signing key for \(result.node)")))
                continue
            }
            guard let answer = try? Trace.Answer.decode(result.answer), answer.node == result.node, answer.subject == subject,
                  answer.verify(nodeKey: key) else {
                reports.append(.init(node: result.node, state: .gap("its answer is not signed by \(result.node)")))
                continue
            }
            if answer.status == .refused {
                reports.append(.init(node: result.node, state: .gap("refused: \(answer.reason)")))
                continue
            }
            var headReader = WireReader(answer.head)
            let head = answer.records.isEmpty ? nil : try? AuditHead.decode(from: &headReader)
            if !answer.records.isEmpty, head == nil || head?.node != result.node || head?.verify(nodeKey: key) != true {
                reports.append(.init(node: result.node, state: .gap("its signed audit head does not verify")))
                continue
            }
            var proven = 0
            for r in answer.records {
                let checked = check(r, head: head!, nodeKey: key)
                guard let record = checked.record else {
                    // Not even readable: still a gap, never skipped.
                    observations.append(TraceTree.Observation(node: result.node, position: r.position, link: [], parent: [], forward: .zero,
                                                              forwarder: "", via: "", to: [], recipients: 0, at: 0, signature: .forged,
                                                              proven: false, problem: checked.problem))
                    continue
                }
                if case .viewerCode(let code, let viewer, let message, let sender)? = try? record.event() {
                    if checked.problem == nil {
                        viewers.append(Viewer(code: code, viewer: viewer, message: message, sender: sender, issuedAt: record.time,
                                              node: result.node, position: record.position))
                        proven += 1
                    } else {
                        observations.append(TraceTree.Observation(node: result.node, position: r.position, link: [], parent: [],
                                                                  forward: .zero, forwarder: viewer, via: "", to: [], recipients: 0,
                                                                  at: record.time, signature: .forged, proven: false,
                                                                  problem: checked.problem))
                    }
                    continue
                }
                guard let view = TraceHopView(record) else { continue }
                guard var hop = view.hop else {
                    if checked.problem == nil { proven += 1 }
                    continue
                }
                hop.node = result.node
                hop.position = record.position
                hop.proven = checked.problem == nil
                hop.problem = checked.problem
                if hop.proven { proven += 1 }
                if case .unchecked = hop.signature, let key = userSignKey(hop.forwarder), let verify = view.verifyHop {
                    hop.signature = verify(key) ? .valid : .forged
                }
                origins[hop.link] = view.origin
                observations.append(hop)
                if origin == nil, let o = view.originRecord { origin = o }
            }
            reports.append(.init(node: result.node, state: .answered(records: proven)))
        }
        // A viewed forward's origin, from the hop its viewer's node countersigned for it.
        for i in viewers.indices {
            viewers[i].origin = observations.first { $0.proven && $0.forward == viewers[i].message && $0.node == viewers[i].node }
                .flatMap { o in origins[o.link] }
        }
        return TraceReport(tree: TraceTree.build(origin: origin, reports: reports, observations: observations), viewers: viewers)
    }

    /// The forwarders of the hops in `results`' answers (whose directory keys check the hop signatures).
    public static func forwarders(in results: [Trace.NodeResult]) -> Set<String> {
        var out = Set<String>()
        for r in results where r.state == .answered {
            guard let answer = try? Trace.Answer.decode(r.answer) else { continue }
            for record in answer.records where record.record.count > 32 {
                guard let decoded = try? AuditRecord.decode(Array(record.record.dropFirst(32)), prev: Array(record.record.prefix(32))),
                      let hop = TraceHopView(decoded)?.hop else { continue }
                out.insert(hop.forwarder)
            }
        }
        return out
    }

    /// A record checked against the head: the record when it decodes, and what is wrong (nil: proven).
    static func check(_ r: Trace.Record, head: AuditHead, nodeKey: [UInt8]) -> (record: AuditRecord?, problem: String?) {
        guard r.record.count > 32, let record = try? AuditRecord.decode(Array(r.record.dropFirst(32)), prev: Array(r.record.prefix(32))) else {
            return (nil, "record \(r.position) does not decode")
        }
        guard record.position == r.position else { return (record, "record \(r.position) says it is at \(record.position)") }
        guard let path = try? TraceProof.decode(r.proof) else { return (record, "record \(r.position)'s proof does not decode") }
        do {
            try AuditProof(record: record, path: path, head: head).verify(nodeKey: nodeKey)
            return (record, nil)
        } catch {
            return (record, "\(error)")
        }
    }
}
