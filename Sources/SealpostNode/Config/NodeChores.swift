import Foundation

/// When the node's periodic chores are due: housekeeping (session timeouts, refused-key log,
/// pruning), the hourly pruning of old records inside it, and the look at `node.yaml` for
/// changes (by its modification time). Plain values: the reactor asks with `now` (monotonic
/// ns) and does the work; nothing here touches a file or a clock.
struct NodeChores {
    /// How often old received ids, forwards, invites and burn records are pruned.
    static let pruneIntervalNs: UInt64 = 3_600_000_000_000

    private let timers: NodeTimers
    /// When housekeeping is next due (monotonic ns): the reactor sleeps no longer than this.
    private(set) var nextHousekeepingNs: UInt64
    private var lastPruneNs: UInt64
    /// When node.yaml is next looked at (monotonic ns; the federation tick does it).
    private(set) var nextConfigCheckNs: UInt64 = 0
    /// The modification time of `node.yaml` as last read.
    private var configModified: Date?

    /// - Parameters: `start` the reactor's start (monotonic ns), `configModified` node.yaml's time as read at start.
    init(timers: NodeTimers, start: UInt64, configModified: Date?) {
        self.timers = timers
        nextHousekeepingNs = start + timers.housekeepingNs
        lastPruneNs = start
        self.configModified = configModified
    }

    /// The reactor's loop starts at `now`: the first housekeeping is a full interval away.
    mutating func loopStarts(now: UInt64) {
        nextHousekeepingNs = now + timers.housekeepingNs
        lastPruneNs = now
    }

    func housekeepingDue(now: UInt64) -> Bool { now >= nextHousekeepingNs }

    /// Housekeeping runs at `now`; returns whether it prunes this time (once an hour).
    mutating func housekeepingRuns(now: UInt64) -> Bool {
        nextHousekeepingNs = now + timers.housekeepingNs
        guard now - lastPruneNs > Self.pruneIntervalNs else { return false }
        lastPruneNs = now
        return true
    }

    /// Whether node.yaml is to be looked at now (every `configCheckNs`).
    mutating func configCheckDue(now: UInt64) -> Bool {
        guard now >= nextConfigCheckNs else { return false }
        nextConfigCheckNs = now + timers.configCheckNs
        return true
    }

    /// node.yaml's modification time is `modified` (nil: cannot be read): whether it changed since
    /// last read. A changed time counts as read (a file that fails to load is not read again until it changes).
    mutating func configChanged(modified: Date?) -> Bool {
        guard let modified, modified != configModified else { return false }
        configModified = modified
        return true
    }
}
