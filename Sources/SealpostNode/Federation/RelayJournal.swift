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
        /// The origin's stream epoch when it numbered the envelope (0: from before epochs).
        var epoch: UInt64 = 0
    }

    /// Journal ids waiting to be sent, ascending, consumed from `head`. A class, so
    /// that appending through the dictionary never copies the array.
    final class Queue {
        var jids: [UInt64] = []
        var head = 0

        var count: Int { jids.count - head }
        var first: UInt64? { head < jids.count ? jids[head] : nil }

        func append(_ jid: UInt64) {
            if let last = jids.last, head < jids.count, last >= jid {
                insertSorted(jid)
            } else {
                jids.append(jid)
            }
        }

        /// A resend goes back in journal order, before newer envelopes.
        private func insertSorted(_ jid: UInt64) {
            var low = head, high = jids.count
            while low < high {
                let mid = (low + high) / 2
                if jids[mid] < jid { low = mid + 1 } else { high = mid }
            }
            if low < jids.count, jids[low] == jid { return }
            if low == head, head > 0 {
                head -= 1
                jids[head] = jid
            } else {
                jids.insert(jid, at: low)
            }
        }

        func take(_ n: Int) -> ArraySlice<UInt64> {
            let end = min(head + n, jids.count)
            let out = jids[head..<end]
            head = end
            if head > 4096 && head * 2 > jids.count {
                jids.removeFirst(head)
                head = 0
            }
            return out
        }

        func remove(_ jid: UInt64) {
            if let i = jids[head...].firstIndex(of: jid) { jids.remove(at: i) }
        }
    }

    private(set) var entries: [UInt64: Entry] = [:]
    private var queued: [String: Queue] = [:]

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var destinationsWaiting: [String] { queued.compactMap { $0.value.count > 0 ? $0.key : nil }.sorted() }

    private mutating func queue(_ dest: String) -> Queue {
        if let q = queued[dest] { return q }
        let q = Queue()
        queued[dest] = q
        return q
    }

    mutating func add(_ entry: Entry) {
        entries[entry.jid] = entry
        queue(entry.dest).append(entry.jid)
    }

    /// Takes up to `limit` queued entries for `dest`, oldest first.
    mutating func take(dest: String, limit: Int) -> [Entry] {
        guard limit > 0, let q = queued[dest], q.count > 0 else { return [] }
        return q.take(limit).compactMap { entries[$0] }
    }

    mutating func markSent(_ jid: UInt64, to peer: String) {
        entries[jid]?.attempts += 1
        entries[jid]?.sentTo = peer
    }

    /// Puts a sent entry back in its queue (its link failed or its resend is due).
    mutating func requeue(_ jid: UInt64) {
        guard let entry = entries[jid] else { return }
        entries[jid]?.sentTo = nil
        queue(entry.dest).append(jid)
    }

    /// Gives an entry a new envelope in the same place (an expired burn message's notice).
    mutating func replaceEnvelope(_ jid: UInt64, with envelope: Envelope) {
        entries[jid]?.envelope = envelope
    }

    /// The next hop acknowledged it: forget it.
    @discardableResult
    mutating func remove(_ jid: UInt64) -> Entry? {
        guard let entry = entries.removeValue(forKey: jid) else { return nil }
        if entry.sentTo == nil { queued[entry.dest]?.remove(jid) }
        return entry
    }

    func queuedCount(dest: String) -> Int { queued[dest]?.count ?? 0 }

    /// Sends of `jid` so far (1 for an unknown one).
    func attempts(_ jid: UInt64) -> Int { entries[jid]?.attempts ?? 1 }

    /// When the oldest queued entry for `dest` was journalled.
    func oldestQueuedMs(dest: String) -> UInt64? {
        queued[dest]?.first.flatMap { entries[$0]?.createdMs }
    }
}
