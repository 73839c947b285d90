import Foundation

/// 保密期限 per label (protocol/SPEC.md 7.11.9): the longest a message of a label stays readable,
/// as a node's operator sets it (`labels.expiry` in node.yaml) and LABELS tells its clients.
/// Plain values: the sender's client fills in and checks `readable_until` with it, the sender's
/// node refuses what exceeds it (ERROR 454), and the recipient's node deletes by its own.
public struct LabelExpiry: Sendable, Equatable {
    /// Seconds per rank; a rank without an entry has no limit.
    public var seconds: [UInt8: UInt64]

    /// How much later than `sent_at + limit` a sender's node still takes a `readable_until`
    /// (clocks of clients and nodes differ a little): 5 minutes.
    public static let toleranceMs: UInt64 = 300_000
    /// The longest limit a node may set: 10 years (3650 days).
    public static let maxSeconds: UInt64 = 3650 * 86_400

    public init(_ seconds: [UInt8: UInt64] = [:]) { self.seconds = seconds }

    public var isEmpty: Bool { seconds.isEmpty }

    /// The limit of `rank` in milliseconds; nil: none.
    public func limitMs(_ rank: UInt8) -> UInt64? { seconds[rank].map { $0 * 1000 } }

    /// When a message of `rank` sent (or stored) at `from` must be deleted by this rule, and by
    /// `readableUntil` (0: none) when earlier; 0 when neither applies.
    public func deadline(_ rank: UInt8, readableUntil: UInt64, from: UInt64) -> UInt64 {
        guard let limit = limitMs(rank) else { return readableUntil }
        let own = from &+ limit
        return readableUntil == 0 ? own : min(readableUntil, own)
    }

    /// The sender's node's check at SEND: a message of `rank` with `readableUntil` (0: none),
    /// stamped `sentAt` by its client and received at `now`, must be deleted no later than
    /// `min(sentAt, now) + limit` (plus `toleranceMs`). Nil when it is; else the reason, which
    /// names the label and its limit.
    public func refusal(_ rank: UInt8, readableUntil: UInt64, sentAt: UInt64, now: UInt64, set: LabelSet, node: String) -> String? {
        guard let limit = limitMs(rank) else { return nil }
        let latest = min(sentAt, now) &+ limit &+ Self.toleranceMs
        let rule = "on node \(node), \(set.display(rank)) messages are readable for at most \(Self.format(seconds: limit / 1000)) (保密期限)"
        if readableUntil == 0 { return "\(rule): the message has no readable-until time" }
        if readableUntil > latest {
            return "\(rule): the message is readable until \(Clock.rfc3339(ms: readableUntil)), later than \(Clock.rfc3339(ms: latest - Self.toleranceMs))"
        }
        return nil
    }

    /// `30d`, `12h`, `90m`, `45s`: the largest unit that divides it.
    public static func format(seconds s: UInt64) -> String {
        if s > 0 && s % 86_400 == 0 { return "\(s / 86_400)d" }
        if s > 0 && s % 3_600 == 0 { return "\(s / 3_600)h" }
        if s > 0 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }

    /// Reads `30d`, `12h`, `90m`, `45s` (a whole number and one unit), 1 second to 3650 days.
    /// - Throws: `LabelError.invalid` saying what is wrong.
    public static func parse(_ text: String) throws -> UInt64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let unit = t.last, let n = UInt64(t.dropLast()), !t.dropLast().contains("+") else {
            throw LabelError.invalid("'\(text)' is not a duration: write a whole number and a unit, like 30d, 12h, 90m or 45s")
        }
        let factor: UInt64
        switch unit {
        case "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3_600
        case "d": factor = 86_400
        default: throw LabelError.invalid("'\(text)': the unit must be s, m, h or d (30d, 12h, 90m, 45s)")
        }
        let (s, overflow) = n.multipliedReportingOverflow(by: factor)
        guard n > 0, !overflow, s <= maxSeconds else {
            throw LabelError.invalid("'\(text)': a readable period is 1s to \(maxSeconds / 86_400)d")
        }
        return s
    }

    /// The optional last field of LABELS: `count:u8 *(rank:u8 seconds:u64)`, ranks ascending.
    /// Nothing at all when there is no limit (an answer as nodes before it sent).
    public func encode(into w: inout WireWriter) {
        guard !seconds.isEmpty else { return }
        w.u8(UInt8(seconds.count))
        for rank in seconds.keys.sorted() { w.u8(rank); w.u64(seconds[rank]!) }
    }

    /// Decoding rules: ranks of `set`, ascending (so each once), seconds 1 to `maxSeconds`.
    public static func decode(from r: inout WireReader, set: LabelSet) throws -> LabelExpiry {
        let n = Int(try r.u8("expiry.count"))
        guard n <= set.count else { throw WireError.invalid(field: "expiry.count", reason: "more entries than labels") }
        var out: [UInt8: UInt64] = [:]
        var last = -1
        for _ in 0..<n {
            let rank = try r.u8("expiry.rank"), s = try r.u64("expiry.seconds")
            guard set.contains(rank) else { throw WireError.invalid(field: "expiry.rank", reason: "rank \(rank) is not in the label set") }
            guard Int(rank) > last else { throw WireError.invalid(field: "expiry.rank", reason: "ranks must ascend, each once") }
            guard (1...maxSeconds).contains(s) else { throw WireError.invalid(field: "expiry.seconds", reason: "1 to \(maxSeconds)") }
            last = Int(rank)
            out[rank] = s
        }
        return LabelExpiry(out)
    }
}
