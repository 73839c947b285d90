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

    /// Every pending due notice (loaded at start).
    func scheduledReminders() throws -> [ScheduledReminder] {
        try db.query("SELECT user, reminder, due_at, sender FROM reminders") { s in
            ScheduledReminder(user: s.text(0), reminder: MessageID(bytes: s.blob(1)) ?? .zero, dueAt: UInt64(s.int(2)), sender: s.text(3))
        }
    }
}

/// A due notice this node owes one of its users.
struct ScheduledReminder: Equatable {
    var user: String
    var reminder: MessageID
    var dueAt: UInt64
    var sender: String

    var key: String { user + "/" + reminder.hex }
}

/// Pending due notices: a min-heap on due time, plus the live set (a cancelled
/// entry stays in the heap and is skipped when it comes up).
struct ReminderSchedule {
    private var heap: [ScheduledReminder] = []
    private(set) var live: [String: ScheduledReminder] = [:]

    var count: Int { live.count }

    init(_ items: [ScheduledReminder] = []) {
        for item in items { live[item.key] = item }
        heap = Array(live.values)
        // Bottom-up heapify: O(n), so a restart with a million pending stays quick.
        var i = heap.count / 2 - 1
        while i >= 0 { siftDown(i); i -= 1 }
    }

    mutating func add(_ item: ScheduledReminder) {
        guard live[item.key] == nil else { return }
        live[item.key] = item
        heap.append(item)
        siftUp(heap.count - 1)
    }

    mutating func remove(key: String) { live[key] = nil }

    /// The earliest live due time.
    mutating func nextDue() -> UInt64? {
        while let top = heap.first, live[top.key] != top { popTop() }
        return heap.first?.dueAt
    }

    /// Takes every live entry due at or before `now`, earliest first.
    mutating func takeDue(now: UInt64, limit: Int) -> [ScheduledReminder] {
        var out: [ScheduledReminder] = []
        while out.count < limit, let due = nextDue(), due <= now {
            let top = heap[0]
            popTop()
            live[top.key] = nil
            out.append(top)
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
