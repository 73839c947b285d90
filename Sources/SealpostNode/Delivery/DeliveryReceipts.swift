import SealpostCore

/// The `delivered` receipts a node owes for the messages it put in its users'
/// mailboxes this cycle (protocol/SPEC.md 7.10), batched per recipient and
/// sender, and the check of the ones that arrive from peers.
///
/// Pure logic: the reactor notes each stored message, takes the receipts before
/// the cycle commits (so they are stored or journalled in the same transaction
/// as the messages they are about) and routes them like any envelope.
struct DeliveryReceipts {
    struct Pair: Hashable {
        var recipient: String
        var sender: String
    }

    /// Ids per (recipient, sender), in the order they were stored.
    private var pending: [Pair: [MessageID]] = [:]
    private var order: [Pair] = []

    /// Receipts made (envelopes) and ids they named.
    private(set) var made: UInt64 = 0
    /// Ids in `delivered` receipts from peers that their addressee never sent: dropped.
    private(set) var forgedDropped: UInt64 = 0

    var isEmpty: Bool { pending.isEmpty }

    /// Notes that `envelope` went into the mailbox of `recipient` (an address of this node).
    /// Only messages a person reads are receipted, never a receipt, never one to oneself.
    mutating func stored(_ envelope: Envelope, recipient: String) {
        guard Receipt.isReceipted(envelope.knownKind), Address(envelope.from) != nil, envelope.from != recipient else { return }
        let pair = Pair(recipient: recipient, sender: envelope.from)
        if pending[pair] == nil { order.append(pair) }
        pending[pair, default: []].append(envelope.id)
    }

    /// The receipts owed, at most `Receipt.maxIds` ids each; empties the list.
    mutating func take(nowMs: UInt64) -> [Envelope] {
        defer { pending.removeAll(keepingCapacity: true); order.removeAll(keepingCapacity: true) }
        var out: [Envelope] = []
        for pair in order {
            for ids in Receipt.batches(pending[pair] ?? []) {
                out.append(Receipt.delivered(from: pair.recipient, to: pair.sender, ids: ids, at: nowMs))
            }
        }
        made += UInt64(out.count)
        return out
    }

    /// A `delivered` receipt relayed from a peer: only ids its addressee sent stand
    /// (`sentBy` asks the node's record of what its users sent); the others are counted
    /// and dropped. A node makes receipts only for messages it received, so an id the
    /// addressee never sent is someone else's message, or made up.
    /// - Returns: the receipt with the ids that stand, or nil when none does (or it is malformed).
    mutating func checkRelayed(_ envelope: Envelope, sentBy: (MessageID) throws -> Bool) rethrows -> Envelope? {
        guard let ids = try? Receipt.decode(envelope.body) else {
            forgedDropped += 1
            return nil
        }
        let kept = try ids.filter(sentBy)
        forgedDropped += UInt64(ids.count - kept.count)
        guard !kept.isEmpty else { return nil }
        if kept.count == ids.count { return envelope }
        var trimmed = envelope
        trimmed.body = Receipt.encode(kept)
        return trimmed
    }
}
