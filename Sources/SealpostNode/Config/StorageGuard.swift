/// The free-space floor (`limits.min_free_mb`): whether the node stores new messages, with
/// hysteresis so the state does not flap at the edge, and what each arrival gets while it
/// does not (OPERATING.md, "Disk full").
///
/// Pure logic: the reactor reads the free space when `isCheckDue`, tells this type
/// (`checked`), and tells it when a commit failed for lack of space (`commitFailed`); it
/// logs the changes these return and answers arrivals as `answer(to:)` says.
struct StorageGuard {
    /// Free disk is under the floor (or a commit failed for lack of space): new messages are refused.
    private(set) var isFull = false
    /// Free space at the last look, in bytes: what `status` shows beside the state decided from it.
    private(set) var freeBytes: UInt64 = 0
    /// What was free when a commit failed for lack of space (the way back needs more than that).
    private var freeAtCommitFailure: UInt64?
    /// When the free space is next looked at (monotonic ns).
    private var nextCheckNs: UInt64 = 0
    /// When a dropped delivery is next logged (monotonic ns).
    private var nextDropLogNs: UInt64 = 0

    /// How often the free space is looked at.
    static let checkIntervalNs: UInt64 = 250_000_000
    /// Back only with this much above the floor,
    static let recoveryMarginBytes: UInt64 = 1_048_576
    /// and this much above what was free when a commit failed for lack of space.
    static let commitFailureMarginBytes: UInt64 = 4 * 1_048_576

    /// A change of state, to log once each way.
    enum Change: Equatable {
        case none
        case becameFull
        case recovered
    }

    /// What comes in and may need room.
    enum Arrival {
        /// A SEND from a client (or an enrolment): it can be told.
        case send
        /// A RELAY from a peer: it keeps it and sends it again.
        case relay
    }

    /// What an arrival gets.
    enum Answer: Equatable {
        case store
        /// `ERROR 507`: the node stores no new messages until its operator frees disk space.
        case refuse
        /// Not acknowledged: it stays in the peer's journal, sent again later.
        case notAcknowledged
    }

    /// Whether to look at the free space at `now` (at most every `checkIntervalNs` unless `force`).
    func isCheckDue(now: UInt64, force: Bool = false) -> Bool { force || now >= nextCheckNs }

    /// The free space is `free` bytes at `now`, with the floor at `floor` bytes: full under the floor;
    /// full, back only above the floor and the failed commit's free space with a margin.
    mutating func checked(free: UInt64, floor: UInt64, now: UInt64) -> Change {
        nextCheckNs = now + Self.checkIntervalNs
        freeBytes = free
        let recoverAt = max(floor + Self.recoveryMarginBytes, (freeAtCommitFailure ?? 0) + Self.commitFailureMarginBytes)
        let full = isFull ? free < recoverAt : free < floor
        guard full != isFull else { return .none }
        isFull = full
        if full { return .becameFull }
        freeAtCommitFailure = nil
        return .recovered
    }

    /// A commit failed for lack of space with `free` bytes free at `now`: full at once, looked at
    /// again in `checkIntervalNs`. Returns whether this is news (it was not full already), to log.
    mutating func commitFailed(free: UInt64, now: UInt64) -> Bool {
        guard !isFull else { return false }
        freeAtCommitFailure = free
        isFull = true
        nextCheckNs = now + Self.checkIntervalNs
        return true
    }

    /// What `arrival` gets now.
    func answer(to arrival: Arrival) -> Answer {
        guard isFull else { return .store }
        switch arrival {
        case .send: return .refuse
        case .relay: return .notAcknowledged
        }
    }

    /// Whether a delivery dropped for a full mailbox at `now` is logged (at most once per `interval`).
    mutating func dropLogDue(now: UInt64, interval: UInt64) -> Bool {
        guard now >= nextDropLogNs else { return false }
        nextDropLogNs = now + interval
        return true
    }
}
