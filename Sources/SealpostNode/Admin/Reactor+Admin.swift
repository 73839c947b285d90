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
            let answer: [String: Any]?
            switch request["cmd"] as? String {
            case "status": answer = status()
            case "pending": answer = pending(peer: request["peer"] as? String ?? "")
            case "federation": answer = federation()
            case "directory-list": answer = directoryList()
            case "directory-forget": answer = forgetNode(request["node"] as? String ?? "", unpin: false, routing: message.frames[0])
            case "directory-unpin": answer = forgetNode(request["node"] as? String ?? "", unpin: true, routing: message.frames[0])
            case "user": answer = userAdmin(request)
            case "audit-head": answer = auditHeadAdmin()
            case "audit-verify": answer = auditVerifyAdmin()
            default: answer = ["error": "unknown admin command; use status, pending, federation, user, directory-list, directory-forget, directory-unpin, audit-head or audit-verify"]
            }
            // nil: the answer goes out with this cycle's commit.
            if let answer { sendAdmin(message.frames[0], answer) }
        }
    }

    func peerState(_ link: PeerLink, now: UInt64) -> LinkState {
        link.state(now: now, waiting: !link.inFlight.isEmpty)
    }

    func status() -> [String: Any] {
        let now = Clock.monotonicNs()
        let nowMs = Clock.nowMs()
        var peers: [[String: Any]] = []
        for link in links.values.sorted(by: { $0.name < $1.name }) {
            let queued = journal.destinationsWaiting.filter { routeTable.nextHop(to: $0) == link.name }
                .reduce(0) { $0 + journal.queuedCount(dest: $1) }
            let oldest = link.inFlight.keys.compactMap { journal.entries[$0]?.createdMs }.min()
                ?? journal.destinationsWaiting.filter { routeTable.nextHop(to: $0) == link.name }
                    .compactMap { journal.oldestQueuedMs(dest: $0) }.min()
            var peer: [String: Any] = [
                "name": link.name, "router": link.config.router, "state": peerState(link, now: now).rawValue,
                "queue": link.inFlight.count + queued, "in_flight": link.inFlight.count,
                "rtt_us": Int(link.rttNs / 1000),
            ]
            peer["last_heard_ms"] = link.everHeard ? Int((now &- link.lastHeardNs) / 1_000_000) : NSNull()
            peer["oldest_unacked_ms"] = oldest.map { Clock.ageMs(since: $0, now: nowMs) } ?? NSNull()
            // What the peer last said of its own storage: a peer with a full disk is why a link is stuck.
            peer["storage"] = summaries[link.name].flatMap {
                ((try? JSONSerialization.jsonObject(with: Data($0.json))) as? [String: Any])?["storage"] as? String
            } ?? NSNull()
            peers.append(peer)
        }
        let routes: [[String: Any]] = routeTable.routes.values.sorted { $0.dest < $1.dest }.map {
            ["dest": $0.dest, "next_hop": $0.nextHop, "hops": $0.hops, "path": $0.path]
        }
        let online = Set(attachedByUser.compactMap { $0.value.attached ? $0.key : nil })
        let rate = rates.lastMinute()
        func size(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let waitingTotal = waiting.values.reduce(0, +)
        return [
            "name": config.name, "version": Self.version,
            "uptime_s": Int((now - startedNs) / 1_000_000_000),
            "router": routerEndpoint, "publish": publishEndpoint,
            "peers": peers, "routes": routes,
            "users": ["enrolled": usersByName.count, "online": online.count,
                      "disabled": usersByName.values.filter { $0.disabledAt != nil }.count,
                      "federated": remoteEntries.count],
            "waiting": ["messages": waitingTotal, "users": waiting.filter { $0.value > 0 }.count,
                        "by_user": waiting.filter { $0.value > 0 }],
            "journal": journal.count,
            "destinations": destinationsWaiting(nowMs: nowMs),
            "restore": restoreStatus(),
            "unrouted": journal.destinationsWaiting.filter { routeTable.nextHop(to: $0) == nil }
                .reduce(0) { $0 + journal.queuedCount(dest: $1) },
            "held": (try? store.heldEnvelopeCount()) ?? heldCount.values.reduce(0, +),
            "reminders": ["pending": schedule.count, "next_due": schedule.nextDue().map { Clock.rfc3339(ms: $0) } ?? NSNull(),
                          "fired": counters.remindersFired, "late": counters.remindersLate],
            "burns": ["pending": pendingBurns, "next_expiry": nextBurnExpiryMs.map { Clock.rfc3339(ms: $0) } ?? NSNull(),
                      "viewed": counters.burnsViewed, "expired": counters.burnsExpired, "receipts": counters.burnReceipts,
                      "refused_quotes": counters.refusedQuotes],
            "forwards": ["accepted": forwarding.accepted, "refused": forwarding.refused, "hops": forwarding.hops,
                         "default_scope": config.forwarding.defaultScope, "max_recipients": config.forwarding.maxRecipients,
                         "max_hops": config.forwarding.maxHops],
            "storage": ["db_bytes": size(dataDir.databasePath), "wal_bytes": size(dataDir.databasePath + "-wal"),
                        "state": storageFull ? "disk full" : "ok", "free_bytes": Int(dataDirFreeBytes),
                        "min_free_mb": config.limits.minFreeMB, "wal_max_mb": config.limits.walMaxMB],
            "limits": limitsStatus(),
            "labels": labelsStatus(),
            "files": filesStatus(),
            "rates": ["in_last_minute": rate.inCount, "out_last_minute": rate.outCount,
                      "relayed_last_minute": rate.relayedCount,
                      "in_per_s": Double(rate.inCount) / 60, "out_per_s": Double(rate.outCount) / 60,
                      "relayed_per_s": Double(rate.relayedCount) / 60],
            "counters": [
                "envelopes_in": counters.envelopesIn, "delivered": counters.delivered, "duplicates": counters.duplicates,
                "relayed": counters.relayed, "malformed": counters.malformed, "refused_keys": counters.refusedKeys,
                "rejected_relays": counters.rejectedRelays, "rejected_announcements": counters.rejectedAnnouncements,
                "rejected_snapshots": counters.rejectedSnapshots,
                "key_conflicts": counters.keyConflicts, "undeliverable": counters.undeliverable,
                "commit_failures": counters.commitFailures,
            ],
        ]
    }

    /// Per destination node, what waits in the journal for it: queued and in flight, the
    /// oldest age and the next hop — also while no route exists (a partition), so an alert on
    /// `oldest_ms` fires whatever the routes say.
    func destinationsWaiting(nowMs: UInt64) -> [[String: Any]] {
        var inFlight: [String: (count: Int, oldest: UInt64)] = [:]
        for link in links.values {
            for jid in link.inFlight.keys {
                guard let entry = journal.entries[jid] else { continue }
                let old = inFlight[entry.dest] ?? (0, UInt64.max)
                inFlight[entry.dest] = (old.count + 1, min(old.oldest, entry.createdMs))
            }
        }
        let dests = Set(journal.destinationsWaiting).union(inFlight.keys).sorted()
        return dests.map { dest in
            let queued = journal.queuedCount(dest: dest)
            let flying = inFlight[dest] ?? (0, UInt64.max)
            let oldest = min(journal.oldestQueuedMs(dest: dest) ?? UInt64.max, flying.oldest)
            return ["node": dest, "waiting": queued + flying.count, "in_flight": flying.count,
                    "oldest_ms": oldest == UInt64.max ? 0 : Clock.ageMs(since: oldest, now: nowMs),
                    "next_hop": routeTable.nextHop(to: dest) ?? NSNull()]
        }
    }

    /// Metadata of the envelopes waiting for `peer`: in flight to it, or queued for a destination it is the way to.
    func pending(peer: String) -> [String: Any] {
        guard let link = links[peer] else {
            return ["error": "no peer named '\(peer)'; see sealpost-node peer list"]
        }
        let nowMs = Clock.nowMs()
        var items: [[String: Any]] = []
        for entry in journal.entries.values.sorted(by: { $0.jid < $1.jid }) {
            let inFlight = link.inFlight[entry.jid] != nil
            guard inFlight || (entry.sentTo == nil && routeTable.nextHop(to: entry.dest) == link.name) else { continue }
            items.append(["id": entry.envelope.id.hex, "dest": entry.dest, "to": entry.envelope.to,
                          "age_ms": Clock.ageMs(since: entry.createdMs, now: nowMs), "attempts": entry.attempts,
                          "state": inFlight ? "sent" : "queued"])
            if items.count >= 10_000 { break }
        }
        let unrouted = journal.destinationsWaiting.filter { routeTable.nextHop(to: $0) == nil }
        return ["peer": peer, "pending": items, "unrouted_destinations": unrouted]
    }

    func federation() -> [String: Any] {
        var nodes: [[String: Any]] = []
        for (name, s) in summaries.sorted(by: { $0.key < $1.key }) {
            var object = (try? JSONSerialization.jsonObject(with: Data(s.json))) as? [String: Any] ?? [:]
            object["node"] = name
            object["heard_ms_ago"] = Clock.ageMs(since: s.heardMs)
            nodes.append(object)
        }
        return ["nodes": nodes]
    }

    /// What this node tells the federation about itself every few seconds.
    func summaryJSON() -> [UInt8] {
        let now = Clock.monotonicNs()
        var peers: [String: String] = [:]
        for link in links.values { peers[link.name] = peerState(link, now: now).rawValue }
        let rate = rates.lastMinute()
        let object: [String: Any] = [
            "name": config.name, "version": Self.version, "uptime_s": Int((now - startedNs) / 1_000_000_000),
            "users": usersByName.count, "online": attachedByUser.values.filter(\.attached).count,
            "peers": peers, "journal": journal.count, "waiting": waiting.values.reduce(0, +),
            "storage": storageFull ? "disk full" : "ok",
            "in_last_minute": rate.inCount, "out_last_minute": rate.outCount, "relayed_last_minute": rate.relayedCount,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
