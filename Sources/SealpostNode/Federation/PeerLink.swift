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
    /// Liveness: HELLO, silence, reopens, pings and the gate for relays. The reactor feeds
    /// it what the link hears and performs what its `tick` returns.
    var machine: PeerLinkMachine

    static let maxCredit = 1000

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

    init(context: Context, config: PeerConfig, keys: NodeKeys, timers: NodeTimers = .standard, now: UInt64) throws {
        self.config = config
        (dealer, sub) = try Self.open(context: context, config: config, keys: keys)
        machine = PeerLinkMachine(now: now, timers: timers)
    }

    /// Opens the SUB again when the peer answers but its announcements never
    /// arrive (its PUB refused our key before it knew it).
    func reopenSubscription(context: Context, keys: NodeKeys, now: UInt64) throws {
        sub.close()
        sub = try Self.subscriber(context: context, config: config, keys: keys)
        machine.subscriptionOpened(now: now)
    }

    /// Closes and opens both sockets again. libzmq does not retry a CURVE
    /// handshake the peer refused (it did not know our key yet), so a link that
    /// stays unanswered is rebuilt from time to time.
    func reopen(context: Context, keys: NodeKeys, now: UInt64) throws {
        dealer.close()
        sub.close()
        (dealer, sub) = try Self.open(context: context, config: config, keys: keys)
        machine.socketsOpened(now: now)
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
        machine.linkState(now: now, waitingSince: waiting && !inFlight.isEmpty ? lastAckNs : nil)
    }

    /// Usable for relays: the peer answered HELLO and was heard recently.
    func isUp(now: UInt64) -> Bool { machine.isUp(now: now) }

    var room: Int { max(0, min(credit, Self.maxCredit) - inFlight.count) }

    /// Whether to hand the peer relays now (`PeerLinkMachine.readyForRelays`).
    func readyForRelays(now: UInt64) -> Bool { machine.readyForRelays(now: now) }

    /// RELAYs refused under SPEC 13.4 rule 2 before this node heard the peer's first
    /// announcement, by origin: right after our own start that is the peer resending, not
    /// misbehaving. Decided when its routes arrive (or after `PeerLinkMachine.undecidedForNs`), then counted
    /// as rejected only for origins it still does not route for.
    var undecidedRefusals: [String: Int] = [:]
    static let maxUndecidedOrigins = 256

    func close() {
        dealer.close()
        sub.close()
    }
}
