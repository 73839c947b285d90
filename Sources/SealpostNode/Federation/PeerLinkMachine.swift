/// The life of one peer link as this node sees it (protocol/SPEC.md 11.2): whether the
/// peer answered our HELLO, when to say HELLO again, when to ping, when to rebuild the
/// sockets, and whether relays may go to it yet.
///
/// Pure logic: every event carries `now` (monotonic nanoseconds) and the machine does no
/// I/O. `PeerLink` owns the sockets and this machine; the reactor feeds it what it hears
/// and performs the actions `tick` returns.
struct PeerLinkMachine {
    enum State: Equatable {
        /// Nothing heard since the link was made: HELLO every second, sockets rebuilt every 4 s.
        case connecting
        /// Heard from (last at `lastHeard`) but HELLO not answered: not yet, or not again after a
        /// silence, or its answer's transaction was rolled back. HELLO every second.
        case awaitingHello(lastHeard: UInt64)
        /// HELLO answered at `since` and not silent since; pinged every second.
        case up(since: UInt64, lastHeard: UInt64)
    }

    /// What the reactor does for the link, in this order.
    enum Action: Equatable {
        /// The link went down after a silence: put its unacknowledged relays back in the
        /// journal (they are sent again when it answers), say so, recompute routes.
        case linkSilent
        /// The peer answered HELLO: resend the whole window (what was in flight may have died
        /// with the connection), recompute routes, announce ours now.
        case linkUp
        /// Close and open both sockets (libzmq never retries a CURVE handshake the peer
        /// refused before it knew our key); then `socketsOpened(now:)`.
        case reopenSockets
        /// Send HELLO on the DEALER.
        case sendHello
        /// Close and open the SUB (the peer answers but its announcements never arrive: its
        /// PUB refused our key before it knew it); then `subscriptionOpened(now:)`.
        case reopenSubscription
        /// Send PING(now) on the DEALER.
        case sendPing
    }

    static let pingIntervalNs: UInt64 = 1_000_000_000
    static let reconnectingAfterNs: UInt64 = 3_000_000_000
    static let unreachableAfterNs: UInt64 = 15_000_000_000
    static let stuckAfterNs: UInt64 = 20_000_000_000
    static let reopenAfterNs: UInt64 = 4_000_000_000
    /// How long relays wait, after the link came up, for the peer to show it knows our routes.
    static let routesGraceNs: UInt64 = 2_000_000_000
    /// An announcement older than this is dropped: the peer's routes are not used any more.
    static let routesStaleNs: UInt64 = 5_000_000_000
    /// How long after the link was made refusals under SPEC 13.4 rule 2 wait for the peer's
    /// first announcement before they are counted.
    static let undecidedForNs: UInt64 = 5_000_000_000

    private(set) var state: State = .connecting
    /// When the link was made (the reactor started, or the peer was added).
    private let createdAt: UInt64
    /// When the DEALER and SUB were last (re)opened.
    private var openedAt: UInt64
    private var subscriptionOpenedAt: UInt64
    private var helloSentAt: UInt64 = 0
    private var pingSentAt: UInt64 = 0
    /// When the peer's own DEALER last said HELLO on our ROUTER: it (re)started or reconnected,
    /// and may not know our routes yet even though our side of the link never went down.
    private var peerHelloAt: UInt64 = 0
    /// When its latest announcement arrived (0: none yet).
    private var routesHeardAt: UInt64 = 0
    /// When an announcement of the peer last listed a route to this node (it has heard ours).
    private var knowsUsSince: UInt64 = 0

    /// Its ping, reconnecting, reopen, route-staleness and undecided-refusal times (`standard`
    /// is the constants above; tests run nodes with `NodeTimers.fast`).
    private let timers: NodeTimers

    /// A link whose sockets were just opened.
    init(now: UInt64, timers: NodeTimers = .standard) {
        self.timers = timers
        createdAt = now
        openedAt = now
        subscriptionOpenedAt = now
    }

    // MARK: events

    /// Something valid arrived on the DEALER.
    mutating func heard(now: UInt64) {
        switch state {
        case .connecting, .awaitingHello:
            state = .awaitingHello(lastHeard: now)
        case .up(let since, _):
            state = .up(since: since, lastHeard: now)
        }
    }

    /// The peer answered our HELLO (on the DEALER, after `heard`).
    /// - Returns: `[.linkUp]` if this brought the link up, else nothing.
    mutating func helloAnswered(now: UInt64) -> [Action] {
        switch state {
        case .connecting:
            preconditionFailure("Invalid state: a HELLO answer before anything was heard on the link")
        case .awaitingHello(let lastHeard):
            state = .up(since: now, lastHeard: lastHeard)
            return [.linkUp]
        case .up:
            return []
        }
    }

    /// The transaction that recorded a HELLO was rolled back: the link asks again, so what the
    /// HELLO carried is heard again. (The window is resent when it is answered.)
    mutating func helloRolledBack() {
        switch state {
        case .connecting, .awaitingHello:
            return
        case .up(_, let lastHeard):
            state = .awaitingHello(lastHeard: lastHeard)
        }
    }

    /// The peer's DEALER said HELLO on our ROUTER: it has this node in its configuration now.
    /// - Returns: `[.reopenSockets]` when our own sockets have heard nothing since they were opened
    ///   at least a HELLO interval ago: our handshake was refused before the peer knew our key, and
    ///   libzmq does not retry it. They are reopened at once, not `reopenAfterNs` after they were opened.
    mutating func peerSaidHello(now: UInt64) -> [Action] {
        peerHelloAt = now
        if case .up = state { return [] }
        guard (lastHeard ?? 0) < openedAt, now &- openedAt >= timers.pingNs else { return [] }
        return [.reopenSockets]
    }

    /// The peer's route announcement was taken.
    /// - Parameter listsUs: it has a route to this node (it has heard our announcements).
    mutating func routesHeard(now: UInt64, listsUs: Bool) {
        routesHeardAt = now
        if listsUs { knowsUsSince = now }
    }

    /// Both sockets were opened again (after `.reopenSockets`).
    mutating func socketsOpened(now: UInt64) {
        openedAt = now
        subscriptionOpenedAt = now
    }

    /// The SUB was opened again (after `.reopenSubscription`).
    mutating func subscriptionOpened(now: UInt64) {
        subscriptionOpenedAt = now
    }

    /// The federation timer (every 100 ms): silence, HELLOs, reopens, pings.
    mutating func tick(now: UInt64) -> [Action] {
        var actions: [Action] = []
        if case .up(_, let lastHeard) = state, now &- lastHeard > timers.reconnectingAfterNs {
            // Silent: the peer may have restarted. Asked again; the window is resent when it answers.
            state = .awaitingHello(lastHeard: lastHeard)
            actions.append(.linkSilent)
        }
        switch state {
        case .connecting, .awaitingHello:
            let silentSince = lastHeard ?? 0
            if now &- openedAt > timers.reopenAfterNs && now &- silentSince > timers.reopenAfterNs {
                actions.append(.reopenSockets)
            }
            if now &- helloSentAt >= timers.pingNs {
                helloSentAt = now
                actions.append(.sendHello)
            }
        case .up:
            if now &- max(routesHeardAt, subscriptionOpenedAt) > timers.reopenAfterNs {
                actions.append(.reopenSubscription)
            }
            if now &- pingSentAt >= timers.pingNs {
                pingSentAt = now
                actions.append(.sendPing)
            }
        }
        return actions
    }

    // MARK: queries

    /// When anything was last heard on the DEALER (nil: never).
    var lastHeard: UInt64? {
        switch state {
        case .connecting: return nil
        case .awaitingHello(let lastHeard), .up(_, let lastHeard): return lastHeard
        }
    }

    /// Usable for relays: the peer answered HELLO and was heard recently.
    func isUp(now: UInt64) -> Bool {
        guard case .up(_, let lastHeard) = state else { return false }
        return now &- lastHeard <= timers.reconnectingAfterNs
    }

    /// Whether to hand the peer relays now (the link is up). A peer that just restarted does
    /// not know our routes yet and would refuse what we relay for other origins (SPEC 13.4
    /// rule 2). Its own announcement shows when it has heard ours: it then has a route to us.
    /// A short grace lets relays go if that never shows (its subscription to us is broken).
    func readyForRelays(now: UInt64) -> Bool {
        guard case .up(let upSince, _) = state else { return false }
        let since = max(upSince, peerHelloAt)
        return knowsUsSince >= since || now &- since > Self.routesGraceNs
    }

    /// What an operator sees.
    /// - Parameter waitingSince: since when relays have waited for an acknowledgement (nil: none wait).
    func linkState(now: UInt64, waitingSince: UInt64?) -> LinkState {
        guard let lastHeard else { return .unreachable }
        let silent = now &- lastHeard
        if silent > Self.unreachableAfterNs { return .unreachable }
        guard case .up = state, silent <= timers.reconnectingAfterNs else { return .reconnecting }
        if let waitingSince, now &- waitingSince > Self.stuckAfterNs { return .stuck }
        return .connected
    }

    /// The peer's announcement is older than `routesStaleNs`: its routes are dropped.
    func routesStale(now: UInt64) -> Bool {
        routesHeardAt != 0 && now &- routesHeardAt > timers.routeStaleNs
    }

    /// Whether a refusal under SPEC 13.4 rule 2 is held, undecided: the peer's routes are not
    /// known yet and the link is young (this node just started: that is the peer resending).
    func holdsRefusals(now: UInt64) -> Bool {
        routesHeardAt == 0 && !refusalsDue(now: now)
    }

    /// Held refusals are decided now even without an announcement.
    func refusalsDue(now: UInt64) -> Bool {
        now &- createdAt >= timers.undecidedForNs
    }
}
