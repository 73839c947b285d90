import Logging
import SealpostCore
import Sodium
import ZeroMQ

/// The node's event loop. Made, run and closed on the node's own thread: it owns
/// every socket and the database connection, so it needs no locks.
///
/// One cycle: poll → read a batch from the ROUTER → apply its writes inside one
/// transaction → commit → only then send the acknowledgements and deliveries the
/// batch produced (group commit). Nothing is acknowledged before it is durable.
final class Reactor {
    static let zapDomain = "sealpost"
    static let batchLimit = 2048
    static let maxWindow = 4096
    static let sessionTimeoutNs: UInt64 = 30_000_000_000
    static let housekeepingIntervalNs: UInt64 = 5_000_000_000

    let config: NodeConfig
    let keys: NodeKeys
    let control: NodeControl
    var logger: Logger

    let context: Context
    let zap: Socket
    let router: Socket
    let publisher: Socket
    let store: NodeStore
    let checkpointer: Checkpointer

    private(set) var routerEndpoint = ""
    private(set) var publishEndpoint = ""

    var sessions: [[UInt8]: Session] = [:]
    var attachedByUser: [String: Session] = [:]
    var usersByCurveKey: [[UInt8]: String] = [:]
    var usersByName: [String: UserRecord] = [:]
    var nextSeq: UInt64 = 1
    var counters = NodeCounters()

    // Group commit state of the current cycle.
    private var inTransaction = false
    /// A statement of this cycle failed: the whole batch is rolled back, nothing of it acknowledged.
    private var batchFailed = false
    /// Sessions whose push hit a full pipe: retried on the next short timeout.
    private var stalled: Set<[UInt8]> = []
    private var outbox: [([UInt8], Command)] = []
    private var onCommit: [() -> Void] = []
    /// New mailbox entries of this cycle, per recipient, in seq order.
    private var fresh: [String: [(UInt64, Envelope)]] = [:]
    private var needsPump: Set<[UInt8]> = []
    private var nextHousekeepingNs: UInt64 = 0
    private var lastPruneNs: UInt64 = 0

    init(dataDir: DataDir, config: NodeConfig, keys: NodeKeys, control: NodeControl, logger: Logger) throws {
        self.config = config
        self.keys = keys
        self.control = control
        self.logger = logger
        self.store = try NodeStore(path: dataDir.databasePath)
        try store.disableAutoCheckpoint()
        checkpointer = Checkpointer(path: dataDir.databasePath, logger: logger)
        context = Context()
        // The ZAP handler must exist before any CURVE server socket accepts a
        // handshake: libzmq 4.3.4 admits every key when no handler answers.
        zap = try Socket(context, .rep)
        try zap.bind("inproc://zeromq.zap.01")
        router = try Socket(context, .router)
        publisher = try Socket(context, .pub)

        for user in try store.users() {
            usersByCurveKey[user.curveKey] = user.name
            usersByName[user.name] = user
        }
        // DELIVERs of the last cycle before a crash may have carried seqs that were
        // never committed; skip past every seq such a cycle could have used.
        nextSeq = max(try store.meta("next_seq").map { UInt64($0) } ?? 1, try store.maxMailboxSeq() + 1) + UInt64(Self.batchLimit)

        var secret = keys.curve.secretKey.copyBytes()
        defer { wipe(&secret) }
        do {
            try router.setOption(SocketOption.routerMandatory, 1)
            try router.setOption(SocketOption.maxMessageSize, int64: Command.maxFrameBytes)
            try router.setOption(SocketOption.sendHWM, 100_000)
            try router.setOption(SocketOption.receiveHWM, 100_000)
            try router.setHeartbeat(intervalMs: 5_000, timeoutMs: 30_000)
            try router.makeCurveServer(secretKey: secret, zapDomain: Self.zapDomain)
            try router.bind(config.listen)
            routerEndpoint = try router.lastEndpoint()
        } catch let error as ZMQError {
            throw NodeError.bind("cannot listen on \(config.listen): \(error.description)")
        }
        do {
            try publisher.makeCurveServer(secretKey: secret, zapDomain: Self.zapDomain)
            try publisher.bind(config.publish)
            publishEndpoint = try publisher.lastEndpoint()
        } catch let error as ZMQError {
            throw NodeError.bind("cannot publish on \(config.publish): \(error.description)")
        }
        self.logger[metadataKey: "node"] = "\(config.name)"
    }

    var address: (String) -> String { { "\($0)@\(self.config.name)" } }

    // MARK: loop

    func run() {
        logger.info("node running", metadata: ["router": "\(routerEndpoint)", "publish": "\(publishEndpoint)",
                                               "users": "\(usersByName.count)"])
        nextHousekeepingNs = Clock.monotonicNs() + Self.housekeepingIntervalNs
        lastPruneNs = Clock.monotonicNs()
        while !control.stopRequested {
            let now = Clock.monotonicNs()
            var timeoutMs = now >= nextHousekeepingNs ? 0 : Int((nextHousekeepingNs - now) / 1_000_000) + 1
            if !stalled.isEmpty { timeoutMs = min(timeoutMs, 10) }
            let events: [PollEvents]
            do {
                events = try poll([(.socket(zap), .readable), (.socket(router), .readable), (.fd(control.wakeup.fd), .readable)],
                                  timeoutMs: timeoutMs)
            } catch {
                logger.critical("poll failed: \(error)")
                break
            }
            if events[2].contains(.readable) { control.wakeup.drain() }
            if events[0].contains(.readable) { serveZap() }
            if events[1].contains(.readable) { readRouter() }
            if !stalled.isEmpty { retryStalled() }
            if Clock.monotonicNs() >= nextHousekeepingNs { housekeeping() }
        }
        logger.info("node stopping")
        shutdown()
    }

    private func shutdown() {
        for session in sessions.values where session.attached {
            _ = try? router.send([session.routingId, Command.error(code: ErrorCode.unavailable.rawValue, ref: .zero,
                                                                   reason: "node shutting down").encode()])
        }
        checkpointer.stop()
        try? store.checkpoint()
        router.close()
        publisher.close()
        zap.close()
        store.close()
    }

    // MARK: ZAP (RFC 27)

    private func serveZap() {
        while let message = try? zap.receive(dontWait: true) {
            let f = message.frames
            guard f.count >= 6 else {
                _ = try? zap.send([Array("1.0".utf8), f.count > 1 ? f[1] : [], Array("500".utf8), Array("bad ZAP request".utf8), [], []])
                continue
            }
            let requestId = f[1]
            let domain = String(decoding: f[2], as: UTF8.self)
            let mechanism = String(decoding: f[5], as: UTF8.self)
            var status = "400", text = "unknown key", userId = ""
            if domain == Self.zapDomain, mechanism == "CURVE", f.count >= 7, f[6].count == 32 {
                if let principal = authorize(curveKey: f[6]) {
                    status = "200"; text = "OK"; userId = principal.userId
                } else {
                    counters.refusedKeys += 1
                    logger.notice("refused unknown key", metadata: ["key": "\(Z85.encode(f[6]))",
                                                                   "from": "\(String(decoding: f[3], as: UTF8.self))"])
                }
            } else {
                text = "unsupported mechanism or domain"
                counters.refusedKeys += 1
            }
            logger.debug("ZAP", metadata: ["status": "\(status)", "user_id": "\(userId)", "frames": "\(f.count)"])
            _ = try? zap.send([Array("1.0".utf8), requestId, Array(status.utf8), Array(text.utf8), Array(userId.utf8), []])
        }
    }

    /// Users by their CURVE key; otherwise an invite that is still usable (the
    /// operator's `invite` command writes it to the database while we run).
    func authorize(curveKey: [UInt8]) -> Principal? {
        if let name = usersByCurveKey[curveKey] { return .user(name) }
        guard let invite = try? store.invite(curveKey: curveKey) else { return nil }
        let now = Clock.nowMs() / 1000
        // A used invite stays admitted for 10 minutes (even past its expiry), so a
        // join whose answer was lost can ask again; ENROLL then only re-answers
        // the same keys.
        if let usedAt = invite.usedAt { return now <= usedAt + 600 ? .invite(invite.id) : nil }
        if invite.expiresAt <= now { return nil }
        return .invite(invite.id)
    }

    // MARK: ROUTER

    private func readRouter() {
        var count = 0
        while count < Self.batchLimit {
            let message: Message?
            do {
                message = try router.receive(dontWait: true)
            } catch {
                logger.error("receive failed: \(error)")
                break
            }
            guard let message else { break }
            count += 1
            handle(message)
        }
        finishCycle()
    }

    private func handle(_ message: Message) {
        guard message.frames.count == 2 else {
            counters.malformed += 1
            return
        }
        let routingId = message.frames[0]
        guard let principal = Principal(userId: message.userId) else {
            logger.warning("message without an authenticated identity dropped")
            counters.malformed += 1
            return
        }
        let now = Clock.monotonicNs()
        let session: Session
        if let existing = sessions[routingId], existing.principal == principal {
            session = existing
            session.lastHeardNs = now
        } else {
            session = Session(routingId: routingId, principal: principal, now: now)
            sessions[routingId] = session
        }
        let command: Command
        do {
            command = try Command.decode(message.frames[1])
        } catch {
            counters.malformed += 1
            let frame = message.frames[1]
            // A SEND that does not decode still names its message id: answer with it,
            // so the client stops retrying and shows why.
            var ref = MessageID.zero
            if frame.count >= 20, frame[3] == 0x05 { ref = MessageID(bytes: Array(frame[4..<20]))! }
            var code = ErrorCode.badRequest
            switch error as? WireError {
            case .invalid(field: "envelope.body", _)?: code = .tooLarge
            case .invalid(field: "envelope.to", _)?: code = .unknownAddress
            default: break
            }
            reply(session, .error(code: code.rawValue, ref: ref, reason: "\(error)"))
            return
        }
        do {
            try dispatch(command, from: session)
        } catch let error as StorageFailure {
            logger.error("storage failure: \(error.underlying)")
            reply(session, .error(code: ErrorCode.internalError.rawValue, ref: error.ref, reason: "storage failure, retry later"))
        } catch {
            logger.error("unexpected error: \(error)")
            reply(session, .error(code: ErrorCode.internalError.rawValue, ref: .zero, reason: "internal error"))
        }
    }

    struct StorageFailure: Error {
        let ref: MessageID
        let underlying: Error
    }

    private func dispatch(_ command: Command, from session: Session) throws {
        if case .invite(let inviteId) = session.principal {
            guard case let .enroll(display, curveKey, boxKey, signKey) = command else {
                reply(session, .error(code: ErrorCode.notAllowed.rawValue, ref: .zero,
                                      reason: "an invite connection may only enrol"))
                return
            }
            try enroll(session, inviteId: inviteId, display: display, curveKey: curveKey, boxKey: boxKey, signKey: signKey)
            return
        }
        guard let user = session.user else { return }
        switch command {
        case .send(let envelope):
            try accept(envelope, from: user, session: session)
        case .lookup(let requestId, let address):
            lookup(session, requestId: requestId, address: address)
        case .attach(let window):
            let w = Int(min(max(window, 1), UInt32(Self.maxWindow)))
            if let previous = attachedByUser[user], previous !== session { previous.attached = false }
            session.attach(window: w)
            attachedByUser[user] = session
            needsPump.insert(session.routingId)
        case .ack(let seq):
            let through = min(seq, session.lastSent)
            guard through > session.acked else { return }
            try write(ref: .zero) { try store.deleteMailbox(recipient: user, through: through) }
            onCommit.append { [weak self] in
                session.acknowledge(through: through)
                self?.needsPump.insert(session.routingId)
            }
        case .ping:
            reply(session, .pong(attached: session.attached && attachedByUser[user] === session))
        case .detach:
            session.attached = false
            if attachedByUser[user] === session { attachedByUser[user] = nil }
        case .enroll:
            reply(session, .error(code: ErrorCode.notAllowed.rawValue, ref: .zero, reason: "already enrolled"))
        case .enrolled, .entry, .stored, .deliver, .synced, .pong, .error:
            counters.malformed += 1
            reply(session, .error(code: ErrorCode.badRequest.rawValue, ref: .zero, reason: "\(command.name) is sent by nodes, not clients"))
        }
    }

    /// Runs a storage write inside the cycle's transaction.
    private func write(ref: MessageID, _ body: () throws -> Void) throws {
        if batchFailed { throw StorageFailure(ref: ref, underlying: NodeError.storage("an earlier write of this batch failed")) }
        do {
            if !inTransaction {
                try store.begin()
                inTransaction = true
            }
            try body()
        } catch {
            batchFailed = true
            throw StorageFailure(ref: ref, underlying: error)
        }
    }

    // MARK: commands

    private func accept(_ envelope: Envelope, from user: String, session: Session) throws {
        let me = address(user)
        func refuse(_ code: ErrorCode, _ reason: String) {
            reply(session, .error(code: code.rawValue, ref: envelope.id, reason: reason))
        }
        if !envelope.from.isEmpty && envelope.from != me {
            logger.warning("refused forged sender", metadata: ["user": "\(me)", "claimed": "\(envelope.from)"])
            return refuse(.forgedSender, "you are \(me); the sender is stamped by the node and cannot be \(envelope.from)")
        }
        guard EnvelopeKind(rawValue: envelope.kind) != nil else { return refuse(.badRequest, "unknown kind \(envelope.kind)") }
        guard let to = Address(envelope.to) else { return refuse(.unknownAddress, "'\(envelope.to)' is not an address") }
        guard to.node == config.name else {
            return refuse(.unknownAddress, "no route to node '\(to.node)' (this node is '\(config.name)')")
        }
        guard usersByName[to.local] != nil else { return refuse(.unknownAddress, "no user '\(to.local)' on node '\(to.node)'") }

        var stamped = envelope
        stamped.from = me
        let nowMs = Clock.nowMs()
        var isNew = false
        let seq = nextSeq
        try write(ref: envelope.id) {
            isNew = try store.markReceived(sender: me, id: envelope.id, at: nowMs)
            if isNew {
                var w = WireWriter(capacity: stamped.encodedSize)
                stamped.encode(into: &w)
                try store.appendMailbox(recipient: to.local, seq: seq, envelope: w.bytes, at: nowMs)
            }
        }
        if isNew {
            nextSeq += 1
            counters.envelopesIn += 1
            // Seqs never go back, even if this batch's commit fails: a session may
            // already have been sent this one (see finishCycle).
            fresh[to.local, default: []].append((seq, stamped))
        } else {
            counters.duplicates += 1
        }
        reply(session, .stored(id: envelope.id))
    }

    private func lookup(_ session: Session, requestId: UInt32, address text: String) {
        guard let address = Address(text) else {
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero, reason: "'\(text)' is not an address (user@node)"))
        }
        guard address.node == config.name else {
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero, reason: "no route to node '\(address.node)'"))
        }
        guard let user = usersByName[address.local] else {
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero, reason: "no user '\(address.local)' on node '\(address.node)'"))
        }
        reply(session, .entry(requestId: requestId, entry: user.entry))
    }

    private func enroll(_ session: Session, inviteId: String, display: String, curveKey: [UInt8], boxKey: [UInt8], signKey: [UInt8]) throws {
        func refuse(_ code: ErrorCode, _ reason: String) {
            reply(session, .error(code: code.rawValue, ref: .zero, reason: reason))
        }
        guard let invite = try? store.invite(id: inviteId) else { return refuse(.inviteUsed, "this invite is no longer valid") }
        let now = Clock.nowMs() / 1000
        if let usedBy = invite.usedBy {
            // The same keys asking again (their answer was lost): answer again.
            if usedBy == curveKey, usersByName[invite.user]?.curveKey == curveKey {
                return reply(session, .enrolled(address: address(invite.user), nodeSignKey: keys.sign.publicKey))
            }
            return refuse(.inviteUsed, "this invite code was already used; ask your operator for a new one")
        }
        guard invite.expiresAt > now else { return refuse(.inviteExpired, "this invite code has expired; ask your operator for a new one") }
        guard usersByName[invite.user] == nil else { return refuse(.inviteUsed, "\(address(invite.user)) is already enrolled") }
        guard usersByCurveKey[curveKey] == nil, (try? store.curveKeyInUse(curveKey)) == false else {
            return refuse(.badRequest, "this key is already in use")
        }
        guard BoxSharedKey(theirPublicKey: boxKey, mySecretKey: keys.curve.secretKey) != nil,
              BoxSharedKey(theirPublicKey: curveKey, mySecretKey: keys.curve.secretKey) != nil else {
            return refuse(.badRequest, "the public keys are not usable (weak X25519 point)")
        }
        let name = display.isEmpty ? invite.user : display
        var entry = DirectoryEntry(address: address(invite.user), display: name, boxKey: boxKey, signKey: signKey, updatedAt: Clock.nowMs())
        entry.sign(with: keys.sign)
        let record = UserRecord(name: invite.user, display: name, curveKey: curveKey, boxKey: boxKey, signKey: signKey,
                                enrolledAt: Clock.nowMs(), entry: entry.encode())
        try write(ref: .zero) {
            try store.insert(user: record)
            try store.markInviteUsed(id: invite.id, at: now, by: curveKey)
        }
        onCommit.append { [weak self] in
            guard let self else { return }
            self.usersByName[record.name] = record
            self.usersByCurveKey[record.curveKey] = record.name
            self.logger.info("user enrolled", metadata: ["user": "\(self.address(record.name))"])
        }
        reply(session, .enrolled(address: address(invite.user), nodeSignKey: keys.sign.publicKey))
    }

    // MARK: group commit

    private func reply(_ session: Session, _ command: Command) {
        if case .error = command { counters.errorsSent += 1 }
        outbox.append((session.routingId, command))
    }

    /// Ends a cycle.
    ///
    /// 1. New envelopes go to recipients that are online and caught up at once,
    ///    overlapping the commit's fsync. A DELIVER is not a promise of durability:
    ///    if the commit fails the sender gets no STORED and retransmits, and the
    ///    recipient drops the repeat by message id (protocol/SPEC.md, "DELIVER").
    /// 2. Commit the cycle's writes in one transaction.
    /// 3. Only then send the acknowledgements (STORED, ENROLLED) of the batch.
    /// 4. Push stored backlogs to sessions that have room.
    private func finishCycle() {
        for (user, entries) in fresh {
            guard let session = attachedByUser[user], session.attached, session.caughtUp else { continue }
            push(entries, to: session)
        }
        fresh.removeAll(keepingCapacity: true)

        if inTransaction {
            inTransaction = false
            do {
                if batchFailed { throw NodeError.storage("a write of this batch failed") }
                try store.setMeta("next_seq", Int64(nextSeq))
                try store.commit()
                for action in onCommit { action() }
            } catch {
                counters.commitFailures += 1
                logger.error("commit failed, nothing of this batch is acknowledged: \(error)")
                store.rollback()
                // Turn every acknowledgement of the batch into an error: the clients retry.
                outbox = outbox.map { routing, command in
                    if case .stored(let id) = command {
                        return (routing, .error(code: ErrorCode.internalError.rawValue, ref: id, reason: "storage failure, retry later"))
                    }
                    if case .enrolled = command {
                        return (routing, .error(code: ErrorCode.internalError.rawValue, ref: .zero, reason: "storage failure, retry later"))
                    }
                    return (routing, command)
                }
            }
        }
        batchFailed = false
        onCommit.removeAll(keepingCapacity: true)
        for (routing, command) in outbox { send(routing, command) }
        outbox.removeAll(keepingCapacity: true)

        for routing in needsPump {
            if let session = sessions[routing] { pump(session) }
        }
        needsPump.removeAll(keepingCapacity: true)
    }

    /// Sessions whose pipe was full get their backlog pushed again.
    private func retryStalled() {
        let retry = stalled
        stalled.removeAll()
        for routing in retry {
            if let session = sessions[routing] { pump(session) }
        }
    }

    /// Pushes entries from memory while the window has room.
    private func push(_ entries: [(UInt64, Envelope)], to session: Session) {
        for (seq, envelope) in entries where seq > session.lastSent {
            guard session.room > 0 else {
                session.caughtUp = false
                return
            }
            let before = session.lastSent
            guard send(session.routingId, .deliver(seq: seq, envelope: envelope)) else {
                session.pushFailed(lastGood: before)
                if sessions[session.routingId] === session { stalled.insert(session.routingId) }
                return
            }
            session.pushed(seq)
            counters.delivered += 1
        }
    }

    /// Pushes stored entries the session has not been sent yet.
    private func pump(_ session: Session) {
        guard session.attached, let user = session.user, !session.caughtUp else { return }
        let room = session.room
        if room > 0 {
            let rows: [(seq: UInt64, envelope: [UInt8])]
            do {
                rows = try store.mailbox(recipient: user, after: session.lastSent, limit: room + 1)
            } catch {
                logger.error("cannot read mailbox: \(error)")
                return
            }
            var entries: [(UInt64, Envelope)] = []
            for row in rows {
                var r = WireReader(row.envelope)
                if let envelope = try? Envelope.decode(from: &r) { entries.append((row.seq, envelope)) }
            }
            session.caughtUp = true
            push(Array(entries.prefix(room)), to: session)
            if rows.count > room { session.caughtUp = false }
        }
        if session.caughtUp && !session.syncedSent {
            session.syncedSent = true
            send(session.routingId, .synced(pending: UInt32(session.inFlightCount)))
        }
    }

    /// Sends one command; false when it could not go out now. A vanished client
    /// (EHOSTUNREACH) ends its session; nothing stored depends on a send succeeding.
    @discardableResult
    private func send(_ routing: [UInt8], _ command: Command) -> Bool {
        do {
            return try router.send([routing, command.encode()], dontWait: true)
        } catch let error as ZMQError where error.isHostUnreachable {
            drop(routing)
            return false
        } catch {
            logger.warning("send failed: \(error)")
            return false
        }
    }

    private func drop(_ routing: [UInt8]) {
        guard let session = sessions.removeValue(forKey: routing) else { return }
        if let user = session.user, attachedByUser[user] === session { attachedByUser[user] = nil }
    }

    // MARK: timers

    private func housekeeping() {
        let now = Clock.monotonicNs()
        nextHousekeepingNs = now + Self.housekeepingIntervalNs
        for (routing, session) in sessions where now - session.lastHeardNs > Self.sessionTimeoutNs {
            drop(routing)
            _ = session
        }
        if now - lastPruneNs > 3_600_000_000_000 {
            lastPruneNs = now
            let cutoff = Clock.nowMs() - UInt64(config.dedupeWindowHours) * 3_600_000
            do {
                let pruned = try store.pruneReceived(olderThan: cutoff)
                try store.pruneInvites(now: Clock.nowMs() / 1000)
                if pruned > 0 { logger.debug("pruned dedupe ids", metadata: ["count": "\(pruned)"]) }
            } catch {
                logger.warning("housekeeping failed: \(error)")
            }
        }
    }
}
