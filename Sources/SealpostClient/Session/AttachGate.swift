import SealpostCore

/// When a mailbox reader may acknowledge, and when it attaches again: shared by
/// `MailboxReader` (`inbox`, `chat`) and the web daemon's worker. Pure logic: the
/// caller sends what it answers (ATTACH, DETACH, PING) and passes the time in.
///
/// Nothing at or after a delivery whose sender is not known yet is acknowledged
/// (the ACK is cumulative, SPEC 6.8). While one waits, the reader asks for the
/// mailbox again every `retryMs`, but first DETACHes and waits for the PONG of a
/// PING sent after it: a push of the old session that arrives after the new
/// ATTACH would otherwise clear the wait and be acknowledged past the waiting
/// delivery, which the node would then delete unseen.
public struct AttachGate: Sendable {
    /// The first delivery that could not be opened yet: nothing from it on is acknowledged.
    public private(set) var blockedAt: UInt64?
    private var blockedSinceNs: UInt64 = 0
    /// PINGs sent and PONGs received (PONGs answer PINGs in order), so that a PONG is
    /// known to answer a PING sent after the last ATTACH or DETACH.
    private var pings = 0, pongs = 0
    private var pingsAtAttach = 0
    /// While waiting for the PONG that follows a DETACH before attaching again: that PING's number.
    private var fence: Int?
    public private(set) var attached = false

    public init() {}

    /// An ATTACH was sent: the waits of the old session are gone (its deliveries come again).
    public mutating func didAttach() {
        blockedAt = nil
        fence = nil
        attached = true
        pingsAtAttach = pings
    }

    public mutating func didPing() { pings += 1 }

    public mutating func didDetach() { attached = false }

    /// A delivery that opened (or cannot ever be opened) with this seq.
    public mutating func delivered(seq: UInt64) {
        if blockedAt == seq { blockedAt = nil }
    }

    /// A delivery whose sender's key cannot be had yet.
    public mutating func waiting(seq: UInt64, nowNs: UInt64) {
        if blockedAt == nil { blockedSinceNs = nowNs }
        blockedAt = min(blockedAt ?? seq, seq)
    }

    /// How far a batch taken through `batchSeq` may be acknowledged (0: not at all).
    public func ackThrough(_ batchSeq: UInt64) -> UInt64 {
        blockedAt.map { min(batchSeq, $0 - 1) } ?? batchSeq
    }

    /// A PONG came; true when the caller must attach again (then call `didAttach`).
    public mutating func pong(isAttached: Bool) -> Bool {
        pongs += 1
        if let fence {
            // Every push sent before the DETACH came before this PONG: start again.
            return pongs >= fence
        }
        // A new session (the node restarted, or the connection or session was lost): nothing of
        // the old one is pushed any more, and its seqs are not acknowledged on the new one.
        return attached && !isAttached && pongs > pingsAtAttach
    }

    /// True when a delivery has waited `retryMs`: the caller sends DETACH then PING, then
    /// calls `didFence()`, and attaches again when `pong` says so.
    public mutating func retryDue(nowNs: UInt64, retryMs: Int) -> Bool {
        guard attached, blockedAt != nil, fence == nil, nowNs - blockedSinceNs > UInt64(retryMs) * 1_000_000 else { return false }
        blockedSinceNs = nowNs
        return true
    }

    /// The DETACH and the PING of a retry were sent (`didPing` already counted the PING).
    public mutating func didFence() { fence = pings }
}
