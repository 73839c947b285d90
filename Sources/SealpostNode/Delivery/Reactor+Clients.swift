import Foundation
import Logging
import SealpostCore
import Sodium
import ZeroMQ

/// Client commands, group commit and delivery to mailboxes.
extension Reactor {
    // MARK: ROUTER

    /// Reads one batch: up to `batchLimit` messages or `batchBudgetNs` of work, so
    /// a cycle (and an operator's `status`) never waits long behind a flood.
    func readRouter(now start: UInt64) {
        var count = 0
        while count < Self.batchLimit && !transfers.budgetSpent {
            if count & 63 == 63 && Clock.monotonicNs() - start > Self.batchBudgetNs { break }
            let message: Message?
            do {
                message = try router.receive(dontWait: true)
            } catch {
                logger.error("receive failed: \(error)")
                break
            }
            guard let message else { break }
            count += 1
            handle(message, now: start)
        }
    }

    func handle(_ message: Message, now: UInt64) {
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
        if case .node(let peer) = principal {
            return handlePeer(peer, routingId: routingId, frame: message.frames[1])
        }
        guard principal != .admin else { return }
        if isRevoked(principal) { return refuseRevoked(routingId) }
        let session = delivery.heard(routingId: routingId, principal: principal, now: now)
        let command: Command
        do {
            command = try Command.decode(message.frames[1])
        } catch {
            counters.malformed += 1
            let frame = message.frames[1]
            // A SEND that does not decode still names its message id: answer with it,
            // so the client stops retrying and shows why.
            var ref = MessageID.zero
            if frame.count >= 20, frame[3] == CommandID.send.rawValue { ref = MessageID(bytes: Array(frame[4..<20]))! }
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
            if noteCommitFailure(error.underlying) || storage.isFull {
                // Said once by noteCommitFailure, not once per request.
                logger.debug("storage failure while the disk is full: \(error.underlying)")
                reply(session, .error(code: ErrorCode.insufficientStorage.rawValue, ref: error.ref, reason: Self.storageFullReason(config.name)))
            } else {
                logger.error("storage failure: \(error.underlying)")
                reply(session, .error(code: ErrorCode.internalError.rawValue, ref: error.ref, reason: "storage failure, retry later"))
            }
        } catch {
            logger.error("unexpected error: \(error)")
            reply(session, .error(code: ErrorCode.internalError.rawValue, ref: .zero, reason: "internal error"))
        }
    }

    struct StorageFailure: Error {
        let ref: MessageID
        let underlying: Error
    }

    func dispatch(_ command: Command, from session: Session) throws {
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
        guard command.commandID.direction.clientSends else {
            counters.malformed += 1
            reply(session, .error(code: ErrorCode.badRequest.rawValue, ref: .zero, reason: "\(command.name) is sent by nodes, not clients"))
            return
        }
        switch command {
        case .send(let envelope):
            try accept(envelope, from: user, session: session)
        case .lookup(let requestId, let address):
            lookup(session, requestId: requestId, address: address)
        case .directory(let requestId, let query):
            listDirectory(session, requestId: requestId, query: query)
        case .attach(let window):
            let w = Int(min(max(window, 1), UInt32(Self.maxWindow)))
            delivery.attach(session, user: user, window: w)
        case .ack(let seq):
            let through = min(seq, session.lastSent)
            guard through > session.acked else { return }
            var removed = 0
            var freed = Quotas.Usage()
            var bySender: [(sender: String, usage: Quotas.Usage)] = []
            try write(ref: .zero) {
                freed = try store.mailboxUsage(recipient: user, through: through)
                bySender = try store.mailboxSenders(recipient: user, through: through)
                removed = try store.deleteMailbox(recipient: user, through: through)
            }
            quotas.changeMailbox(user, count: -freed.count, bytes: -freed.bytes)
            for s in bySender { quotas.changeSender(s.sender, count: -s.usage.count, bytes: -s.usage.bytes) }
            batch.afterCommit { [weak self] in
                self?.delivery.acknowledged(session, user: user, through: through, removed: removed)
            }
        case .ping:
            reply(session, .pong(attached: delivery.isAttached(session, user: user)))
        case .detach:
            delivery.detach(session, user: user)
        case .enroll:
            reply(session, .error(code: ErrorCode.notAllowed.rawValue, ref: .zero, reason: "already enrolled"))
        case .view(let id):
            try view(session, user: user, id: id)
        case .nodeKeys(let requestId):
            let others = directory.nodeKeys.filter { $0.key != config.name }.sorted { $0.key < $1.key }
            reply(session, .nodeList(requestId: requestId, nodes: [NodeKey(name: config.name, signKey: keys.sign.publicKey)]
                                                                  + others.map { NodeKey(name: $0.key, signKey: $0.value) }))
        case .fileBegin, .fileChunk, .fileGet, .fileDone:
            try handleFile(command, session: session, user: user)
        case let .trace(requestId, op, subject):
            try handleTrace(session, user: user, requestId: requestId, op: op, subject: subject)
        case .labels:
            reply(session, .labels(labelInfo(for: user)))
        case .downgrade(let request):
            try handleDowngrade(session, user: user, request: request)
        case .downgraded:
            counters.malformed += 1
            reply(session, .error(code: ErrorCode.badRequest.rawValue, ref: .zero, reason: "a downgrade record is made by nodes: send a DOWNGRADE request"))
        case .enrolled, .entry, .entries, .stored, .deliver, .synced, .pong, .error, .viewing, .nodeList, .fileStatus, .traceResult:
            return // node → client: refused above by its direction
        }
    }

    /// Runs a storage write inside the cycle's transaction.
    func write(ref: MessageID, _ body: () throws -> Void) throws {
        do {
            try batch.write(ref: ref, body)
        } catch let failure as StorageFailure {
            _ = noteCommitFailure(failure.underlying)
            throw failure
        }
    }

    // MARK: commands

    func accept(_ envelope: Envelope, from user: String, session: Session) throws {
        let me = address(user)
        func refuse(_ code: ErrorCode, _ reason: String) {
            reply(session, .error(code: code.rawValue, ref: envelope.id, reason: reason))
        }
        if !envelope.from.isEmpty && envelope.from != me {
            logger.warning("refused forged sender", metadata: ["user": "\(me)", "claimed": "\(envelope.from)"])
            return refuse(.forgedSender, "you are \(me); the sender is stamped by the node and cannot be \(envelope.from)")
        }
        guard let kind = envelope.knownKind else { return refuse(.badRequest, "unknown kind \(envelope.kind)") }
        if kind == .delivered { return refuse(.badRequest, "delivered receipts are made by nodes, not sent by people") }
        if let problem = reminderProblem(envelope) { return refuse(.badRequest, problem) }
        if let problem = try burnProblem(envelope) { return refuse(.badRequest, problem) }
        if let problem = fileOfferProblem(envelope, from: user) { return refuse(.badRequest, problem) }
        if let problem = try forwardProblem(envelope, from: user) { return refuse(problem.code, problem.reason) }
        guard let to = Address(envelope.to) else { return refuse(.unknownAddress, "'\(envelope.to)' is not an address") }
        // Where it goes: another node, a group here, or a person here.
        let local = to.node == config.name
        let alwaysGroup = kind == .groupOp || kind == .groupMessage
        let isGroup = alwaysGroup || (local ? groupHome.groups[to.local] != nil
                                            : kind.fansOut && directory.remoteEntries[to.description] == nil)
        if !local {
            guard directory.nodeKeys[to.node] != nil || peering.routeTable.routes[to.node] != nil else {
                return refuse(.unknownAddress, "no route to node '\(to.node)': it is not in this federation")
            }
            // A group on another node is checked by its home node, which answers with a group_event.
            guard isGroup || directory.remoteEntries[to.description] != nil else {
                return refuse(.unknownAddress, "no user '\(to.local)' on node '\(to.node)'")
            }
        } else if !isGroup, users.byName[to.local] == nil {
            return refuse(.unknownAddress, "no user '\(to.local)' on node '\(to.node)'")
        } else if !isGroup, users.byName[to.local]?.disabledAt != nil {
            return refuse(.unknownAddress, "\(to) is disabled on this node; ask its operator")
        }

        var stamped = envelope
        stamped.from = me
        // Labels (SPEC 7.11.5): what this node carries, the link toward the destination, and every
        // recipient it can see. Before admission: a refused label takes nothing of the quota.
        if let refusal = sendRefusal(stamped, to: to, local: local, isGroup: isGroup) {
            let (code, reason) = try refuseSendForLabel(refusal, envelope: stamped)
            return refuse(code, reason)
        }
        // 保密期限 (SPEC 7.11.9): under a label with a readable period here, the message must be deleted by then.
        if let reason = expiryRefusal(stamped, now: Clock.nowMs()) {
            labels.expiryRefusals += 1
            logger.notice("send refused for its readable-until time", metadata: ["user": "\(me)", "detail": "\(reason)"])
            return refuse(.beyondExpiry, reason)
        }
        if let refusal = admissionRefusal(stamped, from: user, to: to, local: local, isGroup: isGroup) {
            // A retransmission of what was stored before is answered as before.
            if (try? store.wasReceived(sender: me, id: envelope.id)) == true {
                counters.duplicates += 1
                return reply(session, .stored(id: envelope.id))
            }
            quotas.count(refusal.counted)
            return refuse(refusal.code, refusal.reason)
        }
        var isNew = false
        let nowMs = Clock.nowMs()
        let dest = isGroup ? "*" : to.node
        try write(ref: envelope.id) { isNew = try store.markReceived(sender: me, id: envelope.id, at: nowMs, dest: dest) }
        guard isNew else {
            counters.duplicates += 1
            return reply(session, .stored(id: envelope.id))
        }
        counters.stored()
        try noteForwardAccepted(stamped)
        try noteSentFileExpiry(stamped)
        if !local {
            try journalOut(stamped, dest: to.node)
        } else if isGroup {
            try handleGroupEnvelope(stamped, session: session)
        } else {
            try deliverLocally(stamped, to: to.local, admitted: true)
        }
        // The sender's own due notice, for a reminder (once, when writing to oneself).
        if !(local && !isGroup && to.local == user) { try applyReminder(stamped, forUser: user) }
        reply(session, .stored(id: envelope.id))
    }

    /// Puts an envelope in `user`'s mailbox (and, for a reminder, their schedule),
    /// inside the cycle's transaction; it reaches an online session when the
    /// cycle ends. Unknown users are skipped. `encoded` saves re-encoding.
    ///
    /// A full mailbox (or burn quota) takes nothing more: a SEND was refused before
    /// (`admitted`); anything else (relayed, a group member's copy, a node's notice) is
    /// counted as dropped (`relay` tells which counter).
    func deliverLocally(_ envelope: Envelope, to user: String, encoded: [UInt8]? = nil, admitted: Bool = false,
                        relay: Bool = false) throws {
        guard users.byName[user] != nil else { return }
        // The recipient's node: whatever the sender's client and node said, nobody gets more
        // than their clearance (SPEC 7.11.5).
        if let refusal = deliveryRefusal(envelope, to: user) {
            try refuseForLabel(envelope, recipient: address(user), refusal)
            return
        }
        // When its content is deleted here: the sender's time, or this node's own 保密期限 if earlier.
        let until = deletionTime(envelope, storedAt: Clock.nowMs())
        let arrived = envelope
        var envelope = envelope, encoded = encoded
        // Its time passed on the way (a stalled link, a peer that held it): stored, and handed out,
        // without its content, as if deleted then; the expiry round sends the `expired` receipt
        // (SPEC 7.11.9). A burn message is kept and deleted by its own rules.
        if until > 0, until <= Clock.nowMs(), envelope.knownKind != .burn, !envelope.body.isEmpty {
            envelope.body = []
            encoded = nil
        }
        let limits = config.limits
        if envelope.knownKind == .burn {
            let size = encoded?.count ?? envelope.encodedSize
            if !admitted && !(quotas.burnHasRoom(user, bytes: size, limits: limits)
                              && quotas.mailboxHasRoom(user, bytes: Burn.notice(of: envelope).encodedSize, limits: limits)) {
                return noteDropped(relay ? .relayDropped : .fanoutDropped, user: user, envelope: envelope)
            }
            // Kept apart; the mailbox gets only its notice.
            guard let notice = try keepBurn(envelope, for: user, readableUntil: until) else { return }
            envelope = notice
            encoded = nil
        }
        let bytes = encoded ?? {
            var w = WireWriter(capacity: envelope.encodedSize)
            envelope.encode(into: &w)
            return w.bytes
        }()
        // A remote sender is held to the sender quota here; a local one was at its SEND (a group
        // message it was admitted for reaches every member with room).
        if !admitted && !(quotas.mailboxHasRoom(user, bytes: bytes.count, limits: limits)
                          && (!relay || quotas.senderHasRoom(envelope.from, bytes: bytes.count, limits: limits))) {
            return noteDropped(relay ? .relayDropped : .fanoutDropped, user: user, envelope: envelope)
        }
        // Seqs never go back, even if this batch's commit fails: a session may
        // already have been sent this one (see finishCycle).
        let seq = mailboxSeqs.take()
        let nowMs = Clock.nowMs()
        try write(ref: envelope.id) {
            try store.appendMailbox(recipient: user, seq: seq, envelope: bytes, at: nowMs, sender: envelope.from)
            if until > 0 {
                try store.noteLabelExpiry(recipient: user, seq: seq, id: envelope.id, sender: envelope.from, until: until)
            }
        }
        if until > 0 { noteReadableUntil(until) }
        quotas.changeMailbox(user, count: 1, bytes: bytes.count)
        quotas.changeSender(envelope.from, count: 1, bytes: bytes.count)
        batch.push(to: user, seq: seq, envelope)
        if config.deliveredReceipts { deliveryReceipts.stored(envelope, recipient: address(user)) }
        delivery.stored(for: user)
        batch.onRollback { [weak self] in self?.delivery.storeRolledBack(for: user) }
        try applyReminder(envelope, forUser: user)
        try noteBurnFile(envelope, dest: nil)
        try noteFileOffer(envelope, to: user)
        try noteForwardHop(arrived, role: .destination)
    }

    func lookup(_ session: Session, requestId: UInt32, address text: String) {
        guard let address = Address(text) else {
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero, reason: "'\(text)' is not an address (user@node)"))
        }
        if address.node != config.name {
            guard let remote = directory.remoteEntries[address.description], let key = directory.nodeKeys[remote.home] else {
                let known = directory.nodeKeys[address.node] != nil
                return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero,
                                             reason: known ? "no user '\(address.local)' on node '\(address.node)'"
                                                           : "no route to node '\(address.node)': it is not in this federation"))
            }
            return reply(session, .entry(requestId: requestId, entry: remote.entry, homeSignKey: key))
        }
        guard let user = users.byName[address.local] else {
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero, reason: "no user '\(address.local)' on node '\(address.node)'"))
        }
        guard user.disabledAt == nil else {
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: .zero, reason: "\(address) is disabled on this node; ask its operator"))
        }
        reply(session, .entry(requestId: requestId, entry: user.entry, homeSignKey: keys.sign.publicKey))
    }

    /// Every directory entry (local and federated) whose address or name contains `query`.
    func listDirectory(_ session: Session, requestId: UInt32, query: String) {
        let q = query.lowercased()
        var items: [DirectoryItem] = []
        for user in directoryUsers {
            let addr = address(user.name)
            if q.isEmpty || addr.contains(q) || user.display.lowercased().contains(q) {
                items.append(DirectoryItem(entry: user.entry, homeSignKey: keys.sign.publicKey))
            }
        }
        for (addr, remote) in directory.remoteEntries.sorted(by: { $0.key < $1.key }) {
            guard let key = directory.nodeKeys[remote.home] else { continue }
            if !q.isEmpty && !addr.contains(q) {
                guard let entry = try? DirectoryEntry.decode(remote.entry), entry.display.lowercased().contains(q) else { continue }
            }
            items.append(DirectoryItem(entry: remote.entry, homeSignKey: key))
        }
        reply(session, .entries(requestId: requestId, items: Array(items.prefix(10_000))))
    }

    func enroll(_ session: Session, inviteId: String, display: String, curveKey: [UInt8], boxKey: [UInt8], signKey: [UInt8]) throws {
        func refuse(_ code: ErrorCode, _ reason: String) {
            reply(session, .error(code: code.rawValue, ref: .zero, reason: reason))
        }
        guard let invite = try? store.invite(id: inviteId) else { return refuse(.inviteUsed, "this invite is no longer valid") }
        let now = Clock.nowMs() / 1000
        if let usedBy = invite.usedBy {
            // The same keys asking again (their answer was lost): answer again.
            if usedBy == curveKey, users.byName[invite.user]?.curveKey == curveKey {
                return reply(session, .enrolled(address: address(invite.user), nodeSignKey: keys.sign.publicKey))
            }
            return refuse(.inviteUsed, "this invite code was already used; ask your operator for a new one")
        }
        guard invite.expiresAt > now else { return refuse(.inviteExpired, "this invite code has expired; ask your operator for a new one") }
        // Answering again above writes nothing; a new enrolment does.
        refreshStorageState(now: Clock.monotonicNs())
        if storage.answer(to: .send) == .refuse {
            quotas.count(.storageFull)
            return refuse(.insufficientStorage, Self.storageFullReason(config.name))
        }
        if invite.rekey {
            guard let existing = users.byName[invite.user] else {
                return refuse(.inviteUsed, "\(address(invite.user)) was removed; ask your operator for a new invite")
            }
            guard users.user(curveKey: curveKey) == nil, (try? store.curveKeyInUse(curveKey)) == false else {
                return refuse(.badRequest, "this key is already in use")
            }
            guard BoxSharedKey(theirPublicKey: boxKey, mySecretKey: keys.curve.secretKey) != nil,
                  BoxSharedKey(theirPublicKey: curveKey, mySecretKey: keys.curve.secretKey) != nil else {
                return refuse(.badRequest, "the public keys are not usable (weak X25519 point)")
            }
            return try rekeyEnroll(session, invite: invite, user: existing, curveKey: curveKey, boxKey: boxKey, signKey: signKey)
        }
        guard users.byName[invite.user] == nil else { return refuse(.inviteUsed, "\(address(invite.user)) is already enrolled") }
        guard users.user(curveKey: curveKey) == nil, (try? store.curveKeyInUse(curveKey)) == false else {
            return refuse(.badRequest, "this key is already in use")
        }
        guard BoxSharedKey(theirPublicKey: boxKey, mySecretKey: keys.curve.secretKey) != nil,
              BoxSharedKey(theirPublicKey: curveKey, mySecretKey: keys.curve.secretKey) != nil else {
            return refuse(.badRequest, "the public keys are not usable (weak X25519 point)")
        }
        let name = display.isEmpty ? invite.user : display
        let entry = signedEntry(user: invite.user, display: name, boxKey: boxKey, signKey: signKey)
        let record = UserRecord(name: invite.user, display: name, curveKey: curveKey, boxKey: boxKey, signKey: signKey,
                                enrolledAt: Clock.nowMs(), entry: entry)
        let version = directory.localVersion + 1
        try write(ref: .zero) {
            try store.insert(user: record)
            try store.markInviteUsed(id: invite.id, at: now, by: curveKey)
            try store.setMeta("directory_version", Int64(version))
        }
        try audit(.inviteUsed(invite: invite.id, user: address(invite.user)))
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.directory.raiseLocalVersion(to: version)
            self.peering.announceSoon() // tell the federation now
            self.users.enrolled(record)
            self.logger.info("user enrolled", metadata: ["user": "\(self.address(record.name))"])
        }
        reply(session, .enrolled(address: address(invite.user), nodeSignKey: keys.sign.publicKey))
    }

    // MARK: group commit

    func reply(_ session: Session, _ command: Command) {
        batch.reply(session.routingId, command)
    }

    /// Ends a cycle.
    ///
    /// 1. New envelopes go to recipients that are online and caught up at once,
    ///    overlapping the commit's fsync. A DELIVER is not a promise of durability:
    ///    if the commit fails the sender gets no STORED and retransmits, and the
    ///    recipient drops the repeat by message id (protocol/SPEC.md, "DELIVER").
    ///    Only seqs below the committed end of the reservation go early: a crash
    ///    before the commit cannot give one of them to another envelope.
    /// 2. Commit the cycle's writes in one transaction, with the reservation of
    ///    mailbox seqs when its block runs low.
    /// 3. Only then send the acknowledgements (STORED, ENROLLED) of the batch, and
    ///    the new envelopes whose seqs the commit reserved.
    /// 4. Push stored backlogs to sessions that have room.
    func finishCycle() {
        sendDeliveryReceipts()
        var unreserved: [(user: String, entries: ArraySlice<(UInt64, Envelope)>)] = []
        for (user, entries) in batch.takePushes() {
            guard let session = delivery.caughtUpSession(of: user) else { continue }
            let early = entries.prefix { mailboxSeqs.isSaved($0.0) }
            push(early, to: session)
            if early.count < entries.count { unreserved.append((user, entries[early.count...])) }
        }
        cycleTimes.mark(.send, now: Clock.monotonicNs())

        var diskFull = false
        let outcome = batch.finish(beforeCommit: {
            if let end = mailboxSeqs.wanted() {
                try store.setMailboxSeqReservation(end)
                mailboxSeqs.writing(end)
            }
            try saveStreams()
        }, rolledBack: { error in
            mailboxSeqs.rolledBack()
            counters.rolledBack()
            counters.commitFailures += 1
            diskFull = noteCommitFailure(error) || storage.isFull
            if diskFull {
                logger.debug("commit failed while the disk is full: \(error)")
            } else {
                logger.error("commit failed, nothing of this batch is acknowledged: \(error)")
            }
            quotas.rollback()
            reloadStreams()
        }, refusal: {
            diskFull ? (.insufficientStorage, Self.storageFullReason(config.name)) : (.internalError, CycleBatch.retryLater)
        })
        cycleTimes.mark(.commit, now: Clock.monotonicNs())
        if outcome.committed {
            quotas.commit()
            mailboxSeqs.committed()
            counters.committed(now: Clock.monotonicNs())
            for (user, entries) in unreserved {
                if let session = delivery.caughtUpSession(of: user) { push(entries, to: session) }
            }
        }
        // Every acknowledgement of a failed batch is an error now: the clients retry.
        for (routing, command) in outcome.replies { send(routing, command) }

        sendRelayAcks(outcome.acks)

        for routing in delivery.takePumps() {
            if let session = sessions[routing] { pump(session) }
        }
        dispatchJournal(now: Clock.monotonicNs())
        cycleTimes.mark(.send, now: Clock.monotonicNs())
    }

    /// Sessions whose pipe was full get their backlog pushed again.
    func retryStalled() {
        for routing in delivery.takeStalled() {
            if let session = sessions[routing] { pump(session) }
        }
    }

    /// Pushes entries from memory while the window has room.
    func push(_ entries: ArraySlice<(UInt64, Envelope)>, to session: Session) {
        let now = Clock.monotonicNs()
        for (seq, envelope) in entries where seq > session.lastSent {
            guard session.room > 0 else {
                session.caughtUp = false
                return
            }
            let before = session.lastSent
            guard send(session.routingId, .deliver(seq: seq, envelope: envelope)) else {
                session.pushFailed(lastGood: before)
                delivery.stall(session)
                return
            }
            session.pushed(seq)
            counters.pushed(now: now)
        }
    }

    /// Pushes stored entries the session has not been sent yet.
    func pump(_ session: Session) {
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
            push(entries.prefix(room), to: session)
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
    func send(_ routing: [UInt8], _ command: Command) -> Bool {
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

    /// Client state read by the other concerns (files, users, status); `delivery` changes it.
    var sessions: [[UInt8]: Session] { delivery.sessions }
    var attachedByUser: [String: Session] { delivery.attachedByUser }
    var waiting: [String: Int] { delivery.waiting }

    func drop(_ routing: [UInt8]) {
        delivery.drop(routing)
    }

    // MARK: housekeeping

    func housekeeping() {
        let now = Clock.monotonicNs()
        let prunes = chores.housekeepingRuns(now: now)
        flushRefusedKeys(now: now)
        forwarding.forgetChecks()
        auditPeerChanges()
        quotas.pruneBuckets(limits: config.limits, now: now)
        restoreHousekeeping()
        for routing in delivery.idle(now: now, timeout: Self.sessionTimeoutNs) { drop(routing) }
        if prunes {
            let cutoff = Clock.nowMs() - UInt64(config.dedupeWindowHours) * 3_600_000
            do {
                let pruned = try store.pruneReceived(olderThan: cutoff)
                try store.pruneForwards(olderThan: cutoff)
                try store.pruneInvites(now: Clock.nowMs() / 1000)
                try store.pruneBurnRecords(olderThan: cutoff)
                if pruned > 0 { logger.debug("pruned dedupe ids", metadata: ["count": "\(pruned)"]) }
            } catch {
                logger.warning("housekeeping failed: \(error)")
            }
        }
    }
}
