/// Reminders (protocol/SPEC.md, "Reminders").
///
/// A `reminder` envelope's body is `due_at:u64 || sealed`: the due time in the
/// clear (nodes schedule from it) followed by an end-to-end body whose content is
/// `due_at:u64 text:longstr` (the recipient checks both due times agree). The
/// other reminder kinds carry only metadata, in the clear:
/// - `reminder_due` (node → its own user): `reminder:octets[16] due_at:u64 fired_at:u64 late:u8`
/// - `reminder_cancel` (sender → recipients): `reminder:octets[16]`
/// - `reminder_done` (recipient → sender): `reminder:octets[16]`
public enum Reminder {
    /// A reminder may be set at most this far ahead.
    public static let maxAheadMs: UInt64 = 366 * 24 * 3_600_000
    /// A due notice counts as late when it fires more than this after its due time.
    public static let lateAfterMs: UInt64 = 1000

    public static func body(dueAt: UInt64, sealed: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: sealed.count + 8)
        w.u64(dueAt)
        w.octets(sealed)
        return w.bytes
    }

    /// The clear due time and the sealed part of a reminder body.
    public static func split(_ body: [UInt8]) throws -> (dueAt: UInt64, sealed: [UInt8]) {
        var r = WireReader(body)
        let due = try r.u64("due_at")
        return (due, Array(body[8...]))
    }

    public static func content(dueAt: UInt64, text: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: text.count + 12)
        w.u64(dueAt)
        w.longstr(text)
        return w.bytes
    }

    public static func parseContent(_ bytes: [UInt8]) throws -> (dueAt: UInt64, text: [UInt8]) {
        var r = WireReader(bytes)
        let due = try r.u64("due_at")
        let text = try r.longstr("text", max: Sealed.maxTextBytes)
        try r.expectEnd()
        return (due, text)
    }

    public struct Due: Sendable, Equatable {
        public var reminder: MessageID
        public var dueAt: UInt64
        public var firedAt: UInt64
        public var late: Bool

        public init(reminder: MessageID, dueAt: UInt64, firedAt: UInt64, late: Bool) {
            self.reminder = reminder
            self.dueAt = dueAt
            self.firedAt = firedAt
            self.late = late
        }

        public func encode() -> [UInt8] {
            var w = WireWriter()
            w.octets(reminder.bytes); w.u64(dueAt); w.u64(firedAt); w.u8(late ? 1 : 0)
            return w.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws -> Due {
            var r = WireReader(bytes)
            let id = MessageID(bytes: try r.octets(16, "reminder"))!
            let due = Due(reminder: id, dueAt: try r.u64("due_at"), firedAt: try r.u64("fired_at"), late: try r.u8("late") != 0)
            try r.expectEnd()
            return due
        }
    }

    /// The body of `reminder_cancel` and `reminder_done`: the reminder's id.
    public static func reference(_ bytes: [UInt8]) throws -> MessageID {
        guard bytes.count == MessageID.size else { throw WireError.invalid(field: "reminder", reason: "must be 16 bytes") }
        return MessageID(bytes: bytes)!
    }
}
