/// Sequence numbers reserved in the database a block at a time (hi/lo): the database
/// holds the end of the reservation, the first number not yet reserved, and a restart
/// begins there. A number that left the node is never handed out again, even after a
/// crash (gaps are normal), and the reservation is written once a block, not with every
/// number. Mailbox seqs (DELIVER) and announcement seqs (ROUTES, SUMMARY) are drawn so.
///
/// Plain values: the reactor takes numbers, writes `wanted()` (a new end) in a transaction,
/// reports the outcome (`committed`, `rolledBack`), and lets a number leave the node before
/// that transaction commits only while `isSaved` holds for it: then a crash cannot give it
/// to another message.
struct ReservedSeqs: Sendable, Equatable {
    /// The largest end the database can store (an `INTEGER`).
    static let maxEnd = UInt64(Int64.max)

    /// The next number to hand out. It never goes back, not even when a cycle rolls back: a
    /// number taken in that cycle may already have left the node.
    private(set) var next: UInt64
    /// The last number handed out since the start (nil: none yet).
    private var last: UInt64?
    /// The end of the reservation as the database has it, committed.
    private(set) var saved: UInt64
    /// A further end written in the open transaction, not committed yet.
    private var unsaved: UInt64?
    /// How many numbers one reservation adds.
    let block: UInt64

    /// After a start.
    /// - Parameters:
    ///   - saved: the end of the reservation the database holds.
    ///   - used: the largest number in the database's rows (0: none). Numbers start past it
    ///     whatever the reservation says (a database older than the reservation, or a copy).
    ///   - block: numbers per reservation; a new one is wanted when half or less is left.
    init(saved: UInt64, above used: UInt64 = 0, block: UInt64) {
        precondition(block >= 2, "a block of at least two numbers")
        self.saved = min(saved, Self.maxEnd)
        next = max(self.saved, min(used, Self.maxEnd - 1) + 1)
        self.block = block
    }

    /// Hands out the next number.
    mutating func take() -> UInt64 {
        last = next
        next += 1
        return next - 1
    }

    /// The end to write now so that the numbers handed out, and `count` more, lie in the
    /// reservation (with what the open transaction adds) with more than half a block to spare;
    /// nil while they do. A block is asked for only once a number needs it: on a start, by the
    /// first number taken (`count` 0: the rows that carry it are in the same transaction), or
    /// before it (`count` 1: the number leaves before any commit).
    func wanted(taking count: UInt64 = 0) -> UInt64? {
        guard let highest = count > 0 ? next + (count - 1) : last else { return nil }
        let end = unsaved ?? saved
        if end > highest && end - highest > block / 2 { return nil }
        return highest >= Self.maxEnd - block ? Self.maxEnd : highest + 1 + block
    }

    /// `end` (from `wanted()`) was written in the open transaction.
    mutating func writing(_ end: UInt64) {
        unsaved = max(unsaved ?? saved, end)
    }

    /// The transaction with the write committed: the new end holds.
    mutating func committed() {
        if let unsaved { saved = max(saved, unsaved) }
        unsaved = nil
    }

    /// The transaction with the write rolled back: the end is the one committed before. The
    /// numbers already taken stay taken (`next` does not go back).
    mutating func rolledBack() {
        unsaved = nil
    }

    /// Whether `seq` lies below the committed end: a restart begins past it, so it may leave
    /// the node before the row that carries it commits.
    func isSaved(_ seq: UInt64) -> Bool { seq < saved }
}
