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
/// skipped when it comes up.
struct ReminderSchedule {
    private struct Item {
        var dueAt: UInt64
        var idHigh: UInt64
        var idLow: UInt64
        var user: UInt32
        var sender: UInt32
    }

    private struct Key: Hashable {
        var user: UInt32
        var idHigh: UInt64
        var idLow: UInt64
    }

    private var heap: [Item] = []
    private var cancelled: Set<Key> = []
    private var names: [String] = []
    private var nameIndex: [String: UInt32] = [:]

    var count: Int { heap.count - cancelled.count }

    init() {}

    /// Loads every pending row straight from the store.
    init(store: NodeStore) throws {
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

    /// Adds a newly scheduled notice (the store refused duplicates already).
    mutating func add(_ item: ScheduledReminder) {
        let (high, low) = Self.split(item.reminder.bytes)
        let entry = Item(dueAt: item.dueAt, idHigh: high, idLow: low, user: intern(item.user), sender: intern(item.sender))
        cancelled.remove(Key(user: entry.user, idHigh: high, idLow: low))
        heap.append(entry)
        siftUp(heap.count - 1)
    }

    mutating func remove(user: String, reminder: MessageID) {
        guard let u = nameIndex[user] else { return }
        let (high, low) = Self.split(reminder.bytes)
        cancelled.insert(Key(user: u, idHigh: high, idLow: low))
    }

    private func isCancelled(_ item: Item) -> Bool {
        !cancelled.isEmpty && cancelled.contains(Key(user: item.user, idHigh: item.idHigh, idLow: item.idLow))
    }

    /// The earliest live due time.
    mutating func nextDue() -> UInt64? {
        while let top = heap.first, isCancelled(top) {
            cancelled.remove(Key(user: top.user, idHigh: top.idHigh, idLow: top.idLow))
            popTop()
        }
        return heap.first?.dueAt
    }

    /// Takes every live entry due at or before `now`, earliest first.
    mutating func takeDue(now: UInt64, limit: Int) -> [ScheduledReminder] {
        var out: [ScheduledReminder] = []
        while out.count < limit, let due = nextDue(), due <= now {
            let top = heap[0]
            popTop()
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
