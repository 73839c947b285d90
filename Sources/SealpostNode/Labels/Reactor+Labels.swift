import Foundation
import Logging
import SealpostCore
import Sodium

/// Labels on the node (protocol/SPEC.md 7.11): the checks of the sender's node at SEND, of every
/// relay before it passes an envelope on, and of the recipient's node before a mailbox; the
/// signed refusal notices that travel back to the sender; clearances from the signed directory.
extension Reactor {
    /// The clearance of a person of the federation, from their signed directory entry (a local
    /// user's own, or the one the home node published); the default label when none is set or
    /// the person is unknown.
    func clearance(of address: String) -> UInt8 {
        guard let a = Address(address) else { return labels.policy.defaultRank }
        let bytes: [UInt8]?
        if a.node == config.name { bytes = users.byName[a.local]?.entry } else { bytes = directory.remoteEntries[address]?.entry }
        guard let bytes, let entry = try? DirectoryEntry.decode(bytes) else { return labels.policy.defaultRank }
        return entry.clearance ?? labels.policy.defaultRank
    }

    /// The sender's node at SEND: the label must be one this node carries, may leave over the
    /// link toward a remote destination, and every recipient it can see must be cleared for it
    /// (a person; a group here: every member, and the group's own label).
    func sendRefusal(_ envelope: Envelope, to: Address, local: Bool, isGroup: Bool) -> LabelRefusal? {
        guard let rank = labels.rank(of: envelope) else { return nil }
        if let refusal = labels.policy.carry(rank) { return refusal }
        if let refusal = loweredForwardRefusal(envelope) { return refusal }
        if !local {
            if let hop = peering.routeTable.nextHop(to: to.node),
               let refusal = labels.policy.relay(rank, to: hop, linkCeiling: labels.linkCeilings[hop]) {
                return refusal
            }
            // A group elsewhere is checked by its home node, which knows its members.
            if isGroup { return nil }
            return labels.policy.deliver(rank, to: [(to.description, clearance(of: to.description))])
        }
        if isGroup {
            guard let group = groupHome.groups[to.local] else { return nil }
            return groupPostRefusal(envelope, rank: rank, group: group)
        }
        return labels.policy.deliver(rank, to: [(to.description, clearance(of: to.description))])
    }

    /// A post to a group whose home is here: at most the group's label, and every other member cleared.
    /// A refusal for the group's label also names the members who are not cleared.
    func groupPostRefusal(_ envelope: Envelope, rank: UInt8, group: GroupState) -> LabelRefusal? {
        let members = group.members.map(\.address).filter { $0 != envelope.from }
        let uncleared = labels.policy.deliver(rank, to: members.map { ($0, clearance(of: $0)) })
        guard var refusal = labels.policy.post(rank, group: address(group.name), groupRank: group.label ?? labels.policy.defaultRank) else {
            return uncleared
        }
        if let uncleared { refusal.text += "; " + uncleared.text }
        return refusal
    }

    /// Answers a SEND refused for its label: `ERROR 451` or `452` naming who or what, and counted.
    /// A refused forward is written in the audit log (`forward_refused`, reason `label_` + the reason).
    func refuseSendForLabel(_ refusal: LabelRefusal, envelope: Envelope) throws -> (code: ErrorCode, reason: String) {
        labels.count(refusal.reason)
        if envelope.knownKind == .forward, let (header, _) = try? ForwardHeader.split(envelope.body) {
            forwarding.refused += 1
            try auditForward(.refused(ForwardRefusal("label_" + refusal.reason.name, refusal.text)), envelope: envelope, header: header)
        } else {
            try auditLabelRefusal(envelope, to: envelope.to, refusal)
        }
        logger.notice("send refused for its label", metadata: ["reason": "\(refusal.reason.name)", "detail": "\(refusal.text)"])
        return (ErrorCode(rawValue: refusal.reason.errorCode) ?? .notCleared, refusal.text)
    }

    /// Refuses an envelope on its way (a relay, a group's home node, the recipient's node): it
    /// goes no further, and its sender gets a signed `refusal` notice with the reason.
    /// - Returns: the place-keeper a relay passes on instead (same id, sender, recipient and
    ///   time; kind `refusal`, no label, the notice as its body); nil when there is none to make.
    @discardableResult
    func refuseForLabel(_ envelope: Envelope, recipient: String, _ refusal: LabelRefusal) throws -> Envelope? {
        labels.count(refusal.reason)
        try auditLabelRefusal(envelope, to: recipient, refusal)
        logger.notice("envelope refused for its label", metadata: [
            "from": "\(envelope.from)", "to": "\(recipient)", "reason": "\(refusal.reason.name)", "detail": "\(refusal.text)",
        ])
        // A group's fan-out is one member's post: the notice goes to its poster, about the post.
        var subject = envelope
        if envelope.knownKind == .groupFanout, let (_, inner) = try? Group.parseFanout(envelope.body) { subject = inner }
        // Never a notice about a notice, and none to an address that is no person.
        guard subject.knownKind != .refusal, let sender = Address(subject.from) else { return nil }
        var notice = LabelNotice(ref: subject.id, sender: subject.from, recipient: recipient, node: config.name,
                                 reason: refusal.reason, label: labels.rank(of: envelope) ?? labels.policy.defaultRank,
                                 text: refusal.text, refusedAt: Clock.nowMs())
        notice.sign(with: keys.sign)
        let out = Envelope(id: notice.messageID, from: address(Self.nodeSender), to: sender.description, kind: .refusal,
                           sentAt: notice.refusedAt, body: notice.encode())
        if sender.node == config.name {
            try deliverLocally(out, to: sender.local)
        } else if directory.nodeKeys[sender.node] != nil || peering.routeTable.routes[sender.node] != nil {
            try journalOut(out, dest: sender.node)
        }
        return Envelope(id: envelope.id, from: envelope.from, to: envelope.to, kind: .refusal, sentAt: envelope.sentAt,
                        body: out.body)
    }

    /// A `label_refused` record (ids and addresses only).
    func auditLabelRefusal(_ envelope: Envelope, to recipient: String, _ refusal: LabelRefusal) throws {
        try audit(.labelRefused(id: envelope.id, from: envelope.from, to: recipient, reason: refusal.reason.rawValue,
                                label: labels.rank(of: envelope) ?? labels.policy.defaultRank), ref: envelope.id)
    }

    /// Whether a `refusal` envelope is a notice for the person it is addressed to (from a node,
    /// about their own message), rather than a place-keeper, which only takes its stream place.
    func isRefusalNotice(_ envelope: Envelope) -> Bool {
        guard let from = Address(envelope.from), from.local == Self.nodeSender,
              let notice = try? LabelNotice.decode(envelope.body) else { return false }
        return notice.sender == envelope.to && notice.node == from.node
    }

    /// Whether a relayed refusal notice for local `user` is about a message `user` really sent,
    /// from a node that plausibly handled it (SPEC 7.11.7): the message is in this node's record
    /// of what its people sent (the dedupe window), the notice's recipient is on the node it went
    /// to (for a group: any), and the refusing node is that node or one on the route to it.
    /// A correctly signed notice from any other node is a forgery of a refusal: dropped, counted.
    func plausibleRefusal(_ envelope: Envelope, for user: String) throws -> Bool {
        guard let notice = try? LabelNotice.decode(envelope.body), notice.sender == address(user),
              let dest = try store.sentDest(sender: notice.sender, id: notice.ref) else { return false }
        // Sent before this node kept destinations: nothing to compare with.
        if dest.isEmpty { return true }
        let target = dest == "*" ? (Address(notice.recipient)?.node ?? "") : dest
        if dest != "*", Address(notice.recipient)?.node != dest { return false }
        return notice.node == target || (peering.routeTable.routes[target]?.path.contains(notice.node) ?? false)
    }

    /// The recipient's node, before a mailbox: the person must be cleared for the label (whatever
    /// the sender's client and node said), and the label one this node carries.
    func deliveryRefusal(_ envelope: Envelope, to user: String) -> LabelRefusal? {
        guard let clear = labels.rank(of: envelope) else { return nil }
        // A forward is held to the label of what it forwards when its own is lower (SPEC 7.11.11).
        let rank = deliveryRank(envelope, clear: clear)
        if let refusal = labels.policy.carry(rank) { return refusal }
        let to = address(user)
        return labels.policy.deliver(rank, to: [(to, clearance(of: to))])
    }

    /// LABELS: the federation's set, this node's default and ceiling, and the person's clearance.
    func labelInfo(for user: String) -> LabelInfo {
        let p = labels.policy
        return LabelInfo(set: p.set, defaultRank: p.defaultRank, ceiling: p.ceiling, accredited: p.accredited,
                         clearance: clearance(of: address(user)), expiry: p.expiry)
    }

    /// A peer's HELLO: its label set must be ours. One that differs gets nothing from us and
    /// nothing it sends is taken, until its operator fixes the set (logged, in `status`).
    func helloLabelsAgree(_ link: PeerLink, digest: [UInt8]) -> Bool {
        let wasMismatched = labels.mismatchedPeers.contains(link.name)
        let agrees = labels.helloAgrees(peer: link.name, digest: digest)
        if !agrees && !wasMismatched {
            if digest.isEmpty {
                logger.error("peer sends no label digest (it does not enforce labels): no envelopes to or from it, unless its entry in node.yaml says 'unlabelled: true' (then at most the default label goes to it)",
                             metadata: ["peer": "\(link.name)"])
            } else {
                logger.error("peer has another label set: no envelopes to or from it until both node.yaml files list the same labels",
                             metadata: ["peer": "\(link.name)"])
            }
        }
        return agrees
    }

    // MARK: readable until

    /// The label whose 保密期限 governs an envelope's content; nil for kinds with none to delete
    /// (node notices, group requests, and `seen` receipts, which name messages and hold no content).
    func expiryRank(of envelope: Envelope) -> UInt8? {
        guard envelope.knownKind != .seen else { return nil }
        return labels.rank(of: envelope)
    }

    /// The sender's node at SEND (SPEC 7.11.9): under a label with a 保密期限 here, the message
    /// must have a readable-until time no later than its sending time plus that period (and
    /// `LabelExpiry.toleranceMs`). Nil when it has; else the reason for `ERROR 454`.
    func expiryRefusal(_ envelope: Envelope, now: UInt64) -> String? {
        guard let rank = expiryRank(of: envelope) else { return nil }
        return labels.policy.expiry.refusal(rank, readableUntil: envelope.label?.readableUntil ?? 0, sentAt: envelope.sentAt, now: now,
                                            set: labels.policy.set, node: config.name)
    }

    /// The recipient's node: when content stored here at `storedAt` is deleted — its header's
    /// readable-until time, or this node's own 保密期限 for its label counted from `storedAt`,
    /// whichever is earlier; 0: never.
    func deletionTime(_ envelope: Envelope, storedAt: UInt64) -> UInt64 {
        let until = envelope.label?.readableUntil ?? 0
        guard let rank = expiryRank(of: envelope) else { return until }
        return labels.policy.expiry.deadline(rank, readableUntil: until, from: storedAt)
    }

    /// A mailbox entry with a readable-until time was stored: the timer is brought forward after the commit.
    func noteReadableUntil(_ until: UInt64) {
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.labels.nextExpiryMs = min(self.labels.nextExpiryMs ?? until, until)
        }
    }

    /// At their readable-until time (SPEC 7.11.9), mailbox entries still waiting lose their content
    /// (header kept, body empty) and their senders get a signed `expired` receipt, as unviewed burn
    /// content does; entries already acknowledged are only forgotten.
    func expireReadableUntil() {
        let now = Clock.nowMs()
        if !labels.expiryLoaded {
            labels.expiryLoaded = true
            labels.nextExpiryMs = try? store.nextLabelExpiry()
        }
        guard let next = labels.nextExpiryMs, next <= now else { return }
        do {
            var due: [(recipient: String, seq: UInt64, id: MessageID, sender: String)] = []
            try write(ref: .zero) { due = try store.dueLabelExpiries(now: now, limit: Self.batchLimit) }
            var deleted = 0
            for item in due {
                var old: [UInt8]?
                try write(ref: item.id) {
                    old = try store.mailboxEntry(recipient: item.recipient, seq: item.seq)
                    try store.forgetLabelExpiry(recipient: item.recipient, seq: item.seq)
                }
                guard let old else { continue }
                var r = WireReader(old)
                guard var envelope = try? Envelope.decode(from: &r) else { continue }
                envelope.body = []
                var w = WireWriter(capacity: envelope.encodedSize)
                envelope.encode(into: &w)
                let stub = w.bytes
                try write(ref: item.id) { try store.replaceMailboxEntry(recipient: item.recipient, seq: item.seq, envelope: stub) }
                quotas.changeMailbox(item.recipient, count: 0, bytes: stub.count - old.count)
                quotas.changeSender(item.sender, count: 0, bytes: stub.count - old.count)
                try sendReceipt(.expired, burn: item.id, sender: item.sender, subject: address(item.recipient))
                deleted += 1
            }
            var following: UInt64?
            try write(ref: .zero) { following = try store.nextLabelExpiry() }
            batch.afterCommit { [weak self] in
                guard let self else { return }
                self.labels.expired += deleted
                self.labels.nextExpiryMs = following
            }
        } catch {
            logger.error("cannot delete content at its readable-until time: \(error)")
        }
    }

    /// A clearance set lower than what waits in the person's mailbox: each entry above it is
    /// refused as at delivery (SPEC 7.11.6) — deleted, never handed out, its sender told.
    func withholdWaiting(for user: String, above clearance: UInt8) throws {
        let to = address(user)
        var rows: [(seq: UInt64, envelope: [UInt8])] = []
        try write(ref: .zero) { rows = try store.mailbox(recipient: user, after: 0, limit: Int(Int32.max)) }
        var refused = Set<MessageID>()
        for row in rows {
            var r = WireReader(row.envelope)
            guard let envelope = try? Envelope.decode(from: &r), let rank = labels.rank(of: envelope),
                  let refusal = labels.policy.deliver(rank, to: [(to, clearance)]) else { continue }
            try write(ref: envelope.id) { try store.deleteMailboxEntry(recipient: user, seq: row.seq) }
            quotas.changeMailbox(user, count: -1, bytes: -row.envelope.count)
            quotas.changeSender(envelope.from, count: -1, bytes: -row.envelope.count)
            try refuseForLabel(envelope, recipient: to, refusal)
            refused.insert(envelope.id)
        }
        try withholdBurns(for: user, above: clearance, noticesSent: refused)
        try withholdFiles(for: user, above: clearance)
    }

    /// Burn messages kept for the person above the new clearance (their notice may have been
    /// handed out already) are deleted at once, not at their expiry; the sender is told (once).
    func withholdBurns(for user: String, above clearance: UInt8, noticesSent: Set<MessageID>) throws {
        let to = address(user)
        var kept: [(id: MessageID, sender: String, envelope: [UInt8])] = []
        try write(ref: .zero) { kept = try store.burns(recipient: user) }
        var deleted = 0
        for burn in kept {
            var r = WireReader(burn.envelope)
            guard let envelope = try? Envelope.decode(from: &r), let rank = labels.rank(of: envelope),
                  let refusal = labels.policy.deliver(rank, to: [(to, clearance)]) else { continue }
            var gone = false
            try write(ref: burn.id) {
                gone = try store.deleteBurn(recipient: user, id: burn.id)
                try store.logBurn(id: burn.id, recipient: user, event: .expired, at: Clock.nowMs())
            }
            guard gone else { continue }
            quotas.changeBurns(user, count: -1, bytes: -burn.envelope.count)
            deleted += 1
            if !noticesSent.contains(burn.id) { try refuseForLabel(envelope, recipient: to, refusal) }
        }
        guard deleted > 0 else { return }
        batch.afterCommit { [weak self] in self?.burns.deleted(count: deleted) }
    }

    // MARK: admin

    /// `status.labels`: the rules in force and the refusals since start, by reason.
    func labelsStatus() -> NodeStatus.Labels {
        let p = labels.policy
        var links: [String: String] = [:]
        for peer in config.peers { links[peer.name] = p.set.display(labels.linkCeilings[peer.name] ?? p.ceiling) }
        return NodeStatus.Labels(
            default: p.set.display(p.defaultRank), ceiling: p.set.display(p.ceiling),
            accredited: p.set.labels.indices.filter { p.isAccredited(UInt8($0)) && p.set.labels[$0].stateSecret }.map { p.set.labels[$0].display },
            set: p.set.labels.map(\.display), digest: Hex.encode(labels.digest), links: links,
            mismatchedPeers: labels.mismatchedPeers.sorted(), refused: labels.refusalsByName,
            expired: labels.expired, nextExpiry: labels.nextExpiryMs.map { Clock.rfc3339(ms: $0) },
            unlabelledPeers: labels.unlabelledPeers.sorted(), noticesDropped: labels.noticesDropped, downgrades: labels.downgrades,
            expiry: Dictionary(uniqueKeysWithValues: p.expiry.seconds.map { (p.set.display($0.key), LabelExpiry.format(seconds: $0.value)) }))
    }

    /// `{"cmd": "user", "action": "clear", "user": NAME, "label": LABEL}`: re-signs the user's
    /// directory entry with the clearance (no re-enrolment) and publishes it.
    func clearUser(_ user: UserRecord, label text: String) throws -> [String: Any] {
        guard let rank = labels.policy.set.rank(of: text) else {
            throw NodeError.usage("'\(text)' is not a label (known: \(labels.policy.set.labels.map(\.display).joined(separator: ", ")))")
        }
        guard let old = try? DirectoryEntry.decode(user.entry) else { throw NodeError.storage("the stored entry of \(user.name) is damaged") }
        let entry = signedEntry(user: user.name, display: old.display, boxKey: old.boxKey, signKey: old.signKey, clearance: rank)
        var version: UInt64 = 0
        try write(ref: .zero) {
            _ = try store.replaceUserEntry(user.name, entry: entry)
            version = try store.bumpDirectoryVersion(from: directory.localVersion)
        }
        try audit(.clearanceSet(user: address(user.name), label: rank, by: AuditActor.operator))
        try withholdWaiting(for: user.name, above: rank)
        var updated = user
        updated.entry = entry
        batch.afterCommit { [weak self] in
            self?.users.updated(updated)
            self?.directoryChanged(to: version)
            self?.logger.notice("clearance set", metadata: ["user": "\(user.name)", "label": "\(self?.labels.policy.set.display(rank) ?? "")"])
        }
        finishCycle()
        return ["state": "cleared", "label": labels.policy.set.display(rank), "changed": old.clearance != rank]
    }
}
