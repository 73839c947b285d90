import Foundation
import SealpostCore

/// Classification labels (`labels:` in node.yaml; protocol/SPEC.md 7.11): the federation's
/// ordered set, this node's default label and ceiling, and the state-secret classes its
/// operator has had it accredited for. Per-link ceilings are on each peer (`peers[].ceiling`).
public struct LabelsConfig: Codable, Sendable, Equatable {
    /// One label of the set, lowest first. Absent: the standard set (公开 … 工作秘密, then 秘密 机密 绝密).
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var english: String
        public var stateSecret: Bool

        enum CodingKeys: String, CodingKey {
            case name, english
            case stateSecret = "state_secret"
        }

        public init(name: String, english: String, stateSecret: Bool = false) {
            self.name = name
            self.english = english
            self.stateSecret = stateSecret
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            english = try c.decode(String.self, forKey: .english)
            stateSecret = try c.decodeIfPresent(Bool.self, forKey: .stateSecret) ?? false
        }
    }

    public var set: [Entry]?
    /// The label of what people send without `--label`, and of unlabelled envelopes.
    public var defaultLabel: String
    /// The highest label this node accepts and carries; absent: the highest that is not a state secret.
    public var ceiling: String?
    /// State-secret classes this node is accredited for (by the authority that accredits systems;
    /// the node only records the operator's word). Without it a node refuses them (ERROR 452).
    public var accredited: [String]
    /// People of this node who may downgrade a message of this unit (protocol/SPEC.md 7.11.11),
    /// by user name. Empty: nobody may.
    public var downgraders: [String]
    /// 保密期限 per label (SPEC 7.11.9): a label's name or English name → how long its messages stay
    /// readable (`30d`, `12h`, `90m`, `45s`). What this node's people send under it must be deleted
    /// by then (ERROR 454), and what this node receives under it is deleted by then at the latest.
    public var expiry: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case set, ceiling, accredited, downgraders, expiry
        case defaultLabel = "default"
    }

    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(set: [Entry]? = nil, defaultLabel: String = "内部", ceiling: String? = nil, accredited: [String] = [],
                downgraders: [String] = [], expiry: [String: String] = [:]) {
        self.downgraders = downgraders
        self.set = set
        self.defaultLabel = defaultLabel
        self.ceiling = ceiling
        self.accredited = accredited
        self.expiry = expiry
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        set = try c.decodeIfPresent([Entry].self, forKey: .set)
        defaultLabel = try c.decodeIfPresent(String.self, forKey: .defaultLabel) ?? "内部"
        ceiling = try c.decodeIfPresent(String.self, forKey: .ceiling)
        accredited = try c.decodeIfPresent([String].self, forKey: .accredited) ?? []
        downgraders = try c.decodeIfPresent([String].self, forKey: .downgraders) ?? []
        expiry = try c.decodeIfPresent([String: String].self, forKey: .expiry) ?? [:]
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(set, forKey: .set)
        try c.encode(defaultLabel, forKey: .defaultLabel)
        try c.encodeIfPresent(ceiling, forKey: .ceiling)
        try c.encode(accredited, forKey: .accredited)
        if !downgraders.isEmpty { try c.encode(downgraders, forKey: .downgraders) }
        if !expiry.isEmpty { try c.encode(expiry, forKey: .expiry) }
    }

    /// Whether the user `name` of this node may downgrade this unit's messages.
    public func mayDowngrade(_ name: String) -> Bool { downgraders.contains(name) }

    /// The set this node holds.
    public func labelSet() throws -> LabelSet {
        guard let set else { return .standard }
        do {
            return try LabelSet(set.map { Label(name: $0.name, english: $0.english, stateSecret: $0.stateSecret) })
        } catch {
            throw NodeError.config("labels.set: \(error)")
        }
    }

    /// The rank of a label named in the config, or an error naming the field.
    static func rank(_ name: String, in set: LabelSet, field: String) throws -> UInt8 {
        guard let r = set.rank(of: name) else {
            throw NodeError.config("\(field): '\(name)' is not a label (known: \(set.labels.map(\.name).joined(separator: ", ")))")
        }
        return r
    }

    /// `labels.expiry`: keys a label's name or English name (each label once), values a whole
    /// number and a unit (s, m, h, d), 1 second to 3650 days.
    static func expiry(_ entries: [String: String], in set: LabelSet) throws -> LabelExpiry {
        var out: [UInt8: UInt64] = [:]
        for key in entries.keys.sorted() {
            let t = key.trimmingCharacters(in: .whitespaces)
            guard let i = set.labels.firstIndex(where: { $0.name == t || $0.english.lowercased() == t.lowercased() }) else {
                throw NodeError.config("labels.expiry: '\(key)' is not a label (known: \(set.labels.map(\.display).joined(separator: ", ")))")
            }
            let rank = UInt8(i)
            guard out[rank] == nil else {
                throw NodeError.config("labels.expiry: \(set.display(rank)) is listed twice (by its name and its English name)")
            }
            do { out[rank] = try LabelExpiry.parse(entries[key]!) } catch {
                throw NodeError.config("labels.expiry.\(key): \(error)")
            }
        }
        return LabelExpiry(out)
    }

    /// The node's policy; `node` names it in refusals.
    public func policy(node: String) throws -> LabelPolicy {
        let set = try labelSet()
        let def = try Self.rank(defaultLabel, in: set, field: "labels.default")
        let ceil = try ceiling.map { try Self.rank($0, in: set, field: "labels.ceiling") }
        var accreditedRanks = Set<UInt8>()
        for a in accredited {
            let r = try Self.rank(a, in: set, field: "labels.accredited")
            guard set[r]!.stateSecret else { throw NodeError.config("labels.accredited: '\(a)' is not a state-secret class (no accreditation needed)") }
            accreditedRanks.insert(r)
        }
        for d in downgraders where !Name.isValid(d) {
            throw NodeError.config("labels.downgraders: '\(d)' is not a user name of this node (\(Name.rule))")
        }
        var policy = LabelPolicy(set: set, defaultRank: def, ceiling: ceil, accredited: accreditedRanks, node: node)
        policy.expiry = try Self.expiry(expiry, in: set)
        guard policy.carry(def) == nil else {
            throw NodeError.config("labels.default: \(set.display(def)) is above this node's ceiling or needs an accreditation it lacks")
        }
        return policy
    }
}
