import SQLite
import SealpostCore

extension NodeStore {
    /// Records that `user` is owed a due notice; false when it was already scheduled.
    func schedule(user: String, reminder: MessageID, dueAt: UInt64, sender: String) throws -> Bool {
        try db.run("INSERT OR IGNORE INTO reminders(user, reminder, due_at, sender) VALUES(?,?,?,?)",
                   .text(user), .blob(reminder.bytes), .int(Int64(dueAt)), .text(sender)) == 1
    }

    /// Withdraws a due notice, only if `sender` set the reminder; false when there was none.
    func unschedule(user: String, reminder: MessageID, sender: String) throws -> Bool {
        try db.run("DELETE FROM reminders WHERE user = ? AND reminder = ? AND sender = ?",
                   .text(user), .blob(reminder.bytes), .text(sender)) == 1
    }

    /// How many due notices are pending (to size the schedule before loading it).
    func scheduledReminderCount() throws -> Int {
        Int(try db.first("SELECT COUNT(*) FROM reminders") { $0.int(0) } ?? 0)
    }

    /// Every pending due notice, row by row (loaded at start).
    func forEachScheduledReminder(_ body: (String, [UInt8], UInt64, String) throws -> Void) throws {
        let statement = try db.statement("SELECT user, reminder, due_at, sender FROM reminders")
        defer { statement.reset() }
        while try statement.step() {
            let id = statement.blob(1)
            guard id.count == 16 else { continue }
            try body(statement.text(0), id, UInt64(statement.int(2)), statement.text(3))
        }
    }
}

/// A due notice this node owes one of its users.
struct ScheduledReminder: Equatable {
    var user: String
    var reminder: MessageID
    var dueAt: UInt64
    var sender: String
}

/// Pending due notices: a compact min-heap on due time (32 bytes an entry, user
/// and sender names interned), so a million pending reminders load in well under
/// a second and take tens of MB. A cancelled entry stays in the heap and is
/// skipped when it comes up: a tombstone per cancelled (user, reminder) counts its
/// dead copies and names the one live copy scheduled again after the cancel, so
/// exactly that copy fires, at its own due time (the store holds at most one row
/// per (user, reminder), so at most one copy is live).
struct ReminderSchedule {
    private struct Item: Equatable {
        var dueAt: UInt64
        var idHigh: UInt64
        var idLow: UInt64
        var user: UInt32
        var sender: UInt32

        var key: Key { Key(user: user, idHigh: idHigh, idLow: idLow) }
    }

    private struct Key: Hashable {
        var user: UInt32
        var idHigh: UInt64
        var idLow: UInt64
    }

    /// The copies of one (user, reminder) in the heap that no longer count, and the
    /// live one if it was scheduled again after its cancel.
    private struct Tombstone {
        var dead: Int
        var live: Item?
    }

    private var heap: [Item] = []
    private var tombstones: [Key: Tombstone] = [:]
    private var deadCount = 0
    private var names: [String] = []
    private var nameIndex: [String: UInt32] = [:]

    var count: Int { heap.count - deadCount }

    init() {}

    /// Loads every pending row straight from the store (its index only: no table pages).
    init(store: NodeStore) throws {
        heap.reserveCapacity(try store.scheduledReminderCount())
        try store.forEachScheduledReminder { user, id, due, sender in
            let (high, low) = Self.split(id)
            heap.append(Item(dueAt: due, idHigh: high, idLow: low, user: intern(user), sender: intern(sender)))
        }
        var i = heap.count / 2 - 1
        while i >= 0 { siftDown(i); i -= 1 }
    }

    private mutating func intern(_ name: String) -> UInt32 {
        if let i = nameIndex[name] { return i }
        let i = UInt32(names.count)
        names.append(name)
        nameIndex[name] = i
        return i
    }

    private static func split(_ id: [UInt8]) -> (UInt64, UInt64) {
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(id[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(id[i]) }
        return (high, low)
    }

    private static func join(_ high: UInt64, _ low: UInt64) -> MessageID {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { bytes[i] = UInt8((high >> UInt64(56 - 8 * i)) & 0xff) }
        for i in 0..<8 { bytes[8 + i] = UInt8((low >> UInt64(56 - 8 * i)) & 0xff) }
        return MessageID(bytes: bytes)!
    }

    /// Adds a newly scheduled notice (the store refused duplicates already), or puts
    /// back one taken by `takeDue` whose batch rolled back.
    mutating func add(_ item: ScheduledReminder) {
        let (high, low) = Self.split(item.reminder.bytes)
        let entry = Item(dueAt: item.dueAt, idHigh: high, idLow: low, user: intern(item.user), sender: intern(item.sender))
        if tombstones[entry.key] != nil {
            precondition(tombstones[entry.key]?.live == nil, "one live copy per (user, reminder)")
            tombstones[entry.key]?.live = entry
        }
        heap.append(entry)
        siftUp(heap.count - 1)
    }

    /// Withdraws the live copy of a notice (the store just deleted its row, so it is in the heap).
    mutating func remove(user: String, reminder: MessageID) {
        guard let u = nameIndex[user] else { return }
        let (high, low) = Self.split(reminder.bytes)
        tombstones[Key(user: u, idHigh: high, idLow: low), default: Tombstone(dead: 0, live: nil)].dead += 1
        tombstones[Key(user: u, idHigh: high, idLow: low)]?.live = nil
        deadCount += 1
    }

    /// Drops dead copies off the top until the top is live.
    private mutating func dropDeadTop() {
        while let top = heap.first, let tomb = tombstones[top.key], tomb.dead > 0, tomb.live != top {
            popTop()
            deadCount -= 1
            if tomb.dead == 1 && tomb.live == nil { tombstones[top.key] = nil } else { tombstones[top.key]?.dead -= 1 }
        }
    }

    /// The earliest live due time.
    mutating func nextDue() -> UInt64? {
        dropDeadTop()
        return heap.first?.dueAt
    }

    /// Takes every live entry due at or before `now`, earliest first.
    mutating func takeDue(now: UInt64, limit: Int) -> [ScheduledReminder] {
        var out: [ScheduledReminder] = []
        while out.count < limit, let due = nextDue(), due <= now {
            let top = heap[0]
            popTop()
            if let tomb = tombstones[top.key] {
                // The live copy fired: the copies left are all dead.
                if tomb.dead == 0 { tombstones[top.key] = nil } else { tombstones[top.key]?.live = nil }
            }
            out.append(ScheduledReminder(user: names[Int(top.user)], reminder: Self.join(top.idHigh, top.idLow),
                                         dueAt: top.dueAt, sender: names[Int(top.sender)]))
        }
        return out
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].dueAt < heap[parent].dueAt else { return }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count && heap[l].dueAt < heap[smallest].dueAt { smallest = l }
            if r < heap.count && heap[r].dueAt < heap[smallest].dueAt { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
