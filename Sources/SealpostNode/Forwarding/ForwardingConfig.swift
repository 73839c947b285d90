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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case defaultScope = "default_scope"
        case maxRecipients = "max_recipients"
        case maxHops = "max_hops"
    }

    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(defaultScope: String = ForwardLimits.standard.defaultScope.name, maxRecipients: Int = ForwardLimits.standard.maxRecipients,
                maxHops: Int = ForwardLimits.standard.maxHops) {
        self.defaultScope = defaultScope
        self.maxRecipients = maxRecipients
        self.maxHops = maxHops
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ForwardingConfig()
        defaultScope = try c.decodeIfPresent(String.self, forKey: .defaultScope) ?? d.defaultScope
        maxRecipients = try c.decodeIfPresent(Int.self, forKey: .maxRecipients) ?? d.maxRecipients
        maxHops = try c.decodeIfPresent(Int.self, forKey: .maxHops) ?? d.maxHops
    }

    public func validate() throws {
        guard let scope = ForwardScope(name: defaultScope), scope != .unset else {
            throw NodeError.config("forwarding.default_scope must be none, unit, federation or anywhere (not '\(defaultScope)')")
        }
        guard (1...Forward.maxWireRecipients).contains(maxRecipients) else {
            throw NodeError.config("forwarding.max_recipients must be 1...\(Forward.maxWireRecipients)")
        }
        guard (1...Forward.maxWireHops).contains(maxHops) else { throw NodeError.config("forwarding.max_hops must be 1...\(Forward.maxWireHops)") }
    }

    /// The limits the node judges forwards by.
    public var limits: ForwardLimits {
        ForwardLimits(defaultScope: ForwardScope(name: defaultScope) ?? .federation, maxHops: maxHops, maxRecipients: maxRecipients)
    }
}
