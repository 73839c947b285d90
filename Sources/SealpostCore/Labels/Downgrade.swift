import Sodium

/// A message's downgrade (protocol/SPEC.md 7.11.11): a person its originating unit allows
/// (`labels.downgraders`) lowers the label of one message; the person signs the statement, the
/// unit's node countersigns it, and every later forward of the message carries the record, so
/// that every node and client on the way can tell a lowered label with the unit's word from one
/// without it.
///
/// `downgrade = version:u8=1 origin_link:octets[32] from:u8 to:u8 by:string at:u64 reason:string
///              user_signature:octets[64] node:string node_signature:octets[64]`
public struct DowngradeRecord: Sendable, Equatable {
    public static let version: UInt8 = 1
    static let userContext = Array("sealpost-downgrade-v1".utf8)
    static let nodeContext = Array("sealpost-downgrade-node-v1".utf8)

    /// `Forward.link` of the origin record of the message downgraded.
    public var originLink: [UInt8]
    /// The label it had (the origin's, or an earlier downgrade's `to`) and the one it has now.
    public var from: UInt8
    public var to: UInt8
    /// The person who downgraded it (a user of `node`).
    public var by: String
    /// Milliseconds since the epoch, by the person's clock (the node checks it is near its own).
    public var at: UInt64
    /// Why, in the person's words (UTF-8, 1 to 255 bytes).
    public var reason: String
    /// Ed25519 by `by`'s `sign_key` over `"sealpost-downgrade-v1" || statement`.
    public var userSignature: [UInt8]
    /// The originating unit: the node of the origin's sender.
    public var node: String
    /// Ed25519 by `node`'s signing key over `"sealpost-downgrade-node-v1" || statement || user_signature || node:string`.
    public var nodeSignature: [UInt8]

    public init(originLink: [UInt8], from: UInt8, to: UInt8, by: String, at: UInt64, reason: String,
                userSignature: [UInt8] = [], node: String = "", nodeSignature: [UInt8] = []) {
        self.originLink = originLink
        self.from = from
        self.to = to
        self.by = by
        self.at = at
        self.reason = reason
        self.userSignature = userSignature
        self.node = node
        self.nodeSignature = nodeSignature
    }

    /// `version origin_link from to by at reason`: what the person signs (after the context).
    public var statement: [UInt8] {
        var w = WireWriter(capacity: 120 + reason.utf8.count)
        w.u8(Self.version); w.octets(originLink); w.u8(from); w.u8(to); w.string(by); w.u64(at); w.string(reason)
        return w.bytes
    }

    public var userSignedBytes: [UInt8] { Self.userContext + statement }

    public var nodeSignedBytes: [UInt8] {
        var w = WireWriter(capacity: 200 + reason.utf8.count)
        w.octets(Self.nodeContext); w.octets(statement); w.octets(userSignature); w.string(node)
        return w.bytes
    }

    public mutating func signAsUser(with key: SignKeyPair) { userSignature = key.sign(userSignedBytes) }

    public mutating func countersign(node: String, with key: SignKeyPair) {
        self.node = node
        nodeSignature = key.sign(nodeSignedBytes)
    }

    public func verifyUser(signKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: userSignature, message: userSignedBytes, publicKey: signKey)
    }

    public func verifyNode(nodeKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: nodeSignature, message: nodeSignedBytes, publicKey: nodeKey)
    }

    public func encode(into w: inout WireWriter) {
        w.octets(statement); w.octets(userSignature); w.string(node); w.octets(nodeSignature)
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 300)
        encode(into: &w)
        return w.bytes
    }

    public static func decode(from r: inout WireReader) throws -> DowngradeRecord {
        guard try r.u8("downgrade.version") == version else {
            throw WireError.invalid(field: "downgrade.version", reason: "unsupported downgrade record")
        }
        let link = try r.octets(Forward.hashBytes, "downgrade.origin_link")
        let from = try r.u8("downgrade.from"), to = try r.u8("downgrade.to")
        let by = try r.string("downgrade.by")
        let at = try r.u64("downgrade.at")
        let reason = try r.string("downgrade.reason")
        let userSignature = try r.octets(SignKeyPair.signatureBytes, "downgrade.user_signature")
        let node = try r.string("downgrade.node")
        let nodeSignature = try r.octets(SignKeyPair.signatureBytes, "downgrade.node_signature")
        guard Int(from) < LabelSet.maxLabels, Int(to) < LabelSet.maxLabels else {
            throw WireError.invalid(field: "downgrade.to", reason: "not a label rank (below \(LabelSet.maxLabels))")
        }
        guard to < from else { throw WireError.invalid(field: "downgrade.to", reason: "\(to) is not lower than from \(from)") }
        guard let person = Address(by) else { throw WireError.invalid(field: "downgrade.by", reason: "not an address") }
        guard Name.isValid(node), person.node == node else {
            throw WireError.invalid(field: "downgrade.node", reason: "'\(node)' is not the node of \(by)")
        }
        return DowngradeRecord(originLink: link, from: from, to: to, by: by, at: at, reason: reason, userSignature: userSignature,
                               node: node, nodeSignature: nodeSignature)
    }

    public static func decode(_ bytes: [UInt8]) throws -> DowngradeRecord {
        var r = WireReader(bytes)
        let record = try decode(from: &r)
        try r.expectEnd()
        return record
    }

    /// What is wrong with this record as the downgrade of `origin`, or nil when it holds: it names
    /// the origin, comes from the origin's unit, lowers from at most the origin's label, and its
    /// node signature verifies with `nodeKey` (the key of `node`, nil when unknown to the caller).
    public func problem(for origin: ForwardOrigin, nodeKey: [UInt8]?) -> String? {
        guard Sodium.constantTimeEqual(originLink, origin.link) else {
            return "the downgrade is of another message (its origin link is not this origin's)"
        }
        guard node == origin.unit else { return "the downgrade is by \(node), not by the message's unit \(origin.unit)" }
        guard let label = origin.label else { return "the origin names no label (version 1): nothing can be downgraded" }
        guard from <= label, to < from else { return "the downgrade from \(from) to \(to) does not lower the origin's label \(label)" }
        guard let nodeKey else { return "the downgrade cannot be checked: no signing key of node \(node) is held here" }
        guard verifyNode(nodeKey: nodeKey) else { return "the downgrade is not signed by \(node) (forged or altered)" }
        return nil
    }
}

/// DOWNGRADE from a client (section 7.11.11): the message's origin record, the previous
/// downgrade if any, and the person's signed statement (`from`, `to`, `at`, `reason`; `by`
/// is the authenticated person, `origin_link` the origin's link).
/// `op:u8=1 origin has_previous:u8 [downgrade] from:u8 to:u8 at:u64 reason:string user_signature:octets[64]`
public struct DowngradeRequest: Sendable, Equatable {
    public var origin: ForwardOrigin
    public var previous: DowngradeRecord?
    public var from: UInt8
    public var to: UInt8
    public var at: UInt64
    public var reason: String
    public var userSignature: [UInt8]

    public init(origin: ForwardOrigin, previous: DowngradeRecord?, from: UInt8, to: UInt8, at: UInt64, reason: String,
                userSignature: [UInt8] = []) {
        self.origin = origin
        self.previous = previous
        self.from = from
        self.to = to
        self.at = at
        self.reason = reason
        self.userSignature = userSignature
    }

    /// The record this request asks for, by `by`, not yet countersigned.
    public func record(by: String) -> DowngradeRecord {
        DowngradeRecord(originLink: origin.link, from: from, to: to, by: by, at: at, reason: reason, userSignature: userSignature)
    }

    /// A request signed by `by` with `key`.
    public static func signed(origin: ForwardOrigin, previous: DowngradeRecord?, to: UInt8, reason: String, by: String,
                              at: UInt64, key: SignKeyPair) -> DowngradeRequest {
        let from = previous?.to ?? origin.label ?? 0
        var record = DowngradeRecord(originLink: origin.link, from: from, to: to, by: by, at: at, reason: reason)
        record.signAsUser(with: key)
        return DowngradeRequest(origin: origin, previous: previous, from: from, to: to, at: at, reason: reason,
                                userSignature: record.userSignature)
    }

    public func encode(into w: inout WireWriter) {
        origin.encode(into: &w)
        w.u8(previous == nil ? 0 : 1)
        previous?.encode(into: &w)
        w.u8(from); w.u8(to); w.u64(at); w.string(reason); w.octets(userSignature)
    }

    public static func decode(from r: inout WireReader) throws -> DowngradeRequest {
        let origin = try ForwardOrigin.decode(from: &r)
        var previous: DowngradeRecord?
        switch try r.u8("has_previous") {
        case 0: break
        case 1: previous = try DowngradeRecord.decode(from: &r)
        default: throw WireError.invalid(field: "has_previous", reason: "must be 0 or 1")
        }
        let from = try r.u8("from"), to = try r.u8("to")
        guard Int(from) < LabelSet.maxLabels, Int(to) < LabelSet.maxLabels else {
            throw WireError.invalid(field: "to", reason: "not a label rank (below \(LabelSet.maxLabels))")
        }
        let at = try r.u64("at")
        let reason = try r.string("reason")
        return DowngradeRequest(origin: origin, previous: previous, from: from, to: to, at: at, reason: reason,
                                userSignature: try r.octets(SignKeyPair.signatureBytes, "user_signature"))
    }
}

extension ForwardHeader {
    /// The label a forward must carry at least (section 7.11.11): its downgrade's `to` when it
    /// carries one that holds, else its origin's label; nil for a version 1 origin (unknown).
    /// - Parameter nodeKey: the signing key of a node, or nil when the caller holds none.
    /// - Returns: the label, and what is wrong with a downgrade that does not hold (then ignored).
    public func effectiveLabel(nodeKey: (String) -> [UInt8]?) -> (rank: UInt8?, downgradeProblem: String?) {
        guard let label = origin.label else { return (nil, nil) }
        guard let downgrade else { return (label, nil) }
        if let problem = downgrade.problem(for: origin, nodeKey: nodeKey(downgrade.node)) { return (label, problem) }
        return (downgrade.to, nil)
    }

    /// Why a forward whose clear label is `clearRank` lowers the label of what it forwards, or
    /// nil: the clear label must be at least the effective label.
    /// - Parameter display: a label's name for the sentence (`工作秘密 work-secret`).
    public func loweredLabel(clearRank: UInt8, nodeKey: (String) -> [UInt8]?, display: (UInt8) -> String) -> String? {
        let (effective, problem) = effectiveLabel(nodeKey: nodeKey)
        guard let effective, clearRank < effective else { return nil }
        let message = "\(origin.sender)'s message \(origin.id.hex)"
        if let problem {
            return "a forward of \(message) is labelled \(display(clearRank)), below its \(display(effective)), and its downgrade does not hold: \(problem)"
        }
        if let downgrade {
            return "a forward of \(message) is labelled \(display(clearRank)), below \(display(effective)), the label \(downgrade.by) downgraded it to"
        }
        return "a forward of \(message) is labelled \(display(clearRank)), below its \(display(effective)), without a downgrade by its unit \(origin.unit)"
    }
}
