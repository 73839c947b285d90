import SealpostCore

/// When a file's chunks go at the readable-until time of the messages that offered it here
/// (protocol/SPEC.md 7.11.9): a file goes once every message that refers to it (its offer and
/// forwards of it, each at `min(readable_until, stored_at + the label's period here)`) is past
/// its time; one message with no time keeps it to the other rules (7.8.6). Plain values: the
/// reactor tells it what was stored and deleted, asks what is due, and does the deletes.
struct FileExpiry: Sendable {
    /// The time each file goes, for files not yet deleted; 0: never by this rule.
    private(set) var until: [FileID: UInt64]
    /// Files deleted at their time: a FILE-GET of one is answered `gone` (410).
    private(set) var gone: Set<FileID>

    /// When the next file goes (nil: none). Kept, not computed: the reactor asks every cycle,
    /// and `until` holds every file offered here.
    private(set) var nextMs: UInt64?

    init(until: [FileID: UInt64] = [:], gone: Set<FileID> = []) {
        self.until = until
        self.gone = gone
        nextMs = Self.earliest(until)
    }

    private static func earliest(_ until: [FileID: UInt64]) -> UInt64? { until.values.filter { $0 > 0 }.min() }

    /// `id`'s time was `old` and is now `new` (nil: no entry): the next time stays right.
    private mutating func changed(from old: UInt64?, to new: UInt64?) {
        if let old, old > 0, old == nextMs, new != old {
            nextMs = Self.earliest(until)
        } else if let new, new > 0 {
            nextMs = min(nextMs ?? new, new)
        }
    }

    /// The time a file goes once another message with deletion time `deadline` (0: never) refers
    /// to it, given its time so far (nil: no message yet): the later of the two, and never stays never.
    static func combined(_ old: UInt64?, _ deadline: UInt64) -> UInt64 {
        guard let old else { return deadline }
        return old == 0 || deadline == 0 ? 0 : max(old, deadline)
    }

    /// A message referring to a file was stored: the file's time now, from its row so far
    /// (nil: none), or nil when nothing changes (the file is gone already, or its time stays).
    static func referred(_ row: (until: UInt64, gone: Bool)?, deadline: UInt64) -> UInt64? {
        if row?.gone == true { return nil }
        let time = combined(row?.until, deadline)
        return time == row?.until ? nil : time
    }

    /// After the commit of what `referred` returned.
    mutating func noted(_ id: FileID, until time: UInt64) {
        guard !gone.contains(id) else { return }
        let old = until[id]
        until[id] = time
        changed(from: old, to: time)
    }

    /// The files whose time has come, oldest first.
    func due(now: UInt64, limit: Int = 512) -> [FileID] {
        until.filter { $0.value > 0 && $0.value <= now }
            .sorted { $0.value != $1.value ? $0.value < $1.value : $0.key.hex < $1.key.hex }
            .prefix(limit).map(\.key)
    }

    /// After the commit of a file's deletion at its time.
    mutating func deleted(_ id: FileID) {
        let old = until.removeValue(forKey: id)
        gone.insert(id)
        changed(from: old, to: nil)
    }

    /// After the commit of a file's removal by another rule (collected, withheld): a file with
    /// no time is forgotten; one with a time stays, so that it is answered `gone` after it.
    mutating func removed(_ id: FileID) {
        if until[id] == 0 { until[id] = nil }
    }

    func isGone(_ id: FileID) -> Bool { gone.contains(id) }
}
