import SealpostCore

/// The node's forwarding policy (`forwarding:` in node.yaml, protocol/SPEC.md 7.9.5): the
/// scope a message gets when its origin sets none, and the most hops and recipients per
/// forward any message may have (an origin may only ask for fewer).
public struct ForwardingConfig: Codable, Sendable, Equatable {
    /// `none`, `unit`, `federation` or `anywhere`: for messages whose origin sets no scope.
    public var defaultScope: String
    /// Recipients of one forward at most (a group counts as one): the WhatsApp "5 chats" rule.
    public var maxRecipients: Int
    /// Forwards in a chain at most (the origin's own message is not one).
    public var maxHops: Int
    /// Forward reports to the origin's unit (SPEC 7.9.9), per forwarder: at most `reportBurst` at
    /// once, then `reportsPerHour`; the refusals past it are audited here and counted in the next report.
    public var reportBurst: Int
    public var reportsPerHour: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case defaultScope = "default_scope"
        case maxRecipients = "max_recipients"
        case maxHops = "max_hops"
        case reportBurst = "report_burst"
        case reportsPerHour = "reports_per_hour"
    }

    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(defaultScope: String = ForwardLimits.standard.defaultScope.name, maxRecipients: Int = ForwardLimits.standard.maxRecipients,
                maxHops: Int = ForwardLimits.standard.maxHops, reportBurst: Int = 5, reportsPerHour: Int = 12) {
        self.defaultScope = defaultScope
        self.maxRecipients = maxRecipients
        self.maxHops = maxHops
        self.reportBurst = reportBurst
        self.reportsPerHour = reportsPerHour
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ForwardingConfig()
        defaultScope = try c.decodeIfPresent(String.self, forKey: .defaultScope) ?? d.defaultScope
        maxRecipients = try c.decodeIfPresent(Int.self, forKey: .maxRecipients) ?? d.maxRecipients
        maxHops = try c.decodeIfPresent(Int.self, forKey: .maxHops) ?? d.maxHops
        reportBurst = try c.decodeIfPresent(Int.self, forKey: .reportBurst) ?? d.reportBurst
        reportsPerHour = try c.decodeIfPresent(Int.self, forKey: .reportsPerHour) ?? d.reportsPerHour
    }

    public func validate() throws {
        guard let scope = ForwardScope(name: defaultScope), scope != .unset else {
            throw NodeError.config("forwarding.default_scope must be none, unit, federation or anywhere (not '\(defaultScope)')")
        }
        guard (1...Forward.maxWireRecipients).contains(maxRecipients) else {
            throw NodeError.config("forwarding.max_recipients must be 1...\(Forward.maxWireRecipients)")
        }
        guard (1...Forward.maxWireHops).contains(maxHops) else { throw NodeError.config("forwarding.max_hops must be 1...\(Forward.maxWireHops)") }
        guard (1...1000).contains(reportBurst) else { throw NodeError.config("forwarding.report_burst must be 1...1000") }
        guard (1...3600).contains(reportsPerHour) else { throw NodeError.config("forwarding.reports_per_hour must be 1...3600") }
    }

    /// The limits the node judges forwards by.
    public var limits: ForwardLimits {
        ForwardLimits(defaultScope: ForwardScope(name: defaultScope) ?? .federation, maxHops: maxHops, maxRecipients: maxRecipients)
    }
}
