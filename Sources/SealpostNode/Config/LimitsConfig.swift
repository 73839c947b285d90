/// What one user may take of the node (`limits:` in node.yaml): messages waiting per
/// recipient, burn content kept per recipient, how fast one sender may send, and the
/// free disk the node keeps for itself.
public struct LimitsConfig: Codable, Sendable, Equatable {
    /// Entries one recipient may have waiting in their mailbox (not yet acknowledged).
    public var mailboxMessages: Int
    /// Bytes one recipient may have waiting in their mailbox, in MiB.
    public var mailboxMB: Int
    /// Bytes of unviewed burn messages kept for one recipient, in MiB.
    public var burnMB: Int
    /// Bytes of one sender's messages waiting on this node at once (in its people's mailboxes,
    /// and on their way to other nodes in its journal), in MiB.
    public var senderMB: Int
    /// Messages per second one sender may send, over time (token bucket rate); 0 for no limit.
    public var sendPerS: Int
    /// Messages one sender may send at once before the rate applies (bucket size).
    public var sendBurst: Int
    /// MiB per second of message bodies one sender may send, over time; 0 for no limit.
    public var sendMBps: Int
    /// MiB one sender may send at once before the byte rate applies.
    public var sendBurstMB: Int
    /// New messages are refused while the data dir's disk has less free space than this, in MiB.
    public var minFreeMB: Int
    /// The WAL is checkpointed and truncated when it grows past this, in MiB.
    public var walMaxMB: Int
    /// Envelopes one origin node may have held here for order (ahead of a gap in its stream);
    /// past it, its RELAYs are not acknowledged until the gap is filled (the peer sends them again).
    public var heldPerOrigin: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mailboxMessages = "mailbox_messages"
        case mailboxMB = "mailbox_mb"
        case burnMB = "burn_mb"
        case senderMB = "sender_mb"
        case sendPerS = "send_per_s"
        case sendBurst = "send_burst"
        case sendMBps = "send_mb_s"
        case sendBurstMB = "send_burst_mb"
        case minFreeMB = "min_free_mb"
        case walMaxMB = "wal_max_mb"
        case heldPerOrigin = "held_per_origin"
    }

    public init(mailboxMessages: Int = 10_000, mailboxMB: Int = 256, burnMB: Int = 128, senderMB: Int = 1024, sendPerS: Int = 200, sendBurst: Int = 2000,
                sendMBps: Int = 16, sendBurstMB: Int = 64, minFreeMB: Int = 256, walMaxMB: Int = 64, heldPerOrigin: Int = 10_000) {
        self.mailboxMessages = mailboxMessages
        self.mailboxMB = mailboxMB
        self.burnMB = burnMB
        self.senderMB = senderMB
        self.sendPerS = sendPerS
        self.sendBurst = sendBurst
        self.sendMBps = sendMBps
        self.sendBurstMB = sendBurstMB
        self.minFreeMB = minFreeMB
        self.walMaxMB = walMaxMB
        self.heldPerOrigin = heldPerOrigin
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LimitsConfig()
        mailboxMessages = try c.decodeIfPresent(Int.self, forKey: .mailboxMessages) ?? d.mailboxMessages
        mailboxMB = try c.decodeIfPresent(Int.self, forKey: .mailboxMB) ?? d.mailboxMB
        burnMB = try c.decodeIfPresent(Int.self, forKey: .burnMB) ?? d.burnMB
        senderMB = try c.decodeIfPresent(Int.self, forKey: .senderMB) ?? d.senderMB
        sendPerS = try c.decodeIfPresent(Int.self, forKey: .sendPerS) ?? d.sendPerS
        sendBurst = try c.decodeIfPresent(Int.self, forKey: .sendBurst) ?? d.sendBurst
        sendMBps = try c.decodeIfPresent(Int.self, forKey: .sendMBps) ?? d.sendMBps
        sendBurstMB = try c.decodeIfPresent(Int.self, forKey: .sendBurstMB) ?? d.sendBurstMB
        minFreeMB = try c.decodeIfPresent(Int.self, forKey: .minFreeMB) ?? d.minFreeMB
        walMaxMB = try c.decodeIfPresent(Int.self, forKey: .walMaxMB) ?? d.walMaxMB
        heldPerOrigin = try c.decodeIfPresent(Int.self, forKey: .heldPerOrigin) ?? d.heldPerOrigin
    }

    /// No rate limit and the largest quotas: for benchmarks and stress tests that stream
    /// from one sender as fast as the node takes it (the free-space floor stays).
    public static let unmetered = LimitsConfig(mailboxMessages: 10_000_000, mailboxMB: 1_048_576, burnMB: 1_048_576, senderMB: 1_048_576, sendPerS: 0,
                                               sendBurst: 10_000_000, sendMBps: 0, sendBurstMB: 1_048_576)

    public func validate() throws {
        guard (1...10_000_000).contains(mailboxMessages) else { throw NodeError.config("limits.mailbox_messages must be 1...10000000") }
        guard (1...1_048_576).contains(mailboxMB) else { throw NodeError.config("limits.mailbox_mb must be 1...1048576") }
        // One burn message with six images is up to 12.5 MiB: a smaller quota would refuse it always.
        guard (13...1_048_576).contains(burnMB) else { throw NodeError.config("limits.burn_mb must be 13...1048576 (one burn message with images takes up to 12.5 MiB)") }
        guard (1...1_048_576).contains(senderMB) else { throw NodeError.config("limits.sender_mb must be 1...1048576") }
        guard (0...1_000_000).contains(sendPerS) else { throw NodeError.config("limits.send_per_s must be 0 (no limit) ... 1000000") }
        guard (1...10_000_000).contains(sendBurst) else { throw NodeError.config("limits.send_burst must be 1...10000000") }
        guard (0...100_000).contains(sendMBps) else { throw NodeError.config("limits.send_mb_s must be 0 (no limit) ... 100000") }
        guard (13...1_048_576).contains(sendBurstMB) else { throw NodeError.config("limits.send_burst_mb must be 13...1048576 (the largest message is 12.5 MiB)") }
        guard (0...1_048_576).contains(minFreeMB) else { throw NodeError.config("limits.min_free_mb must be 0...1048576") }
        guard (1...1_048_576).contains(walMaxMB) else { throw NodeError.config("limits.wal_max_mb must be 1...1048576") }
        guard (1...10_000_000).contains(heldPerOrigin) else { throw NodeError.config("limits.held_per_origin must be 1...10000000") }
    }

    static var knownKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    var mailboxBytes: Int { mailboxMB * 1_048_576 }
    var burnBytes: Int { burnMB * 1_048_576 }
    var senderBytes: Int { senderMB * 1_048_576 }
    var minFreeBytes: UInt64 { UInt64(minFreeMB) * 1_048_576 }
    var walMaxBytes: Int { walMaxMB * 1_048_576 }
}
