import SealpostCore

/// Who a connection authenticated as, from the `User-Id` the ZAP handler gave it.
enum Principal: Equatable {
    /// An enrolled user; `generation` is the node's auth generation at the handshake
    /// (Reactor+Users), not part of the identity.
    case user(String, generation: UInt64 = 0)
    case invite(String)
    /// A configured peer node.
    case node(String)
    /// The operator's admin key.
    case admin

    init?(userId: String?) {
        guard let userId else { return nil }
        if userId == "a:admin" { self = .admin; return }
        guard userId.count > 2 else { return nil }
        let value = String(userId.dropFirst(2))
        switch userId.prefix(2) {
        case "u:":
            // "u:NAME:GEN"; names never hold ':'.
            guard let colon = value.firstIndex(of: ":") else { self = .user(value); return }
            self = .user(String(value[..<colon]), generation: UInt64(value[value.index(after: colon)...]) ?? 0)
        case "i:": self = .invite(value)
        case "n:": self = .node(value)
        default: return nil
        }
    }

    var userId: String {
        switch self {
        case .user(let name, let generation): return "u:" + name + ":" + String(generation)
        case .invite(let id): return "i:" + id
        case .node(let name): return "n:" + name
        case .admin: return "a:admin"
        }
    }
}

/// One client connection on the ROUTER, keyed by its routing id.
///
/// Delivery state: the node pushes mailbox entries in seq order, at most `window`
/// unacknowledged; `lastSent` is the highest seq pushed, `acked` the client's
/// cumulative acknowledgement. `caughtUp` means every stored entry up to now was
/// pushed, so new ones can go straight from memory.
final class Session {
    let routingId: [UInt8]
    let principal: Principal
    var lastHeardNs: UInt64
    /// Set by ATTACH, cleared by DETACH or another ATTACH of the user (`DeliveryState`).
    private(set) var attached = false
    var window = 0
    var lastSent: UInt64 = 0
    var acked: UInt64 = 0
    var caughtUp = false
    var syncedSent = false
    /// Seqs pushed and not yet acknowledged, oldest first.
    private var inFlight: [UInt64] = []
    private var inFlightHead = 0

    init(routingId: [UInt8], principal: Principal, now: UInt64) {
        self.routingId = routingId
        self.principal = principal
        self.lastHeardNs = now
    }

    var user: String? {
        if case .user(let name, _) = principal { return name }
        return nil
    }

    var inFlightCount: Int { inFlight.count - inFlightHead }
    var room: Int { attached ? max(0, window - inFlightCount) : 0 }

    func attach(window: Int) {
        attached = true
        self.window = window
        // Everything not acknowledged is pushed again: the client drops what it already has.
        lastSent = acked
        inFlight.removeAll()
        inFlightHead = 0
        caughtUp = false
        syncedSent = false
    }

    func detach() {
        attached = false
    }

    func pushed(_ seq: UInt64) {
        inFlight.append(seq)
        lastSent = seq
    }

    func acknowledge(through seq: UInt64) {
        acked = max(acked, seq)
        while inFlightHead < inFlight.count, inFlight[inFlightHead] <= seq { inFlightHead += 1 }
        if inFlightHead > 1024, inFlightHead * 2 > inFlight.count {
            inFlight.removeFirst(inFlightHead)
            inFlightHead = 0
        }
    }

    /// A push failed (pipe full): resend from the last one that went out.
    func pushFailed(lastGood: UInt64) {
        lastSent = lastGood
        caughtUp = false
    }
}
