import Sodium

/// A node's signed report that it refused a forward (`forward_report`, kind 19, clear body;
/// protocol/SPEC.md 7.9.9), sent to the unit the forwarded message originated in, whose node
/// hands it to its security officers:
/// `version:u8=1 ref:octets[16] origin:octets[16] originator:string forwarder:string to:string
/// reason:string label:u8 hops:u8 suppressed:u32 refused_at:u64 node:string signature:octets[64]`,
/// the signature by `node`'s signing key over `"sealpost forward report v1" || the fields before it`.
/// Ids, addresses, names and times only: never content.
public struct ForwardReport: NodeSignedRecord, Sendable, Equatable {
    public static let context = Array("sealpost forward report v1".utf8)
    public static let version: UInt8 = 1

    /// The refused forward envelope's id.
    public var ref: MessageID
    /// The origin's id (the original message) and its sender, whose node is the origin's unit.
    public var origin: MessageID
    public var originator: String
    /// Who tried to forward it (the forward's authenticated `from`), and to whom (a person or a group).
    public var forwarder: String
    public var to: String
    /// The refusal's short name, as in the `forward_refused` audit record (`no_forward`, `label_not_cleared`, …).
    public var reason: String
    /// The forward's label (rank) and its hop count (this forward's hop included).
    public var label: UInt8
    public var hops: UInt8
    /// Refusals of the same forwarder not reported since the last report (the rate limit, 7.9.9).
    public var suppressed: UInt32
    public var refusedAt: UInt64
    /// The node that refused it and signs this.
    public var node: String
    public var signature: [UInt8]

    public init(ref: MessageID, origin: MessageID, originator: String, forwarder: String, to: String, reason: String,
                label: UInt8, hops: UInt8, suppressed: UInt32 = 0, refusedAt: UInt64, node: String, signature: [UInt8] = []) {
        self.ref = ref
        self.origin = origin
        self.originator = originator
        self.forwarder = forwarder
        self.to = to
        self.reason = reason.truncatedUTF8(64)
        self.label = label
        self.hops = hops
        self.suppressed = suppressed
        self.refusedAt = refusedAt
        self.node = node
        self.signature = signature
    }

    public var unsignedBytes: [UInt8] {
        var w = WireWriter()
        w.u8(Self.version); w.octets(ref.bytes); w.octets(origin.bytes)
        w.string(originator); w.string(forwarder); w.string(to); w.string(reason)
        w.u8(label); w.u8(hops); w.u32(suppressed); w.u64(refusedAt); w.string(node)
        return w.bytes
    }

    /// The origin's unit: the node of `originator`, where the report goes.
    public var unit: String? { Address(originator)?.node }

    /// Decodes a report. Decoding rules: version 1; `originator` and `forwarder` addresses, `to`
    /// an address, `node` a node name, `reason` 1 to 64 bytes of `a-z`, `0-9` and `_`; nothing after it.
    public static func decode(_ bytes: [UInt8]) throws -> ForwardReport {
        var r = WireReader(bytes)
        guard try r.u8("version") == version else { throw WireError.invalid(field: "version", reason: "not 1") }
        let ref = MessageID(bytes: try r.octets(16, "ref"))!
        let origin = MessageID(bytes: try r.octets(16, "origin"))!
        let originator = try r.string("originator"), forwarder = try r.string("forwarder"), to = try r.string("to")
        let reason = try r.string("reason")
        let label = try r.u8("label"), hops = try r.u8("hops"), suppressed = try r.u32("suppressed")
        let at = try r.u64("refused_at")
        let node = try r.string("node")
        let signature = try r.octets(64, "signature")
        try r.expectEnd()
        for (field, value) in [("originator", originator), ("forwarder", forwarder), ("to", to)] where Address(value) == nil {
            throw WireError.invalid(field: field, reason: "not an address")
        }
        guard Name.isValid(node) else { throw WireError.invalid(field: "node", reason: "not a node name") }
        guard !reason.isEmpty, reason.utf8.count <= 64,
              reason.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }) else {
            throw WireError.invalid(field: "reason", reason: "not a refusal name")
        }
        return ForwardReport(ref: ref, origin: origin, originator: originator, forwarder: forwarder, to: to, reason: reason,
                             label: label, hops: hops, suppressed: suppressed, refusedAt: at, node: node, signature: signature)
    }

    /// Its envelope id: the same refusal reported twice (a crash, a resent RELAY) is one message.
    public var messageID: MessageID {
        MessageID(bytes: Sodium.genericHash(Array("forward report".utf8) + ref.bytes + Array(node.utf8) + [0] + Array(to.utf8),
                                            outputLength: 16))!
    }
}
