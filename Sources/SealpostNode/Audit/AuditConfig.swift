import SealpostCore

/// The operator's audit-log settings (`audit:` in node.yaml).
public struct AuditConfig: Codable, Sendable, Equatable {
    /// How often the node signs its audit head when the log changed, in seconds (1...86400).
    public var signEveryS: Int

    enum CodingKeys: String, CodingKey {
        case signEveryS = "sign_every_s"
    }

    static let knownKeys: Set<String> = ["sign_every_s"]

    public init(signEveryS: Int = 60) {
        self.signEveryS = signEveryS
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        signEveryS = try c.decodeIfPresent(Int.self, forKey: .signEveryS) ?? AuditConfig().signEveryS
    }

    public func validate() throws {
        guard (1...86_400).contains(signEveryS) else { throw NodeError.config("audit.sign_every_s must be 1...86400 (seconds)") }
    }
}
