import Foundation
import Logging
import SealpostCore
import Sodium
import ZeroMQ

/// Federation: peer links, the relay journal, path-vector routing, the
/// federated directory and status summaries (protocol/SPEC.md, "Node to node").
///
/// Reliability: an envelope bound for another node is in this node's journal
/// (committed) before its sender gets STORED; each hop keeps it until the next
/// hop answers RELAYED, which that hop sends only after its own commit; unanswered
/// RELAYs are sent again with backoff, and the whole window after a reconnect.
/// Order and exactly-once: the origin numbers envelopes per destination node
/// (`stream_seq`); the destination accepts them strictly in that order, holding
/// early ones and dropping repeats, whatever path each copy took.
extension Reactor {
    static let credit: UInt32 = 1000

    // MARK: configuration

    /// Opens links to new peers, closes removed ones, reopens changed ones.
    func applyPeers(_ peers: [PeerConfig]) {
        let wanted = Dictionary(uniqueKeysWithValues: peers.map { ($0.name, $0) })
        for (name, link) in peering.links where wanted[name] != link.config {
            logger.info("peer removed", metadata: ["peer": "\(name)"])
            peering.requeueInFlight(of: link)
            link.close()
            peering.closed(name)
        }
        for peer in peers where peering.links[peer.name] == nil {
            do {
                peering.opened(try PeerLink(context: context, config: peer, keys: keys, timers: config.timers, now: Clock.monotonicNs()))
                logger.info("peer added", metadata: ["peer": "\(peer.name)", "router": "\(peer.router)"])
            } catch {
                logger.error("cannot open link to peer \(peer.name): \(error)")
            }
        }
        peering.setPeers(peers)
        config.peers = peers
        recomputeRoutes()
    }

    /// Picks up `sealpost-node peer add/remove` (or a hand edit) without a restart.
    func reloadConfigIfChanged() {
        guard chores.configChanged(modified: dataDir.configModified) else { return }
        do {
            let fresh = try dataDir.loadConfig()
            if fresh.name != config.name || fresh.listen != config.listen || fresh.publish != config.publish {
                logger.notice("name, listen and publish changes take effect after a restart")
            }
            let labelsChanged = fresh.labels != config.labels || fresh.peers.map(\.ceiling) != config.peers.map(\.ceiling)
                || fresh.peers.map(\.unlabelled) != config.peers.map(\.unlabelled)
            if fresh.peers != config.peers {
                applyPeers(fresh.peers)
                auditPeerChanges()
            }
            // Ceilings, accreditations and the default apply at once (the set must agree with the peers').
            if labelsChanged {
                var fresher = try LabelGuard(config: fresh)
                fresher.refusals = labels.refusals
                fresher.noticesDropped = labels.noticesDropped
                fresher.downgrades = labels.downgrades
                fresher.expiryRefusals = labels.expiryRefusals
                fresher.expired = labels.expired
                fresher.nextExpiryMs = labels.nextExpiryMs
                fresher.expiryLoaded = labels.expiryLoaded
                if fresher.digest != labels.digest { logger.notice("the label set changed: peers are asked to agree again at their next HELLO") }
                labels = fresher
                config.labels = fresh.labels
            }
            // Quotas, rates, the free-space floor, the audit signing interval, the forwarding and trace policies apply at once.
            config.limits = fresh.limits
            config.audit = fresh.audit
            config.forwarding = fresh.forwarding
            config.trace = fresh.trace
            tracing.apply(fresh.trace)
        } catch {
            logger.error("node.yaml changed but cannot be used, keeping the running config: \(error)")
        }
    }

    // MARK: timers

    func federationTick(now: UInt64) {
        peering.ticked(now: now, interval: Self.federationTickNs)
        if chores.configCheckDue(now: now) {
            reloadConfigIfChanged()
        }
        var linkChanged = false
        for link in peering.links.values {
            for action in link.machine.tick(now: now) {
                switch action {
                case .linkSilent:
                    // Silent: the peer may have restarted. Ask again, resend the window when it answers.
                    peering.requeueInFlight(of: link)
                    logger.warning("peer silent", metadata: ["peer": "\(link.name)"])
                    linkChanged = true
                case .reopenSockets:
                    do { try link.reopen(context: context, keys: keys, now: now) } catch {
                        logger.error("cannot reopen link to \(link.name): \(error)")
                    }
                case .sendHello:
                    sendPeer(link, .hello(node: config.name, signKey: keys.sign.publicKey, credit: Self.credit, epoch: restore.ownEpoch,
                                          labels: labels.digest))
                case .reopenSubscription:
                    do { try link.reopenSubscription(context: context, keys: keys, now: now) } catch {
                        logger.error("cannot reopen subscription to \(link.name): \(error)")
                    }
                case .sendPing:
                    sendPeer(link, .ping(sentNs: now))
                case .linkUp:
                    preconditionFailure("Invalid action: a link comes up on a HELLO answer, not on a tick")
                }
            }
            // Resend what the peer has not acknowledged in time (backoff per attempt).
            for (jid, sentNs) in link.inFlight where now &- sentNs > config.timers.retransmitNs {
                // The attempts are looked up only for what is past the shortest timeout (not a copy of every entry in flight).
                let attempts = peering.journal.attempts(jid)
                let rto = min(UInt64(1) << UInt64(min(attempts - 1, 5)), 30) * config.timers.retransmitNs
                if now &- sentNs > rto {
                    peering.resend(jid, from: link)
                }
            }
            if !link.undecidedRefusals.isEmpty, link.machine.refusalsDue(now: now) { settleRefusals(link) }
            if link.machine.routesStale(now: now) && !link.routes.isEmpty {
                link.routes = []
                linkChanged = true
            }
        }
        if linkChanged { recomputeRoutes(now: now) }
        if peering.announceDue(now: now, interval: config.timers.announceNs) {
            announceRoutes()
            requestDirectories(now: now)
        }
        if peering.summaryDue(now: now, interval: config.timers.summaryNs) {
            publishSummary()
        }
        dispatchJournal(now: now)
        traceTick(now: now)
    }

    // MARK: sending

    func sendPeer(_ link: PeerLink, _ command: PeerCommand) {
        _ = try? link.dealer.send([command.encode()], dontWait: true)
    }

    func replyPeer(_ routing: [UInt8], _ command: PeerCommand) {
        _ = try? router.send([routing, command.encode()], dontWait: true)
    }

    /// Sends queued journal entries to the next hop of their destination, within its credit.
    func dispatchJournal(now: UInt64) {
        guard !peering.journal.isEmpty else { return }
        for dest in peering.journal.destinationsWaiting {
            guard let hop = peering.routeTable.nextHop(to: dest), let link = peering.links[hop], link.isUp(now: now),
                  link.readyForRelays(now: now) else { continue }
            let batch = peering.takeQueued(for: dest, limit: link.room)
            for (index, entry) in batch.enumerated() {
                let frame = PeerCommand.relay(jid: entry.jid, origin: entry.origin, dest: entry.dest, streamSeq: entry.streamSeq,
                                              hops: entry.hops, envelope: entry.envelope, epoch: entry.epoch).encode()
                let sent = (try? link.dealer.send([frame], dontWait: true)) ?? false
                guard sent else {
                    // Pipe full or not connected: everything not sent goes back, in order.
                    for rest in batch[index...] { peering.requeue(rest.jid) }
                    break
                }
                peering.sent(entry.jid, on: link, now: now)
            }
        }
    }

    func sendRelayAcks(_ acks: [[UInt8]: [UInt64]]) {
        for (routing, jids) in acks {
            var start = 0
            while start < jids.count {
                let chunk = Array(jids[start..<min(start + 4096, jids.count)])
                replyPeer(routing, .relayed(jids: chunk))
                start += chunk.count
            }
        }
    }

    /// Writes the stream counters this cycle moved (once per cycle, not per envelope).
    func saveStreams() throws {
        let dirty = peering.takeDirty()
        for (node, next) in dirty.out { try store.setStream(outgoing: true, node: node, next: next) }
        for (node, next) in dirty.in { try store.setStream(outgoing: false, node: node, next: next) }
    }

    /// After a failed commit the in-memory stream counters may be ahead of the database.
    func reloadStreams() {
        peering.reloaded(streamOut: try? store.streams(outgoing: true), streamIn: try? store.streams(outgoing: false),
                            heldCount: try? store.heldCounts())
        reloadRestoreState()
    }

    // MARK: origin

    /// Puts an envelope this node originates into the journal towards `dest`
    /// (next stream seq for that node), inside the cycle's transaction.
    func journalOut(_ envelope: Envelope, dest: String) throws {
        let nowMs = Clock.nowMs()
        let streamSeq = peering.nextOut(to: dest)
        var w = WireWriter(capacity: envelope.encodedSize)
        envelope.encode(into: &w)
        var jid: UInt64 = 0
        try write(ref: envelope.id) {
            jid = try store.appendJournal(dest: dest, origin: config.name, streamSeq: streamSeq, hops: 0, envelope: w.bytes, at: nowMs,
                                          epoch: restore.ownEpoch)
        }
        quotas.changeSender(envelope.from, count: 1, bytes: w.bytes.count)
        try noteJournalled(envelope, jid: jid)
        peering.usedOut(streamSeq, to: dest)
        let entry = RelayJournal.Entry(jid: jid, dest: dest, origin: config.name, streamSeq: streamSeq, hops: 0,
                                       envelope: envelope, createdMs: nowMs, epoch: restore.ownEpoch)
        batch.afterCommit { [weak self] in self?.peering.journalled(entry) }
    }

    // MARK: from peers, on our ROUTER

    func handlePeer(_ peer: String, routingId: [UInt8], frame: [UInt8]) {
        guard let link = peering.links[peer] else { return }
        let command: PeerCommand
        do {
            command = try PeerCommand.decode(frame)
        } catch {
            counters.malformed += 1
            logger.warning("malformed frame from peer", metadata: ["peer": "\(peer)", "error": "\(error)"])
            // A malformed RELAY is never accepted, so it is acknowledged and dropped (SPEC 13.4):
            // the peer must not resend it for good.
            if let jid = PeerCommand.relayJid(frame) { batch.ack(routingId, jid: jid) }
            return
        }
        guard command.commandID.direction.readOnRouter else {
            counters.malformed += 1
            return
        }
        do {
            switch command {
            case let .hello(node, signKey, _, epoch, digest):
                guard node == peer else {
                    counters.rejectedAnnouncements += 1
                    logger.warning("peer says it is another node", metadata: ["peer": "\(peer)", "claims": "\(node)"])
                    return
                }
                // Another label set: no answer, so the link does not come up (SPEC 7.11.2).
                guard helloLabelsAgree(link, digest: digest) else { return }
                try pinPeerKey(link, signKey)
                let now = Clock.monotonicNs()
                for case .reopenSockets in link.machine.peerSaidHello(now: now) {
                    do { try link.reopen(context: context, keys: keys, now: now) } catch {
                        logger.error("cannot reopen link to \(link.name): \(error)")
                    }
                }
                try notePeerHello(link, epoch: epoch, onRouter: true)
                replyPeer(routingId, .hello(node: config.name, signKey: keys.sign.publicKey, credit: Self.credit, epoch: restore.ownEpoch,
                                            labels: labels.digest))
            case let .relay(jid, origin, dest, streamSeq, hops, envelope, epoch):
                try receiveRelay(from: link, routingId: routingId, jid: jid, origin: origin, dest: dest,
                                 streamSeq: streamSeq, hops: hops, envelope: envelope, epoch: epoch)
            case .ping(let sentNs):
                replyPeer(routingId, .pong(echoNs: sentNs))
            case .directoryRequest(let home):
                replyPeer(routingId, directorySnapshot(of: home))
            case .filePull, .filePulled:
                try handlePeerFile(peer, routingId: routingId, command)
            case let .traceQuery(query, hops):
                receiveTraceQuery(from: link, query: query, hops: hops)
            case let .traceAnswer(queryId, origin, dest, hops, answer):
                receiveTraceAnswer(from: link, queryId: queryId, origin: origin, dest: dest, hops: hops, answer: answer)
            case .relayed, .pong, .routes, .directorySnapshot, .summary, .fileData, .fileHave:
                return // not sent to a ROUTER: refused above by its direction
            }
        } catch {
            logger.error("peer command failed: \(error)", metadata: ["peer": "\(peer)"])
        }
    }

    /// A configured peer proved its identity with CURVE: its signing key is authoritative.
    func pinPeerKey(_ link: PeerLink, _ signKey: [UInt8]) throws {
        link.signKey = signKey
        if directory.nodeKeys[link.name] != signKey {
            let now = Clock.nowMs()
            try write(ref: .zero) { try store.pinNode(name: link.name, signKey: signKey, at: now) }
            if let old = directory.nodeKeys[link.name], old != signKey {
                // A new key starts fresh (a rebuilt node numbers from low again); snapshots signed
                // with the old key no longer verify, so none of its older ones can be replayed.
                logger.warning("peer signing key changed", metadata: ["peer": "\(link.name)"])
                try write(ref: .zero) { try store.dropDirectoryFloor(name: link.name) }
            }
            let previous = directory.pinPeer(link.name, signKey: signKey)
            // Not pinned after all: pinned again on the peer's next answer (readDealer).
            batch.onRollback { [weak self] in self?.directory.putBack(previous) }
        }
    }

    /// Whether `peer` may hand us envelopes from `origin`: it is the origin, or it
    /// announces a route to it, or it is our way to it. Anything else is a peer
    /// injecting envelopes for nodes it does not route for.
    func relayAllowed(origin: String, via link: PeerLink) -> Bool {
        origin == link.name || link.routes.contains { $0.dest == origin } || peering.routeTable.nextHop(to: origin) == link.name
    }

    func receiveRelay(from link: PeerLink, routingId: [UInt8], jid: UInt64, origin: String, dest: String,
                      streamSeq: UInt64, hops: UInt8, envelope: Envelope, epoch: UInt64 = 0) throws {
        // Refusals that are final are acknowledged (SPEC 13.4), so the peer drops the
        // envelope instead of resending it for good; only the route check waits.
        guard origin != config.name else {
            // Our own envelope back through a loop, or one a peer made up in our name (it could
            // take a number of our stream): we cannot tell them apart, so it is dropped.
            counters.rejectedRelays += 1
            batch.ack(routingId, jid: jid)
            logger.warning("relay refused: it claims this node as its origin", metadata: ["peer": "\(link.name)", "dest": "\(dest)"])
            return
        }
        guard relayAllowed(origin: origin, via: link) else {
            // Not acknowledged: if this is only a route not yet learned, the peer sends it again later.
            if link.machine.holdsRefusals(now: Clock.monotonicNs()),
               link.undecidedRefusals[origin] != nil || link.undecidedRefusals.count < PeerLink.maxUndecidedOrigins {
                // Its routes are not known yet (this node just started): decided once they are.
                link.undecidedRefusals[origin, default: 0] += 1
                return
            }
            counters.rejectedRelays += 1
            logger.warning("relay refused: peer does not route for its origin",
                           metadata: ["peer": "\(link.name)", "origin": "\(origin)"])
            return
        }
        guard hops < PeerCommand.maxHops || dest == config.name else {
            // Caught in a routing loop: dropped and acknowledged, so it does not circle for good.
            // (One that has arrived is delivered whatever its count: dropping it there would stop
            // its origin's stream behind it for good.)
            counters.rejectedRelays += 1
            batch.ack(routingId, jid: jid)
            logger.warning("relay dropped: it passed \(PeerCommand.maxHops) nodes (a routing loop)",
                           metadata: ["peer": "\(link.name)", "origin": "\(origin)", "dest": "\(dest)"])
            return
        }
        guard !labels.mismatchedPeers.contains(link.name) else {
            // Its label set is not ours: not acknowledged, so nothing is lost once the sets agree.
            counters.rejectedRelays += 1
            return
        }
        refreshStorageState(now: Clock.monotonicNs())
        guard storage.answer(to: .relay) == .store else {
            // Not acknowledged: it stays in the peer's journal, which sends it again later.
            quotas.count(.relayDeferred)
            return
        }
        // Labels (SPEC 7.11.5): on its way, what this node carries at all and what may leave over
        // the link to the next hop (the destination checks its people's clearances). A refused
        // envelope's sender is told why, and a place-keeper without its content goes on in its
        // place, so its stream is not stopped behind it.
        var envelope = envelope
        if dest != config.name,
           let refusal = labels.relay(envelope, to: peering.routeTable.nextHop(to: dest)) ?? loweredForwardRefusal(envelope) {
            envelope = try refuseForLabel(envelope, recipient: envelope.to, refusal) ?? envelope
        }
        // A due notice from outside is forged (only a user's own node makes them), but it is passed
        // on like any envelope: its destination drops it in `appendRelayed` after it took its place
        // in the stream, so no gap is left behind it.
        var acknowledge = true
        if dest == config.name {
            guard streamSeq < Self.maxStreamCounter else {
                // The stream counter past it could not be stored (SPEC 13.5): refused for good.
                counters.rejectedRelays += 1
                batch.ack(routingId, jid: jid)
                logger.warning("relay refused: stream_seq at the end of the stream", metadata: ["peer": "\(link.name)", "origin": "\(origin)"])
                return
            }
            if try acceptEpoch(origin: origin, epoch: epoch, streamSeq: streamSeq, envelope: envelope) {
                acknowledge = try deliverRelayed(origin: origin, streamSeq: streamSeq, envelope: envelope)
            }
        } else {
            var w = WireWriter(capacity: envelope.encodedSize)
            envelope.encode(into: &w)
            let nowMs = Clock.nowMs()
            var newJid: UInt64 = 0
            try write(ref: envelope.id) {
                newJid = try store.appendJournal(dest: dest, origin: origin, streamSeq: streamSeq, hops: hops + 1,
                                                 envelope: w.bytes, at: nowMs, epoch: epoch)
            }
            try noteJournalled(envelope, jid: newJid)
            let entry = RelayJournal.Entry(jid: newJid, dest: dest, origin: origin, streamSeq: streamSeq, hops: hops + 1,
                                           envelope: envelope, createdMs: nowMs, epoch: epoch)
            batch.afterCommit { [weak self] in self?.peering.journalled(entry) }
            counters.journalled()
        }
        if acknowledge { batch.ack(routingId, jid: jid) }
    }

    /// At the destination: into mailboxes in stream order, holding early arrivals.
    /// - Returns: whether to acknowledge the RELAY (false: past the per-origin cap on held
    ///   envelopes, it is to be sent again later).
    @discardableResult
    func deliverRelayed(origin: String, streamSeq: UInt64, envelope: Envelope) throws -> Bool {
        let expected = peering.expectedIn(from: origin)
        guard let to = Address(envelope.to) else { return true }
        if streamSeq < expected {
            counters.duplicates += 1
            return true
        }
        var w = WireWriter(capacity: envelope.encodedSize)
        envelope.encode(into: &w)
        if streamSeq > expected {
            let limits = config.limits
            guard peering.held(from: origin) < limits.heldPerOrigin else {
                // An origin numbering past a gap it does not fill: not acknowledged, so nothing is
                // lost (the peer sends it again once the gap is filled), and the disk is not filled.
                quotas.count(.heldRefused)
                return false
            }
            // Held envelopes count against their recipient's mailbox quota. One that does not fit
            // is dropped as a full mailbox drops a relayed envelope (acknowledged, counted), and an
            // empty place-keeper takes its number so the stream is not stopped at it.
            var bytes = w.bytes
            let inMailbox = quotas.mailboxUse(to.local)
            let heldUse = try store.heldUsage(recipient: to.local)
            if users.byName[to.local] != nil,
               inMailbox.count + heldUse.count >= limits.mailboxMessages || inMailbox.bytes + heldUse.bytes + bytes.count > limits.mailboxBytes {
                noteDropped(.relayDropped, user: to.local, envelope: envelope)
                bytes = []
            }
            var added = false
            let held = bytes
            try write(ref: envelope.id) {
                added = try store.hold(origin: origin, streamSeq: streamSeq, recipient: to.local, envelope: held)
            }
            if added { peering.hold(from: origin) }
            return true
        }
        var next = expected
        try appendRelayed(recipient: to.local, envelope: envelope, bytes: w.bytes)
        next += 1
        while peering.held(from: origin) > 0 {
            var held: (recipient: String, envelope: [UInt8])?
            let seq = next
            try write(ref: .zero) { held = try store.takeHeld(origin: origin, streamSeq: seq) }
            guard let held else { break }
            peering.released(from: origin)
            var r = WireReader(held.envelope)
            if let e = try? Envelope.decode(from: &r) { try appendRelayed(recipient: held.recipient, envelope: e, bytes: held.envelope) }
            next += 1
        }
        peering.acceptedIn(from: origin, through: next)
        return true
    }

    func appendRelayed(recipient: String, envelope: Envelope, bytes: [UInt8]) throws {
        if envelope.knownKind == .refusal, !isRefusalNotice(envelope) {
            // A place-keeper for an envelope refused on the way for its label: its stream number is used.
            counters.undeliverable += 1
            return
        }
        if envelope.knownKind == .refusal, try !plausibleRefusal(envelope, for: recipient) {
            // Signed, but not about a message this person sent there, or from a node not on its way (SPEC 7.11.7).
            labels.noticesDropped += 1
            logger.warning("refusal notice dropped: it names no message its addressee sent through that node",
                           metadata: ["from": "\(envelope.from)", "to": "\(envelope.to)"])
            return
        }
        if envelope.knownKind == .reminderDue {
            // Forged (only a user's own node makes due notices): its stream number is used, nothing stored.
            counters.rejectedRelays += 1
            logger.warning("relayed due notice dropped: only a user's own node makes them", metadata: ["from": "\(envelope.from)"])
            return
        }
        if envelope.knownKind == .forwardReport {
            // For this node itself (`node@THIS`), about its unit's message: to its officers (SPEC 7.9.9).
            return try receiveForwardReport(envelope)
        }
        if envelope.knownKind == .groupFanout {
            return try deliverFanout(envelope)
        }
        if envelope.knownKind == .delivered {
            return try deliverRelayedReceipt(envelope, to: recipient)
        }
        if groupHome.groups[recipient] != nil || envelope.knownKind == .groupOp
            || envelope.knownKind == .groupMessage {
            // A member on another node writing to one of our groups (or to a group
            // that does not exist: the home node answers with a refusal).
            return try handleGroupEnvelope(envelope, session: nil)
        }
        if let (ref, _) = Quote.split(envelope), try store.isBurnID(ref) {
            // Its origin did not know the burn message; we do.
            counters.refusedQuotes += 1
            logger.warning("relayed envelope quoting a burn message dropped", metadata: ["from": "\(envelope.from)"])
            return
        }
        guard users.byName[recipient] != nil else {
            counters.undeliverable += 1
            logger.warning("relayed envelope for an unknown user dropped", metadata: ["to": "\(envelope.to)"])
            return
        }
        counters.stored()
        try deliverLocally(envelope, to: recipient, encoded: bytes, relay: true)
    }

    // MARK: from peers, on our DEALERs and SUBs

    func readDealer(_ link: PeerLink, now: UInt64) {
        var count = 0
        while count < Self.batchLimit, !transfers.budgetSpent, let message = try? link.dealer.receive(dontWait: true) {
            count += 1
            guard message.frames.count == 1, let command = try? PeerCommand.decode(message.frames[0]) else {
                counters.malformed += 1
                continue
            }
            link.machine.heard(now: now)
            do {
                // A key from a HELLO whose pin was rolled back is pinned again (a failure fails the batch, not this answer).
                if let key = link.signKey, directory.nodeKeys[link.name] != key { try? pinPeerKey(link, key) }
                guard command.commandID.direction.readOnDealer else {
                    counters.malformed += 1
                    continue
                }
                switch command {
                case let .hello(node, signKey, credit, epoch, digest):
                    guard node == link.name else {
                        counters.rejectedAnnouncements += 1
                        continue
                    }
                    guard helloLabelsAgree(link, digest: digest) else { continue }
                    try pinPeerKey(link, signKey)
                    try notePeerHello(link, epoch: epoch, onRouter: false)
                    link.credit = Int(credit)
                    for case .linkUp in link.machine.helloAnswered(now: now) {
                        // Resend the whole window: what was in flight may have died with the connection.
                        peering.requeueInFlight(of: link)
                        logger.info("peer connected", metadata: ["peer": "\(link.name)"])
                        recomputeRoutes(now: now)
                        peering.announceSoon()
                    }
                case .relayed(let jids):
                    link.lastAckNs = now
                    // Only what was sent to this peer and not yet given to another: a
                    // peer cannot make us forget envelopes it never had.
                    for jid in jids {
                        // One copy of the entry per acknowledged jid (an entry is an envelope and its route).
                        let entry = peering.journal.entries[jid]
                        guard link.inFlight[jid] != nil || entry?.sentTo == link.name else { continue }
                        try finishJournalEntry(jid, entry, ackedBy: link.name)
                        // A burn message's copy here is gone with it: its sender gets a receipt.
                        if let entry {
                            try burnForwarded(entry.envelope, jid: jid, dest: entry.dest, to: link.name)
                            if entry.origin == config.name {
                                quotas.changeSender(entry.envelope.from, count: -1, bytes: -entry.envelope.encodedSize)
                            }
                        }
                        // Forgotten only once the delete (or the retention mark) is durable; a failed commit leaves it in flight.
                        batch.afterCommit { [weak self] in self?.peering.acknowledged(jid, by: link) }
                    }
                case .pong(let echoNs):
                    if echoNs <= now { link.rttNs = now - echoNs }
                case let .directorySnapshot(home, version, entries, signature):
                    try receiveDirectorySnapshot(from: link, home: home, version: version, entries: entries, signature: signature)
                case .fileData, .fileHave:
                    handleDealerFile(link, command)
                case .relay, .ping, .directoryRequest, .routes, .summary, .filePull, .filePulled, .traceQuery, .traceAnswer:
                    continue // not sent to a DEALER: refused above by its direction
                }
            } catch {
                logger.error("peer answer failed: \(error)", metadata: ["peer": "\(link.name)"])
            }
        }
    }

    func readSubscription(_ link: PeerLink, now: UInt64) {
        var count = 0
        while count < 256, let message = try? link.sub.receive(dontWait: true) {
            count += 1
            guard message.frames.count == 1 else {
                counters.rejectedAnnouncements += 1
                continue
            }
            let command: PeerCommand
            do {
                command = try PeerCommand.decode(message.frames[0])
            } catch {
                counters.rejectedAnnouncements += 1
                logger.warning("malformed announcement rejected", metadata: ["peer": "\(link.name)", "error": "\(error)"])
                continue
            }
            guard command.commandID.direction.readOnSubscription else {
                counters.rejectedAnnouncements += 1
                continue
            }
            switch command {
            case let .routes(node, seq, entries):
                receiveRoutes(from: link, node: node, seq: seq, entries: entries, now: now)
            case let .summary(node, seq, json):
                guard peering.isNewSummary(from: node, seq: seq, me: config.name) else { continue }
                guard (try? JSONSerialization.jsonObject(with: Data(json))) is [String: Any] else {
                    counters.rejectedAnnouncements += 1
                    continue
                }
                peering.heardSummary(from: node, seq: seq, json: json, nowMs: Clock.nowMs())
                // Flood: every node ends up with every summary; the seq stops loops.
                _ = try? publisher.send([PeerCommand.summary(node: node, seq: seq, json: json).encode()], dontWait: true)
            default:
                continue // not published: refused above by its direction
            }
        }
    }

    // MARK: routing

    func receiveRoutes(from link: PeerLink, node: String, seq: UInt64, entries: [RouteEntry], now: UInt64) {
        guard node == link.name else {
            counters.rejectedAnnouncements += 1
            logger.warning("announcement rejected: sent by \(link.name) in the name of \(node)")
            return
        }
        guard seq > link.routesSeq else { return }
        guard let own = entries.first(where: { $0.dest == node }), own.path.isEmpty,
              link.signKey == nil || own.signKey == link.signKey else {
            counters.rejectedAnnouncements += 1
            logger.warning("announcement rejected: missing or wrong self entry", metadata: ["peer": "\(link.name)"])
            return
        }
        var accepted: [RouteEntry] = []
        for entry in entries {
            if entry.dest == config.name { continue }
            if let pinned = directory.nodeKeys[entry.dest], pinned != entry.signKey {
                counters.keyConflicts += 1
                logger.warning("route ignored: signing key differs from the pinned one",
                               metadata: ["peer": "\(link.name)", "dest": "\(entry.dest)"])
                continue
            }
            accepted.append(entry)
        }
        // Pin keys of nodes seen for the first time (trust on first use).
        let nowMs = Clock.nowMs()
        for entry in accepted where directory.nodeKeys[entry.dest] == nil && entry.dest != link.name {
            do {
                try write(ref: .zero) { try store.pinNode(name: entry.dest, signKey: entry.signKey, at: nowMs) }
                directory.pinFirstSeen(entry.dest, signKey: entry.signKey)
                // Not pinned after all: pinned on the next announcement that names it.
                let dest = entry.dest
                batch.onRollback { [weak self] in self?.directory.pinRolledBack(dest) }
                logger.info("pinned node key", metadata: ["dest": "\(entry.dest)", "via": "\(link.name)"])
            } catch {
                logger.error("cannot pin node key: \(error)")
            }
        }
        link.routesSeq = seq
        link.machine.routesHeard(now: now, listsUs: entries.contains(where: { $0.dest == config.name }))
        if accepted != link.routes {
            link.routes = accepted
            recomputeRoutes(now: now)
        }
        // Decided only now that its routes (and our route table) are known.
        if !link.undecidedRefusals.isEmpty { settleRefusals(link) }
    }

    /// Counts the refusals held while `link`'s routes were unknown, for the origins it still
    /// does not route for (one warning for all of them).
    func settleRefusals(_ link: PeerLink) {
        let still = link.undecidedRefusals.filter { !relayAllowed(origin: $0.key, via: link) }
        link.undecidedRefusals.removeAll()
        guard !still.isEmpty else { return }
        let n = still.values.reduce(0, +)
        counters.rejectedRelays += UInt64(n)
        logger.warning("relay refused: peer does not route for its origin",
                       metadata: ["peer": "\(link.name)", "origins": "\(still.keys.sorted().joined(separator: ","))", "count": "\(n)"])
    }

    func recomputeRoutes(now: UInt64 = Clock.monotonicNs()) {
        var announcements: [String: [RouteEntry]] = [:]
        for link in peering.links.values where link.isUp(now: now) {
            var entries = link.routes
            if !entries.contains(where: { $0.dest == link.name }), let key = link.signKey {
                entries.append(RouteEntry(dest: link.name, signKey: key, directoryVersion: 0, path: []))
            }
            announcements[link.name] = entries
        }
        if peering.recomputeRoutes(announcements: announcements) {
            let summary = peering.routeTable.routes.values.sorted { $0.dest < $1.dest }.map { "\($0.dest) via \($0.nextHop) (\($0.hops))" }
            logger.info("routes changed", metadata: ["routes": "\(summary.joined(separator: ", "))"])
            peering.announceSoon()
        }
    }

    func announceRoutes() {
        // A durable counter, not the clock: peers never ignore a node restarted after its clock went back.
        guard let seq = nextAnnouncementSeq() else { return }
        let entries = peering.routeTable.announcement(signKey: keys.sign.publicKey, directoryVersion: directory.localVersion)
        _ = try? publisher.send([PeerCommand.routes(node: config.name, seq: seq, entries: entries).encode()], dontWait: true)
    }

    // MARK: directory

    // A DIR-REQ not answered within `timers.directoryRequestTimeoutNs` is given up (a later
    // answer is unsolicited); at most one DIR-REQ per home per `directoryRequestIntervalNs`.
    /// Refused snapshots are logged as a warning at most this often (the rest at debug level).
    static let snapshotWarnIntervalNs: UInt64 = 10_000_000_000

    func requestDirectories(now: UInt64) {
        directory.expireRequests(now: now, timeout: config.timers.directoryRequestTimeoutNs)
        for route in peering.routeTable.routes.values {
            guard let link = peering.links[route.nextHop], link.isUp(now: now),
                  directory.shouldRequest(home: route.dest, via: route.nextHop, version: route.directoryVersion, now: now,
                                          interval: config.timers.directoryRequestIntervalNs) else { continue }
            sendPeer(link, .directoryRequest(home: route.dest))
        }
    }

    func directorySnapshot(of home: String) -> PeerCommand {
        if home == config.name { return ownDirectorySnapshot() }
        // Only what `home` signed is passed on, unchanged; without it, nothing (version 0).
        guard let held = directory.snapshot(of: home) else {
            return .directorySnapshot(home: home, version: 0, entries: [], signature: DirectoryHead.noSignature)
        }
        return .directorySnapshot(home: home, version: held.version, entries: held.entries, signature: held.signature)
    }

    /// This node's directory with its signed head: the version and the set of entries,
    /// signed with the node's key. Made when asked, from what is committed, so whatever
    /// changes the local users' entries (enrolment, re-key, removal) only has to raise
    /// `directory.localVersion` in the same commit.
    func ownDirectorySnapshot() -> PeerCommand {
        // Disabled people are not in the directory (their entries are withdrawn, section 14.1).
        let entries = directoryUsers.map(\.entry)
        let head = DirectoryHead(home: config.name, version: directory.localVersion, entries: entries)
        return .directorySnapshot(home: config.name, version: directory.localVersion, entries: entries, signature: head.sign(with: keys.sign))
    }

    /// A DIR-SNAPSHOT on our DEALER to `link`. Applied only as the answer to our own
    /// DIR-REQ for `home`, sent to `link`, which must still be the next hop toward
    /// `home`; only with a version above the one held and `home`'s signature over the
    /// version and the entry set; and only if every entry verifies. It then replaces
    /// every entry of `home`.
    func receiveDirectorySnapshot(from link: PeerLink, home: String, version: UInt64, entries: [[UInt8]], signature: [UInt8]) throws {
        let now = Clock.monotonicNs()
        let key: [UInt8]
        switch directory.answered(home: home, from: link.name, version: version, nextHop: peering.routeTable.nextHop(to: home),
                                  me: config.name, now: now, timeout: config.timers.directoryRequestTimeoutNs) {
        case .check(let pinned): key = pinned
        // Not newer than ours (or nothing at all): the next hop is still fetching it itself; asked again later.
        case .ignore: return
        case .refuse(let reason): return refuseSnapshot(from: link, home: home, reason)
        }
        guard DirectoryHead(home: home, version: version, entries: entries).verify(signature: signature, nodeKey: key) else {
            return refuseSnapshot(from: link, home: home, "its signature does not verify with the pinned key of the node")
        }
        var parsed: [(address: String, entry: [UInt8])] = []
        var addresses = Set<String>()
        for bytes in entries {
            guard let entry = try? DirectoryEntry.decode(bytes), Address(entry.address)?.node == home,
                  entry.verify(nodeKey: key), addresses.insert(entry.address).inserted else {
                return refuseSnapshot(from: link, home: home, "an entry does not verify or is listed twice")
            }
            parsed.append((entry.address, bytes))
        }
        try write(ref: .zero) { try store.replaceDirectory(home: home, version: version, signature: signature, entries: parsed) }
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.directory.applied(home: home, version: version, signature: signature, entries: parsed)
            self.logger.info("directory updated", metadata: ["home": "\(home)", "users": "\(parsed.count)", "version": "\(version)"])
        }
    }

    /// Drops a snapshot, counts it, and says so (one warning per interval, not one per frame).
    func refuseSnapshot(from link: PeerLink, home: String, _ reason: String) {
        counters.rejectedSnapshots += 1
        let now = Clock.monotonicNs()
        let metadata: Logger.Metadata = ["peer": "\(link.name)", "home": "\(home)"]
        switch directory.refused(now: now, interval: Self.snapshotWarnIntervalNs) {
        case .warning(let alsoRefused):
            var m = metadata
            if alsoRefused > 0 { m["also_refused_since_last_warning"] = "\(alsoRefused)" }
            logger.warning("directory snapshot refused: \(reason)", metadata: m)
        case .debug:
            logger.debug("directory snapshot refused: \(reason)", metadata: metadata)
        }
    }

    // MARK: summaries

    func publishSummary() {
        guard let seq = nextAnnouncementSeq() else { return }
        let json = summaryJSON()
        peering.heardSummary(from: config.name, seq: seq, json: json, nowMs: Clock.nowMs())
        _ = try? publisher.send([PeerCommand.summary(node: config.name, seq: seq, json: json).encode()], dontWait: true)
    }
}
