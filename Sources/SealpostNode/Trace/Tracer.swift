import SealpostCore

/// The node's part of the federated trace (protocol/SPEC.md 11.7), as pure logic: the traces
/// this node asked and waits on, the queries and answers it passed on (so none goes twice),
/// and the rate limits. The reactor feeds it events with `now:` and performs what it returns.
struct Tracer {
    /// Who waits for a trace this node asked.
    enum Asker: Equatable {
        /// An officer's client: the session's routing id and its TRACE request id.
        case client(routing: [UInt8], requestId: UInt32, op: Trace.Operation, officer: String)
        /// The operator, on the admin socket (routing id of the request).
        case admin(routing: [UInt8])
    }

    /// A trace in progress: one query per node, each node's state so far.
    struct Pending: Equatable {
        var queryId: [UInt8]
        var asker: Asker
        var subject: Trace.Subject
        var startedNs: UInt64
        var deadlineNs: UInt64
        /// Per node asked: nil while waiting, else its result.
        var results: [String: Trace.NodeResult?]

        var done: Bool { !results.values.contains { $0 == nil } }

        /// Every node's result; those still waiting are `timedOut`.
        var finalResults: [Trace.NodeResult] {
            results.keys.sorted().map { results[$0]! ?? Trace.NodeResult(node: $0, state: .timedOut) }
        }
    }

    enum Action: Equatable {
        /// Send the query toward `query.dest` (its next hop), with this hop count.
        case sendQuery(Trace.Query, hops: UInt8)
        /// Send an answer toward `dest` (its next hop).
        case sendAnswer(queryId: [UInt8], origin: String, dest: String, hops: UInt8, answer: [UInt8])
        /// This node is asked: check the signature, apply the policy, answer from the audit log.
        case answer(Trace.Query)
        /// The trace is over (all answered, or its time is up): report it to whoever asked.
        case finish(Pending)
    }

    /// Why a query or answer was not taken (counted by the reactor).
    enum Drop: Error, Equatable {
        case repeated, tooManyHops, rateLimited, unknownTrace
    }

    let me: String
    /// How long a trace waits for answers.
    var timeoutNs: UInt64
    /// Queries this node answers per asking node and minute.
    var answersPerMinute: Int
    /// Traces one officer (or the operator) may start per minute.
    var tracesPerMinute: Int

    private(set) var pending: [[UInt8]: Pending] = [:]
    /// Queries and answers seen (query id, dest, kind), with when they are forgotten.
    private var seen: [SeenKey: UInt64] = [:]
    private var nextSweepNs: UInt64 = 0
    /// Per asking node: when each answered query of the last minute came.
    private var answered: [String: [UInt64]] = [:]
    /// Per officer: when each trace of the last minute started.
    private var started: [String: [UInt64]] = [:]

    struct SeenKey: Hashable {
        var queryId: [UInt8]
        var dest: String
        var answer: Bool
    }

    static let minuteNs: UInt64 = 60_000_000_000
    /// At most this many traces wait at once (each holds one entry per node).
    static let maxPending = 64
    /// At most this many seen ids are kept; past it, new queries and answers are dropped until old ones expire.
    var maxSeen = 100_000

    init(me: String, timeoutNs: UInt64 = 10_000_000_000, answersPerMinute: Int = 60, tracesPerMinute: Int = 20) {
        self.me = me
        self.timeoutNs = timeoutNs
        self.answersPerMinute = answersPerMinute
        self.tracesPerMinute = tracesPerMinute
    }

    private static func recent(_ times: [UInt64], now: UInt64) -> [UInt64] {
        times.filter { now &- $0 < minuteNs }
    }

    /// Whether `who` may start a trace now (and counts it if so).
    mutating func mayStart(_ who: String, now: UInt64) -> Bool {
        var times = Self.recent(started[who] ?? [], now: now)
        guard times.count < tracesPerMinute, pending.count < Self.maxPending else { return false }
        times.append(now)
        started[who] = times
        return true
    }

    /// Starts a trace: one signed query per node in `targets` (`sign` signs each), this node's
    /// own included when it is listed. Nodes in `unreachable` are reported as such at once.
    mutating func start(queryId: [UInt8], asker: Asker, subject: Trace.Subject, officer: String, targets: [String],
                        unreachable: [String], askedAtMs: UInt64, now: UInt64, sign: (inout Trace.Query) -> Void) -> [Action] {
        var p = Pending(queryId: queryId, asker: asker, subject: subject, startedNs: now, deadlineNs: now + timeoutNs, results: [:])
        var actions: [Action] = []
        for node in unreachable where node != me { p.results[node] = .some(Trace.NodeResult(node: node, state: .unreachable)) }
        for node in targets {
            p.results[node] = .some(nil)
            var query = Trace.Query(queryId: queryId, origin: me, dest: node, askedAt: askedAtMs, officer: officer, subject: subject)
            sign(&query)
            if node == me {
                actions.append(.answer(query))
            } else {
                _ = remember(SeenKey(queryId: queryId, dest: node, answer: false), now: now)
                actions.append(.sendQuery(query, hops: 0))
            }
        }
        pending[queryId] = p
        if p.done {
            pending[queryId] = nil
            actions.append(.finish(p))
        }
        return actions
    }

    /// A TRACE-QUERY came from a peer: answer it here, pass it on, or drop it.
    mutating func queryArrived(_ query: Trace.Query, hops: UInt8, now: UInt64) -> Result<Action, Drop> {
        let key = SeenKey(queryId: query.queryId, dest: query.dest, answer: false)
        guard query.origin != me, seen[key] == nil else { return .failure(.repeated) }
        if query.dest != me {
            guard Int(hops) + 1 < Int(Trace.maxHops) else { return .failure(.tooManyHops) }
            guard remember(key, now: now) else { return .failure(.rateLimited) }
            return .success(.sendQuery(query, hops: hops + 1))
        }
        var times = Self.recent(answered[query.origin] ?? [], now: now)
        guard times.count < answersPerMinute else { return .failure(.rateLimited) }
        guard remember(key, now: now) else { return .failure(.rateLimited) }
        times.append(now)
        answered[query.origin] = times
        return .success(.answer(query))
    }

    /// A TRACE-ANSWER came from a peer (or this node answered its own query): pass it on, or
    /// record it in its trace (whose end it may be).
    /// - Parameter result: for an answer to this node, what it holds (checked by the reactor).
    mutating func answerArrived(queryId: [UInt8], origin: String, dest: String, hops: UInt8, answer: [UInt8],
                                result: Trace.NodeResult?, now: UInt64) -> Result<[Action], Drop> {
        let key = SeenKey(queryId: queryId, dest: origin, answer: true)
        guard seen[key] == nil else { return .failure(.repeated) }
        if dest != me {
            guard Int(hops) + 1 < Int(Trace.maxHops) else { return .failure(.tooManyHops) }
            guard remember(key, now: now) else { return .failure(.rateLimited) }
            return .success([.sendAnswer(queryId: queryId, origin: origin, dest: dest, hops: hops + 1, answer: answer)])
        }
        guard var p = pending[queryId], let slot = p.results[origin], slot == nil, let result else {
            return .failure(.unknownTrace)
        }
        _ = remember(key, now: now)
        p.results[origin] = .some(result)
        if p.done {
            pending[queryId] = nil
            return .success([.finish(p)])
        }
        pending[queryId] = p
        return .success([])
    }

    /// Ends the traces whose time is up (the nodes that did not answer show as gaps), and
    /// forgets old ids.
    mutating func tick(now: UInt64) -> [Action] {
        var actions: [Action] = []
        for (id, p) in pending where now >= p.deadlineNs {
            pending[id] = nil
            actions.append(.finish(p))
        }
        seen = seen.filter { $0.value > now }
        answered = answered.compactMapValues { let r = Self.recent($0, now: now); return r.isEmpty ? nil : r }
        started = started.compactMapValues { let r = Self.recent($0, now: now); return r.isEmpty ? nil : r }
        return actions
    }

    /// The earliest deadline of a trace in progress.
    var nextDeadlineNs: UInt64? { pending.values.map(\.deadlineNs).min() }

    /// Remembers a query or answer handled; false when the memory is full of live ids (a flood):
    /// then it is dropped rather than passed on unremembered.
    private mutating func remember(_ key: SeenKey, now: UInt64) -> Bool {
        if seen.count >= maxSeen, now >= nextSweepNs {
            // At most once a second: a flood does not make every query scan the memory.
            nextSweepNs = now + 1_000_000_000
            seen = seen.filter { $0.value > now }
        }
        guard seen.count < maxSeen else { return false }
        // Long enough for any copy still on its way (a trace lives at most its timeout).
        seen[key] = now + 2 * max(timeoutNs, Self.minuteNs)
        return true
    }
}
