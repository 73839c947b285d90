import Foundation
import SealpostCore
import ZeroMQ

/// The operator's view of a running node, over the admin socket
/// (`ipc://DATA/admin.sock`, CURVE with the data dir's admin key).
///
/// Request: one frame, a JSON object `{"cmd": "status" | "pending" | "federation" |
/// "directory-list" | "directory-forget" | "directory-unpin", …}`.
/// Answer: one frame, a JSON object (`{"error": "…"}` when it cannot be answered).
extension Reactor {
    static let version = SealpostVersion.string

    func serveAdmin() {
        var count = 0
        while count < 64, let message = try? admin.receive(dontWait: true) {
            count += 1
            guard message.frames.count == 2, Principal(userId: message.userId) == .admin else { continue }
            let request = (try? JSONSerialization.jsonObject(with: Data(message.frames[1]))) as? [String: Any] ?? [:]
            let answer: [UInt8]?
            switch request["cmd"] as? String {
            case "status": answer = Self.adminJSON(status())
            case "pending":
                let peer = request["peer"] as? String ?? ""
                answer = pending(peer: peer).map(Self.adminJSON)
                    ?? Self.adminJSON(["error": "no peer named '\(peer)'; see sealpost-node peer list"])
            case "federation": answer = Self.adminJSON(federation())
            case "directory-list": answer = Self.adminJSON(directoryList())
            case "directory-forget": answer = forgetNode(request["node"] as? String ?? "", unpin: false, routing: message.frames[0]).map(Self.adminJSON)
            case "directory-unpin": answer = forgetNode(request["node"] as? String ?? "", unpin: true, routing: message.frames[0]).map(Self.adminJSON)
            case "user": answer = Self.adminJSON(userAdmin(request))
            case "officer": answer = Self.adminJSON(officerAdmin(request))
            case "trace": answer = adminTrace(request, routing: message.frames[0]).map(Self.adminJSON)
            case "audit-head": answer = Self.adminJSON(auditHeadAdmin(sign: request["sign"] as? Bool ?? true))
            default: answer = Self.adminJSON(["error": "unknown admin command; use status, pending, federation, user, officer, trace, directory-list, directory-forget, directory-unpin or audit-head"])
            }
            if let answer { _ = try? admin.send([message.frames[0], answer], dontWait: true) }
        }
    }

    /// A typed answer as the admin socket sends it (keys sorted).
    static func adminJSON<T: Encodable>(_ answer: T) -> [UInt8] {
        Array((try? JSONEncoder.admin.encode(answer)) ?? Data("{}".utf8))
    }

    /// An untyped answer (`user`, `directory-*`) as the admin socket sends it.
    static func adminJSON(_ answer: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    func peerState(_ link: PeerLink, now: UInt64) -> LinkState {
        link.state(now: now, waiting: !link.inFlight.isEmpty)
    }

    func status() -> NodeStatus {
        let now = Clock.monotonicNs()
        let nowMs = Clock.nowMs()
        var peers: [NodeStatus.Peer] = []
        for link in peering.links.values.sorted(by: { $0.name < $1.name }) {
            let queued = peering.journal.destinationsWaiting.filter { peering.routeTable.nextHop(to: $0) == link.name }
                .reduce(0) { $0 + peering.journal.queuedCount(dest: $1) }
            let oldest = link.inFlight.keys.compactMap { peering.journal.entries[$0]?.createdMs }.min()
                ?? peering.journal.destinationsWaiting.filter { peering.routeTable.nextHop(to: $0) == link.name }
                    .compactMap { peering.journal.oldestQueuedMs(dest: $0) }.min()
            peers.append(NodeStatus.Peer(
                name: link.name, router: link.config.router, state: peerState(link, now: now).rawValue,
                queue: link.inFlight.count + queued, inFlight: link.inFlight.count, rttUs: Int(link.rttNs / 1000),
                lastHeardMs: link.machine.lastHeard.map { Int((now &- $0) / 1_000_000) },
                oldestUnackedMs: oldest.map { Clock.ageMs(since: $0, now: nowMs) },
                // What the peer last said of its own storage: a peer with a full disk is why a link is stuck.
                storage: peering.summaries[link.name].flatMap { NodeSummary.decode($0.json)?.storage }))
        }
        let online = Set(attachedByUser.compactMap { $0.value.attached ? $0.key : nil })
        let rate = counters.rates.lastMinute(now: now)
        // stat(2), not FileManager's attributes: those look up the owner's name (opening /etc/passwd) on the node's thread.
        func size(_ path: String) -> Int {
            var s = stat()
            return stat(path, &s) == 0 ? Int(s.st_size) : 0
        }
        func int(_ n: UInt64) -> Int { Int(clamping: n) }
        let byUser = waiting.filter { $0.value > 0 }
        return NodeStatus(
            name: config.name, version: Self.version,
            uptimeS: Int((now - startedNs) / 1_000_000_000),
            router: routerEndpoint, publish: publishEndpoint,
            peers: peers,
            routes: peering.routeTable.routes.values.sorted { $0.dest < $1.dest }.map {
                NodeStatus.Route(dest: $0.dest, nextHop: $0.nextHop, hops: $0.hops, path: $0.path)
            },
            users: NodeStatus.Users(enrolled: users.byName.count, online: online.count,
                                    disabled: users.byName.values.filter { $0.disabledAt != nil }.count,
                                    federated: directory.remoteEntries.count),
            waiting: NodeStatus.Waiting(messages: waiting.values.reduce(0, +), users: byUser.count, byUser: byUser),
            journal: peering.journal.count,
            destinations: destinationsWaiting(nowMs: nowMs),
            restore: restoreStatus(),
            unrouted: peering.journal.destinationsWaiting.filter { peering.routeTable.nextHop(to: $0) == nil }
                .reduce(0) { $0 + peering.journal.queuedCount(dest: $1) },
            held: (try? store.heldEnvelopeCount()) ?? peering.heldTotal,
            reminders: NodeStatus.Reminders(pending: schedule.count, nextDue: schedule.nextDue().map { Clock.rfc3339(ms: $0) },
                                            fired: int(counters.remindersFired), late: int(counters.remindersLate)),
            burns: NodeStatus.Burns(pending: burns.pending, nextExpiry: burns.nextExpiryMs.map { Clock.rfc3339(ms: $0) },
                                    viewed: int(burns.viewedCount), expired: int(burns.expiredCount),
                                    receipts: int(burns.receiptsSent), refusedQuotes: int(counters.refusedQuotes)),
            forwards: NodeStatus.Forwards(accepted: int(forwarding.accepted), refused: int(forwarding.refused), hops: int(forwarding.hops),
                                          defaultScope: config.forwarding.defaultScope, maxRecipients: config.forwarding.maxRecipients,
                                          maxHops: config.forwarding.maxHops, reportsSent: int(forwarding.reportsSent),
                                          reportsWithheld: int(forwarding.reportsSuppressed), reportsReceived: int(forwarding.reportsReceived),
                                          reportsUnread: int(forwarding.reportsUnread), reportsDropped: int(forwarding.reportsDropped),
                                          reportBurst: config.forwarding.reportBurst, reportsPerHour: config.forwarding.reportsPerHour),
            receipts: NodeStatus.Receipts(deliveredMade: int(deliveryReceipts.made), forgedDropped: int(deliveryReceipts.forgedDropped)),
            storage: NodeStatus.Storage(dbBytes: size(dataDir.databasePath), walBytes: size(dataDir.databasePath + "-wal"),
                                        state: storage.isFull ? "disk full" : "ok", freeBytes: Int(clamping: storage.freeBytes),
                                        minFreeMb: config.limits.minFreeMB, walMaxMb: config.limits.walMaxMB),
            limits: limitsStatus(),
            labels: labelsStatus(),
            files: filesStatus(),
            audit: auditStatus(),
            trace: traceStatus(),
            rates: NodeStatus.Rates(inLastMinute: rate.inCount, outLastMinute: rate.outCount,
                                    relayedLastMinute: rate.relayedCount,
                                    inPerS: Double(rate.inCount) / 60, outPerS: Double(rate.outCount) / 60,
                                    relayedPerS: Double(rate.relayedCount) / 60),
            cycles: cycleTimes.summary(),
            counters: counters.status(refusedKeys: refusedKeys.total))
    }

    /// Per destination node, what waits in the journal for it: queued and in flight, the
    /// oldest age and the next hop — also while no route exists (a partition), so an alert on
    /// `oldest_ms` fires whatever the routes say.
    func destinationsWaiting(nowMs: UInt64) -> [NodeStatus.Destination] {
        var inFlight: [String: (count: Int, oldest: UInt64)] = [:]
        for link in peering.links.values {
            for jid in link.inFlight.keys {
                guard let entry = peering.journal.entries[jid] else { continue }
                let old = inFlight[entry.dest] ?? (0, UInt64.max)
                inFlight[entry.dest] = (old.count + 1, min(old.oldest, entry.createdMs))
            }
        }
        let dests = Set(peering.journal.destinationsWaiting).union(inFlight.keys).sorted()
        return dests.map { dest in
            let queued = peering.journal.queuedCount(dest: dest)
            let flying = inFlight[dest] ?? (0, UInt64.max)
            let oldest = min(peering.journal.oldestQueuedMs(dest: dest) ?? UInt64.max, flying.oldest)
            return NodeStatus.Destination(node: dest, waiting: queued + flying.count, inFlight: flying.count,
                                          oldestMs: oldest == UInt64.max ? 0 : Clock.ageMs(since: oldest, now: nowMs),
                                          nextHop: peering.routeTable.nextHop(to: dest))
        }
    }

    /// Metadata of the envelopes waiting for `peer`: in flight to it, or queued for a destination it is the way to.
    func pending(peer: String) -> PendingStatus? {
        guard let link = peering.links[peer] else { return nil }
        let nowMs = Clock.nowMs()
        var items: [PendingStatus.Item] = []
        for entry in peering.journal.entries.values.sorted(by: { $0.jid < $1.jid }) {
            let inFlight = link.inFlight[entry.jid] != nil
            guard inFlight || (entry.sentTo == nil && peering.routeTable.nextHop(to: entry.dest) == link.name) else { continue }
            items.append(PendingStatus.Item(id: entry.envelope.id.hex, dest: entry.dest, to: entry.envelope.to,
                                            ageMs: Clock.ageMs(since: entry.createdMs, now: nowMs), attempts: entry.attempts,
                                            state: inFlight ? "sent" : "queued"))
            if items.count >= 10_000 { break }
        }
        let unrouted = peering.journal.destinationsWaiting.filter { peering.routeTable.nextHop(to: $0) == nil }
        return PendingStatus(peer: peer, pending: items, unroutedDestinations: unrouted)
    }

    func federation() -> FederationStatus {
        FederationStatus(nodes: peering.summaries.sorted(by: { $0.key < $1.key }).map { name, s in
            FederationStatus.Node(node: name, heardMsAgo: Clock.ageMs(since: s.heardMs),
                                  summary: NodeSummary.decode(s.json) ?? NodeSummary())
        })
    }

    /// What this node tells the federation about itself every few seconds.
    func summaryJSON() -> [UInt8] {
        let now = Clock.monotonicNs()
        var peers: [String: String] = [:]
        for link in peering.links.values { peers[link.name] = peerState(link, now: now).rawValue }
        let rate = counters.rates.lastMinute(now: now)
        let summary = NodeSummary(
            name: config.name, version: Self.version, uptimeS: Int((now - startedNs) / 1_000_000_000),
            users: users.byName.count, online: attachedByUser.values.filter(\.attached).count,
            peers: peers, journal: peering.journal.count, waiting: waiting.values.reduce(0, +),
            storage: storage.isFull ? "disk full" : "ok",
            inLastMinute: rate.inCount, outLastMinute: rate.outCount, relayedLastMinute: rate.relayedCount)
        return Array((try? JSONEncoder.admin.encode(summary)) ?? Data("{}".utf8))
    }
}
