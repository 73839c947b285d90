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
                let answer: [String: Any]
                do {
                    answer = try AdminClient.request(dataDir: options.dir, ["cmd": federation ? "federation" : "status"])
                } catch let error as NodeError { fail(error.description) }
                if watch != nil && !json { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                if json {
                    printJSON(answer)
                } else if federation {
                    print(renderFederation(answer))
                } else {
                    print(renderStatus(answer))
                }
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
            let answer: [String: Any]
            do {
                answer = try AdminClient.request(dataDir: options.dir, ["cmd": "pending", "peer": peer])
            } catch let error as NodeError { fail(error.description) }
            if json { printJSON(answer); return }
            let items = answer["pending"] as? [[String: Any]] ?? []
            if items.isEmpty {
                print("nothing waiting for \(peer)")
            } else {
                print(pad("ID", 34) + pad("TO", 28) + pad("AGE", 10) + pad("ATTEMPTS", 10) + "STATE")
                for i in items {
                    print(pad(i["id"] as? String ?? "", 34) + pad(i["to"] as? String ?? "", 28)
                          + pad(duration(ms: i["age_ms"] as? Int ?? 0), 10) + pad("\(i["attempts"] as? Int ?? 0)", 10)
                          + (i["state"] as? String ?? ""))
                }
            }
            if let unrouted = answer["unrouted_destinations"] as? [String], !unrouted.isEmpty {
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

func renderStatus(_ s: [String: Any]) -> String {
    var out: [String] = []
    let users = s["users"] as? [String: Any] ?? [:]
    let waiting = s["waiting"] as? [String: Any] ?? [:]
    let storage = s["storage"] as? [String: Any] ?? [:]
    let rates = s["rates"] as? [String: Any] ?? [:]
    out.append("node \(s["name"] ?? "?")  version \(s["version"] ?? "?")  up \(duration(ms: (s["uptime_s"] as? Int ?? 0) * 1000))")
    out.append("  router \(s["router"] ?? "")  publish \(s["publish"] ?? "")")
    out.append("users     \(users["enrolled"] ?? 0) enrolled" + ((users["disabled"] as? Int ?? 0) > 0 ? " (\(users["disabled"] as? Int ?? 0) disabled)" : "")
               + ", \(users["online"] ?? 0) online, \(users["federated"] ?? 0) on other nodes")
    out.append("waiting   \(waiting["messages"] ?? 0) messages for \(waiting["users"] ?? 0) offline users")
    out.append("relay     \(s["journal"] ?? 0) in the journal (\(s["unrouted"] ?? 0) with no route now), \(s["held"] ?? 0) held for order")
    if let r = s["restore"] as? [String: Any] {
        let restored = (r["restored_at"] as? String).map { "restored \($0); " } ?? ""
        let lost = (r["lost_by_stream"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) from \($0.key)" }
        out.append("restore   \(restored)\(r["retained"] ?? 0) relayed kept \(r["retention_hours"] ?? 0) h for restored peers, \(r["resent"] ?? 0) sent again"
                   + (lost.isEmpty ? "" : "; LOST for good: \(lost.joined(separator: ", "))"))
    }
    if let r = s["reminders"] as? [String: Any] {
        let next = (r["next_due"] as? String).map { ", next due \($0)" } ?? ""
        out.append("reminders \(r["pending"] ?? 0) pending\(next); \(r["fired"] ?? 0) fired, \(r["late"] ?? 0) late")
    }
    if let b = s["burns"] as? [String: Any] {
        let next = (b["next_expiry"] as? String).map { ", next expires \($0)" } ?? ""
        out.append("burns     \(b["pending"] ?? 0) unviewed\(next); \(b["viewed"] ?? 0) viewed, \(b["expired"] ?? 0) expired, \(b["receipts"] ?? 0) receipts sent")
    }
    if let f = s["forwards"] as? [String: Any] {
        out.append("forwards  \(f["accepted"] ?? 0) accepted, \(f["refused"] ?? 0) refused, \(f["hops"] ?? 0) hops countersigned (default scope \(f["default_scope"] ?? "federation"), at most \(f["max_recipients"] ?? 0) recipients and \(f["max_hops"] ?? 0) hops)")
    }
    let storageState = storage["state"] as? String ?? "ok"
    out.append("storage   \(storageState == "ok" ? "" : storageState.uppercased() + ": new messages refused; ")database \(bytes(storage["db_bytes"] as? Int ?? 0)), WAL \(bytes(storage["wal_bytes"] as? Int ?? 0)), \(bytes(storage["free_bytes"] as? Int ?? 0)) free (floor \(storage["min_free_mb"] ?? 0) MiB)")
    if let l = s["limits"] as? [String: Any] {
        let refused = l["refused"] as? [String: Any] ?? [:]
        let parts = refused.keys.sorted().compactMap { key -> String? in
            let n = refused[key] as? Int ?? 0
            return n > 0 ? "\(n) \(key.replacingOccurrences(of: "_", with: " "))" : nil
        }
        out.append("limits    per user \(l["mailbox_messages"] ?? 0) messages / \(l["mailbox_mb"] ?? 0) MiB waiting, \(l["burn_mb"] ?? 0) MiB burn; per sender \(l["sender_mb"] ?? 0) MiB waiting, \(l["send_per_s"] ?? 0) msg/s (burst \(l["send_burst"] ?? 0)), \(l["send_mb_s"] ?? 0) MiB/s; refused: \(parts.isEmpty ? "none" : parts.joined(separator: ", "))")
    }
    if let l = s["labels"] as? [String: Any] {
        let refused = l["refused"] as? [String: Any] ?? [:]
        let parts = refused.keys.sorted().compactMap { key -> String? in
            let n = refused[key] as? Int ?? 0
            return n > 0 ? "\(n) \(key.replacingOccurrences(of: "_", with: " "))" : nil
        }
        let accredited = (l["accredited"] as? [String] ?? []).joined(separator: ", ")
        let links = (l["links"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let mismatched = l["mismatched_peers"] as? [String] ?? []
        out.append("labels    default \(l["default"] ?? "?"), ceiling \(l["ceiling"] ?? "?"), accredited: \(accredited.isEmpty ? "none" : accredited)"
                   + (links.isEmpty ? "" : "; links: " + links.joined(separator: ", "))
                   + (mismatched.isEmpty ? "" : "; ANOTHER LABEL SET at: " + mismatched.joined(separator: ", "))
                   + "; refused: \(parts.isEmpty ? "none" : parts.joined(separator: ", "))"
                   + ((l["expired"] as? Int ?? 0) > 0 ? "; \(l["expired"] ?? 0) deleted at their readable-until time" : ""))
    }
    if let f = s["files"] as? [String: Any] {
        out.append("files     \(f["files"] ?? 0) (\(bytes(f["bytes"] as? Int ?? 0))): \(f["uploading"] ?? 0) uploading, \(f["pulling"] ?? 0) pulling from other nodes, \(f["sending"] ?? 0) being sent; \(bytes(f["free_bytes"] as? Int ?? 0)) free, quota \(f["quota_mb"] ?? 0) MiB per user")
    }
    out.append("rates     last minute: \(rates["in_last_minute"] ?? 0) in, \(rates["out_last_minute"] ?? 0) out, \(rates["relayed_last_minute"] ?? 0) relayed")
    let peers = s["peers"] as? [[String: Any]] ?? []
    out.append("")
    if peers.isEmpty {
        out.append("peers     none (sealpost-node peer add …)")
    } else {
        out.append(pad("PEER", 14) + pad("STATE", 14) + pad("LAST HEARD", 12) + pad("RTT", 10) + pad("QUEUE", 8) + "OLDEST UNACKED")
        for p in peers {
            let heard = (p["last_heard_ms"] as? Int).map { duration(ms: $0) + " ago" } ?? "never"
            let rtt = (p["rtt_us"] as? Int).map { $0 > 0 ? String(format: "%.2fms", Double($0) / 1000) : "-" } ?? "-"
            let oldest = (p["oldest_unacked_ms"] as? Int).map { duration(ms: $0) } ?? "-"
            let diskFull = (p["storage"] as? String).map { $0 != "ok" } ?? false
            out.append(pad(p["name"] as? String ?? "", 14) + pad(p["state"] as? String ?? "", 14) + pad(heard, 12) + pad(rtt, 10)
                       + pad("\(p["queue"] ?? 0)", 8) + oldest + (diskFull ? "  (its disk is full)" : ""))
        }
    }
    let routes = s["routes"] as? [[String: Any]] ?? []
    out.append("")
    if routes.isEmpty {
        out.append("routes    none (no peer is connected)")
    } else {
        out.append(pad("DESTINATION", 14) + pad("NEXT HOP", 14) + pad("HOPS", 6) + "PATH")
        for r in routes {
            out.append(pad(r["dest"] as? String ?? "", 14) + pad(r["next_hop"] as? String ?? "", 14) + pad("\(r["hops"] ?? 0)", 6)
                       + ((r["path"] as? [String]) ?? []).joined(separator: " → "))
        }
    }
    // What waits, per destination node, even while no route leads there (a partition).
    let waitingFor = s["destinations"] as? [[String: Any]] ?? []
    if !waitingFor.isEmpty {
        out.append("")
        out.append(pad("WAITING FOR", 14) + pad("NEXT HOP", 14) + pad("WAITING", 9) + pad("IN FLIGHT", 11) + "OLDEST")
        for d in waitingFor {
            out.append(pad(d["node"] as? String ?? "", 14) + pad(d["next_hop"] as? String ?? "no route", 14)
                       + pad("\(d["waiting"] ?? 0)", 9) + pad("\(d["in_flight"] ?? 0)", 11) + duration(ms: d["oldest_ms"] as? Int ?? 0))
        }
    }
    let counters = s["counters"] as? [String: Any] ?? [:]
    let bad = ["malformed", "refused_keys", "rejected_relays", "rejected_announcements", "rejected_snapshots", "key_conflicts", "undeliverable", "commit_failures"]
        .compactMap { k -> String? in
            guard let v = counters[k] as? Int, v > 0 else { return nil }
            return "\(k.replacingOccurrences(of: "_", with: " ")) \(v)"
        }
    if !bad.isEmpty {
        out.append("")
        out.append("attention " + bad.joined(separator: ", "))
    }
    return out.joined(separator: "\n")
}

func renderFederation(_ s: [String: Any]) -> String {
    let nodes = s["nodes"] as? [[String: Any]] ?? []
    var out = [pad("NODE", 14) + pad("UP", 10) + pad("USERS", 8) + pad("ONLINE", 8) + pad("JOURNAL", 9) + pad("IN/MIN", 8) + pad("HEARD", 10) + "PEERS"]
    for n in nodes {
        let peers = (n["peers"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        out.append(pad(n["node"] as? String ?? "", 14) + pad(duration(ms: (n["uptime_s"] as? Int ?? 0) * 1000), 10)
                   + pad("\(n["users"] ?? 0)", 8) + pad("\(n["online"] ?? 0)", 8) + pad("\(n["journal"] ?? 0)", 9)
                   + pad("\(n["in_last_minute"] ?? 0)", 8) + pad(duration(ms: n["heard_ms_ago"] as? Int ?? 0), 10) + peers
                   + ((n["storage"] as? String).map { $0 == "ok" ? "" : "  STORAGE: \($0.uppercased())" } ?? ""))
    }
    return out.joined(separator: "\n")
}
