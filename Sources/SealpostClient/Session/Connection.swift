import SealpostCore
import Sodium
import ZeroMQ

/// A CURVE DEALER connection to a node. Not Sendable: one thread uses it.
public final class Connection {
    let context = Context()
    let socket: Socket
    public let endpoint: String

    /// Connects (asynchronously: libzmq retries in the background) to `endpoint`.
    public init(endpoint: String, serverKey: [UInt8], curve: BoxKeyPair) throws {
        self.endpoint = endpoint
        socket = try Socket(context, .dealer)
        var secret = curve.secretKey.copyBytes()
        defer { wipe(&secret) }
        do {
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
    public func receive(timeoutMs: Int, orWritable: Bool = false) throws -> Command? {
        let deadline = Clock.monotonicNs() + UInt64(max(timeoutMs, 0)) * 1_000_000
        while true {
            if let message = try socket.receive(dontWait: true) {
                guard message.frames.count == 1, let command = try? Command.decode(message.frames[0]) else { continue }
                return command
            }
            let now = Clock.monotonicNs()
            if now >= deadline { return nil }
            let wait = Int((deadline - now) / 1_000_000) + 1
            let events = try poll([(.socket(socket), orWritable ? [.readable, .writable] : .readable)], timeoutMs: wait)
            if orWritable, events[0].contains(.writable), !events[0].contains(.readable) { return nil }
        }
    }

    /// For callers that poll this connection with other things (a terminal).
    public var pollTarget: PollTarget { .socket(socket) }

    /// Gives queued commands up to `ms` to leave before the socket closes.
    public func close(lingerMs: Int32 = 0) {
        guard !socket.isClosed else { return }
        try? socket.setOption(SocketOption.linger, lingerMs)
        socket.close()
    }
}
