import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

extension SealpostNodeCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the running node's health: peers, routes, users, queues, storage, rates.",
            discussion: "Asks the node over its admin socket; exits non-zero when the node is not running.")

        @OptionGroup var options: DataOption
        @Flag(help: "Print the raw status as JSON.") var json = false
        @Option(help: "Refresh every SECONDS until interrupted.") var watch: Double?
        @Flag(help: "Show every node's summary as announced in the federation.") var federation = false

        func validate() throws {
            if let watch, watch < 0.2 { throw ValidationError("--watch must be at least 0.2 seconds") }
        }

        func run() throws {
            repeat {
                let text: String
                do {
                    if federation {
                        let answer = try AdminClient.federation(dataDir: options.dir)
                        text = json ? encodeJSON(answer) : renderFederation(answer)
                    } else {
                        let answer = try AdminClient.status(dataDir: options.dir)
                        text = json ? encodeJSON(answer) : renderStatus(answer)
                    }
                } catch let error as NodeError { fail(error.description) }
                if watch != nil && !json { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                print(text)
                fflush(nil)
                if let watch { usleep(UInt32(watch * 1_000_000)) }
            } while watch != nil
        }
    }

    struct Pending: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the envelopes waiting for a peer (metadata only: id, destination, age, attempts).")

        @OptionGroup var options: DataOption
        @Option(help: "The peer's name.") var peer: String
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            let answer: PendingStatus
            do {
                answer = try AdminClient.pending(dataDir: options.dir, peer: peer)
            } catch let error as NodeError { fail(error.description) }
            if json { print(encodeJSON(answer)); return }
            let items = answer.pending
            if items.isEmpty {
                print("nothing waiting for \(peer)")
            } else {
                print(pad("ID", 34) + pad("TO", 28) + pad("AGE", 10) + pad("ATTEMPTS", 10) + "STATE")
                for i in items {
                    print(pad(i.id, 34) + pad(i.to, 28) + pad(duration(ms: i.ageMs), 10) + pad("\(i.attempts)", 10) + i.state)
                }
            }
            let unrouted = answer.unroutedDestinations
            if !unrouted.isEmpty {
                print("no route at the moment to: \(unrouted.joined(separator: ", ")) (their envelopes wait)")
            }
        }
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

func duration(ms: Int) -> String {
    if ms < 1000 { return "\(ms)ms" }
    let s = ms / 1000
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(s % 60)s" }
    return "\(s / 3600)h\(s / 60 % 60)m"
}

func bytes(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) }
    if n < 1 << 30 { return String(format: "%.1f MiB", Double(n) / 1048576) }
    return String(format: "%.2f GiB", Double(n) / 1073741824)
}

/// A typed admin answer as `--json` prints it: one line, keys sorted, the node's own JSON keys.
func encodeJSON<T: Encodable>(_ answer: T) -> String {
    String(decoding: (try? JSONEncoder.admin.encode(answer)) ?? Data("{}".utf8), as: UTF8.self)
}

func renderStatus(_ s: NodeStatus) -> String {
    var out: [String] = []
    let users = s.users, waiting = s.waiting, storage = s.storage, rates = s.rates
    out.append("node \(s.name)  version \(s.version)  up \(duration(ms: s.uptimeS * 1000))")
    out.append("  router \(s.router)  publish \(s.publish)")
    out.append("users     \(users.enrolled) enrolled" + (users.disabled > 0 ? " (\(users.disabled) disabled)" : "")
               + ", \(users.online) online, \(users.federated) on other nodes")
    out.append("waiting   \(waiting.messages) messages for \(waiting.users) offline users")
    out.append("relay     \(s.journal) in the journal (\(s.unrouted) with no route now), \(s.held) held for order")
    let r = s.restore
    let restored = r.restoredAt.map { "restored \($0); " } ?? ""
    let lost = r.lostByStream.sorted { $0.key < $1.key }.map { "\($0.value) from \($0.key)" }
    out.append("restore   \(restored)\(r.retained) relayed kept \(r.retentionHours) h for restored peers, \(r.resent) sent again"
               + (lost.isEmpty ? "" : "; LOST for good: \(lost.joined(separator: ", "))"))
    let m = s.reminders
    out.append("reminders \(m.pending) pending\(m.nextDue.map { ", next due \($0)" } ?? ""); \(m.fired) fired, \(m.late) late")
    let b = s.burns
    out.append("burns     \(b.pending) unviewed\(b.nextExpiry.map { ", next expires \($0)" } ?? ""); \(b.viewed) viewed, \(b.expired) expired, \(b.receipts) receipts sent")
    out.append("storage   \(storage.state == "ok" ? "" : storage.state.uppercased() + ": new messages refused; ")database \(bytes(storage.dbBytes)), WAL \(bytes(storage.walBytes)), \(bytes(storage.freeBytes)) free (floor \(storage.minFreeMb) MiB)")
    let l = s.limits
    let refused = l.refused.keys.sorted().compactMap { key -> String? in
        let n = l.refused[key] ?? 0
        return n > 0 ? "\(n) \(key.replacingOccurrences(of: "_", with: " "))" : nil
    }
    out.append("limits    per user \(l.mailboxMessages) messages / \(l.mailboxMb) MiB waiting, \(l.burnMb) MiB burn; per sender \(l.senderMb) MiB waiting, \(l.sendPerS) msg/s (burst \(l.sendBurst)), \(l.sendMbS) MiB/s; refused: \(refused.isEmpty ? "none" : refused.joined(separator: ", "))")
    let lb = s.labels
    let labelRefusals = lb.refused.keys.sorted().compactMap { key -> String? in
        let n = lb.refused[key] ?? 0
        return n > 0 ? "\(n) \(key.replacingOccurrences(of: "_", with: " "))" : nil
    }
    let labelLinks = lb.links.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
    out.append("labels    default \(lb.default), ceiling \(lb.ceiling), accredited: \(lb.accredited.isEmpty ? "none" : lb.accredited.joined(separator: ", "))"
               + (labelLinks.isEmpty ? "" : "; links: " + labelLinks.joined(separator: ", "))
               + (lb.expiry.isEmpty ? "" : "; readable for (保密期限): " + lb.expiry.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
               + (lb.mismatchedPeers.isEmpty ? "" : "; ANOTHER LABEL SET at: " + lb.mismatchedPeers.joined(separator: ", "))
               + (lb.unlabelledPeers.isEmpty ? "" : "; unlabelled (capped at the default): " + lb.unlabelledPeers.joined(separator: ", "))
               + (lb.noticesDropped == 0 ? "" : "; \(lb.noticesDropped) implausible refusal notices dropped")
               + "; refused: \(labelRefusals.isEmpty ? "none" : labelRefusals.joined(separator: ", "))"
               + (lb.expired > 0 ? "; \(lb.expired) deleted at their readable-until time" : "")
               + (lb.downgrades > 0 ? "; \(lb.downgrades) downgrade\(lb.downgrades == 1 ? "" : "s") countersigned" : ""))
    let f = s.files
    out.append("files     \(f.files) (\(bytes(f.bytes))): \(f.uploading) uploading, \(f.pulling) pulling from other nodes, \(f.sending) being sent; \(bytes(f.freeBytes)) free, quota \(f.quotaMb) MiB per user")
    out.append("receipts  \(s.receipts.deliveredMade) delivered receipts made, \(s.receipts.forgedDropped) forged ids dropped")
    let fw = s.forwards
    out.append("forwards  \(fw.accepted) accepted, \(fw.refused) refused, \(fw.hops) hops countersigned (default scope \(fw.defaultScope), at most \(fw.maxRecipients) recipients and \(fw.maxHops) hops)")
    out.append("reports   \(fw.reportsSent) refused forwards reported to other units, \(fw.reportsWithheld) withheld (over \(fw.reportBurst) at once, \(fw.reportsPerHour)/h per person); \(fw.reportsReceived) received for this unit"
               + (fw.reportsUnread == 0 ? "" : ", \(fw.reportsUnread) WITH NO OFFICER to read them") + (fw.reportsDropped == 0 ? "" : ", \(fw.reportsDropped) forged dropped"))
    let a = s.audit
    let signed = a.lastSigned.map { "signed through \(a.signedThrough) at \($0)" } ?? "never signed"
    out.append("audit     \(a.records) records, \(signed) (every \(a.signEveryS) s when changed)")
    let t = s.trace
    let supervisors = t.supervisors.joined(separator: ", ")
    out.append("trace     answers \(t.answer)" + (supervisors.isEmpty ? "" : " (and supervisors \(supervisors))")
               + ", \(t.officers) officer(s), \(t.inProgress) in progress; \(t.answered) answered, \(t.refused) refused, \(t.dropped) dropped; \(t.codesIssued) viewer codes issued")
    out.append("rates     last minute: \(rates.inLastMinute) in, \(rates.outLastMinute) out, \(rates.relayedLastMinute) relayed")
    let c = s.cycles
    out.append("cycles    last \(c.recent): p50 \(String(format: "%.2f", c.p50Ms)) ms, p99 \(String(format: "%.2f", c.p99Ms)) ms, slowest \(String(format: "%.1f", c.slowestMs)) ms (CPU \(String(format: "%.1f", c.slowestCPUMs)) ms, \(c.slowestBlocks) waits, \(c.slowestPreemptions) preemptions)"
               + (c.phase.map { " (\($0) \(String(format: "%.1f", c.phaseMs)) ms of it)" } ?? ""))
    out.append("")
    if s.peers.isEmpty {
        out.append("peers     none (sealpost-node peer add …)")
    } else {
        out.append(pad("PEER", 14) + pad("STATE", 14) + pad("LAST HEARD", 12) + pad("RTT", 10) + pad("QUEUE", 8) + "OLDEST UNACKED")
        for p in s.peers {
            let heard = p.lastHeardMs.map { duration(ms: $0) + " ago" } ?? "never"
            let rtt = p.rttUs > 0 ? String(format: "%.2fms", Double(p.rttUs) / 1000) : "-"
            let oldest = p.oldestUnackedMs.map { duration(ms: $0) } ?? "-"
            let diskFull = p.storage.map { $0 != "ok" } ?? false
            out.append(pad(p.name, 14) + pad(p.state, 14) + pad(heard, 12) + pad(rtt, 10)
                       + pad("\(p.queue)", 8) + oldest + (diskFull ? "  (its disk is full)" : ""))
        }
    }
    out.append("")
    if s.routes.isEmpty {
        out.append("routes    none (no peer is connected)")
    } else {
        out.append(pad("DESTINATION", 14) + pad("NEXT HOP", 14) + pad("HOPS", 6) + "PATH")
        for r in s.routes {
            out.append(pad(r.dest, 14) + pad(r.nextHop, 14) + pad("\(r.hops)", 6) + r.path.joined(separator: " → "))
        }
    }
    // What waits, per destination node, even while no route leads there (a partition).
    if !s.destinations.isEmpty {
        out.append("")
        out.append(pad("WAITING FOR", 14) + pad("NEXT HOP", 14) + pad("WAITING", 9) + pad("IN FLIGHT", 11) + "OLDEST")
        for d in s.destinations {
            out.append(pad(d.node, 14) + pad(d.nextHop ?? "no route", 14)
                       + pad("\(d.waiting)", 9) + pad("\(d.inFlight)", 11) + duration(ms: d.oldestMs))
        }
    }
    let bad = s.counters.troubles.filter { $0.value > 0 }.map { "\($0.name.replacingOccurrences(of: "_", with: " ")) \($0.value)" }
    if !bad.isEmpty {
        out.append("")
        out.append("attention " + bad.joined(separator: ", "))
    }
    return out.joined(separator: "\n")
}

func renderFederation(_ s: FederationStatus) -> String {
    var out = [pad("NODE", 14) + pad("UP", 10) + pad("USERS", 8) + pad("ONLINE", 8) + pad("JOURNAL", 9) + pad("IN/MIN", 8) + pad("HEARD", 10) + "PEERS"]
    for n in s.nodes {
        let m = n.summary
        let peers = (m.peers ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        out.append(pad(n.node, 14) + pad(duration(ms: (m.uptimeS ?? 0) * 1000), 10)
                   + pad("\(m.users ?? 0)", 8) + pad("\(m.online ?? 0)", 8) + pad("\(m.journal ?? 0)", 9)
                   + pad("\(m.inLastMinute ?? 0)", 8) + pad(duration(ms: n.heardMsAgo), 10) + peers
                   + (m.storage.map { $0 == "ok" ? "" : "  STORAGE: \($0.uppercased())" } ?? ""))
    }
    return out.joined(separator: "\n")
}
