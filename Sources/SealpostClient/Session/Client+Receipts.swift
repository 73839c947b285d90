import SealpostCore
import Sodium

/// Read receipts (protocol/SPEC.md 7.10.3): what the recipient's client sends once it showed messages.
extension Client {
    /// Kinds (as `ReceivedMessage.kind`) whose showing is receipted: what a person reads.
    static let receiptedKinds: Set<ReceivedMessage.Kind> = [.text, .card, .reminder, .file]

    /// Whether showing `m` earns its sender a read receipt: a message of another person, not a
    /// burn message (it has its own receipts), not a receipt or a notice.
    public func wantsReadReceipt(_ m: ReceivedMessage) -> Bool {
        m.from != profile.address.description && Self.receiptedKinds.contains(m.kind) && m.burn == nil && m.receiptIds == nil
            && Address(m.from) != nil
    }

    /// Seals a `seen` receipt for `ids` (1 to 256) to `sender`, 1:1 like a text.
    public func prepareSeen(to sender: Address, ids: [MessageID]) throws -> Envelope {
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let sentAt = Clock.nowMs()
        let kind = EnvelopeKind.seen.rawValue
        let body = Sealed.seal(kind: kind, id: id, from: profile.address.description, to: sender.description, sentAt: sentAt,
                               content: Receipt.encode(ids), key: try sharedKey(with: sender))
        return Envelope(id: id, from: "", to: sender.description, kind: kind, sentAt: sentAt, body: body)
    }

    /// The read receipts owed for `shown`: one per sender (more past 256 ids), in the order first shown.
    public func readReceipts(for shown: [ReceivedMessage]) throws -> [Envelope] {
        var order: [String] = []
        var ids: [String: [MessageID]] = [:]
        for m in shown where wantsReadReceipt(m) {
            if ids[m.from] == nil { order.append(m.from) }
            ids[m.from, default: []].append(m.id)
        }
        var out: [Envelope] = []
        for sender in order {
            guard let address = Address(sender) else { continue }
            for batch in Receipt.batches(ids[sender] ?? []) { out.append(try prepareSeen(to: address, ids: batch)) }
        }
        return out
    }
}

extension ReceivedMessage {
    /// A message as kept elsewhere (a history record): what a read receipt needs of it.
    public init(seq: UInt64, id: MessageID, from: String, to: String, kind: String, text: String, sentAt: UInt64) {
        self.seq = seq
        self.id = id
        self.from = from
        self.to = to
        self.kind = ReceivedMessage.Kind(rawValue: kind) ?? .unknown
        self.text = text
        self.sentAt = sentAt
    }
}
