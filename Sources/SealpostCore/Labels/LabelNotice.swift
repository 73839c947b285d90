import Sodium

/// A node's signed statement that it refused an envelope for its label (`refusal`, kind 18,
/// clear body; protocol/SPEC.md 7.11.7), sent back to the envelope's sender:
/// `ref:octets[16] sender:string recipient:string node:string reason:u8 label:u8 text:string
/// refused_at:u64 signature:octets[64]`, the signature by `node`'s signing key over
/// `"sealpost refusal v1" || the fields before it`.
public struct LabelNotice: NodeSignedRecord, Sendable, Equatable {
    public static let context = Array("sealpost refusal v1".utf8)

    /// The refused envelope's id.
    public var ref: MessageID
    /// Its sender (the notice's recipient).
    public var sender: String
    /// Where it was going.
    public var recipient: String
    /// The node that refused it and signs this.
    public var node: String
    public var reason: LabelReason
    public var label: UInt8
    /// The refusal's sentence, naming who or what (at most 255 bytes).
    public var text: String
    public var refusedAt: UInt64
    public var signature: [UInt8]

    public init(ref: MessageID, sender: String, recipient: String, node: String, reason: LabelReason, label: UInt8,
                text: String, refusedAt: UInt64, signature: [UInt8] = []) {
        self.ref = ref
        self.sender = sender
        self.recipient = recipient
        self.node = node
        self.reason = reason
        self.label = label
        self.text = text.truncatedUTF8(255)
        self.refusedAt = refusedAt
        self.signature = signature
    }

    public var unsignedBytes: [UInt8] {
        var w = WireWriter()
        w.octets(ref.bytes); w.string(sender); w.string(recipient); w.string(node)
        w.u8(reason.rawValue); w.u8(label); w.string(text); w.u64(refusedAt)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> LabelNotice {
        var r = WireReader(bytes)
        let ref = MessageID(bytes: try r.octets(16, "ref"))!
        let sender = try r.string("sender"), recipient = try r.string("recipient"), node = try r.string("node")
        guard let reason = LabelReason(rawValue: try r.u8("reason")) else { throw WireError.invalid(field: "reason", reason: "unknown reason") }
        let label = try r.u8("label")
        let text = try r.string("text")
        let at = try r.u64("refused_at")
        let signature = try r.octets(64, "signature")
        try r.expectEnd()
        guard Name.isValid(node) else { throw WireError.invalid(field: "node", reason: "not a node name") }
        return LabelNotice(ref: ref, sender: sender, recipient: recipient, node: node, reason: reason, label: label,
                           text: text, refusedAt: at, signature: signature)
    }

    /// Its envelope id: the same refusal made twice (a crash, a resent RELAY) is one message.
    public var messageID: MessageID {
        MessageID(bytes: Sodium.genericHash(Array("refusal".utf8) + ref.bytes + Array(node.utf8) + [0] + Array(recipient.utf8),
                                            outputLength: 16))!
    }
}
