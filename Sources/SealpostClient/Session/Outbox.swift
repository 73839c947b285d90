import Foundation
import SealpostCore

/// Lines typed in `chat` that the node has not confirmed yet.
///
/// A line is sealed once, with one id, and sent again with that id every
/// `retransmitMs` until the node answers STORED (the node drops repeats) or
/// refuses it for good. So a line is either stored, or still queued and said
/// to be, or refused: it is never reported "not sent" and delivered later.
/// Pure bookkeeping: the caller sends what `due` returns and feeds the answers in.
public struct Outbox: Sendable {
    public struct Line: Sendable {
        public var envelope: Envelope
        public var text: String
        public var firstSentNs: UInt64
        public var lastSentNs: UInt64
        /// Whether the person was told it is queued (then they are told when it is sent).
        public var announced: Bool
    }

    /// What became of a line.
    public enum Outcome: Sendable, Equatable {
        /// Stored by the node; `announced` when the person had been told it was queued.
        case stored(text: String, announced: Bool)
        /// Refused for good (not a passing failure): it will not be sent.
        case refused(text: String, reason: String)
    }

    public private(set) var lines: [Line] = []
    public var retransmitMs: Int
    /// A line not stored after this long is announced as queued.
    public var announceMs: Int

    public init(retransmitMs: Int = 2_000, announceMs: Int = 2_000) {
        self.retransmitMs = retransmitMs
        self.announceMs = announceMs
    }

    public var isEmpty: Bool { lines.isEmpty }

    /// Takes a line just sent for the first time.
    public mutating func add(_ envelope: Envelope, text: String, now: UInt64) {
        lines.append(Line(envelope: envelope, text: text, firstSentNs: now, lastSentNs: now, announced: false))
    }

    /// The envelopes to send again now (same ids), marked as sent: those sent over `retransmitMs`
    /// ago, or with `all` every one (the connection is back: what was sent while it was down is lost).
    public mutating func due(now: UInt64, all: Bool = false) -> [Envelope] {
        var out: [Envelope] = []
        for i in lines.indices where all || now - lines[i].lastSentNs >= UInt64(retransmitMs) * 1_000_000 {
            lines[i].lastSentNs = now
            out.append(lines[i].envelope)
        }
        return out
    }

    /// Lines to announce as queued now (all of them when `offline`, else those waiting over `announceMs`).
    public mutating func toAnnounce(now: UInt64, offline: Bool) -> [String] {
        var out: [String] = []
        for i in lines.indices where !lines[i].announced {
            if offline || now - lines[i].firstSentNs >= UInt64(announceMs) * 1_000_000 {
                lines[i].announced = true
                out.append(lines[i].text)
            }
        }
        return out
    }

    /// The node stored `id`.
    public mutating func stored(_ id: MessageID) -> Outcome? {
        guard let i = lines.firstIndex(where: { $0.envelope.id == id }) else { return nil }
        let line = lines.remove(at: i)
        return .stored(text: line.text, announced: line.announced)
    }

    /// The node refused `id`. Passing failures (500, 503) keep the line queued.
    public mutating func refused(_ id: MessageID, code: UInt16, reason: String) -> Outcome? {
        guard code != ErrorCode.internalError.rawValue && code != ErrorCode.unavailable.rawValue,
              let i = lines.firstIndex(where: { $0.envelope.id == id }) else { return nil }
        let line = lines.remove(at: i)
        return .refused(text: line.text, reason: reason)
    }
}
