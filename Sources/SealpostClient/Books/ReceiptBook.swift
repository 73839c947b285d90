import Foundation
import SealpostCore

/// Where this person's own messages stand (protocol/SPEC.md 7.10): who each went
/// to, and which recipients' nodes stored it (`delivered`) and which recipients'
/// clients showed it (`seen`). Kept next to the profile (`PROFILE.receipts`).
///
/// Receipts are folded in as sets, so a repeat changes nothing; `save` merges
/// with what is on disk (another command of the same profile, `sealpost send`,
/// may have added a message meanwhile), so nothing recorded is lost either.
public final class ReceiptBook {
    public struct Sent: Codable, Equatable {
        /// The address it went to: a person or a group.
        public var to: String
        /// Who it is for: `to`, or the group's members other than the sender.
        public var recipients: [String]
        public var sent_at: UInt64
        /// The first characters of the text, to name the message in notices.
        public var preview: String
        public var delivered: [String] = []
        public var seen: [String] = []
    }

    /// A message's state, as the person sees it.
    public struct State: Equatable, Sendable {
        public enum Stage: String, Sendable, Comparable {
            case sending, stored, delivered, seen
            var rank: Int { [.sending: 0, .stored: 1, .delivered: 2, .seen: 3][self]! }
            public static func < (a: Stage, b: Stage) -> Bool { a.rank < b.rank }
        }
        /// The furthest stage every recipient reached (a group's partial progress is in the counts).
        public var stage: Stage
        public var delivered: Int
        public var seen: Int
        public var recipients: Int

        /// `stored on your node`, `delivered`, `seen`; for a group, once one member's node has it, `delivered 3/5, seen 2/5`.
        public var text: String {
            if recipients <= 1 {
                switch stage {
                case .sending: return "sending"
                case .stored: return "stored on your node"
                case .delivered: return "delivered"
                case .seen: return "seen"
                }
            }
            if stage == .sending { return "sending" }
            if delivered == 0 { return "stored on your node" }
            return "delivered \(delivered)/\(recipients), seen \(seen)/\(recipients)"
        }

        public var json: [String: Any] {
            ["state": stage.rawValue, "delivered": delivered, "seen": seen, "recipients": recipients]
        }
    }

    /// How many messages the book keeps (the oldest go first).
    public static let capacity = 10_000
    /// Characters of a message's text kept to name it.
    public static let previewLength = 40

    public let path: String
    private var sent: [String: Sent] = [:]
    private var changed = false

    public init(profilePath: String) {
        path = profilePath + ".receipts"
        sent = PrivateFile.readJSON([String: Sent].self, from: path) ?? [:]
    }

    public func sent(_ id: MessageID) -> Sent? { sent[id.hex] }

    /// Records a message this person's node stored (`to` a person, or a group with its `members`).
    public func recordSent(_ id: MessageID, to: String, members: [String]?, me: String, sentAt: UInt64, text: String) {
        let recipients = members.map { $0.filter { $0 != me } } ?? [to]
        sent[id.hex] = Sent(to: to, recipients: recipients, sent_at: sentAt, preview: String(text.prefix(Self.previewLength)))
        changed = true
    }

    /// The state of a message this book knows.
    public func state(_ id: MessageID) -> State? {
        guard let s = sent[id.hex] else { return nil }
        return Self.state(of: s)
    }

    static func state(of s: Sent) -> State {
        let recipients = Set(s.recipients)
        let seen = Set(s.seen).intersection(recipients)
        let delivered = Set(s.delivered).union(seen).intersection(recipients)
        let n = max(recipients.count, 1)
        let stage: State.Stage = seen.count == n ? .seen : delivered.count == n ? .delivered : .stored
        return State(stage: stage, delivered: delivered.count, seen: seen.count, recipients: n)
    }

    /// Folds in a receipt (`kind` `delivered` or `seen`, ids in `receiptIds`).
    /// - Returns: the messages whose state changed, with their new state (none for a repeat,
    ///   for a receipt from someone the message did not go to, or for an id this book does not know).
    @discardableResult
    public func note(_ m: ReceivedMessage) -> [(id: MessageID, state: State)] {
        guard let ids = m.receiptIds, m.kind == .delivered || m.kind == .seen else { return [] }
        var out: [(MessageID, State)] = []
        for id in ids {
            guard var s = sent[id.hex], s.recipients.contains(m.from) else { continue }
            let before = s
            if !s.delivered.contains(m.from) { s.delivered.append(m.from) }
            if m.kind == .seen, !s.seen.contains(m.from) { s.seen.append(m.from) }
            guard s != before else { continue }
            sent[id.hex] = s
            changed = true
            out.append((id, Self.state(of: s)))
        }
        return out
    }

    /// Writes the book (merged with what another process wrote since it was read).
    public func save() throws {
        guard changed else { return }
        if let disk = PrivateFile.readJSON([String: Sent].self, from: path) {
            for (id, theirs) in disk {
                guard var mine = sent[id] else { sent[id] = theirs; continue }
                mine.delivered = Array(Set(mine.delivered).union(theirs.delivered)).sorted()
                mine.seen = Array(Set(mine.seen).union(theirs.seen)).sorted()
                sent[id] = mine
            }
        }
        if sent.count > Self.capacity {
            for (id, _) in sent.sorted(by: { $0.value.sent_at < $1.value.sent_at }).prefix(sent.count - Self.capacity) {
                sent[id] = nil
            }
        }
        try PrivateFile.writeJSON(sent, to: path)
        changed = false
    }
}

/// The person's choice about read receipts, kept next to the profile (`PROFILE.settings`).
public struct ProfileSettings: Codable, Equatable {
    /// Send `seen` receipts for what this person was shown (protocol/SPEC.md 7.10.3). On unless turned off.
    public var read_receipts: Bool = true

    public init() {}

    public static func path(profilePath: String) -> String { profilePath + ".settings" }

    public static func load(profilePath: String) -> ProfileSettings {
        PrivateFile.readJSON(ProfileSettings.self, from: path(profilePath: profilePath)) ?? ProfileSettings()
    }

    public func save(profilePath: String) throws {
        try PrivateFile.writeJSON(self, to: Self.path(profilePath: profilePath))
    }
}
