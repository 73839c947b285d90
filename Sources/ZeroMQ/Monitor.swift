import CZeroMQ

/// What libzmq tells of one socket's connections (`zmq_socket_monitor`), read from an inproc
/// PAIR socket of the same context. Not Sendable: the thread that owns the socket uses it.
public final class Monitor {
    /// One event of the monitored socket.
    public enum Event: Equatable, Sendable {
        /// A connection's handshake completed (CURVE keys accepted): the peer can be talked to.
        case handshakeSucceeded
        /// The peer refused this side at the handshake; `status` is the ZAP status code it sent
        /// (400: the key is not admitted).
        case handshakeFailedAuth(status: UInt32)
        /// A connection was lost (the peer closed it or went away); libzmq reconnects by itself.
        case disconnected
        /// A connect attempt failed (nothing listens there now); libzmq tries again by itself.
        case connectRetried
    }

    /// The events this monitor asks libzmq for.
    static let watched = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED
        | ZMQ_EVENT_CONNECT_RETRIED

    private let pair: Socket

    /// Starts monitoring `socket` (before it connects, so no event is missed).
    /// - Parameter name: unique within `context`: the inproc endpoint is `inproc://monitor.NAME`.
    public init(_ socket: Socket, context: Context, name: String) throws {
        let endpoint = "inproc://monitor.\(name)"
        guard zmq_socket_monitor(socket.raw, endpoint, Self.watched) == 0 else { throw ZMQError.last() }
        pair = try Socket(context, .pair)
        try pair.connect(endpoint)
    }

    /// For callers that poll the monitor with other things.
    public var pollTarget: PollTarget { .socket(pair) }

    /// The next event that has happened, or nil when there is none now.
    public func next() throws -> Event? {
        while let message = try pair.receive(dontWait: true) {
            // Frame 1: the event (16 bits) and its value (32 bits), native byte order; frame 2: the endpoint.
            guard let head = message.frames.first, head.count >= 6 else { continue }
            let event = head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt16.self) }
            let value = head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
            switch Int32(event) {
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return .handshakeSucceeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return .handshakeFailedAuth(status: value)
            case ZMQ_EVENT_DISCONNECTED: return .disconnected
            case ZMQ_EVENT_CONNECT_RETRIED: return .connectRetried
            default: continue
            }
        }
        return nil
    }

    /// Closes the reading side (the monitored socket's close ends the monitor itself).
    public func close() { pair.close() }
}
