/// What each user holds on the node and how fast each sends: pure bookkeeping, no I/O.
/// The reactor asks before it writes and refuses what does not fit.
///
/// Holdings follow the mirror rule: a change made inside a cycle is pending until the
/// cycle's commit (`commit()`), and forgotten if it rolls back (`rollback()`).
struct Quotas {
    struct Usage: Equatable {
        var count = 0
        var bytes = 0
    }

    /// Why something was refused or dropped; the `status` counter names.
    enum Reason: String, CaseIterable {
        /// A SEND over the sender's rate (429).
        case rateLimited = "rate_limited"
        /// A SEND to a local user whose mailbox is full (507).
        case mailboxFull = "mailbox_full"
        /// A burn message to a local user whose burn quota is full (507).
        case burnFull = "burn_full"
        /// A SEND from a sender with too much waiting on the node already (507).
        case senderFull = "sender_full"
        /// A SEND or enrolment while free disk is under the floor (507).
        case storageFull = "storage_full"
        /// A relayed envelope for a full mailbox: acknowledged to the peer and dropped.
        case relayDropped = "relay_dropped"
        /// A group message (or a node's notice) for a member whose mailbox is full: not put in it.
        case fanoutDropped = "fanout_dropped"
        /// A RELAY not acknowledged while free disk is under the floor (the peer sends it again).
        case relayDeferred = "relay_deferred"
        /// A RELAY held for order past `held_per_origin` for its origin: not acknowledged (the peer sends it again).
        case heldRefused = "held_refused"
    }

    private(set) var mailbox: [String: Usage] = [:]
    private(set) var burns: [String: Usage] = [:]
    /// Per sender address: their messages waiting in mailboxes here and in the journal as originated here.
    private(set) var senders: [String: Usage] = [:]
    private var pendingMailbox: [String: Usage] = [:]
    private var pendingBurns: [String: Usage] = [:]
    private var pendingSenders: [String: Usage] = [:]
    private var buckets: [String: TokenBucket] = [:]
    private(set) var refused: [Reason: UInt64] = [:]

    init(mailbox: [String: Usage] = [:], burns: [String: Usage] = [:], senders: [String: Usage] = [:]) {
        self.mailbox = mailbox
        self.burns = burns
        self.senders = senders
    }

    func senderUse(_ sender: String) -> Usage { Self.sum(senders[sender], pendingSenders[sender]) }

    func senderHasRoom(_ sender: String, bytes: Int, limits: LimitsConfig) -> Bool {
        senderUse(sender).bytes + bytes <= limits.senderBytes
    }

    mutating func changeSender(_ sender: String, count: Int, bytes: Int) {
        guard !sender.isEmpty else { return }
        pendingSenders[sender, default: Usage()].count += count
        pendingSenders[sender, default: Usage()].bytes += bytes
    }

    func mailboxUse(_ user: String) -> Usage { Self.sum(mailbox[user], pendingMailbox[user]) }
    func burnUse(_ user: String) -> Usage { Self.sum(burns[user], pendingBurns[user]) }

    /// True when `user`'s mailbox has room for one more entry of `bytes`.
    func mailboxHasRoom(_ user: String, bytes: Int, limits: LimitsConfig) -> Bool {
        let use = mailboxUse(user)
        return use.count < limits.mailboxMessages && use.bytes + bytes <= limits.mailboxBytes
    }

    func burnHasRoom(_ user: String, bytes: Int, limits: LimitsConfig) -> Bool {
        burnUse(user).bytes + bytes <= limits.burnBytes
    }

    mutating func changeMailbox(_ user: String, count: Int, bytes: Int) {
        pendingMailbox[user, default: Usage()].count += count
        pendingMailbox[user, default: Usage()].bytes += bytes
    }

    mutating func changeBurns(_ user: String, count: Int, bytes: Int) {
        pendingBurns[user, default: Usage()].count += count
        pendingBurns[user, default: Usage()].bytes += bytes
    }

    /// The cycle committed: its changes hold.
    mutating func commit() {
        for (user, change) in pendingMailbox { mailbox[user] = Self.clamped(Self.sum(mailbox[user], change)) }
        for (user, change) in pendingBurns { burns[user] = Self.clamped(Self.sum(burns[user], change)) }
        for (sender, change) in pendingSenders {
            let total = Self.clamped(Self.sum(senders[sender], change))
            senders[sender] = total.count == 0 ? nil : total
        }
        pendingMailbox.removeAll(keepingCapacity: true)
        pendingBurns.removeAll(keepingCapacity: true)
        pendingSenders.removeAll(keepingCapacity: true)
    }

    /// The cycle rolled back: nothing of it happened.
    mutating func rollback() {
        pendingMailbox.removeAll(keepingCapacity: true)
        pendingBurns.removeAll(keepingCapacity: true)
        pendingSenders.removeAll(keepingCapacity: true)
    }

    mutating func count(_ reason: Reason) { refused[reason, default: 0] += 1 }

    /// Takes one message of `bytes` from `sender`'s bucket.
    /// - Returns: nil when it may go now, else the milliseconds until it could.
    mutating func take(sender: String, bytes: Int, limits: LimitsConfig, now: UInt64) -> Int? {
        var bucket = buckets[sender] ?? TokenBucket(limits: limits, now: now)
        defer { buckets[sender] = bucket }
        return bucket.take(bytes: bytes, limits: limits, now: now)
    }

    /// Forgets buckets that are full again (senders idle long enough), so the table stays small.
    mutating func pruneBuckets(limits: LimitsConfig, now: UInt64) {
        buckets = buckets.filter { !$0.value.isFull(limits: limits, now: now) }
    }

    private static func sum(_ a: Usage?, _ b: Usage?) -> Usage {
        Usage(count: (a?.count ?? 0) + (b?.count ?? 0), bytes: (a?.bytes ?? 0) + (b?.bytes ?? 0))
    }

    private static func clamped(_ u: Usage) -> Usage { Usage(count: max(u.count, 0), bytes: max(u.bytes, 0)) }
}

/// One sender's allowance: a message bucket and a byte bucket, refilled at their rates up to their bursts.
struct TokenBucket {
    private var messages: Double
    private var bytes: Double
    private var lastNs: UInt64

    init(limits: LimitsConfig, now: UInt64) {
        messages = Double(limits.sendBurst)
        bytes = Double(limits.sendBurstMB) * 1_048_576
        lastNs = now
    }

    private mutating func refill(limits: LimitsConfig, now: UInt64) {
        let seconds = Double(now &- lastNs) / 1e9
        lastNs = max(now, lastNs)
        messages = min(Double(limits.sendBurst), messages + seconds * Double(limits.sendPerS))
        bytes = min(Double(limits.sendBurstMB) * 1_048_576, bytes + seconds * Double(limits.sendMBps) * 1_048_576)
    }

    /// - Returns: nil when taken, else the milliseconds until there is enough (nothing is taken then).
    mutating func take(bytes cost: Int, limits: LimitsConfig, now: UInt64) -> Int? {
        refill(limits: limits, now: now)
        let messageLimited = limits.sendPerS > 0, byteLimited = limits.sendMBps > 0
        let needMessages = messageLimited ? max(0, 1 - messages) : 0
        let needBytes = byteLimited ? max(0, Double(cost) - bytes) : 0
        if needMessages == 0 && needBytes == 0 {
            if messageLimited { messages -= 1 }
            if byteLimited { bytes -= Double(cost) }
            return nil
        }
        let waitMessages = messageLimited ? needMessages / Double(limits.sendPerS) : 0
        let waitBytes = byteLimited ? needBytes / (Double(limits.sendMBps) * 1_048_576) : 0
        return max(1, Int((max(waitMessages, waitBytes) * 1000).rounded(.up)))
    }

    func isFull(limits: LimitsConfig, now: UInt64) -> Bool {
        var copy = self
        copy.refill(limits: limits, now: now)
        return copy.messages >= Double(limits.sendBurst) && copy.bytes >= Double(limits.sendBurstMB) * 1_048_576
    }
}
