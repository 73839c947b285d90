import Foundation
import SealpostClient
import SealpostCore

extension ClientWorker.Engine {
    /// Sets a reminder for a person or a group. The recipients get it now; at `dueAt` every
    /// recipient's node and ours send a due notice, which the daemon shows with the text.
    func remind(to: String, dueAt: UInt64, text: String) throws -> WorkerReply {
        guard let address = Address(to) else { return .error("'\(to.prefix(80))' is not an address (user@node)", status: 400) }
        let id: MessageID
        let recipients: [String]
        let group = books.groups.groups[address.description]
        if let group {
            id = try client.remindGroup(group: address, members: group.members, at: dueAt, text: text)
            recipients = group.members.filter { $0 != me }
        } else {
            id = try client.remind(to: address, at: dueAt, text: text)
            recipients = [address.description]
        }
        books.reminders.recordSent(id, to: recipients, dueAt: dueAt, text: text, group: group == nil ? nil : address.description)
        try books.save()
        let record = try history.record(id: id.hex, conversation: address.description, isGroup: group != nil, outgoing: true, from: me,
                                        kind: "reminder", text: HistoryEntry.json(["reminder": id.hex, "due_at": dueAt, "text": text]) ?? "",
                                        sentAt: Clock.nowMs(), state: .stored, readableUntil: client.lastSentLabel?.readableUntil ?? 0)
        if let record { publishMessage(record) }
        return .json(["id": id.hex, "message": jsonOrNull(record)])
    }

    /// The reminders panel: those set (with who has marked them done) and those received.
    func reminderList() throws -> WorkerReply {
        let conversations = Dictionary(try history.conversations().map { ($0.address, $0.isGroup) }, uniquingKeysWith: { a, _ in a })
        func conversation(of id: String, fallback: String) -> String {
            (try? history.message(id: id))?.conversation ?? fallback
        }
        let sent: [[String: Any]] = books.reminders.allSent.map { id, s in
            let where_ = s.group ?? s.to.first ?? ""
            return ["id": id, "conversation": conversation(of: id, fallback: where_), "group": s.group ?? NSNull(), "due_at": s.due_at,
                    "text": s.text, "cancelled": s.cancelled,
                    "recipients": s.to.map { ["address": $0, "name": name(of: $0, isGroup: false), "done": s.done.contains($0)] }]
        }
        let received: [[String: Any]] = books.reminders.allReceived.map { id, r in
            let c = conversation(of: id, fallback: r.from)
            return ["id": id, "conversation": c, "is_group": conversations[c] ?? false, "from": r.from,
                    "from_name": name(of: r.from, isGroup: false), "due_at": r.due_at, "text": r.text, "done": r.done,
                    "cancelled": r.cancelled]
        }
        return .json(["now": Clock.nowMs(), "sent": sent.sorted { ($0["due_at"] as? UInt64 ?? 0) < ($1["due_at"] as? UInt64 ?? 0) },
                      "received": received.sorted { ($0["due_at"] as? UInt64 ?? 0) < ($1["due_at"] as? UInt64 ?? 0) }])
    }

    /// Marks a received reminder done here and tells its sender.
    func reminderDone(_ id: String) throws -> WorkerReply {
        guard let reminder = MessageID(hex: id), let r = books.reminders.received(id) else {
            return .error("no received reminder \(id.prefix(40))", status: 404)
        }
        guard let sender = Address(r.from) else { return .error("the reminder has no valid sender", status: 400) }
        if !r.done {
            try client.markReminderDone(reminder, sender: sender)
            books.reminders.markDoneLocally(id)
            try books.save()
        }
        hub.publish(["type": "reminders"])
        return .json(["id": id, "done": true])
    }
}
