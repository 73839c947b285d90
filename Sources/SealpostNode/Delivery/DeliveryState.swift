/// Who is connected, which session of each user is attached, whose stored backlog is
/// to be pushed at the end of the cycle, whose pushes stalled on a full pipe, and how
/// many stored entries wait for each user: one owner for what the reactor used to keep
/// in five fields.
///
/// It keeps one rule: a user's attached session is the one in `attachedByUser`, and
/// only that session has `attached` set (attaching another clears the first). Pure
/// bookkeeping: the reactor sends, reads the mailbox and commits; it tells this type
/// what happened, with `now` where time matters.
struct DeliveryState {
    /// Every client connection on the ROUTER, by routing id.
    private(set) var sessions: [[UInt8]: Session] = [:]
    /// The attached session of each user (at most one: the last to ATTACH).
    private(set) var attachedByUser: [String: Session] = [:]
    /// Stored mailbox entries not yet acknowledged, per user (mirrors the mailbox table).
    private(set) var waiting: [String: Int]
    /// Sessions whose stored backlog is pushed when the cycle ends.
    private var toPump: Set<[UInt8]> = []
    /// Sessions whose last push met a full pipe: pushed again on the next loop.
    private var stalled: Set<[UInt8]> = []

    /// - Parameter waiting: the stored entries per user, from the database.
    init(waiting: [String: Int] = [:]) {
        self.waiting = waiting
    }

    // MARK: connections

    /// A command arrived on `routingId` from `principal`: its session, opened if new (or if
    /// the routing id now belongs to someone else).
    mutating func heard(routingId: [UInt8], principal: Principal, now: UInt64) -> Session {
        if let existing = sessions[routingId], existing.principal == principal {
            existing.lastHeardNs = now
            return existing
        }
        let session = Session(routingId: routingId, principal: principal, now: now)
        sessions[routingId] = session
        return session
    }

    /// The connection is gone (vanished, timed out, or revoked): forgotten, and detached.
    /// - Returns: its session, if it had one.
    @discardableResult
    mutating func drop(_ routingId: [UInt8]) -> Session? {
        guard let session = sessions.removeValue(forKey: routingId) else { return nil }
        if let user = session.user, attachedByUser[user] === session { attachedByUser[user] = nil }
        return session
    }

    /// Sessions not heard from for longer than `timeout`.
    func idle(now: UInt64, timeout: UInt64) -> [[UInt8]] {
        sessions.compactMap { now - $0.value.lastHeardNs > timeout ? $0.key : nil }
    }

    // MARK: attach and detach

    /// ATTACH: `session` becomes `user`'s attached session (another one of theirs is no longer
    /// attached) and everything it has not acknowledged is pushed again.
    mutating func attach(_ session: Session, user: String, window: Int) {
        precondition(session.user == user, "Invalid attach: the session belongs to \(session.user ?? "no user"), not \(user)")
        if let previous = attachedByUser[user], previous !== session { previous.detach() }
        session.attach(window: window)
        attachedByUser[user] = session
        toPump.insert(session.routingId)
    }

    /// DETACH: the session stays connected but gets no more pushes.
    mutating func detach(_ session: Session, user: String) {
        session.detach()
        if attachedByUser[user] === session { attachedByUser[user] = nil }
    }

    /// Whether `session` is its user's attached session (what PONG says).
    func isAttached(_ session: Session, user: String) -> Bool {
        session.attached && attachedByUser[user] === session
    }

    /// `user`'s attached session if every stored entry was pushed to it, so that new ones
    /// can go straight from memory.
    func caughtUpSession(of user: String) -> Session? {
        guard let session = attachedByUser[user], session.attached, session.caughtUp else { return nil }
        return session
    }

    /// The users with an attached session.
    var onlineUsers: Set<String> { Set(attachedByUser.compactMap { $0.value.attached ? $0.key : nil }) }

    // MARK: the mailbox

    /// An entry for `user` was stored in this cycle's transaction.
    mutating func stored(for user: String) {
        waiting[user, default: 0] += 1
    }

    /// The transaction that stored an entry for `user` was rolled back.
    mutating func storeRolledBack(for user: String) {
        waiting[user, default: 1] -= 1
    }

    /// ACK committed: `removed` entries of `user` are gone; the session's window opens again.
    mutating func acknowledged(_ session: Session, user: String, through seq: UInt64, removed: Int) {
        session.acknowledge(through: seq)
        toPump.insert(session.routingId)
        waiting[user, default: 0] -= removed
    }

    /// The user was removed with their mailbox.
    mutating func forgetWaiting(of user: String) {
        waiting[user] = nil
    }

    // MARK: pushes

    /// A push to `session` met a full pipe: tried again on the next loop, if it is still open.
    mutating func stall(_ session: Session) {
        if sessions[session.routingId] === session { stalled.insert(session.routingId) }
    }

    var hasStalled: Bool { !stalled.isEmpty }

    /// The sessions whose backlog is to be pushed now (each at most once), cleared.
    mutating func takePumps() -> [[UInt8]] {
        defer { toPump.removeAll(keepingCapacity: true) }
        return Array(toPump)
    }

    /// The sessions whose pushes stalled, cleared (a push that stalls again adds it back).
    mutating func takeStalled() -> [[UInt8]] {
        defer { stalled.removeAll() }
        return Array(stalled)
    }
}
