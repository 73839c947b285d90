import SealpostCore

/// Who a connection authenticated as, from the `User-Id` the ZAP handler gave it.
enum Principal: Equatable {
    /// An enrolled user; `generation` is the node's auth generation at the handshake
    /// (Reactor+Users), not part of the identity.
    case user(String, generation: UInt64 = 0)
    case invite(String)
    /// A configured peer node.
    case node(String)
    /// The operator's admin key.
    case admin

    init?(userId: String?) {
        guard let userId else { return nil }
        if userId == "a:admin" { self = .admin; return }
        guard userId.count > 2 else { return nil }
        let value = String(userId.dropFirst(2))
        switch userId.prefix(2) {
        case "u:":
            // "u:NAME:GEN"; names never hold ':'.
            guard let colon = value.firstIndex(of: ":") else { self = .user(value); return }
            self = .user(String(value[..<colon]), generation: UInt64(value[value.index(after: colon)...]) ?? 0)
        case "i:": self = .invite(value)
        case "n:": self = .node(value)
        default: return nil
        }
    }

    var userId: String {
        switch self {
        case .user(let name, let generation): return "u:" + name + ":" + String(generation)
        case .invite(let id): return "i:" + id
        case .node(let name): return "n:" + name
        case .admin: return "a:admin"
        }
    }
}

/// One client connection on the ROUTER, keyed by its routing id.
///
/// Delivery state: the node pushes mailbox entries in seq order, at most `window`
/// unacknowledged; `lastSent` is the highest seq pushed, `acked` the client's
/// cumulative acknowledgement. `caughtUp` means every stored entry up to now was
/// pushed, so new ones can go straight from memory.
final class Session {
    let routingId: [UInt8]
    let principal: Principal
    var lastHeardNs: UInt64
    /// Set by ATTACH, cleared by DETACH or another ATTACH of the user (`DeliveryState`).
    private(set) var attached = false
    var window = 0
    var lastSent: UInt64 = 0
    var acked: UInt64 = 0
    var caughtUp = false
    var syncedSent = false
    /// Seqs pushed and not yet acknowledged, oldest first.
    private var inFlight: [UInt64] = []
    private var inFlightHead = 0

    init(routingId: [UInt8], principal: Principal, now: UInt64) {
        self.routingId = routingId
        self.principal = principal
        self.lastHeardNs = now
    }

    var user: String? {
        if case .user(let name, _) = principal { return name }
        return nil
    }

    var inFlightCount: Int { inFlight.count - inFlightHead }
    var room: Int { attached ? max(0, window - inFlightCount) : 0 }

    func attach(window: Int) {
        attached = true
        self.window = window
        // Everything not acknowledged is pushed again: the client drops what it already has.
        lastSent = acked
        inFlight.removeAll()
        inFlightHead = 0
        caughtUp = false
        syncedSent = false
    }

    func detach() {
        attached = false
    }

    func pushed(_ seq: UInt64) {
        inFlight.append(seq)
        lastSent = seq
    }

    func acknowledge(through seq: UInt64) {
        acked = max(acked, seq)
        while inFlightHead < inFlight.count, inFlight[inFlightHead] <= seq { inFlightHead += 1 }
        if inFlightHead > 1024, inFlightHead * 2 > inFlight.count {
            inFlight.removeFirst(inFlightHead)
            inFlightHead = 0
        }
    }

    /// A push failed (pipe full): resend from the last one that went out.
    func pushFailed(lastGood: UInt64) {
        lastSent = lastGood
        caughtUp = false
    }
}

/// Envelopes in and out over the last minute, in one-second buckets: `in` reached this
/// node (from its people, or relayed for them), `out` left it (to its people, or
/// acknowledged by a next hop), `relayed` passed through on the way to another node.
struct RateMeter {
    private struct Bucket { var second: UInt64 = 0, inCount = 0, outCount = 0, relayedCount = 0 }
    private var buckets = [Bucket](repeating: Bucket(), count: 60)

    private mutating func bucket(_ now: UInt64) -> Int {
        let second = now / 1_000_000_000
        let index = Int(second % 60)
        if buckets[index].second != second { buckets[index] = Bucket(second: second) }
        return index
    }

    mutating func countIn(_ n: Int = 1) { let i = bucket(Clock.monotonicNs()); buckets[i].inCount += n }
    mutating func countOut(_ n: Int = 1) { let i = bucket(Clock.monotonicNs()); buckets[i].outCount += n }
    mutating func countRelayed(_ n: Int = 1) { let i = bucket(Clock.monotonicNs()); buckets[i].relayedCount += n }

    /// Totals over the last 60 seconds.
    func lastMinute() -> (inCount: Int, outCount: Int, relayedCount: Int) {
        let now = Clock.monotonicNs() / 1_000_000_000
        var i = 0, o = 0, r = 0
        for b in buckets where b.second + 60 > now && b.second <= now { i += b.inCount; o += b.outCount; r += b.relayedCount }
        return (i, o, r)
    }
}

/// Counters an operator reads in `status`.
struct NodeCounters {
    var envelopesIn: UInt64 = 0
    var duplicates: UInt64 = 0
    var delivered: UInt64 = 0
    var malformed: UInt64 = 0
    var refusedKeys: UInt64 = 0
    var commitFailures: UInt64 = 0
    var relayed: UInt64 = 0
    var rejectedRelays: UInt64 = 0
    var rejectedAnnouncements: UInt64 = 0
    var rejectedSnapshots: UInt64 = 0
    var keyConflicts: UInt64 = 0
    var undeliverable: UInt64 = 0
    var remindersFired: UInt64 = 0
    var remindersLate: UInt64 = 0
    var groupRefusals: UInt64 = 0
    var burnsViewed: UInt64 = 0
    var burnsExpired: UInt64 = 0
    var burnReceipts: UInt64 = 0
    var refusedQuotes: UInt64 = 0
}
