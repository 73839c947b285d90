import SealpostCore

/// One reactor cycle's transaction, and everything that waits on its outcome.
///
/// The rule for in-memory mirrors of rows: a mirror changes either only after the
/// commit (`afterCommit`), or at once together with an undo (`onRollback`) that puts
/// it back if the commit fails. Undos run in reverse order, so several changes of
/// one mirror in a cycle unwind to the value before the cycle.
///
/// What the cycle answers waits here too: replies to clients (`reply`), of which the
/// acknowledgements (STORED, VIEWING, ENROLLED) become ERROR 500 when the batch is
/// rolled back, so the client retries; RELAYs to acknowledge to peers (`ack`),
/// dropped on rollback, so the peer resends; and new mailbox entries to push
/// (`push`), which go out before the commit (a DELIVER is no promise of
/// durability, protocol/SPEC.md "DELIVER").
///
/// Every field is private: only these methods change them, so no part of the
/// reactor can acknowledge before the commit or change a mirror without an undo.
final class CycleBatch {
    private let store: NodeStore
    /// A transaction is open on the store.
    private var open = false
    /// A write of this batch failed: it is rolled back whatever else succeeds.
    private var failed = false
    private var replies: [([UInt8], Command)] = []
    private var acks: [[UInt8]: [UInt64]] = [:]
    private var pushes: [String: [(UInt64, Envelope)]] = [:]
    private var commitActions: [() -> Void] = []
    private var undos: [() -> Void] = []

    /// What a finished batch leaves to send: the replies (acknowledgements already
    /// turned into errors if it was rolled back) and the RELAYs to acknowledge.
    struct Outcome {
        var committed: Bool
        var replies: [([UInt8], Command)]
        var acks: [[UInt8]: [UInt64]]
    }

    init(store: NodeStore) {
        self.store = store
    }

    /// Whether a write of this batch has failed (later writes are refused at once).
    var hasFailed: Bool { failed }

    /// Whether this cycle has written anything yet (a transaction is open): work that must
    /// not share a transaction with the cycle's (reserving counters) waits for the next one.
    var isOpen: Bool { open }

    /// Runs a storage write inside the cycle's transaction, opening it first.
    /// - Throws: `Reactor.StorageFailure` (with `ref`) when this or an earlier write of the batch failed.
    func write(ref: MessageID, _ body: () throws -> Void) throws {
        if failed { throw Reactor.StorageFailure(ref: ref, underlying: NodeError.storage("an earlier write of this batch failed")) }
        do {
            if !open {
                try store.begin()
                open = true
            }
            try body()
        } catch {
            failed = true
            throw Reactor.StorageFailure(ref: ref, underlying: error)
        }
    }

    /// An answer to a client (or a peer on the ROUTER), sent when the batch is finished.
    func reply(_ routing: [UInt8], _ command: Command) {
        replies.append((routing, command))
    }

    /// A RELAY to acknowledge (RELAYED) to the peer at `routing`, only once committed.
    func ack(_ routing: [UInt8], jid: UInt64) {
        acks[routing, default: []].append(jid)
    }

    /// A new mailbox entry for an online recipient, pushed before the commit.
    func push(to user: String, seq: UInt64, _ envelope: Envelope) {
        pushes[user, default: []].append((seq, envelope))
    }

    /// Takes this cycle's new mailbox entries, per recipient, in seq order.
    func takePushes() -> [String: [(UInt64, Envelope)]] {
        defer { pushes.removeAll(keepingCapacity: true) }
        return pushes
    }

    /// Runs `action` once the batch has committed (in the order registered); never if it is rolled back.
    func afterCommit(_ action: @escaping () -> Void) {
        commitActions.append(action)
    }

    /// Runs `undo` if the batch is rolled back (the last registered first); never if it commits.
    func onRollback(_ undo: @escaping () -> Void) {
        undos.append(undo)
    }

    /// Ends the batch: runs `beforeCommit` (the cycle's last writes) and commits, then runs
    /// the after-commit actions; or, if a write or the commit failed, rolls back, runs the
    /// undos in reverse order, drops the acks and turns the acknowledgements into errors.
    /// With nothing written, the batch counts as committed. Leaves the batch empty.
    /// - Parameters:
    ///   - rolledBack: told why, before the undos run.
    ///   - refusal: what the acknowledgements of a rolled-back batch become (by default
    ///     500, "storage failure, retry later"; 507 while the disk is full).
    func finish(beforeCommit: () throws -> Void, rolledBack: (Error) -> Void,
                refusal: () -> (code: ErrorCode, reason: String) = { (.internalError, CycleBatch.retryLater) }) -> Outcome {
        var committed = true
        if open || failed {
            do {
                if failed { throw NodeError.storage("a write of this batch failed") }
                try beforeCommit()
                try store.commit()
            } catch {
                committed = false
                if open { store.rollback() }
                rolledBack(error)
            }
            open = false
        }
        if committed {
            // An action may add replies (FILE-STATUS once chunks are durable): they go out with the rest.
            let actions = commitActions
            commitActions.removeAll(keepingCapacity: true)
            for action in actions { action() }
        } else {
            for undo in undos.reversed() { undo() }
            acks.removeAll()
            let (code, reason) = refusal()
            replies = replies.map { routing, command in (routing, Self.unacknowledged(command, code: code, reason: reason)) }
        }
        let outcome = Outcome(committed: committed, replies: replies, acks: acks)
        failed = false
        commitActions.removeAll(keepingCapacity: true)
        undos.removeAll(keepingCapacity: true)
        replies.removeAll(keepingCapacity: true)
        acks.removeAll(keepingCapacity: true)
        return outcome
    }

    static let retryLater = "storage failure, retry later"

    /// What a reply becomes when its batch is rolled back: an acknowledgement turns into
    /// an ERROR (500 by default: the client retries); anything else is sent as it is.
    static func unacknowledged(_ command: Command, code: ErrorCode = .internalError, reason: String = retryLater) -> Command {
        switch command {
        case .stored(let id):
            return .error(code: code.rawValue, ref: id, reason: reason)
        case .viewing(let envelope):
            // The burn message is still on the node: nothing was handed over.
            return .error(code: code.rawValue, ref: envelope.id, reason: reason)
        case .enrolled:
            return .error(code: code.rawValue, ref: .zero, reason: reason)
        default:
            return command
        }
    }
}
