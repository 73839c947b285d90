import Foundation
import SealpostCore

/// The node's `status` as Prometheus metrics, in the text exposition format (version 0.0.4):
/// counters end in `_total`, gauges do not; peers, destinations and routes are labels.
/// Per-user figures (`waiting.by_user`, `files.by_user`) are left out on purpose: one series
/// per user is a cardinality an operator did not ask for (they stay in `status --json`).
///
/// Written here rather than with swift-prometheus: that package (2.4.1, with swift-metrics and
/// swift-atomics) built cold in 20 s debug on the CI kind of machine, which is cheap, but its
/// counters only increment, while every figure here is a snapshot the reactor already keeps;
/// using it would mean a second copy of each counter to feed it deltas. The format is small and
/// `MetricsTests` parses what this writes.
public enum MetricsText {
    /// The exposition's `Content-Type`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ s: NodeStatus) -> String {
        var m = Exposition()
        m.gauge("sealpost_node_info", "The node's name and version (always 1).", [(["node": s.name, "version": s.version], 1)])
        m.gauge("sealpost_uptime_seconds", "Seconds since the node started.", s.uptimeS)

        // Peers: one series per configured peer, the state as a state set (one series per state, 1 for the current one).
        let states = ["connected", "stuck", "reconnecting", "unreachable"]
        m.gauge("sealpost_peer_state", "This node's link to the peer: 1 for its current state, 0 for the others.",
                s.peers.flatMap { p in states.map { (["peer": p.name, "state": $0], p.state == $0 ? 1 : 0) } })
        m.gauge("sealpost_peer_queue", "Envelopes in flight to the peer plus those queued for destinations it is the next hop of.",
                s.peers.map { (["peer": $0.name], Double($0.queue)) })
        m.gauge("sealpost_peer_in_flight", "RELAYs sent to the peer and not acknowledged.", s.peers.map { (["peer": $0.name], Double($0.inFlight)) })
        m.gauge("sealpost_peer_rtt_seconds", "The last PEER-PING round trip (0 before the first).",
                s.peers.map { (["peer": $0.name], Double($0.rttUs) / 1e6) })
        m.gauge("sealpost_peer_last_heard_seconds", "Seconds since the peer was last heard (absent if never).",
                s.peers.compactMap { p in p.lastHeardMs.map { (["peer": p.name], Double($0) / 1000) } })
        m.gauge("sealpost_peer_oldest_unacked_seconds", "Age of the oldest envelope in flight to (or queued for) the peer (absent if none).",
                s.peers.compactMap { p in p.oldestUnackedMs.map { (["peer": p.name], Double($0) / 1000) } })
        m.gauge("sealpost_peer_storage_full", "1 when the peer's last SUMMARY said its disk is full.",
                s.peers.compactMap { p in p.storage.map { (["peer": p.name], $0 == "ok" ? 0 : 1) } })

        m.gauge("sealpost_route_hops", "Path length of the route to each destination node, by next hop.",
                s.routes.map { (["dest": $0.dest, "next_hop": $0.nextHop], Double($0.hops)) })
        m.gauge("sealpost_destination_waiting", "Envelopes in the journal for the destination node (queued plus in flight), routed or not.",
                s.destinations.map { (["dest": $0.node], Double($0.waiting)) })
        m.gauge("sealpost_destination_in_flight", "Envelopes for the destination node in flight to a peer.",
                s.destinations.map { (["dest": $0.node], Double($0.inFlight)) })
        m.gauge("sealpost_destination_oldest_seconds", "Age of the oldest envelope waiting for the destination node.",
                s.destinations.map { (["dest": $0.node], Double($0.oldestMs) / 1000) })
        m.gauge("sealpost_destination_routed", "1 when a route to the destination node exists now.",
                s.destinations.map { (["dest": $0.node], $0.nextHop == nil ? 0 : 1) })

        m.gauge("sealpost_users", "Users by kind: enrolled (disabled included), disabled, online, federated (other nodes' users known).",
                [(["kind": "enrolled"], Double(s.users.enrolled)), (["kind": "disabled"], Double(s.users.disabled)),
                 (["kind": "online"], Double(s.users.online)), (["kind": "federated"], Double(s.users.federated))])
        m.gauge("sealpost_mailbox_waiting_messages", "Mailbox entries not yet acknowledged.", s.waiting.messages)
        m.gauge("sealpost_mailbox_waiting_users", "Users with mailbox entries not yet acknowledged.", s.waiting.users)
        m.gauge("sealpost_journal_entries", "Entries in the relay journal.", s.journal)
        m.gauge("sealpost_journal_unrouted", "Journal entries for destinations with no route now.", s.unrouted)
        m.gauge("sealpost_held_envelopes", "Envelopes held for a gap in their stream.", s.held)

        m.gauge("sealpost_reminders_pending", "Due notices this node still owes its users.", s.reminders.pending)
        m.counter("sealpost_reminders_fired_total", "Due notices made since the start.", s.reminders.fired)
        m.counter("sealpost_reminders_late_total", "Due notices made late since the start.", s.reminders.late)
        m.gauge("sealpost_burns_pending", "Unviewed burn messages kept for this node's users.", s.burns.pending)
        m.counter("sealpost_burns_viewed_total", "Burn messages viewed since the start.", s.burns.viewed)
        m.counter("sealpost_burns_expired_total", "Burn messages expired unviewed since the start.", s.burns.expired)
        m.counter("sealpost_burn_receipts_total", "Burn receipts sent since the start.", s.burns.receipts)
        m.counter("sealpost_burn_refused_quotes_total", "Replies quoting burn content refused since the start.", s.burns.refusedQuotes)

        m.gauge("sealpost_storage_database_bytes", "Size of the database file.", s.storage.dbBytes)
        m.gauge("sealpost_storage_wal_bytes", "Size of the write-ahead log.", s.storage.walBytes)
        m.gauge("sealpost_storage_free_bytes", "Free space of the data directory's file system.", s.storage.freeBytes)
        m.gauge("sealpost_storage_min_free_bytes", "The free-space floor under which new messages are refused.", s.storage.minFreeMb * 1_048_576)
        m.gauge("sealpost_storage_full", "1 while new messages are refused for lack of disk.", s.storage.state == "ok" ? 0 : 1)
        m.counter("sealpost_refused_total", "Refusals since the start, by reason (SPEC 6.5.1).",
                  s.limits.refused.sorted { $0.key < $1.key }.map { (["reason": $0.key], Double($0.value)) })

        let f = s.files
        m.gauge("sealpost_files", "Files in the file store, by state.",
                [(["state": "complete"], Double(f.complete)), (["state": "uploading"], Double(f.uploading)),
                 (["state": "pulling"], Double(f.pulling)), (["state": "failed"], Double(f.failed))])
        m.gauge("sealpost_files_bytes", "Bytes held in the file store, complete or in part.", f.bytes)
        m.gauge("sealpost_files_sending", "Downloads and pulls being served.", f.sending)
        m.gauge("sealpost_files_free_bytes", "Free space for the file store.", f.freeBytes)
        m.counter("sealpost_file_chunks_in_total", "File chunks received since the start.", f.chunksIn)
        m.counter("sealpost_file_chunks_out_total", "File chunks sent since the start.", f.chunksOut)
        m.counter("sealpost_file_damaged_chunks_total", "Chunks that failed their hash since the start.", f.damagedChunks)
        m.counter("sealpost_file_refused_total", "File commands refused since the start.", f.refused)
        m.counter("sealpost_files_collected_total", "Files removed by retention since the start.", f.collected)

        let r = s.restore
        m.gauge("sealpost_restore_retained", "Relayed entries kept after RELAYED for restored peers.", r.retained)
        m.counter("sealpost_restore_resent_total", "Kept entries sent again to a restored peer since the start.", r.resent)
        m.counter("sealpost_restore_released_total", "Held envelopes let go at an origin's new epoch since the start.", r.released)
        m.counter("sealpost_restore_late_old_epoch_total", "Envelopes of an origin's earlier epoch delivered out of order.", r.lateOldEpoch)
        m.counter("sealpost_restore_lost_total", "Envelopes given up for good after a restore, by origin (kept across restarts).",
                  r.lostByStream.sorted { $0.key < $1.key }.map { (["origin": $0.key], Double($0.value)) })

        let cy = s.cycles
        m.counter("sealpost_cycles_total", "Reactor cycles since the start.", cy.count)
        m.gauge("sealpost_cycle_seconds", "Recent reactor cycles' work time: p50, p99 and the slowest.",
                [(["quantile": "0.5"], cy.p50Ms / 1000), (["quantile": "0.99"], cy.p99Ms / 1000), (["quantile": "1"], cy.slowestMs / 1000)])

        let c = s.counters
        m.counter("sealpost_envelopes_in_total", "Envelopes stored by SEND and relayed envelopes added to mailboxes.", c.envelopesIn)
        m.counter("sealpost_delivered_total", "DELIVERs pushed to clients.", c.delivered)
        m.counter("sealpost_duplicates_total", "SENDs already seen and relayed envelopes with an old stream_seq.", c.duplicates)
        m.counter("sealpost_relayed_total", "Envelopes journaled in transit for another node.", c.relayed)
        m.counter("sealpost_malformed_total", "Client and peer frames that could not be used.", c.malformed)
        m.counter("sealpost_refused_keys_total", "Refused CURVE handshakes.", c.refusedKeys)
        m.counter("sealpost_rejected_relays_total", "RELAYs refused or dropped.", c.rejectedRelays)
        m.counter("sealpost_rejected_announcements_total", "Announcements and HELLOs rejected.", c.rejectedAnnouncements)
        m.counter("sealpost_rejected_snapshots_total", "DIR-SNAPSHOTs dropped.", c.rejectedSnapshots)
        m.counter("sealpost_key_conflicts_total", "Route entries left out for a key differing from the pinned one.", c.keyConflicts)
        m.counter("sealpost_undeliverable_total", "Relayed envelopes for users the destination does not have.", c.undeliverable)
        m.counter("sealpost_commit_failures_total", "Cycles whose commit failed.", c.commitFailures)
        return m.text
    }
}

/// Builds the text: each family's HELP and TYPE once, then its samples.
struct Exposition {
    private(set) var text = ""

    mutating func gauge(_ name: String, _ help: String, _ value: Int) { family(name, "gauge", help, [([:], Double(value))]) }
    mutating func counter(_ name: String, _ help: String, _ value: Int) { family(name, "counter", help, [([:], Double(value))]) }
    mutating func gauge(_ name: String, _ help: String, _ samples: [([String: String], Double)]) { family(name, "gauge", help, samples) }
    mutating func counter(_ name: String, _ help: String, _ samples: [([String: String], Double)]) { family(name, "counter", help, samples) }

    private mutating func family(_ name: String, _ type: String, _ help: String, _ samples: [([String: String], Double)]) {
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(type)\n"
        for (labels, value) in samples {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
            }
            text += " " + Self.format(value) + "\n"
        }
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
