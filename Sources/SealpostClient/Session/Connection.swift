import SealpostCore
import Sodium
import ZeroMQ

/// A CURVE DEALER connection to a node. Not Sendable: one thread uses it.
public final class Connection {
    let context = Context()
    let socket: Socket
    /// The socket's handshakes and lost connections, as libzmq reports them.
    private let monitor: Monitor
    public let endpoint: String
    /// What is thrown while the node refuses this side's key at the handshake.
    private let refusal: String
    /// Whether the last handshake was refused (ZAP 400): no answer will come until one succeeds.
    public private(set) var isRefused = false
    /// Whether the connection is known to be down: lost, or a connect attempt failed, and no
    /// handshake succeeded since (libzmq keeps trying). False while nothing is known yet.
    public private(set) var isDown = false
    private var pending: [ConnectionEvent] = []

    /// Connects (asynchronously: libzmq retries in the background) to `endpoint`.
    /// - Parameter refusal: the message thrown by `receive` when the node refuses the key at the
    ///   handshake (it does: a ZAP 400 comes back as a CURVE ERROR), instead of waiting out a timeout.
    public init(endpoint: String, serverKey: [UInt8], curve: BoxKeyPair, refusal: String? = nil) throws {
        self.endpoint = endpoint
        self.refusal = refusal ?? "the node at \(endpoint) refused this key at the handshake"
        socket = try Socket(context, .dealer)
        var secret = curve.secretKey.copyBytes()
        defer { wipe(&secret) }
        do {
            // The context is this connection's own, so one name is unique in it.
            monitor = try Monitor(socket, context: context, name: "connection")
            try socket.makeCurveClient(serverKey: serverKey, publicKey: curve.publicKey, secretKey: secret)
            try socket.setOption(SocketOption.sendHWM, 100_000)
            try socket.setOption(SocketOption.receiveHWM, 100_000)
            try socket.setOption(SocketOption.reconnectInterval, 100)
            try socket.setOption(SocketOption.reconnectIntervalMax, 2_000)
            try socket.setHeartbeat(intervalMs: 5_000, timeoutMs: 15_000)
            try socket.connect(endpoint)
        } catch let error as ZMQError {
            throw ClientError.unreachable("cannot connect to \(endpoint): \(error.description)")
        }
    }

    /// Queues one command; false when the outgoing queue is full (try again after receiving).
    @discardableResult
    public func send(_ command: Command) throws -> Bool {
        try socket.send([command.encode()], dontWait: true)
    }

    /// The next command from the node, or nil after `timeoutMs` (0: do not wait) — or, with
    /// `orWritable`, as soon as the outgoing queue has room again (a sender whose `send` returned
    /// false waits for that instead of sleeping).
    /// Frames that do not decode are skipped: a node never sends them.
    /// - Throws: `ClientError.unreachable` with the `refusal` text while the node refuses the key.
    public func receive(timeoutMs: Int, orWritable: Bool = false) throws -> Command? {
        let deadline = Clock.monotonicNs() + UInt64(max(timeoutMs, 0)) * 1_000_000
        while true {
            if let message = try socket.receive(dontWait: true) {
                guard message.frames.count == 1, let command = try? Command.decode(message.frames[0]) else { continue }
                return command
            }
            try takeMonitorEvents()
            if isRefused { throw ClientError.unreachable(refusal) }
            let now = Clock.monotonicNs()
            if now >= deadline { return nil }
            let wait = Int((deadline - now) / 1_000_000) + 1
            let events = try poll([(.socket(socket), orWritable ? [.readable, .writable] : .readable),
                                   (monitor.pollTarget, .readable)], timeoutMs: wait)
            if orWritable, events[0].contains(.writable), !events[0].contains(.readable) { return nil }
        }
    }

    /// What happened to the connection since the last call, oldest first: lost, and
    /// established again (a long session says so at once, and asks the node again at once,
    /// instead of waiting for its next keep-alive).
    public func takeEvents() throws -> [ConnectionEvent] {
        try takeMonitorEvents()
        defer { pending.removeAll() }
        return pending
    }

    /// Whether the connection is known to be down now (see `isDown`), with the latest events read.
    public func knownDown() throws -> Bool {
        try takeMonitorEvents()
        return isDown
    }

    private func takeMonitorEvents() throws {
        while let event = try monitor.next() {
            switch event {
            case .handshakeSucceeded:
                isRefused = false
                isDown = false
                pending.append(.established)
            case .handshakeFailedAuth(let status):
                // 400: the key is not admitted. (300 would be a passing failure; libzmq sends no ERROR for it.)
                if status == 400 { isRefused = true }
            case .disconnected:
                isDown = true
                pending.append(.lost)
            case .connectRetried:
                isDown = true
            }
        }
        if pending.count > 64 { pending.removeFirst(pending.count - 64) }
    }

    /// For callers that poll this connection with other things (a terminal): its socket, and
    /// its monitor (so a lost or regained connection wakes them too).
    public var pollTargets: [PollTarget] { [.socket(socket), monitor.pollTarget] }

    /// Gives queued commands up to `ms` to leave before the socket closes.
    public func close(lingerMs: Int32 = 0) {
        guard !socket.isClosed else { return }
        try? socket.setOption(SocketOption.linger, lingerMs)
        socket.close()
        monitor.close()
    }
}

/// A change of a `Connection`'s link to its node.
public enum ConnectionEvent: Equatable, Sendable {
    /// The connection dropped (the node stopped, or the network went): libzmq keeps trying.
    case lost
    /// A handshake succeeded: first, or again after `lost`.
    case established
}
