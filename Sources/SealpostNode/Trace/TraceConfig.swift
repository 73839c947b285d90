import SealpostCore

/// Whom this node answers trace queries (`trace:` in node.yaml; protocol/SPEC.md 11.7.3).
/// The operator of each unit decides for their own node: a refusal is an answer too, and
/// the asking officer sees it as a gap.
public struct TraceConfig: Codable, Sendable, Equatable {
    public enum Answer: String, Codable, Sendable, CaseIterable {
        /// Answer no node (only this node's own officers and operator).
        case none
        /// Answer a node about messages that originated in its unit (sent first by one of its people),
        /// and about viewer codes of content its people sent.
        case origin
        /// Answer every node of the federation.
        case all
    }

    public var answer: Answer
    /// Units answered about any message and code, whatever `answer` says (e.g. the city HQ).
    public var supervisors: [String]
    /// How long a trace this node asks waits for answers, in seconds.
    public var timeoutSeconds: Int
    /// Queries answered per asking node and minute (more are dropped and counted).
    public var answersPerMinute: Int
    /// Traces one officer (or the operator) may start per minute.
    public var tracesPerMinute: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case answer, supervisors
        case timeoutSeconds = "timeout_seconds"
        case answersPerMinute = "answers_per_minute"
        case tracesPerMinute = "traces_per_minute"
    }

    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(answer: Answer = .origin, supervisors: [String] = [], timeoutSeconds: Int = 10, answersPerMinute: Int = 120,
                tracesPerMinute: Int = 20) {
        self.answer = answer
        self.supervisors = supervisors
        self.timeoutSeconds = timeoutSeconds
        self.answersPerMinute = answersPerMinute
        self.tracesPerMinute = tracesPerMinute
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TraceConfig()
        answer = try c.decodeIfPresent(Answer.self, forKey: .answer) ?? d.answer
        supervisors = try c.decodeIfPresent([String].self, forKey: .supervisors) ?? d.supervisors
        timeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? d.timeoutSeconds
        answersPerMinute = try c.decodeIfPresent(Int.self, forKey: .answersPerMinute) ?? d.answersPerMinute
        tracesPerMinute = try c.decodeIfPresent(Int.self, forKey: .tracesPerMinute) ?? d.tracesPerMinute
    }

    public func validate() throws {
        for s in supervisors where !Name.isValid(s) {
            throw NodeError.config("trace.supervisors: '\(s)' is not a node name (\(Name.rule))")
        }
        guard (1...300).contains(timeoutSeconds) else { throw NodeError.config("trace.timeout_seconds must be 1...300") }
        guard (1...100_000).contains(answersPerMinute) else { throw NodeError.config("trace.answers_per_minute must be 1...100000") }
        guard (1...10_000).contains(tracesPerMinute) else { throw NodeError.config("trace.traces_per_minute must be 1...10000") }
    }

    /// Whether a query from `asker` is answered, and if not, why (the refusal's reason).
    /// - Parameter origins: the units the records found were first sent from (for `origin`).
    public func decide(asker: String, origins: Set<String>) -> String? {
        if supervisors.contains(asker) { return nil }
        switch answer {
        case .all: return nil
        case .none: return "this unit's policy answers no other unit"
        case .origin:
            // Nothing found: nothing to give away either.
            if origins.isEmpty || origins == [asker] { return nil }
            return "this unit's policy answers a unit only about what originated in it"
        }
    }
}
