/// Why a label check refused an envelope (protocol/SPEC.md 7.11.6); the `u8` of a refusal notice.
public enum LabelReason: UInt8, Sendable, CaseIterable, Codable {
    /// A recipient (or a group member) is not cleared for the label. ERROR 451.
    case notCleared = 1
    /// Above the ceiling of a node on the way (what it accepts and carries). ERROR 451.
    case nodeCeiling = 2
    /// Above the ceiling of the link to the next node (what this unit lets leave to it). ERROR 451.
    case linkCeiling = 3
    /// A state-secret class, and the node is not accredited for it. ERROR 452.
    case notAccredited = 4
    /// A rank outside the federation's label set. ERROR 400.
    case unknownLabel = 5
    /// Above the label of the group it is posted to. ERROR 451.
    case groupLabel = 6
    /// A forward labelled below the label of what it forwards, without a downgrade that holds
    /// (section 7.11.11). ERROR 451.
    case lowered = 7

    public var name: String {
        switch self {
        case .notCleared: return "not_cleared"
        case .nodeCeiling: return "node_ceiling"
        case .linkCeiling: return "link_ceiling"
        case .notAccredited: return "not_accredited"
        case .unknownLabel: return "unknown_label"
        case .groupLabel: return "group_label"
        case .lowered: return "lowered"
        }
    }

    /// The ERROR code a node answers a SEND refused for this reason with.
    public var errorCode: UInt16 {
        switch self {
        case .notAccredited: return ErrorCode.notAccredited.rawValue
        case .unknownLabel: return ErrorCode.badRequest.rawValue
        default: return ErrorCode.notCleared.rawValue
        }
    }
}

/// A refused label check: why, and a sentence that names who or what.
public struct LabelRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: LabelReason
    public var text: String
    public init(_ reason: LabelReason, _ text: String) {
        self.reason = reason
        self.text = text
    }
    public var description: String { text }
}

/// The label rules of one node, from plain values (protocol/SPEC.md 7.11.5): which labels it
/// carries (its ceiling and accreditations), what may leave over each link, and who may receive
/// what. No I/O; the client, the node and every relay call it with what each can see.
public struct LabelPolicy: Sendable, Equatable {
    public var set: LabelSet
    /// The label of an envelope that carries none, and of what people send without `--label`.
    public var defaultRank: UInt8
    /// The highest label this node accepts and carries.
    public var ceiling: UInt8
    /// Bit `r` set: accredited for the state-secret class of rank `r`.
    public var accredited: UInt16
    /// This node's name, for the sentences of refusals.
    public var node: String
    /// 保密期限 per label (SPEC 7.11.9): the longest a message of a label stays readable.
    public var expiry = LabelExpiry()

    public init(set: LabelSet = .standard, defaultRank: UInt8 = 1, ceiling: UInt8? = nil, accredited: Set<UInt8> = [], node: String = "") {
        self.set = set
        self.defaultRank = defaultRank
        // Default ceiling: the highest label that is not a state secret.
        self.ceiling = ceiling ?? UInt8(set.labels.lastIndex(where: { !$0.stateSecret }) ?? 0)
        self.accredited = accredited.reduce(0) { $0 | (1 << UInt16($1 & 15)) }
        self.node = node
    }

    public func isAccredited(_ rank: UInt8) -> Bool { accredited & (1 << UInt16(rank & 15)) != 0 }

    /// The label an envelope is handled under: its own, or the default when it carries none.
    @inline(__always)
    public func rank(of envelope: Envelope) -> UInt8 { envelope.label?.rank ?? defaultRank }

    /// Whether this node may hold and carry `rank` at all: in the set, accredited when a state
    /// secret, and at most the node's ceiling.
    @inline(__always)
    public func carry(_ rank: UInt8) -> LabelRefusal? {
        guard Int(rank) < set.labels.count else { return refuseUnknown(rank) }
        if set.labels[Int(rank)].stateSecret, !isAccredited(rank) { return refuseUnaccredited(rank) }
        if rank > ceiling { return refuseCeiling(rank) }
        return nil
    }

    /// The check of every relay for an envelope it passes to `peer` over a link whose ceiling is
    /// `linkCeiling` (nil: the node's ceiling): `carry`, then the link.
    @inline(__always)
    public func relay(_ rank: UInt8, to peer: String, linkCeiling: UInt8?) -> LabelRefusal? {
        if let refusal = carry(rank) { return refusal }
        if let link = linkCeiling, rank > link { return refuseLink(rank, peer: peer, ceiling: link) }
        return nil
    }

    /// Who among `recipients` (address, clearance) may not receive `rank`; nil when all may.
    public func deliver(_ rank: UInt8, to recipients: [(address: String, clearance: UInt8)]) -> LabelRefusal? {
        guard recipients.contains(where: { $0.clearance < rank }) else { return nil }
        let uncleared = recipients.filter { $0.clearance < rank }
        guard !uncleared.isEmpty else { return nil }
        let names = uncleared.prefix(10).map { "\($0.address) (cleared to \(set.display($0.clearance)))" }
        let more = uncleared.count > 10 ? " and \(uncleared.count - 10) more" : ""
        return LabelRefusal(.notCleared, "not cleared for \(set.display(rank)): \(names.joined(separator: ", "))\(more)")
    }

    /// A post to a group labelled `groupRank` must be at most that.
    public func post(_ rank: UInt8, group: String, groupRank: UInt8) -> LabelRefusal? {
        guard rank > groupRank else { return nil }
        return LabelRefusal(.groupLabel, "\(group) is a \(set.display(groupRank)) group: a \(set.display(rank)) message cannot be posted to it")
    }

    private func refuseUnknown(_ rank: UInt8) -> LabelRefusal {
        LabelRefusal(.unknownLabel, "label rank \(rank) is not in this federation's label set (\(set.count) labels)")
    }

    private func refuseUnaccredited(_ rank: UInt8) -> LabelRefusal {
        LabelRefusal(.notAccredited, "node \(node) is not accredited for \(set.display(rank)) (a state-secret class): it does not carry it")
    }

    private func refuseCeiling(_ rank: UInt8) -> LabelRefusal {
        LabelRefusal(.nodeCeiling, "node \(node) carries at most \(set.display(ceiling)); the message is \(set.display(rank))")
    }

    private func refuseLink(_ rank: UInt8, peer: String, ceiling: UInt8) -> LabelRefusal {
        LabelRefusal(.linkCeiling, "the link from \(node) to \(peer) carries at most \(set.display(ceiling)); the message is \(set.display(rank))")
    }
}
