import CZeroMQ

/// A libzmq error with the text libzmq gives for it.
public struct ZMQError: Error, CustomStringConvertible, Equatable {
    public let code: Int32
    public let description: String

    init(code: Int32) {
        self.code = code
        self.description = String(cString: zmq_strerror(code))
    }

    static func last() -> ZMQError { ZMQError(code: zmq_errno()) }

    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    public var isAgain: Bool { code == EAGAIN }
}

/// A ZeroMQ context. Owned by the thread that owns its sockets.
///
/// Sockets keep their context alive, so a context is terminated only after the
/// last socket made from it was closed (an early `zmq_ctx_term` would hang).
public final class Context {
    let handle: UnsafeMutableRawPointer

    public init() {
        guard let handle = zmq_ctx_new() else { fatalError("zmq_ctx_new failed: \(ZMQError.last())") }
        self.handle = handle
    }

    /// A context with `ioThreads` I/O threads (libzmq spreads connections over them by load),
    /// so bulk traffic on one connection does not queue the others' frames behind it.
    public convenience init(ioThreads: Int32) {
        self.init()
        _ = zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
    }

    deinit { _ = zmq_ctx_term(handle) }

    /// Whether this libzmq was built with CURVE support.
    public static var hasCurve: Bool { zmq_has("curve") != 0 }

    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

/// The socket types Sealpost uses.
public enum SocketType: Int32, Sendable {
    case pair = 0, pub = 1, sub = 2, req = 3, rep = 4, dealer = 5, router = 6
}

/// One received multipart message: its frames, and the `User-Id` the ZAP handler
/// gave the peer that sent it (nil when the socket has no authentication).
public struct Message: Sendable {
    public var frames: [[UInt8]]
    public var userId: String?

    public init(frames: [[UInt8]], userId: String? = nil) {
        self.frames = frames
        self.userId = userId
    }
}

/// A ZeroMQ socket. Not Sendable: the thread that made it uses and closes it.
public final class Socket {
    private let context: Context
    private var handle: UnsafeMutableRawPointer?

    public init(_ context: Context, _ type: SocketType) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else { throw ZMQError.last() }
        self.context = context
        self.handle = handle
        // Never let close block on unsent messages: reliability is ours (journal + acks).
        try setOption(ZMQ_LINGER, 0)
    }

    deinit { close() }

    public func close() {
        if let handle { _ = zmq_close(handle) }
        handle = nil
    }

    public var isClosed: Bool { handle == nil }

    var raw: UnsafeMutableRawPointer {
        guard let handle else { preconditionFailure("socket used after close") }
        return handle
    }

    // MARK: options

    public func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(raw, option, &v, MemoryLayout<Int32>.size) == 0 else { throw ZMQError.last() }
    }

    public func setOption(_ option: Int32, int64 value: Int64) throws {
        var v = value
        guard zmq_setsockopt(raw, option, &v, MemoryLayout<Int64>.size) == 0 else { throw ZMQError.last() }
    }

    public func setOption(_ option: Int32, bytes: [UInt8]) throws {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(raw, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last() }
    }

    public func setOption(_ option: Int32, _ value: String) throws {
        try setOption(option, bytes: Array(value.utf8))
    }

    public func getInt(_ option: Int32) throws -> Int32 {
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard zmq_getsockopt(raw, option, &v, &size) == 0 else { throw ZMQError.last() }
        return v
    }

    /// The endpoint the socket last bound to, with the real port after binding `:*`.
    public func lastEndpoint() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        var size = buffer.count
        let rc = buffer.withUnsafeMutableBytes { zmq_getsockopt(raw, ZMQ_LAST_ENDPOINT, $0.baseAddress, &size) }
        guard rc == 0 else { throw ZMQError.last() }
        let end = buffer.firstIndex(of: 0) ?? min(size, buffer.count)
        return String(decoding: buffer[..<end], as: UTF8.self)
    }

    /// Makes this socket a CURVE server with the given 32-byte secret key.
    public func makeCurveServer(secretKey: [UInt8], zapDomain: String) throws {
        precondition(secretKey.count == 32)
        try setOption(ZMQ_ZAP_DOMAIN, zapDomain)
        try setOption(ZMQ_ZAP_ENFORCE_DOMAIN, 1)
        try setOption(ZMQ_CURVE_SERVER, 1)
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secretKey)
    }

    /// Makes this socket a CURVE client of the server with `serverKey`.
    public func makeCurveClient(serverKey: [UInt8], publicKey: [UInt8], secretKey: [UInt8]) throws {
        precondition(serverKey.count == 32 && publicKey.count == 32 && secretKey.count == 32)
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: serverKey)
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: publicKey)
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secretKey)
    }

    /// ZMTP heartbeats: ping every `interval` ms, drop the peer after `timeout` ms of silence.
    public func setHeartbeat(intervalMs: Int32, timeoutMs: Int32) throws {
        try setOption(ZMQ_HEARTBEAT_IVL, intervalMs)
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeoutMs)
        try setOption(ZMQ_HEARTBEAT_TTL, timeoutMs)
    }

    // MARK: connect

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(raw, endpoint) == 0 else { throw ZMQError.last() }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(raw, endpoint) == 0 else { throw ZMQError.last() }
    }

    public func disconnect(_ endpoint: String) throws {
        guard zmq_disconnect(raw, endpoint) == 0 else { throw ZMQError.last() }
    }

    public func subscribe(_ prefix: [UInt8] = []) throws {
        try setOption(ZMQ_SUBSCRIBE, bytes: prefix)
    }

    // MARK: send / receive

    /// Sends one multipart message.
    /// - Returns: false when the message could not be queued now (EAGAIN with `dontWait`).
    /// - Throws: `ZMQError` for anything else, e.g. EHOSTUNREACH on a ROUTER with
    ///   `ROUTER_MANDATORY` when the routing id is gone.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = true) throws -> Bool {
        precondition(!frames.isEmpty)
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            let rc = frame.withUnsafeBytes { zmq_send(raw, $0.baseAddress, $0.count, flags) }
            if rc < 0 {
                let error = ZMQError.last()
                // libzmq queues a multipart message atomically: EAGAIN can only happen on the first frame.
                if error.isAgain && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives one multipart message, or nil when none is waiting and `dontWait` is set.
    public func receive(dontWait: Bool = true) throws -> Message? {
        var frames: [[UInt8]] = []
        var userId: String?
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        while true {
            let rc = zmq_msg_recv(&msg, raw, dontWait ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                let error = ZMQError.last()
                if error.isAgain && frames.isEmpty { return nil }
                if error.code == EINTR && frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(&msg)
            if let data = zmq_msg_data(&msg), size > 0 {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            // ROUTER's routing-id frame carries no metadata: read it from the frames the peer sent.
            if userId == nil, let value = zmq_msg_gets(&msg, "User-Id") {
                userId = String(cString: value)
            }
            if zmq_msg_more(&msg) == 0 { break }
        }
        return Message(frames: frames, userId: userId)
    }
}
