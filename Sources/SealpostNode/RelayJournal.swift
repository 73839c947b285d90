import SealpostCore

/// The relay journal in memory: every envelope this node must still hand to a
/// next hop, mirrored from the `journal` table. Entries wait in a per-destination
/// queue (journal id order) until sent; sent ones are tracked by their link until
/// acknowledged, and put back in the queue when a link fails or a resend is due.
struct RelayJournal {
    struct Entry {
        var jid: UInt64
        var dest: String
        var origin: String
        var streamSeq: UInt64
        var hops: UInt8
        var envelope: Envelope
        var createdMs: UInt64
        var attempts = 0
        var sentTo: String?
    }

    private(set) var entries: [UInt64: Entry] = [:]
    /// Journal ids waiting to be sent, per destination, ascending.
    private var queued: [String: [UInt64]] = [:]

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var destinationsWaiting: [String] { queued.keys.filter { !(queued[$0]?.isEmpty ?? true) }.sorted() }

    mutating func add(_ entry: Entry) {
        entries[entry.jid] = entry
        enqueue(entry.jid, dest: entry.dest)
    }

    private mutating func enqueue(_ jid: UInt64, dest: String) {
        var list = queued[dest, default: []]
        if let last = list.last, last > jid {
            // A resend goes back in journal order, before newer envelopes.
            var low = 0, high = list.count
            while low < high {
                let mid = (low + high) / 2
                if list[mid] < jid { low = mid + 1 } else { high = mid }
            }
            if low < list.count, list[low] == jid { return }
            list.insert(jid, at: low)
        } else if list.last != jid {
            list.append(jid)
        }
        queued[dest] = list
    }

    /// Takes up to `limit` queued entries for `dest`, oldest first.
    mutating func take(dest: String, limit: Int) -> [Entry] {
        guard limit > 0, var list = queued[dest], !list.isEmpty else { return [] }
        let n = min(limit, list.count)
        let jids = list.prefix(n)
        list.removeFirst(n)
        queued[dest] = list
        return jids.compactMap { entries[$0] }
    }

    mutating func markSent(_ jid: UInt64, to peer: String) {
        entries[jid]?.attempts += 1
        entries[jid]?.sentTo = peer
    }

    /// Puts a sent entry back in its queue (its link failed or its resend is due).
    mutating func requeue(_ jid: UInt64) {
        guard let entry = entries[jid] else { return }
        entries[jid]?.sentTo = nil
        enqueue(jid, dest: entry.dest)
    }

    /// The next hop acknowledged it: forget it.
    @discardableResult
    mutating func remove(_ jid: UInt64) -> Entry? {
        guard let entry = entries.removeValue(forKey: jid) else { return nil }
        if entry.sentTo == nil, var list = queued[entry.dest], let i = list.firstIndex(of: jid) {
            list.remove(at: i)
            queued[entry.dest] = list
        }
        return entry
    }

    func queuedCount(dest: String) -> Int { queued[dest]?.count ?? 0 }
}
