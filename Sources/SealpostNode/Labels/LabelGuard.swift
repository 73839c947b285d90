import SealpostCore

/// The node's label rules (protocol/SPEC.md 7.11) and what they refused: the policy from
/// `labels:` in node.yaml, each peer link's ceiling, and counts by reason for `status`.
/// Plain values: the reactor asks it and performs the refusals it names.
public struct LabelGuard: Sendable {
    public internal(set) var policy: LabelPolicy
    /// What this unit lets leave to each neighbour (a peer without `ceiling`: the node's).
    var linkCeilings: [String: UInt8]
    /// The set's digest, sent in HELLO and compared with each peer's.
    var digest: [UInt8]
    /// Refusals by reason, since start.
    var refusals: [LabelReason: Int] = [:]
    /// Peers whose HELLO named another label set: no envelopes to or from them until they agree.
    var mismatchedPeers: Set<String> = []
    /// Peers the operator lets in without a label digest (`peers[].unlabelled`), capped at the default label.
    var unlabelledPeers: Set<String> = []
    /// When the next mailbox entry's readable-until time comes (nil: none, or not read yet).
    var nextExpiryMs: UInt64?
    var expiryLoaded = false
    /// Contents deleted at their readable-until time, since start.
    var expired = 0
    /// Relayed refusal notices dropped: about no message their addressee sent through the refusing node (SPEC 7.11.7).
    var noticesDropped = 0
    /// Downgrades this node countersigned (DOWNGRADE), since start.
    var downgrades = 0

    public init(config: NodeConfig) throws {
        policy = try config.labels.policy(node: config.name)
        digest = policy.set.digest
        linkCeilings = [:]
        for peer in config.peers {
            if let c = peer.ceiling { linkCeilings[peer.name] = try LabelsConfig.rank(c, in: policy.set, field: "peer \(peer.name) ceiling") }
            if peer.unlabelled == true {
                // A peer that enforces no labels gets the default label at most (SPEC 7.11.2).
                unlabelledPeers.insert(peer.name)
                linkCeilings[peer.name] = min(linkCeilings[peer.name] ?? policy.ceiling, policy.defaultRank)
            }
        }
    }

    /// The label an envelope is checked under; nil for kinds with no content to protect
    /// (node notices, group requests): those are not labelled and pass.
    @inline(__always)
    public func rank(of envelope: Envelope) -> UInt8? {
        if let label = envelope.label { return label.rank }
        guard let kind = envelope.knownKind else { return policy.defaultRank } // unknown: handled as content
        return kind.isSealed ? policy.defaultRank : nil
    }

    /// The check of a node that holds `envelope` and passes it to `peer`.
    @inline(__always)
    public func relay(_ envelope: Envelope, to peer: String?) -> LabelRefusal? {
        guard let rank = rank(of: envelope) else { return nil }
        guard let peer else { return policy.carry(rank) }
        return policy.relay(rank, to: peer, linkCeiling: linkCeilings[peer])
    }

    /// Whether a peer's HELLO digest agrees. An empty one (a node that does not enforce labels)
    /// agrees only for a peer the operator marked `unlabelled` (SPEC 7.11.2).
    mutating func helloAgrees(peer: String, digest theirs: [UInt8]) -> Bool {
        let agrees = theirs.isEmpty ? unlabelledPeers.contains(peer) : theirs == digest
        if agrees { mismatchedPeers.remove(peer) } else { mismatchedPeers.insert(peer) }
        return agrees
    }

    mutating func count(_ reason: LabelReason) { refusals[reason, default: 0] += 1 }

    /// SENDs refused for their readable-until time (ERROR 454), since start.
    var expiryRefusals = 0

    var refusalsByName: [String: Int] {
        var out = Dictionary(uniqueKeysWithValues: LabelReason.allCases.map { ($0.name, refusals[$0, default: 0]) })
        out["readable_until"] = expiryRefusals
        return out
    }
}
