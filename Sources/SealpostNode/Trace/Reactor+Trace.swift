import Foundation
import Logging
import SealpostCore
import Sodium

/// What the reactor keeps for tracing: the `Tracer` machine, the officers, the viewer-code
/// rate, and what was dropped (for `status`).
struct TraceState {
    var tracer: Tracer
    /// Local users who may trace (`users officer grant`).
    var officers: Set<String> = []
    /// Per user: when each viewer code of the last minute was issued.
    var marks: [String: [UInt64]] = [:]
    var queriesAnswered: UInt64 = 0
    var queriesRefused: UInt64 = 0
    var dropped: UInt64 = 0
    var codesIssued: UInt64 = 0

    /// Viewer codes one user may be issued per minute (a viewer opens content, not a flood).
    static let marksPerMinute = 120

    init(me: String, config: TraceConfig) {
        tracer = Tracer(me: me)
        apply(config)
    }

    mutating func apply(_ config: TraceConfig) {
        tracer.timeoutNs = UInt64(config.timeoutSeconds) * 1_000_000_000
        tracer.answersPerMinute = config.answersPerMinute
        tracer.tracesPerMinute = config.tracesPerMinute
    }

    mutating func mayMark(_ user: String, now: UInt64) -> Bool {
        var times = (marks[user] ?? []).filter { now &- $0 < Tracer.minuteNs }
        guard times.count < Self.marksPerMinute else { return false }
        times.append(now)
        marks[user] = times
        return true
    }
}

/// The federated trace on the reactor (protocol/SPEC.md 11.7, 6.28, 15.8): an officer's TRACE
/// (or the operator's `trace` on the admin socket) becomes one signed TRACE-QUERY per known
/// node, sent hop by hop along the routes; each node answers from its audit log under its own
/// `trace:` policy with a signed TRACE-ANSWER that travels back the same way; the officer gets
/// every node's state and signed answer and rebuilds the tree (`TraceTree`) itself.
extension Reactor {
    static let notOfficerReason = "only a security officer of this node may trace; ask your operator (sealpost-node users officer grant USER)"

    // MARK: client

    func handleTrace(_ session: Session, user: String, requestId: UInt32, op: Trace.Operation, subject: Trace.Subject) throws {
        let now = Clock.monotonicNs()
        if op == .mark {
            guard case .message(let id) = subject else { return }
            return try issueViewerCode(session, user: user, requestId: requestId, message: id, now: now)
        }
        guard tracing.officers.contains(user) else {
            return reply(session, .error(code: ErrorCode.notAllowed.rawValue, ref: .zero, reason: Self.notOfficerReason))
        }
        guard tracing.tracer.mayStart(address(user), now: now) else {
            return reply(session, .error(code: ErrorCode.rateLimited.rawValue, ref: .zero,
                                         reason: "too many traces at once or in the last minute (trace.traces_per_minute); retry in a minute"))
        }
        startTrace(asker: .client(routing: session.routingId, requestId: requestId, op: op, officer: address(user)),
                   officer: address(user), subject: subject, now: now)
    }

    /// `{"cmd": "trace", "message": HEX}` or `{"cmd": "trace", "code": CODE}` on the admin socket:
    /// answered when the trace ends (nil now).
    func adminTrace(_ request: [String: Any], routing: [UInt8]) -> [String: Any]? {
        let subject: Trace.Subject
        if let hex = request["message"] as? String, let id = MessageID(hex: hex) {
            subject = .message(id)
        } else if let text = request["code"] as? String, let code = ViewerCode(text) {
            subject = .code(code.description)
        } else {
            return ["error": "give a message id (32 hex digits) or a viewer code (NODE-XXXX-XXXX)"]
        }
        let now = Clock.monotonicNs()
        guard tracing.tracer.mayStart(AuditActor.operator, now: now) else {
            return ["error": "too many traces at once or in the last minute (trace.traces_per_minute); retry in a minute"]
        }
        startTrace(asker: .admin(routing: routing), officer: "", subject: subject, now: now)
        return nil
    }

    /// Every node this node knows: those it has a route to, and those whose key it pinned
    /// (reported unreachable while no route leads there).
    func traceTargets(_ subject: Trace.Subject) -> (targets: [String], unreachable: [String]) {
        if case .code(let text) = subject, let code = ViewerCode(text) {
            if code.node == config.name || peering.routeTable.nextHop(to: code.node) != nil { return ([code.node], []) }
            return ([], [code.node])
        }
        let routed = Set(peering.routeTable.routes.keys)
        let known = Set(directory.nodeKeys.keys).subtracting([config.name])
        return ([config.name] + routed.sorted(), known.subtracting(routed).sorted())
    }

    func startTrace(asker: Tracer.Asker, officer: String, subject: Trace.Subject, now: UInt64) {
        let (targets, unreachable) = traceTargets(subject)
        let actions = tracing.tracer.start(queryId: Sodium.randomBytes(16), asker: asker, subject: subject, officer: officer,
                                           targets: targets, unreachable: unreachable, askedAtMs: Clock.nowMs(), now: now) { query in
            query.sign(with: keys.sign)
        }
        logger.notice("trace started", metadata: ["subject": "\(subject.description)", "by": "\(officer.isEmpty ? "operator" : officer)",
                                                  "nodes": "\(targets.count + unreachable.count)"])
        perform(actions)
    }

    // MARK: peers

    func receiveTraceQuery(from link: PeerLink, query: Trace.Query, hops: UInt8) {
        // A query for this node is verified before it counts against its origin's answers per minute.
        if query.dest == config.name, query.origin != config.name {
            guard let key = directory.nodeKeys[query.origin], query.verify(nodeKey: key) else {
                return dropTrace(.unknownTrace, from: link, "query from \(query.origin) (its signature does not verify)")
            }
        }
        switch tracing.tracer.queryArrived(query, hops: hops, now: Clock.monotonicNs()) {
        case .success(let action): perform([action])
        case .failure(let drop): dropTrace(drop, from: link, "query")
        }
    }

    func receiveTraceAnswer(from link: PeerLink, queryId: [UInt8], origin: String, dest: String, hops: UInt8, answer: [UInt8]) {
        let result = dest == config.name ? checkAnswer(queryId: queryId, origin: origin, bytes: answer) : nil
        switch tracing.tracer.answerArrived(queryId: queryId, origin: origin, dest: dest, hops: hops, answer: answer, result: result,
                                           now: Clock.monotonicNs()) {
        case .success(let actions): perform(actions)
        case .failure(let drop): dropTrace(drop, from: link, "answer")
        }
    }

    /// What an answer to our own query is worth: the signed answer, or `badAnswer` when it does
    /// not decode, is not for this query, or is not signed with the key we pinned for its node.
    func checkAnswer(queryId: [UInt8], origin: String, bytes: [UInt8]) -> Trace.NodeResult {
        guard let answer = try? Trace.Answer.decode(bytes), answer.queryId == queryId, answer.node == origin,
              answer.asker == config.name, let key = directory.nodeKeys[origin], answer.verify(nodeKey: key) else {
            logger.warning("trace answer does not verify", metadata: ["node": "\(origin)"])
            return Trace.NodeResult(node: origin, state: .badAnswer)
        }
        return Trace.NodeResult(node: origin, state: .answered, answer: bytes)
    }

    func dropTrace(_ drop: Tracer.Drop, from link: PeerLink?, _ what: String) {
        tracing.dropped += 1
        logger.debug("trace \(what) dropped: \(drop)", metadata: ["peer": "\(link?.name ?? "-")"])
    }

    // MARK: actions

    func perform(_ actions: [Tracer.Action]) {
        for action in actions {
            switch action {
            case let .sendQuery(query, hops):
                guard let hop = peering.routeTable.nextHop(to: query.dest), let link = peering.links[hop] else {
                    dropTrace(.unknownTrace, from: nil, "query (no route to \(query.dest))")
                    continue
                }
                sendPeer(link, .traceQuery(query: query, hops: hops))
            case let .sendAnswer(queryId, origin, dest, hops, answer):
                guard let hop = peering.routeTable.nextHop(to: dest), let link = peering.links[hop] else {
                    dropTrace(.unknownTrace, from: nil, "answer (no route to \(dest))")
                    continue
                }
                sendPeer(link, .traceAnswer(queryId: queryId, origin: origin, dest: dest, hops: hops, answer: answer))
            case .answer(let query):
                answerQuery(query)
            case .finish(let pending):
                finishTrace(pending)
            }
        }
    }

    /// This node is asked: a query it cannot verify is dropped; otherwise it answers (records
    /// or a refusal, by its policy), signed.
    func answerQuery(_ query: Trace.Query) {
        let key = query.origin == config.name ? keys.sign.publicKey : directory.nodeKeys[query.origin]
        guard let key, query.verify(nodeKey: key) else {
            dropTrace(.unknownTrace, from: nil, "query from \(query.origin) (its signature does not verify)")
            return
        }
        var answer = traceAnswer(to: query)
        answer.sign(with: keys.sign)
        let bytes = answer.encode()
        if query.origin == config.name {
            let result = Trace.NodeResult(node: config.name, state: .answered, answer: bytes)
            if case .success(let actions) = tracing.tracer.answerArrived(queryId: query.queryId, origin: config.name, dest: config.name,
                                                                         hops: 0, answer: bytes, result: result, now: Clock.monotonicNs()) {
                perform(actions)
            }
        } else {
            perform([.sendAnswer(queryId: query.queryId, origin: config.name, dest: query.origin, hops: 0, answer: bytes)])
        }
    }

    /// The answer this node gives: what its audit log holds about the subject, or a refusal.
    func traceAnswer(to query: Trace.Query) -> Trace.Answer {
        let nowMs = Clock.nowMs()
        let found = traceRecords(for: query.subject)
        // This node's own officers and operator are always answered; others by the policy.
        let refusal = query.origin == config.name ? nil : config.trace.decide(asker: query.origin, origins: found.origins)
        if let refusal {
            tracing.queriesRefused += 1
            logger.notice("trace query refused", metadata: ["asker": "\(query.origin)", "officer": "\(query.officer)",
                                                           "subject": "\(query.subject.description)", "reason": "\(refusal)"])
            return Trace.Answer(queryId: query.queryId, node: config.name, asker: query.origin, subject: query.subject,
                                status: .refused, reason: refusal, answeredAt: nowMs)
        }
        tracing.queriesAnswered += 1
        logger.notice("trace query answered", metadata: ["asker": "\(query.origin)", "officer": "\(query.officer)",
                                                        "subject": "\(query.subject.description)", "records": "\(found.records.count)"])
        let kept = Array(found.records.prefix(Trace.maxRecords))
        if query.origin != config.name {
            // Who asked this node what, in its own log (after the head it gives, so not in this answer).
            var about = MessageID.zero
            if case .message(let id) = query.subject { about = id }
            do {
                try audit(.traceQueryAnswered(query: MessageID(bytes: query.queryId) ?? .zero, asker: query.origin, about: about,
                                              records: UInt32(kept.count)))
            } catch {
                logger.warning("trace answer not recorded in the audit log: \(error)")
            }
        }
        return Trace.Answer(queryId: query.queryId, node: config.name, asker: query.origin, subject: query.subject, status: .answered,
                            answeredAt: nowMs, records: kept, head: found.head,
                            truncated: UInt32(clamping: found.records.count - kept.count))
    }

    func finishTrace(_ p: Tracer.Pending) {
        var results = p.finalResults
        // A TRACE-RESULT fits in one frame: answers past the limit are reported as not delivered.
        var total = 0
        for i in results.indices {
            total += results[i].answer.count + 64
            if total > Int(PeerCommand.maxFrameBytes) - 1024 * 1024 { results[i] = Trace.NodeResult(node: results[i].node, state: .badAnswer) }
        }
        let elapsedMs = Double(Clock.monotonicNs() &- p.startedNs) / 1e6
        logger.info("trace finished", metadata: ["subject": "\(p.subject.description)", "ms": "\(Int(elapsedMs))",
                                                 "answered": "\(results.filter { $0.state == .answered }.count)/\(results.count)"])
        switch p.asker {
        case let .client(routing, requestId, op, _):
            batch.reply(routing, .traceResult(requestId: requestId, op: op, code: "", nodes: results))
        case .admin(let routing):
            var answer = Self.adminTraceResult(results, elapsedMs: elapsedMs)
            // The keys the operator's tool checks the answers with: this node's ring, and the
            // directory keys of the forwarders named.
            var ring = directory.nodeKeys.mapValues { Hex.encode($0) }
            ring[config.name] = Hex.encode(keys.sign.publicKey)
            answer["node_keys"] = ring
            var signKeys: [String: String] = [:]
            for f in TraceReport.forwarders(in: results) { if let k = traceSignKey(f) { signKeys[f] = Hex.encode(k) } }
            answer["sign_keys"] = signKeys
            sendAdmin(routing, answer)
        }
    }

    /// The admin socket's answer: every node's state and signed answer (base64), and this node's
    /// key ring for checking them (`sealpost-node trace` rebuilds the tree like the client).
    static func adminTraceResult(_ results: [Trace.NodeResult], elapsedMs: Double) -> [String: Any] {
        ["elapsed_ms": elapsedMs,
         "nodes": results.map { ["node": $0.node, "state": Int($0.state.rawValue), "answer": Data($0.answer).base64EncodedString()] }]
    }

    /// The `sign_key` of a person's directory entry as this node holds it.
    func traceSignKey(_ address: String) -> [UInt8]? {
        guard let a = Address(address) else { return nil }
        if a.node == config.name { return users.byName[a.local]?.signKey }
        return directory.remoteEntries[address].flatMap { try? DirectoryEntry.decode($0.entry) }?.signKey
    }

    func traceTick(now: UInt64) {
        perform(tracing.tracer.tick(now: now))
    }

    // MARK: viewer codes

    /// TRACE `mark`: a fresh viewer code for `user`'s view of `message`, stored and logged by
    /// this node before it is answered, so the code resolves here whatever the client does.
    func issueViewerCode(_ session: Session, user: String, requestId: UInt32, message: MessageID, now: UInt64) throws {
        guard tracing.mayMark(user, now: now) else {
            return reply(session, .error(code: ErrorCode.rateLimited.rawValue, ref: .zero,
                                         reason: "too many viewer codes in the last minute; retry in a minute"))
        }
        var record = ViewerCodeRecord(code: "", viewer: address(user), message: message, issuedAt: Clock.nowMs())
        var inserted = false
        for _ in 0..<4 where !inserted {
            record.code = ViewerCode.random(node: config.name).description
            let r = record
            try write(ref: .zero) { inserted = try store.insertViewerCode(r) }
        }
        guard inserted else {
            return reply(session, .error(code: ErrorCode.internalError.rawValue, ref: .zero, reason: "could not draw a new viewer code; retry"))
        }
        try noteViewerCode(record)
        let code = record.code
        batch.afterCommit { [weak self] in self?.tracing.codesIssued += 1 }
        reply(session, .traceResult(requestId: requestId, op: .mark, code: code, nodes: []))
    }
}
