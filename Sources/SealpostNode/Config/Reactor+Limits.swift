import Foundation
import SQLite
import SealpostCore
import ZeroMQ

/// One user must not take the node down: quotas, rate limits, the free-space floor,
/// the WAL bound, and refused handshakes logged in aggregate.
extension Reactor {
    static let storageCheckIntervalNs = StorageGuard.checkIntervalNs
    static let refusedKeyWindowNs: UInt64 = 60_000_000_000

    /// Why a new SEND may not be stored, or nil when it may: the free-space floor first,
    /// then the sender's rate, then (for a person on this node) their mailbox and burn quota.
    func admissionRefusal(_ stamped: Envelope, from user: String, to: Address, local: Bool,
                          isGroup: Bool) -> (code: ErrorCode, reason: String, counted: Quotas.Reason)? {
        refreshStorageState(now: Clock.monotonicNs())
        if storage.answer(to: .send) == .refuse {
            return (.insufficientStorage, Self.storageFullReason(config.name), .storageFull)
        }
        let limits = config.limits
        if let waitMs = quotas.take(sender: user, bytes: stamped.body.count, limits: limits, now: Clock.monotonicNs()) {
            return (.rateLimited, "rate limit: at most \(limits.sendPerS) messages/s (bursts of \(limits.sendBurst)) and \(limits.sendMBps) MiB/s per sender; retry in \(waitMs) ms",
                    .rateLimited)
        }
        if !quotas.senderHasRoom(stamped.from, bytes: stamped.encodedSize, limits: limits) {
            let use = quotas.senderUse(stamped.from)
            return (.insufficientStorage, "you have \(use.count) messages (\(mib(use.bytes))) waiting on \(config.name) to be read or passed on; the limit is \(limits.senderMB) MiB per sender: try again once some have been delivered",
                    .senderFull)
        }
        guard local, !isGroup else { return nil }
        let recipient = to.local
        var mailboxBytes = stamped.encodedSize
        if stamped.knownKind == .burn {
            mailboxBytes = Burn.notice(of: stamped).encodedSize
            if !quotas.burnHasRoom(recipient, bytes: stamped.encodedSize, limits: limits) {
                let use = quotas.burnUse(recipient)
                return (.insufficientStorage, "burn messages for \(to) are full (\(use.count) unviewed, \(mib(use.bytes)) of \(limits.burnMB) MiB); try again once they have viewed some",
                        .burnFull)
            }
        }
        if !quotas.mailboxHasRoom(recipient, bytes: mailboxBytes, limits: limits) {
            let use = quotas.mailboxUse(recipient)
            return (.insufficientStorage, "mailbox of \(to) is full (\(use.count) messages, \(mib(use.bytes)) waiting; the limit is \(limits.mailboxMessages) messages or \(limits.mailboxMB) MiB); try again once they have read their messages",
                    .mailboxFull)
        }
        return nil
    }

    static func storageFullReason(_ node: String) -> String {
        "node storage is full: \(node) stores no new messages until its operator frees disk space; try again later"
    }

    private func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// Counts a delivery into a full mailbox that no sender can be told of now (a relayed
    /// envelope, a group member's copy, a node's notice); logs once a minute at most.
    func noteDropped(_ reason: Quotas.Reason, user: String, envelope: Envelope) {
        quotas.count(reason)
        let now = Clock.monotonicNs()
        if storage.dropLogDue(now: now, interval: Self.refusedKeyWindowNs) {
            logger.warning("mailbox full: an envelope was not put in it (counted in status limits.refused; further ones this minute are only counted)",
                           metadata: ["user": "\(address(user))", "from": "\(envelope.from)", "reason": "\(reason.rawValue)"])
        }
    }

    // MARK: storage

    /// Free space of the data dir's file system, in bytes (0 when it cannot be read).
    var dataDirFreeBytes: UInt64 {
        var s = statvfs()
        guard statvfs(dataDir.path, &s) == 0 else { return 0 }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize)
    }

    /// Looks at the free space (at most every 250 ms unless `force`): under the floor the node
    /// stores no new messages; the change is logged once each way. Also bounds the WAL.
    func refreshStorageState(now: UInt64, force: Bool = false) {
        guard storage.isCheckDue(now: now, force: force) else { return }
        let free = dataDirFreeBytes
        // Back only with some room above the floor (and above what was free when a commit
        // failed for lack of space), so the state does not flap at the edge.
        switch storage.checked(free: free, floor: config.limits.minFreeBytes, now: now) {
        case .becameFull:
            logger.critical("disk full: the data dir's disk has \(free / 1_048_576) MiB free, under the floor of \(config.limits.minFreeMB) MiB (limits.min_free_mb); new messages are refused until space is freed",
                            metadata: ["path": "\(dataDir.path)"])
        case .recovered:
            logger.notice("disk space is back: new messages are stored again", metadata: ["free_mb": "\(free / 1_048_576)"])
        case .none:
            break
        }
        let wal = walBytes
        if wal > config.limits.walMaxBytes { checkpointer.reportOversizedWAL() }
    }

    var walBytes: Int {
        var s = stat()
        guard stat(dataDir.databasePath + "-wal", &s) == 0 else { return 0 }
        return Int(s.st_size)
    }

    /// A commit failed: when the disk is full, the node says so once (not once per commit)
    /// and refuses new messages until space returns. True when that was the cause.
    func noteCommitFailure(_ error: Error) -> Bool {
        guard let error = error as? SQLiteError, error.isFull else { return false }
        if storage.commitFailed(free: dataDirFreeBytes, now: Clock.monotonicNs()) {
            logger.critical("disk full: a commit failed for lack of space; new messages are refused until space is freed",
                            metadata: ["path": "\(dataDir.path)", "free_mb": "\(dataDirFreeBytes / 1_048_576)"])
            checkpointer.requestTruncate()
        }
        return true
    }

    // MARK: refused handshakes

    /// Counts a refused CURVE key; logs the first of each minute, and a summary of the
    /// rest when the minute is over (one client retrying a wrong key cannot flood the log).
    func noteRefusedKey(key: String, domain: String, from: String, now: UInt64) {
        flushRefusedKeys(now: now)
        if refusedKeys.refused((key, domain, from), now: now, window: Self.refusedKeyWindowNs) == .log {
            logger.notice("refused unknown key", metadata: ["key": "\(key)", "domain": "\(domain)", "from": "\(from)"])
        }
    }

    /// Logs how many refused keys went unlogged in the minute that ended (from housekeeping).
    func flushRefusedKeys(now: UInt64) {
        guard let (count, last) = refusedKeys.summary(now: now) else { return }
        logger.notice("\(count) refused keys in the last minute, last from \(last.from)",
                      metadata: ["key": "\(last.key)", "domain": "\(last.domain)", "refused_keys": "\(refusedKeys.total)"])
    }

    // MARK: status

    func limitsStatus() -> NodeStatus.Limits {
        let l = config.limits
        var refused: [String: Int] = [:]
        for reason in Quotas.Reason.allCases { refused[reason.rawValue] = Int(clamping: quotas.refused[reason] ?? 0) }
        let fullest = quotas.mailbox.max { $0.value.bytes < $1.value.bytes }
        return NodeStatus.Limits(
            mailboxMessages: l.mailboxMessages, mailboxMb: l.mailboxMB, burnMb: l.burnMB, senderMb: l.senderMB,
            sendPerS: l.sendPerS, sendBurst: l.sendBurst, sendMbS: l.sendMBps, sendBurstMb: l.sendBurstMB,
            heldPerOrigin: l.heldPerOrigin, refused: refused,
            fullestMailbox: fullest.map { .init(user: address($0.key), messages: $0.value.count, bytes: Int(clamping: $0.value.bytes)) })
    }
}
