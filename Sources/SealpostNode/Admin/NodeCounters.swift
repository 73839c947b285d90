/// Counters an operator reads in `status` (`counters`, and the reminders' and burns' counts),
/// and the envelopes of the last minute (`rates`).
///
/// What claims that something was stored counts only once the cycle's transaction commits:
/// envelopes taken in (`stored`), envelopes relayed into the journal (`journalled`) and due
/// notices fired (`fired`) wait for `committed`; after `rolledBack` they are not counted, and
/// come again (the sender's retry, the previous hop's resend, the next cycle's reminders) to be
/// counted then. The other counters count what happened at once: a refusal, a duplicate, a
/// push (`pushed`), a failed commit. A part that counts its own events keeps the count (refused
/// keys: `RefusedKeyLog`, burn messages: `BurnState`); `status` gathers them.
struct NodeCounters {
    private(set) var envelopesIn: UInt64 = 0
    var duplicates: UInt64 = 0
    private(set) var delivered: UInt64 = 0
    var malformed: UInt64 = 0
    var commitFailures: UInt64 = 0
    private(set) var relayed: UInt64 = 0
    var rejectedRelays: UInt64 = 0
    var rejectedAnnouncements: UInt64 = 0
    var rejectedSnapshots: UInt64 = 0
    var keyConflicts: UInt64 = 0
    var undeliverable: UInt64 = 0
    private(set) var remindersFired: UInt64 = 0
    private(set) var remindersLate: UInt64 = 0
    var refusedQuotes: UInt64 = 0
    /// Envelopes in, out and relayed over the last minute.
    private(set) var rates = RateMeter()

    /// What the open cycle stored, not counted yet.
    private struct Uncommitted { var envelopesIn = 0, relayed = 0, fired = 0, late = 0 }
    private var uncommitted = Uncommitted()

    /// An envelope for this node's people (sent by one, or relayed for one) was stored in the open cycle.
    mutating func stored() { uncommitted.envelopesIn += 1 }

    /// An envelope on its way to another node was journalled in the open cycle.
    mutating func journalled() { uncommitted.relayed += 1 }

    /// A due notice was fired (`late`: past its time by more than the grace) in the open cycle.
    mutating func fired(late: Bool) {
        uncommitted.fired += 1
        if late { uncommitted.late += 1 }
    }

    /// A DELIVER left for one of this node's people at `now`.
    mutating func pushed(now: UInt64) {
        delivered += 1
        rates.countOut(now: now)
    }

    /// The open cycle committed at `now`: what it stored counts.
    mutating func committed(now: UInt64) {
        let u = uncommitted
        guard u.envelopesIn | u.relayed | u.fired != 0 else { return }
        envelopesIn += UInt64(u.envelopesIn)
        relayed += UInt64(u.relayed)
        remindersFired += UInt64(u.fired)
        remindersLate += UInt64(u.late)
        if u.envelopesIn > 0 { rates.countIn(u.envelopesIn, now: now) }
        if u.relayed > 0 { rates.countRelayed(u.relayed, now: now) }
        uncommitted = Uncommitted()
    }

    /// The open cycle rolled back: nothing it stored counts.
    mutating func rolledBack() {
        uncommitted = Uncommitted()
    }

    /// The `counters` of `status`, with those other parts keep (`refusedKeys`: `RefusedKeyLog`).
    func status(refusedKeys: UInt64) -> NodeStatus.Counters {
        func int(_ n: UInt64) -> Int { Int(clamping: n) }
        return NodeStatus.Counters(
            envelopesIn: int(envelopesIn), delivered: int(delivered), duplicates: int(duplicates),
            relayed: int(relayed), malformed: int(malformed), refusedKeys: int(refusedKeys),
            rejectedRelays: int(rejectedRelays), rejectedAnnouncements: int(rejectedAnnouncements),
            rejectedSnapshots: int(rejectedSnapshots), keyConflicts: int(keyConflicts),
            undeliverable: int(undeliverable), commitFailures: int(commitFailures))
    }
}
