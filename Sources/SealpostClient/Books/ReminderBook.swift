import Foundation
import SealpostCore

/// The reminders this person set and received, kept next to the profile
/// (`PROFILE.reminders`): who a reminder went to (for `cancel`), who marked it
/// done (for `status`), and who sent one we received (for `done`).
public final class ReminderBook {
    public struct Sent: Codable, Equatable {
        public var to: [String]
        public var due_at: UInt64
        public var text: String
        public var done: [String]
        public var cancelled: Bool
        /// Set when the reminder went to a group (cancel goes through the group).
        public var group: String?
    }

    public struct Received: Codable, Equatable {
        public var from: String
        public var due_at: UInt64
        public var text: String
        public var done: Bool
        public var cancelled: Bool
    }

    typealias File = SentAndReceived<Sent, Received>

    private let book: Book<File>
    private var file: File { book.value }
    public var path: String { book.path ?? "" }

    public init(profilePath: String) {
        book = Book(path: profilePath + ".reminders", empty: File())
    }

    public func sent(_ id: String) -> Sent? { file.sent[id] }
    public func received(_ id: String) -> Received? { file.received[id] }
    /// Every reminder this person set, by id (hex).
    public var allSent: [String: Sent] { file.sent }
    /// Every reminder this person received, by id (hex).
    public var allReceived: [String: Received] { file.received }

    public func recordSent(_ id: MessageID, to: [String], dueAt: UInt64, text: String, group: String? = nil) {
        book.update { $0.sent[id.hex] = Sent(to: to, due_at: dueAt, text: text, done: [], cancelled: false, group: group) }
    }

    public func markCancelled(_ id: String) {
        book.update { $0.sent[id]?.cancelled = true }
    }

    public func markDoneLocally(_ id: String) {
        book.update { $0.received[id]?.done = true }
    }

    /// Folds a received message into the book (reminders, done receipts, cancellations).
    public func note(_ m: ReceivedMessage) {
        guard let r = m.reminder else { return }
        switch m.kind {
        case .reminder:
            if file.received[r.id.hex] == nil {
                book.update { $0.received[r.id.hex] = Received(from: m.from, due_at: r.dueAt, text: m.text, done: false, cancelled: false) }
            }
        case .reminderDone:
            if var s = file.sent[r.id.hex], s.to.contains(m.from), !s.done.contains(m.from) {
                s.done.append(m.from)
                book.update { $0.sent[r.id.hex] = s }
            }
        case .reminderCancelled:
            if file.received[r.id.hex]?.from == m.from {
                book.update { $0.received[r.id.hex]?.cancelled = true }
            }
        default:
            break
        }
    }

    public func save() throws { try book.save() }
}

/// Reads the times people type for reminders.
public enum ReminderTime {
    /// `--in` durations: `30s`, `15m`, `2h`, `1d`, or combinations like `1h30m`.
    public static func duration(_ text: String) -> UInt64? {
        var total: UInt64 = 0
        var number: UInt64 = 0
        var sawDigit = false
        for ch in text {
            if let d = ch.wholeNumberValue, ch.isASCII {
                number = number * 10 + UInt64(d)
                sawDigit = true
                guard number < 1_000_000 else { return nil }
            } else {
                guard sawDigit else { return nil }
                let unit: UInt64
                switch ch {
                case "s": unit = 1000
                case "m": unit = 60_000
                case "h": unit = 3_600_000
                case "d": unit = 86_400_000
                default: return nil
                }
                total += number * unit
                number = 0
                sawDigit = false
            }
        }
        guard !sawDigit, total > 0 else { return nil }
        return total
    }

    /// `--at` times: RFC 3339 (`2026-11-25T09:00:00Z`, `…+08:00`) or local `YYYY-MM-DD HH:MM`.
    /// - Returns: milliseconds since the epoch.
    public static func absolute(_ text: String, timeZone: TimeZone = .current) -> UInt64? {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime]
        if let date = iso.date(from: text) { return UInt64(date.timeIntervalSince1970 * 1000) }
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return UInt64(date.timeIntervalSince1970 * 1000) }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = timeZone
        local.dateFormat = "yyyy-MM-dd HH:mm"
        if let date = local.date(from: text) { return UInt64(date.timeIntervalSince1970 * 1000) }
        return nil
    }
}
