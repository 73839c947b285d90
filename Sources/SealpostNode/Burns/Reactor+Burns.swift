import Foundation
import SealpostCore
import Sodium

/// Burn after reading (protocol/SPEC.md, "Burn after reading"). The recipient's
/// node keeps a burn message apart from the mailbox, delivers a notice without
/// its content, hands the content over once (VIEW) and deletes it in the same
/// commit, or deletes it when it expires. Every node that held a copy — the
/// sender's node, each relay, a group's home node, the recipient's node — tells
/// the sender with a receipt signed by its node key when its copy is gone.
extension Reactor {
    /// The local part nodes send receipts from when no user of theirs is concerned.
    static let nodeSender = "node"

    /// Checks a burn-related envelope from a local user before it is stored.
    /// - Returns: an error text when it must be refused.
    func burnProblem(_ envelope: Envelope) throws -> String? {
        switch envelope.knownKind {
        case .burn?:
            guard let (expiresAt, images, sealed) = try? Burn.split(envelope.body), !sealed.isEmpty else {
                return "a burn message must start with its expiry and image count, then its sealed content"
            }
            let now = Clock.nowMs()
            if expiresAt <= now { return "this burn message has already expired" }
            if expiresAt > now + Burn.maxTTLMs { return "a burn message may live at most \(Burn.maxTTLMs / 3_600_000) hours" }
            if images > Burn.maxImages { return "a burn message holds at most \(Burn.maxImages) images" }
        case .burnReceipt?:
            return "burn receipts are made by nodes, not sent by people"
        case .reminderCancel?, .reminderDone?:
            // They name another message by its id.
            if envelope.body.count == MessageID.size, try store.isBurnID(MessageID(bytes: envelope.body)!) {
                return "that is a burn message: it cannot be referred to"
            }
        default:
            break
        }
        if let (ref, _) = Quote.split(envelope), try store.isBurnID(ref) {
            counters.refusedQuotes += 1
            return "burn messages cannot be forwarded or quoted"
        }
        if envelope.flags & Quote.flag != 0, envelope.body.count < MessageID.size {
            return "a quoting message must start with the quoted message's id"
        }
        return nil
    }

    /// The envelope of `kind` an envelope is or carries (a group's fan-out), if any. A fan-out
    /// is decoded only when the kind it carries is `kind`: most carry plain group messages.
    func carried(_ kind: EnvelopeKind, in envelope: Envelope) -> Envelope? {
        if envelope.knownKind == kind { return envelope }
        guard envelope.knownKind == .groupFanout,
              Group.fanoutInnerKind(envelope.body).flatMap(EnvelopeKind.init(rawValue:)) == kind else { return nil }
        return try? Group.parseFanout(envelope.body).envelope
    }

    /// The burn message an envelope is or carries, if any.
    func burnInside(_ envelope: Envelope) -> Envelope? { carried(.burn, in: envelope) }

    /// Remembers a burn message this node journals (origin, relay or home node) so nothing
    /// may quote it, and when its journal copy must lose its content if it is still here.
    func noteJournalled(_ envelope: Envelope, jid: UInt64) throws {
        try noteBurnFile(envelope, dest: Address(envelope.to)?.node)
        // A forward from here was countersigned when it was accepted, a group's fan-out at the home.
        if Address(envelope.from)?.node != config.name { try noteForwardHop(envelope, role: .relay) }
        guard let burn = burnInside(envelope), let (expiresAt, _, sealed) = try? Burn.split(burn.body) else { return }
        let now = Clock.nowMs()
        try write(ref: envelope.id) { try store.noteBurnID(burn.id, sender: burn.from, at: now) }
        guard !sealed.isEmpty else { return }
        batch.afterCommit { [weak self] in self?.burns.journalled(jid: jid, expiresAt: expiresAt) }
    }

    /// A burn message that expires while it waits in the journal (its next hop is down)
    /// loses its content here: the entry keeps its place in its stream with only the
    /// notice, which the recipient's node records as expired; the sender gets this
    /// node's `expired` receipt for its copy. Looked at once a second, in the cycle's transaction.
    func expireJournalledBurns() {
        let now = Clock.nowMs()
        for jid in burns.journalledDue(nowMs: now) {
            guard let entry = peering.journal.entries[jid], let burn = burnInside(entry.envelope) else {
                burns.forgotten(jid: jid)
                continue
            }
            var stub = Burn.notice(of: burn)
            if entry.envelope.knownKind == .groupFanout {
                guard let recipients = try? Group.parseFanout(entry.envelope.body).recipients else { continue }
                var wrapper = entry.envelope
                wrapper.body = Group.fanoutBody(recipients: recipients, envelope: stub)
                stub = wrapper
            }
            var w = WireWriter(capacity: stub.encodedSize)
            stub.encode(into: &w)
            do {
                try write(ref: burn.id) { try store.replaceJournalEnvelope(jid: jid, envelope: w.bytes) }
                if entry.origin == config.name {
                    quotas.changeSender(entry.envelope.from, count: 0, bytes: w.bytes.count - entry.envelope.encodedSize)
                }
                try sendReceipt(.expired, burn: burn.id, sender: burn.from, subject: burn.to)
                let emptied = stub
                batch.afterCommit { [weak self] in
                    self?.peering.replaceJournalled(jid, with: emptied)
                    self?.burns.forgotten(jid: jid)
                }
            } catch {
                logger.error("cannot expire a journalled burn message: \(error)")
            }
        }
    }

    /// At the recipient's node: keeps the burn message apart and puts only its
    /// notice in the mailbox. One that arrives already expired is not kept: its
    /// sender gets an `expired` receipt at once.
    /// - Returns: the notice to append to the mailbox, or nil when it was seen before.
    /// - Parameter readableUntil: when its label's readable-until time (the sender's, or this
    ///   node's 保密期限 if earlier) deletes it, 0 for none: its content goes then at the latest.
    func keepBurn(_ envelope: Envelope, for user: String, readableUntil: UInt64 = 0) throws -> Envelope? {
        guard let (clearExpiry, _, _) = try? Burn.split(envelope.body) else {
            counters.undeliverable += 1
            return nil
        }
        let now = Clock.nowMs()
        // The node's own limit applies whatever the sender asked for.
        var expiresAt = min(clearExpiry, now + UInt64(config.burnTTLHours) * 3_600_000)
        if readableUntil > 0 { expiresAt = min(expiresAt, readableUntil) }
        var bytes = WireWriter(capacity: envelope.encodedSize)
        envelope.encode(into: &bytes)
        var kept = false
        try write(ref: envelope.id) {
            try store.noteBurnID(envelope.id, sender: envelope.from, at: now)
            kept = try store.insertBurn(recipient: user, id: envelope.id, sender: envelope.from, expiresAt: expiresAt,
                                        at: now, envelope: bytes.bytes)
        }
        guard kept else { return nil }
        quotas.changeBurns(user, count: 1, bytes: bytes.bytes.count)
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.burns.kept(expiresAt: expiresAt)
        }
        return Burn.notice(of: envelope)
    }

    /// VIEW: hands the burn message over once. It is deleted in this cycle's commit,
    /// and the answer leaves only after that commit: content is never sent twice.
    func view(_ session: Session, user: String, id: MessageID) throws {
        var taken: (sender: String, envelope: [UInt8])?
        var record: (event: Burn.Receipt.Event, at: UInt64)?
        var refusal: LabelRefusal?
        let now = Clock.nowMs()
        try write(ref: id) {
            taken = try store.takeBurn(recipient: user, id: id)
            if let taken {
                // A clearance lowered since it was kept: deleted, not handed over (SPEC 7.11.5).
                var r = WireReader(taken.envelope)
                refusal = (try? Envelope.decode(from: &r)).flatMap { deliveryRefusal($0, to: user) }
                try store.logBurn(id: id, recipient: user, event: refusal == nil ? .viewed : .expired, at: now)
            } else {
                record = try store.burnRecord(recipient: user, id: id)
            }
        }
        guard let taken else {
            if let record {
                let when = Clock.rfc3339(ms: record.at)
                let what = record.event == .expired ? "it expired unviewed at \(when)" : "it was viewed at \(when)"
                return reply(session, .error(code: ErrorCode.gone.rawValue, ref: id, reason: "burned: \(what); it no longer exists"))
            }
            return reply(session, .error(code: ErrorCode.unknownAddress.rawValue, ref: id, reason: "no burn message \(id.hex) for you"))
        }
        var r = WireReader(taken.envelope)
        guard let envelope = try? Envelope.decode(from: &r) else {
            return reply(session, .error(code: ErrorCode.internalError.rawValue, ref: id, reason: "the stored burn message is damaged"))
        }
        quotas.changeBurns(user, count: -1, bytes: -taken.envelope.count)
        if let refusal {
            try refuseForLabel(envelope, recipient: address(user), refusal)
        } else {
            try sendReceipt(.viewed, burn: envelope.id, sender: envelope.from, subject: address(user))
            try audit(.burnViewed(id: envelope.id, viewer: address(user), sender: envelope.from), ref: id)
        }
        let refused = refusal != nil
        batch.afterCommit { [weak self] in self?.burns.viewed(refused: refused) }
        if let refusal {
            return reply(session, .error(code: refusal.reason.errorCode, ref: id, reason: refusal.text))
        }
        reply(session, .viewing(envelope))
    }

    /// Deletes the burn messages whose time is up, with an `expired` receipt each.
    func expireBurns() {
        let now = Clock.nowMs()
        guard burns.isDue(nowMs: now) else { return }
        do {
            var expired: [(recipient: String, id: MessageID, sender: String)] = []
            try write(ref: .zero) { expired = try store.expiredBurns(now: now, limit: Self.batchLimit) }
            for item in expired {
                var deleted = false, size = 0
                try write(ref: item.id) {
                    size = try store.burnBytes(recipient: item.recipient, id: item.id)
                    deleted = try store.deleteBurn(recipient: item.recipient, id: item.id)
                    try store.logBurn(id: item.id, recipient: item.recipient, event: .expired, at: now)
                }
                guard deleted else { continue }
                quotas.changeBurns(item.recipient, count: -1, bytes: -size)
                try sendReceipt(.expired, burn: item.id, sender: item.sender, subject: address(item.recipient))
            }
            let count = expired.count
            var following: UInt64?
            try write(ref: .zero) { following = try store.nextBurnExpiry() }
            batch.afterCommit { [weak self] in
                guard let self else { return }
                // Burns kept later in this cycle lower it again after this (their closures run next).
                self.burns.expired(count: count, following: following)
            }
        } catch {
            logger.error("cannot expire burn messages: \(error)")
        }
    }

    /// A journal entry that held a burn message's content is gone: the next hop has it durably.
    /// The receipt names the hop, and the copy's destination node when that is further.
    func burnForwarded(_ envelope: Envelope, jid: UInt64, dest: String, to hop: String) throws {
        // Only entries known to hold content (an expired one already had its receipt).
        guard burns.holdsContent(jid: jid), let burn = burnInside(envelope) else { return }
        batch.afterCommit { [weak self] in self?.burns.forgotten(jid: jid) }
        try sendReceipt(.forwarded, burn: burn.id, sender: burn.from, subject: dest == hop ? hop : "\(dest) via \(hop)")
    }

    /// Signs and sends `sender` a receipt for this node's deletion of its copy of burn message
    /// `burn`, and has the WAL truncated once the cycle commits.
    func sendReceipt(_ event: Burn.Receipt.Event, burn: MessageID, sender from: String, subject: String) throws {
        guard let sender = Address(from) else { return }
        var receipt = Burn.Receipt(burn: burn, sender: from, node: config.name, event: event, subject: subject,
                                   deletedAt: Clock.nowMs())
        receipt.sign(with: keys.sign)
        // A node speaks from the person's address when the subject is one of its people, else for itself.
        let speaker = Address(subject)?.node == config.name ? subject : address(Self.nodeSender)
        let envelope = Envelope(id: receipt.messageID, from: speaker, to: sender.description, kind: .burnReceipt,
                                sentAt: receipt.deletedAt, body: receipt.encode())
        if sender.node == config.name {
            try deliverLocally(envelope, to: sender.local)
        } else {
            try journalOut(envelope, dest: sender.node)
        }
        batch.afterCommit { [weak self] in
            self?.burns.receiptSent()
            self?.checkpointer.requestTruncate()
        }
    }
}
