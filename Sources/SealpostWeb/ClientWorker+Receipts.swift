import Foundation
import SealpostClient
import SealpostCore

/// Delivery and read receipts in the web client (protocol/SPEC.md 7.10): own messages'
/// states from the receipts that arrive, and read receipts for what the person opened.
extension ClientWorker.Engine {
    /// Folds a `delivered` or `seen` receipt into the history, inside the receiving transaction.
    /// Only a recipient of the message moves it on (the other person of a 1:1 conversation,
    /// a member of a group).
    /// - Returns: the ids of own messages whose state changed.
    func noteReceipt(_ m: ReceivedMessage) throws -> [String] {
        guard let ids = m.receiptIds else { return [] }
        var changed: [String] = []
        for id in ids {
            guard let r = try history.message(id: id.hex), r.outgoing else { continue }
            let isRecipient = r.conversation == m.from || (books.groups.groups[r.conversation]?.members.contains(m.from) ?? false)
            guard isRecipient, try history.noteReceipt(id: id.hex, member: m.from, seen: m.kind == .seen) else { continue }
            changed.append(id.hex)
        }
        return changed
    }

    /// The receipt counts of an own message for the UI (`delivered`, `seen`, `recipients`), or null.
    func receiptsJSON(_ r: History.Record) -> Any {
        guard r.outgoing, let c = try? history.receipts(id: r.id) else { return NSNull() }
        return ["delivered": c.delivered, "seen": c.seen, "recipients": c.recipients]
    }

    /// Whether this person sends read receipts (`sealpost receipts on|off`, the settings screen).
    var readReceipts: Bool { ProfileSettings.load(profilePath: profilePath).read_receipts }

    /// Sends read receipts for the messages of `conversation` the person has now been shown
    /// (rows after `after` up to `through`); queued like sends, resent until STORED.
    func sendReadReceipts(conversation: String, after: Int64, through: Int64) throws {
        guard readReceipts, through > after else { return }
        var shown: [ReceivedMessage] = []
        var before: Int64? = through + 1
        while let cursor = before {
            let page = try history.messages(conversation: conversation, before: cursor, limit: 200)
            for r in page.reversed() where r.row > after && !r.outgoing {
                guard let id = MessageID(hex: r.id) else { continue }
                shown.append(ReceivedMessage(seq: 0, id: id, from: r.from, to: me, kind: r.kind, text: "", sentAt: r.sentAt))
            }
            before = page.count == 200 && (page.first?.row ?? 0) > after ? page.first?.row : nil
        }
        for envelope in try client.readReceipts(for: shown) {
            try client.submit(envelope)
            pending[envelope.id] = (envelope, Clock.monotonicNs())
        }
    }

    /// Turns read receipts on or off (the profile's setting, shared with `sealpost receipts on|off`).
    func setReadReceipts(_ on: Bool?) throws -> WorkerReply {
        var settings = ProfileSettings.load(profilePath: profilePath)
        if let on, on != settings.read_receipts {
            settings.read_receipts = on
            try settings.save(profilePath: profilePath)
            hub.publish(["type": "settings", "read_receipts": on])
        }
        return .json(["read_receipts": settings.read_receipts])
    }
}
