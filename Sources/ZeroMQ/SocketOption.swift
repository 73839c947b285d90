import CZeroMQ

/// The libzmq socket options Sealpost sets, so callers need not import the C module.
public enum SocketOption {
    public static let sendHWM = ZMQ_SNDHWM
    public static let receiveHWM = ZMQ_RCVHWM
    public static let linger = ZMQ_LINGER
    public static let reconnectInterval = ZMQ_RECONNECT_IVL
    public static let reconnectIntervalMax = ZMQ_RECONNECT_IVL_MAX
    public static let routerMandatory = ZMQ_ROUTER_MANDATORY
    public static let maxMessageSize = ZMQ_MAXMSGSIZE
    public static let immediate = ZMQ_IMMEDIATE
    public static let routingId = ZMQ_ROUTING_ID
    public static let sendTimeout = ZMQ_SNDTIMEO
    public static let handshakeInterval = ZMQ_HANDSHAKE_IVL
    public static let curveServer = ZMQ_CURVE_SERVER
    public static let curveSecretKey = ZMQ_CURVE_SECRETKEY
}
