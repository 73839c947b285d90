import SealpostCore

/// What the node keeps in memory of burn messages (protocol/SPEC.md 7.11): how many it
/// keeps for local users and when the next one expires, the journal entries that hold a
/// burn message's content with their expiry, and the view-once files it knows of.
///
/// Pure bookkeeping: the reactor writes and deletes the rows and sends the receipts; it tells
/// this type what was committed (`kept`, `viewed`, `expired`, `journalled`, `forgotten`, `fileGone`)
/// and asks it what is due (`isDue`, `journalledDue`). A view-once file seen inside a cycle comes
/// with an undo (`fileSeen` returns what to give `fileRolledBack`).
struct BurnState {
    /// Burn messages kept for local users (mirrors the burns table's row count).
    private(set) var pending = 0
    /// When the next kept burn message expires (ms since 1970), nil when none is kept.
    private(set) var nextExpiryMs: UInt64?
    /// Journal entries that hold a burn message's content, with its expiry (ms).
    private(set) var journalled: [UInt64: UInt64] = [:]
    /// When the journal is next looked at for burn copies past their expiry (ms).
    private var nextJournalCheckMs: UInt64 = 0
    /// View-once files this node knows of, by file id.
    private(set) var files: [FileID: BurnFile] = [:]
    /// Since the start (status `burns`): burn messages handed over at VIEW, expired unviewed, and
    /// the receipts (viewed, expired, forwarded) sent to their senders.
    private(set) var viewedCount: UInt64 = 0
    private(set) var expiredCount: UInt64 = 0
    private(set) var receiptsSent: UInt64 = 0

    /// How often the journal is looked at for burn copies past their expiry.
    static let journalCheckIntervalMs: UInt64 = 1000

    init() {}

    /// - Parameters: what the database holds.
    init(pending: Int, nextExpiryMs: UInt64?, files: [FileID: BurnFile]) {
        self.pending = pending
        self.nextExpiryMs = nextExpiryMs
        self.files = files
    }

    // MARK: kept for local users

    /// Whether a kept burn message is past its expiry at `nowMs`.
    func isDue(nowMs: UInt64) -> Bool {
        guard let next = nextExpiryMs else { return false }
        return next <= nowMs
    }

    /// A burn message expiring at `expiresAt` was kept (committed).
    mutating func kept(expiresAt: UInt64) {
        pending += 1
        nextExpiryMs = min(nextExpiryMs ?? expiresAt, expiresAt)
    }

    /// A kept burn message was handed over (or, `refused`, deleted at VIEW for its label), committed.
    mutating func viewed(refused: Bool) {
        if !refused { viewedCount += 1 }
        pending -= 1
        if pending == 0 { nextExpiryMs = nil }
    }

    /// `count` kept burn messages were deleted before their time (a lowered clearance, committed);
    /// the next expiry stays as it was (it may name one of them: it is then looked at early, harmlessly).
    mutating func deleted(count: Int) {
        pending -= count
        if pending <= 0 { pending = 0; nextExpiryMs = nil }
    }

    /// `count` kept burn messages expired (committed); `following` is the next expiry the database has.
    mutating func expired(count: Int, following: UInt64?) {
        expiredCount += UInt64(count)
        pending -= count
        nextExpiryMs = following
    }

    /// A receipt to a burn message's sender was committed.
    mutating func receiptSent() {
        receiptsSent += 1
    }

    /// A user's burn messages were deleted with them: the count and next expiry as the database has them now
    /// (a value it could not give: the count is kept, the expiry forgotten).
    mutating func reloaded(pending: Int?, nextExpiryMs: UInt64?) {
        self.pending = pending ?? self.pending
        self.nextExpiryMs = nextExpiryMs
    }

    // MARK: in the journal

    /// Journal entry `jid` holds a burn message's content that must be gone by `expiresAt` (committed).
    mutating func journalled(jid: UInt64, expiresAt: UInt64) {
        journalled[jid] = expiresAt
    }

    /// Whether journal entry `jid` holds a burn message's content.
    func holdsContent(jid: UInt64) -> Bool { journalled[jid] != nil }

    /// Journal entry `jid` no longer holds content (emptied, forwarded or gone).
    mutating func forgotten(jid: UInt64) {
        journalled[jid] = nil
    }

    /// The journal entries whose burn content is past its expiry at `nowMs`; looked at once per
    /// `journalCheckIntervalMs` (empty in between).
    mutating func journalledDue(nowMs: UInt64) -> [UInt64] {
        guard !journalled.isEmpty, nowMs >= nextJournalCheckMs else { return [] }
        nextJournalCheckMs = nowMs + Self.journalCheckIntervalMs
        return journalled.filter { $0.value <= nowMs }.map(\.key).sorted()
    }

    // MARK: view-once files

    /// A view-once file is known as `file` now (in this cycle's transaction).
    /// - Returns: what was known before, for `fileRolledBack` if the cycle is rolled back.
    mutating func fileSeen(_ id: FileID, _ file: BurnFile) -> BurnFile? {
        defer { files[id] = file }
        return files[id]
    }

    /// The cycle that changed what is known of file `id` was rolled back: `previous` is back.
    mutating func fileRolledBack(_ id: FileID, to previous: BurnFile?) {
        files[id] = previous
    }

    /// View-once file `id` is gone from this node (committed).
    mutating func fileGone(_ id: FileID) {
        files[id] = nil
    }
}
