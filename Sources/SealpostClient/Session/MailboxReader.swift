import Foundation
import SealpostCore

/// Receives the mailbox so that each message is shown exactly once: the one
/// receive loop of `inbox` and `chat`.
///
/// Deliveries are taken into a batch (repeats of ids in the seen log, or in the
/// batch, are dropped). `settle` then, in this order:
/// 1. folds the batch into the profile's books and saves them (synced),
/// 2. renders the batch and writes its line to the seen log, not yet committed
///    (`SeenLog.prepare`: all that takes time or can block),
/// 3. commits the line (one store to memory) and at once writes the rendered
///    batch out in one write,
/// 4. syncs the seen log,
/// 5. acknowledges the batch, so that the node deletes it.
/// A process killed before 3 gets the batch again and shows it; killed after 3,
/// it never shows it again; between the commit and the output there is nothing
/// that waits. If the machine goes down before 4, the batch comes again (it was
/// not acknowledged): shown again rather than lost. Nothing is acknowledged
/// before it is on disk, and nothing at or after a delivery whose sender is not
/// known yet.
///
/// Hold the profile's `ProfileLock` while using one.
public final class MailboxReader {
    /// What the reader passes on; the messages themselves go to `settle`.
    public enum Event: Sendable {
        /// A delivery was taken into the batch (a new message, or a repeat that is dropped).
        case delivery
        /// A delivery that can never be opened (tampered, wrong key); it is acknowledged with the batch.
        case undecryptable(id: MessageID, from: String, reason: String)
        /// A delivery whose sender's key cannot be had yet: neither it nor anything after it is
        /// acknowledged; the reader asks for it again every `retryMs`. `first`: not reported before.
        case waiting(id: MessageID, from: String, reason: String, first: Bool)
        /// Everything waiting at attach time has been delivered.
        case synced
        case stored(MessageID)
        case refused(code: UInt16, ref: MessageID, reason: String)
        /// The node answered a keep-alive (the reader attaches again by itself when it says `attached = false`).
        case pong(attached: Bool)
    }

    public let client: Client
    public let seen: SeenLog
    public let books: ProfileBooks?
    public let window: UInt32
    /// How often a delivery from a not-yet-known sender is asked for again.
    public var retryMs = 5_000
    /// Send read receipts for what `settle` showed (the person's setting, `ProfileSettings`).
    public var readReceipts = false
    /// Read receipts that could not be sent (the reason), for the caller to say; taken by `takeReceiptFailures`.
    private var receiptFailures: [String] = []
    /// Own messages whose state changed with the receipts of the last `settle`.
    public private(set) var changedStates: [(id: MessageID, state: ReceiptBook.State)] = []

    /// Messages taken since the last settle, in delivery order, none shown before.
    public private(set) var batch: [ReceivedMessage] = []
    private var batchIds = Set<MessageID>()
    /// The highest seq taken since the last settle; 0 when nothing was.
    private var batchSeq: UInt64 = 0
    /// Deliveries taken since the last settle (new, repeated or unopenable).
    public private(set) var unacknowledged = 0
    private var reported = Set<MessageID>()
    /// When to acknowledge and when to attach again (shared with the web daemon).
    private var gate = AttachGate()
    public var attached: Bool { gate.attached }

    public init(client: Client, seen: SeenLog, books: ProfileBooks?, window: UInt32 = 1000) {
        self.client = client
        self.seen = seen
        self.books = books
        self.window = window
    }

    /// Asks the node to push the mailbox from its oldest entry. What was taken and
    /// not settled is dropped: it is delivered again.
    public func attach() throws {
        batch.removeAll()
        batchIds.removeAll()
        batchSeq = 0
        unacknowledged = 0
        try client.attach(window: window)
        gate.didAttach()
    }

    /// A keep-alive (send one every 5 to 10 s while attached); its PONG comes back from `next`.
    public func ping() throws {
        try client.ping()
        gate.didPing()
    }

    /// Stops receiving; what was taken and not settled stays on the node.
    public func detach() throws {
        gate.didDetach()
        try client.detach()
    }

    /// The next event from the node, or nil after `timeoutMs`.
    public func next(timeoutMs: Int) throws -> Event? {
        guard let event = try client.next(timeoutMs: timeoutMs) else { return nil }
        switch event {
        case .message(let m), .receipt(let m):
            take(seq: m.seq)
            gate.delivered(seq: m.seq)
            if !seen.contains(m.id) && batchIds.insert(m.id).inserted { batch.append(m) }
            return .delivery
        case .undecryptable(let seq, let id, let from, let reason):
            take(seq: seq)
            return .undecryptable(id: id, from: from, reason: reason)
        case .senderUnknown(let seq, let id, let from, let reason):
            take(seq: seq)
            gate.waiting(seq: seq, nowNs: Clock.monotonicNs())
            return .waiting(id: id, from: from, reason: reason, first: reported.insert(id).inserted)
        case .synced:
            return .synced
        case .stored(let id):
            return .stored(id)
        case .refused(let code, let ref, let reason):
            return .refused(code: code, ref: ref, reason: reason)
        case .pong(let isAttached):
            if gate.pong(isAttached: isAttached) { try attach() }
            return .pong(attached: isAttached)
        }
    }

    private func take(seq: UInt64) {
        batchSeq = max(batchSeq, seq)
        unacknowledged += 1
    }

    /// Messages in the batch, not counting receipts (which are folded into the books, never shown as messages).
    public var batchMessageCount: Int { batch.reduce(0) { $0 + ($1.receiptIds == nil ? 1 : 0) } }

    /// Whether the batch should be settled before taking more: the node pushes at most
    /// `window` unacknowledged deliveries, so acknowledge every `window / 2`.
    public var isFull: Bool { unacknowledged >= Int(max(window / 2, 1)) }

    /// Records, shows and acknowledges what was taken (see the type's summary).
    /// - Parameters:
    ///   - render: the text of the batch, one line per message; called only when the batch holds a message.
    ///   - output: writes it, called right after the seen log's commit (by default: standard
    ///     output, in one write, the commit stored right before the system call).
    /// - Returns: how many messages were shown (receipts not counted).
    @discardableResult
    public func settle(render: ([ReceivedMessage]) -> [String], output: ((String) throws -> Void)? = nil) throws -> Int {
        guard batchSeq > 0 else { return 0 }
        let shown = batch
        changedStates = []
        if let books, !shown.isEmpty {
            for m in shown {
                if m.receiptIds != nil { changedStates += books.receipts.note(m) } else { books.note(m) }
            }
            try books.save()
        }
        let text = shown.isEmpty ? "" : render(shown).map { $0 + "\n" }.joined()
        fflush(nil)
        try seen.prepare(shown.map(\.id))
        batch.removeAll()
        batchIds.removeAll()
        if let output {
            seen.commit()
            if !text.isEmpty { try output(text) }
        } else {
            try Self.writeStandardOutput(text, seen: seen)
        }
        try seen.sync()
        let through = gate.ackThrough(batchSeq)
        if through > 0 { try client.ack(through) }
        batchSeq = 0
        unacknowledged = 0
        if readReceipts { sendReadReceipts(for: shown) }
        return shown.filter { $0.receiptIds == nil }.count
    }

    /// Sends the read receipts for what was shown, each stored by the node before the next.
    /// A receipt that cannot be sent is not retried (the messages were shown and acknowledged);
    /// its reason is kept for `takeReceiptFailures`.
    func sendReadReceipts(for shown: [ReceivedMessage]) {
        do {
            for envelope in try client.readReceipts(for: shown) {
                do { try client.store(envelope) } catch { receiptFailures.append("read receipt to \(envelope.to) not sent: \(error)") }
            }
        } catch {
            receiptFailures.append("read receipts not sent: \(error)")
        }
    }

    /// The read receipts that could not be sent since the last call, as notices.
    public func takeReceiptFailures() -> [String] {
        defer { receiptFailures.removeAll() }
        return receiptFailures
    }

    /// Writes `text` to standard output in one write (retrying a short one), so that a
    /// batch appears whole, and commits the seen log's prepared line: the store of its
    /// newline is the last thing before the system call (`SeenLog.commitByte`).
    static func writeStandardOutput(_ text: String, seen: SeenLog) throws {
        var text = text
        let byte = seen.commitByte
        let ok = text.withUTF8 { raw in
            if let byte { byte.pointee = 0x0A } else { seen.commit() }
            var done = 0
            while done < raw.count {
                let n = write(1, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
        seen.commit()
        if !ok { throw ClientError.io("cannot write to standard output: \(String(cString: strerror(errno)))") }
    }

    /// While a delivery waits for its sender, asks for the mailbox again every `retryMs`.
    /// It detaches and waits for a PONG first, so that no push of the old delivery
    /// arrives after the new ATTACH (its seq could otherwise be acknowledged past
    /// the waiting delivery).
    public func retryIfDue() throws {
        guard gate.retryDue(nowNs: Clock.monotonicNs(), retryMs: retryMs) else { return }
        try client.detach()
        try ping()
        gate.didFence()
    }
}
