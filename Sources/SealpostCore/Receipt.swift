import Sodium

/// Delivery and read receipts (protocol/SPEC.md 7.10).
///
/// Both carry the same list, `count:u16 ids:count*octets[16]`, of the message ids
/// they are about (1 to `maxIds`, no repeats):
/// - `delivered` (kind 16): made by the recipient's node when it puts messages in
///   its user's mailbox; clear body; `from` is that user, `to` the messages' sender.
/// - `seen` (kind 17): made by the recipient's client once the messages were
///   shown; the list is the content of a 1:1 end-to-end body (section 8), so nodes
///   see that a read receipt passed, never which messages it is about.
/// Receipts are never themselves receipted.
public enum Receipt {
    /// At most this many ids in one receipt; more go in several.
    public static let maxIds = 256

    /// Kinds whose arrival in a mailbox is receipted (messages a person reads).
    public static func isReceipted(_ kind: EnvelopeKind?) -> Bool {
        switch kind {
        case .text?, .card?, .groupMessage?, .file?, .reminder?: return true
        default: return false
        }
    }

    /// The id list of a receipt body.
    public static func encode(_ ids: [MessageID]) -> [UInt8] {
        precondition(!ids.isEmpty && ids.count <= maxIds, "a receipt names 1 to \(maxIds) ids")
        var w = WireWriter(capacity: 2 + ids.count * MessageID.size)
        w.u16(UInt16(ids.count))
        for id in ids { w.octets(id.bytes) }
        return w.bytes
    }

    /// Decodes an id list: 1 to `maxIds` ids, no repeats, nothing after them.
    /// - Throws: `WireError` for a count of 0 or over `maxIds`, a repeat, a short or long body.
    public static func decode(_ bytes: [UInt8]) throws -> [MessageID] {
        var r = WireReader(bytes)
        let count = Int(try r.u16("receipt.count"))
        guard count >= 1, count <= maxIds else {
            throw WireError.invalid(field: "receipt.count", reason: "1 to \(maxIds) ids")
        }
        var ids: [MessageID] = []
        var seen = Set<MessageID>()
        for _ in 0..<count {
            let id = MessageID(bytes: try r.octets(MessageID.size, "receipt.id"))!
            guard seen.insert(id).inserted else { throw WireError.invalid(field: "receipt.id", reason: "repeated") }
            ids.append(id)
        }
        try r.expectEnd()
        return ids
    }

    /// `ids` cut into lists of at most `maxIds`, in order, repeats left out.
    public static func batches(_ ids: [MessageID]) -> [[MessageID]] {
        var seen = Set<MessageID>()
        let unique = ids.filter { seen.insert($0).inserted }
        return stride(from: 0, to: unique.count, by: maxIds).map { Array(unique[$0..<min($0 + maxIds, unique.count)]) }
    }

    /// The envelope id of a `delivered` receipt: BLAKE2b-128 of `"delivered" || from || to || ids`,
    /// so that a node that makes the same receipt twice makes the same envelope.
    public static func deliveredID(from: String, to: String, ids: [MessageID]) -> MessageID {
        var input = Array("delivered".utf8) + Array(from.utf8) + [0] + Array(to.utf8) + [0]
        for id in ids { input += id.bytes }
        return MessageID(bytes: Sodium.genericHash(input, outputLength: MessageID.size))!
    }

    /// A node's `delivered` receipt from its user `recipient` to `sender` for `ids`.
    public static func delivered(from recipient: String, to sender: String, ids: [MessageID], at nowMs: UInt64) -> Envelope {
        Envelope(id: deliveredID(from: recipient, to: sender, ids: ids), from: recipient, to: sender,
                 kind: .delivered, sentAt: nowMs, body: encode(ids))
    }
}
