/// The node's protocol timers (SPEC 11.3, 11.5, 14.3, 6.17). `standard` is what every
/// deployed node uses and what the SPEC states; `NodeConfig.timers` is never read from
/// `node.yaml`. Tests run real nodes with `fast` — the same logic on a shorter clock, so
/// a link that goes down is seen down in about a second instead of three to fifteen.
public struct NodeTimers: Sendable, Equatable {
    /// PEER-PING interval on an answered link, and HELLO interval on an unanswered one (11.3).
    public var pingNs: UInt64 = 1_000_000_000
    /// Silent this long: HELLO is asked again, in-flight RELAYs go back to the queue and the link
    /// shows `reconnecting` (11.3). (`unreachable` after 15 s, `stuck` after 20 s and the routes
    /// grace are still `PeerLink`'s own constants.)
    public var reconnectingAfterNs: UInt64 = 3_000_000_000
    /// HELLO unanswered (or no ROUTES on the SUB) this long: the DEALER (or SUB) is reopened (11.2).
    public var reopenAfterNs: UInt64 = 4_000_000_000
    /// How long refusals under 13.4 rule 2 stay undecided after the link was made.
    public var undecidedForNs: UInt64 = 5_000_000_000
    /// A peer's routes not re-announced for this long are dropped (11.5).
    public var routeStaleNs: UInt64 = 5_000_000_000
    /// ROUTES are announced this often.
    public var announceNs: UInt64 = 1_000_000_000
    /// SUMMARY is announced this often (15.5).
    public var summaryNs: UInt64 = 5_000_000_000
    /// The first RELAY retransmission waits this long; each next one twice as long, up to 30 times it.
    public var retransmitNs: UInt64 = 1_000_000_000
    /// A DIR-REQ to one home is sent again after this long (14.3).
    public var directoryRequestIntervalNs: UInt64 = 3_000_000_000
    /// A DIR-REQ unanswered this long is given up (its answer is then refused).
    public var directoryRequestTimeoutNs: UInt64 = 10_000_000_000
    /// Housekeeping (session timeouts, pruning) runs this often.
    public var housekeepingNs: UInt64 = 5_000_000_000
    /// A file pull with no chunk for this long asks again (7.8.6).
    public var pullTimeoutNs: UInt64 = 3_000_000_000
    /// `node.yaml` is looked at for peer changes this often.
    public var configCheckNs: UInt64 = 1_000_000_000
    /// The checkpointer copies the WAL back this often; a WAL over `limits.wal_max_mb` for
    /// `Checkpointer.oversizeRoundsBeforeTruncate` rounds in a row is truncated.
    public var checkpointNs: UInt64 = 1_000_000_000

    public init() {}

    /// What deployed nodes use (and SPEC states).
    public static let standard = NodeTimers()

    /// For tests on loopback: about a fifth of `standard`, with margins kept for a loaded
    /// 2-core machine (a debug reactor can stall for a few hundred milliseconds).
    public static let fast: NodeTimers = {
        var t = NodeTimers()
        t.pingNs = 100_000_000
        t.reconnectingAfterNs = 1_000_000_000
        t.reopenAfterNs = 1_500_000_000
        t.undecidedForNs = 1_500_000_000
        t.routeStaleNs = 2_000_000_000
        t.announceNs = 100_000_000
        t.summaryNs = 500_000_000
        t.retransmitNs = 250_000_000
        t.directoryRequestIntervalNs = 250_000_000
        t.directoryRequestTimeoutNs = 1_500_000_000
        t.housekeepingNs = 500_000_000
        t.pullTimeoutNs = 1_000_000_000
        t.configCheckNs = 100_000_000
        // Not below two storage checks (every 250 ms) a round: each round must see the WAL reported.
        t.checkpointNs = 500_000_000
        return t
    }()
}
