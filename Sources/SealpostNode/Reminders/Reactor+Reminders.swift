import Foundation
import SealpostCore
import Sodium

/// Reminders: each node keeps the schedule of the due notices it owes its own
/// users (the sender's node for the sender, each recipient's node for its
/// recipients), fires them from the reactor's timer, and withdraws them when the
/// sender cancels (protocol/SPEC.md, "Reminders").
extension Reactor {
    /// Checks a reminder-related envelope from a local user before it is stored.
    /// - Returns: an error text when it must be refused.
    func reminderProblem(_ envelope: Envelope) -> String? {
        switch envelope.knownKind {
        case .reminder?:
            guard let (due, sealed) = try? Reminder.split(envelope.body), !sealed.isEmpty else {
                return "a reminder must start with its due time"
            }
            if due > Clock.nowMs() + Reminder.maxAheadMs { return "a reminder may be set at most a year ahead" }
            return nil
        case .reminderCancel?, .reminderDone?:
            return envelope.body.count == MessageID.size ? nil : "must name the reminder (16 bytes)"
        case .reminderDue?:
            return "reminder_due notices are made by nodes, not sent by people"
        case let kind? where kind == .groupEvent || kind == .groupFanout:
            return "\(kind.name) envelopes are made by a group's home node, not sent by people"
        case .refusal?:
            return "refusal notices are made by nodes, not sent by people"
        case .forwardReport?:
            return "forward reports are made by nodes, not sent by people"
        default:
            return nil
        }
    }

    /// Schedule bookkeeping for an envelope this node just stored for `user`
    /// (a local recipient, or the local sender of `envelope`), inside the cycle's transaction.
    func applyReminder(_ envelope: Envelope, forUser user: String) throws {
        switch envelope.knownKind {
        case .reminder?:
            guard let due = try? Reminder.split(envelope.body).dueAt else { return }
            let item = ScheduledReminder(user: user, reminder: envelope.id, dueAt: due, sender: envelope.from)
            var added = false
            try write(ref: envelope.id) { added = try store.schedule(user: user, reminder: envelope.id, dueAt: due, sender: envelope.from) }
            if added { batch.afterCommit { [weak self] in self?.schedule.add(item) } }
        case .reminderCancel?:
            guard let id = try? Reminder.reference(envelope.body) else { return }
            var removed = false
            try write(ref: envelope.id) { removed = try store.unschedule(user: user, reminder: id, sender: envelope.from) }
            if removed { batch.afterCommit { [weak self] in self?.schedule.remove(user: user, reminder: id) } }
        default:
            break
        }
    }

    /// Appends every due notice whose time has come to its user's mailbox.
    func fireDueReminders() {
        let nowMs = Clock.nowMs()
        guard let next = schedule.nextDue(), next <= nowMs else { return }
        for item in schedule.takeDue(now: nowMs, limit: Self.batchLimit) {
            let late = nowMs > item.dueAt + Reminder.lateAfterMs
            let due = Reminder.Due(reminder: item.reminder, dueAt: item.dueAt, firedAt: nowMs, late: late)
            let id = MessageID(bytes: Sodium.genericHash(Array("due".utf8) + item.reminder.bytes + Array(item.user.utf8), outputLength: 16))!
            let notice = Envelope(id: id, from: item.sender, to: address(item.user), kind: .reminderDue,
                                  sentAt: nowMs, body: due.encode())
            do {
                var stillDue = false
                try write(ref: id) { stillDue = try store.unschedule(user: item.user, reminder: item.reminder, sender: item.sender) }
                guard stillDue else { continue } // withdrawn meanwhile
                try deliverLocally(notice, to: item.user)
                // Its row is back in the database if the batch is rolled back: back in the schedule too.
                batch.onRollback { [weak self] in self?.schedule.add(item) }
                counters.fired(late: late)
            } catch {
                // Back in the schedule: the failed batch is rolled back and it fires on a later cycle.
                schedule.add(item)
                logger.error("cannot fire a reminder: \(error)")
            }
        }
    }

    /// Milliseconds until the next due notice, for the poll timeout.
    func msUntilNextReminder() -> Int? {
        guard let next = schedule.nextDue() else { return nil }
        let now = Clock.nowMs()
        return next <= now ? 0 : Int(min(next - now, 3_600_000))
    }
}
