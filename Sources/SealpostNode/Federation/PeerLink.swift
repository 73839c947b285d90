import SealpostCore
import Sodium
import ZeroMQ

/// What an operator sees of a link.
enum LinkState: String {
    /// HELLO answered and pings answered recently.
    case connected
    /// It answers pings but has not acknowledged a relay for a long time while relays wait.
    case stuck
    /// Heard from before, silent for a few seconds: libzmq is reconnecting.
    case reconnecting
    /// Never answered, or silent for long.
    case unreachable
}

/// One configured neighbour: this node's DEALER to its ROUTER (our envelopes,
/// its acknowledgements) and SUB to its PUB (its announcements). Owned by the
/// reactor thread.
final class PeerLink {
    let config: PeerConfig
    private(set) var dealer: Socket
    private(set) var sub: Socket
    /// When the sockets were (re)opened.
    private(set) var openedNs: UInt64
    private(set) var subOpenedNs: UInt64

    static let pingIntervalNs: UInt64 = 1_000_000_000
    static let reconnectingAfterNs: UInt64 = 3_000_000_000
    static let unreachableAfterNs: UInt64 = 15_000_000_000
    static let stuckAfterNs: UInt64 = 20_000_000_000
    static let reopenAfterNs: UInt64 = 4_000_000_000
    static let maxCredit = 1000

    /// Set once the peer answered our HELLO since it was last silent.
    var helloAnswered = false
    /// When it last answered HELLO after a silence (the link came up).
    var upSinceNs: UInt64 = 0
    /// When its own DEALER last said HELLO on our ROUTER: it (re)started or reconnected, and may
    /// not know our routes yet even though our side of the link never went down.
    var peerHelloNs: UInt64 = 0
    var everHeard = false
    var lastHeardNs: UInt64 = 0
    var lastPingSentNs: UInt64 = 0
    var lastHelloSentNs: UInt64 = 0
    var rttNs: UInt64 = 0
    var signKey: [UInt8]?
    /// RELAYs the peer accepts unacknowledged (from its HELLO), capped.
    var credit = 0
    /// Journal ids sent and not yet acknowledged, with when they were last sent.
    var inFlight: [UInt64: UInt64] = [:]
    var lastAckNs: UInt64 = 0
    /// Its latest route announcement.
    var routesSeq: UInt64 = 0
    var routes: [RouteEntry] = []
    var routesHeardNs: UInt64 = 0
    /// When an announcement of the peer last listed a route to this node (it has heard our routes).
    var knowsUsSinceNs: UInt64 = 0

    init(context: Context, config: PeerConfig, keys: NodeKeys) throws {
        self.config = config
        (dealer, sub) = try Self.open(context: context, config: config, keys: keys)
        openedNs = Clock.monotonicNs()
        subOpenedNs = openedNs
    }

    /// Opens the SUB again when the peer answers but its announcements never
    /// arrive (its PUB refused our key before it knew it).
    func reopenSubscription(context: Context, keys: NodeKeys) throws {
        sub.close()
        sub = try Self.subscriber(context: context, config: config, keys: keys)
        subOpenedNs = Clock.monotonicNs()
    }

    /// Closes and opens both sockets again. libzmq does not retry a CURVE
    /// handshake the peer refused (it did not know our key yet), so a link that
    /// stays unanswered is rebuilt from time to time.
    func reopen(context: Context, keys: NodeKeys) throws {
        dealer.close()
        sub.close()
        (dealer, sub) = try Self.open(context: context, config: config, keys: keys)
        openedNs = Clock.monotonicNs()
        subOpenedNs = openedNs
    }

    private static func subscriber(context: Context, config: PeerConfig, keys: NodeKeys) throws -> Socket {
        let sub = try Socket(context, .sub)
        var secret = keys.curve.secretKey.copyBytes()
        defer { wipe(&secret) }
        try configure(sub, config: config, keys: keys, secret: secret)
        try sub.subscribe()
        try sub.connect(config.publish)
        return sub
    }

    private static func configure(_ socket: Socket, config: PeerConfig, keys: NodeKeys, secret: [UInt8]) throws {
        try socket.makeCurveClient(serverKey: config.keyBytes, publicKey: keys.curve.publicKey, secretKey: secret)
        try socket.setOption(SocketOption.maxMessageSize, int64: PeerCommand.maxFrameBytes)
        try socket.setOption(SocketOption.reconnectInterval, 100)
        try socket.setOption(SocketOption.reconnectIntervalMax, 2_000)
        try socket.setHeartbeat(intervalMs: 2_000, timeoutMs: 10_000)
    }

    private static func open(context: Context, config: PeerConfig, keys: NodeKeys) throws -> (Socket, Socket) {
        let dealer = try Socket(context, .dealer)
        var secret = keys.curve.secretKey.copyBytes()
        defer { wipe(&secret) }
        try configure(dealer, config: config, keys: keys, secret: secret)
        // Queue nothing for a peer that is not connected; the journal keeps it.
        try dealer.setOption(SocketOption.immediate, 1)
        try dealer.setOption(SocketOption.sendHWM, 10_000)
        try dealer.connect(config.router)
        return (dealer, try subscriber(context: context, config: config, keys: keys))
    }

    var name: String { config.name }

    func state(now: UInt64, waiting: Bool) -> LinkState {
        guard everHeard else { return .unreachable }
        let silent = now &- lastHeardNs
        if silent > Self.unreachableAfterNs { return .unreachable }
        if silent > Self.reconnectingAfterNs || !helloAnswered { return .reconnecting }
        if waiting, !inFlight.isEmpty, now &- lastAckNs > Self.stuckAfterNs { return .stuck }
        return .connected
    }

    /// Usable for relays: the peer answered HELLO and was heard recently.
    func isUp(now: UInt64) -> Bool {
        helloAnswered && now &- lastHeardNs <= Self.reconnectingAfterNs
    }

    var room: Int { max(0, min(credit, Self.maxCredit) - inFlight.count) }

    /// How long relays wait, after the link came up, for the peer to show it knows our routes.
    static let routesGraceNs: UInt64 = 2_000_000_000

    /// Whether to hand the peer relays now. A peer that just restarted does not know our
    /// routes yet and would refuse what we relay for other origins (SPEC 13.4 rule 2). Its
    /// own announcement shows when it has heard ours: it then has a route to us. A short
    /// grace lets relays go if that never shows (its subscription to us is broken).
    func readyForRelays(now: UInt64) -> Bool {
        let since = max(upSinceNs, peerHelloNs)
        return knowsUsSinceNs >= since || now &- since > Self.routesGraceNs
    }

    /// RELAYs refused under SPEC 13.4 rule 2 before this node heard the peer's first
    /// announcement, by origin: right after our own start that is the peer resending, not
    /// misbehaving. Decided when its routes arrive (or after `undecidedForNs`), then counted
    /// as rejected only for origins it still does not route for.
    var undecidedRefusals: [String: Int] = [:]
    static let undecidedForNs: UInt64 = 5_000_000_000
    static let maxUndecidedOrigins = 256
    let createdNs = Clock.monotonicNs()

    func heard(now: UInt64) {
        lastHeardNs = now
        everHeard = true
    }

    func close() {
        dealer.close()
        sub.close()
    }
}
