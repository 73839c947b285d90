import Foundation
import Logging
import SealpostCore
import Sodium
import SQLite
import ZeroMQ

/// The node's event loop. Made, run and closed on the node's own thread: it owns
/// every socket and the database connection, so it needs no locks.
///
/// One cycle: poll → read what is waiting (clients and peers on the ROUTER, peer
/// answers on the DEALERs, announcements on the SUBs, operator requests) → apply
/// the writes inside one transaction → commit → only then send the
/// acknowledgements the cycle produced (group commit). Nothing is acknowledged
/// before it is durable. `CycleBatch` owns that transaction and what waits on it;
/// an in-memory copy of a row changes only after the commit (`batch.afterCommit`)
/// or together with an undo for a rollback (`batch.onRollback`).
///
/// The work is split by concern: `Reactor+Clients` (client commands, group
/// commit, delivery), `Reactor+Federation` (peer links, relay journal, routing,
/// directory), `Reactor+Admin` (status for operators).
final class Reactor {
    static let zapDomain = "sealpost"
    static let zapDomainPublish = "sealpost-pub"
    static let zapDomainAdmin = "sealpost-admin"
    static let batchLimit = 2048
    /// Mailbox seqs reserved per write of the reservation.
    static let mailboxSeqBlock: UInt64 = 1 << 16
    static let batchBudgetNs: UInt64 = 5_000_000
    static let maxWindow = 4096
    static let sessionTimeoutNs: UInt64 = 30_000_000_000
    static let federationTickNs: UInt64 = 100_000_000

    var config: NodeConfig
    let dataDir: DataDir
    let keys: NodeKeys
    let adminKey: [UInt8]
    let control: NodeControl
    var logger: Logger
    let startedNs = Clock.monotonicNs()
    let startedMs = Clock.nowMs()

    let context: Context
    let zap: Socket
    let router: Socket
    let publisher: Socket
    let admin: Socket
    let store: NodeStore
    let checkpointer: Checkpointer
    /// The file store and the transfers in progress.
    let transfers: FileTransfers

    var routerEndpoint = ""
    var publishEndpoint = ""
    var adminEndpoint = ""

    // Clients.
    /// Sessions, who is attached, pushes due or stalled, entries waiting per user.
    var delivery = DeliveryState()
    /// Enrolled users, the keys they are admitted with, revoked connections (Users/).
    var users = UserRegistry()
    /// Mailbox seqs (DELIVER), reserved a block at a time (Store/ReservedSeqs).
    var mailboxSeqs = ReservedSeqs(saved: 1, block: Reactor.mailboxSeqBlock)
    /// What status counts, and the rates of the last minute (Admin/NodeCounters).
    var counters = NodeCounters()
    /// What each user holds (mailbox, burn content) and each sender's rate allowance.
    var quotas = Quotas()
    /// The free-space floor: whether new messages are refused while the disk is full (Config/).
    var storage = StorageGuard()
    /// Refused handshakes: the first of each minute is logged, the rest summed up (Config/).
    var refusedKeys = RefusedKeyLog()

    // Federation.
    /// Peer links, routes, the relay journal, stream counters, held counts, summaries and the
    /// federation timers (Federation/).
    var peering: FederationState
    /// Groups whose home is this node, and the decision on their operations (Groups/).
    var groupHome = GroupHome()
    /// `delivered` receipts owed this cycle, and the check of relayed ones.
    var deliveryReceipts = DeliveryReceipts()
    /// Due notices owed to local users.
    var schedule = ReminderSchedule()
    /// Burn messages kept for local users and in the journal, view-once files (Burns/).
    var burns = BurnState()
    /// Other nodes' keys and directories, this node's directory version, DIR-REQs waiting (Federation/).
    var directory = DirectoryState()
    /// Stream epochs, retention and announcement counters (Reactor+Restore).
    var restore = RestoreState()
    /// Officers, traces in progress, viewer codes (Reactor+Trace).
    var tracing: TraceState
    /// Label rules, link ceilings and refusal counts (Labels/).
    var labels: LabelGuard
    /// The audit log's head (Audit/): changes only when a cycle's commit succeeds.
    var auditLog = AuditLog()
    /// Forwards accepted, refused and countersigned (Forwarding/).
    var forwarding = ForwardingState()

    // Group commit state of the current cycle.
    /// The cycle's transaction, its answers, and what waits on its outcome (after-commit actions, undos).
    let batch: CycleBatch
    /// How long recent cycles took, by phase (status `cycles`).
    var cycleTimes = CycleTimes()
    /// When housekeeping, pruning and the look at node.yaml are due (Config/NodeChores).
    var chores: NodeChores

    init(dataDir: DataDir, config: NodeConfig, keys: NodeKeys, control: NodeControl, logger: Logger) throws {
        self.config = config
        self.dataDir = dataDir
        self.keys = keys
        self.adminKey = try dataDir.loadOrCreateAdminKeys().publicKey
        self.control = control
        self.logger = logger
        self.peering = FederationState(me: config.name)
        self.tracing = TraceState(me: config.name, config: config.trace)
        self.labels = try LabelGuard(config: config)
        self.store = try NodeStore(path: dataDir.databasePath, secureDelete: config.secureDelete)
        try store.disableAutoCheckpoint()
        batch = CycleBatch(store: store)
        chores = NodeChores(timers: config.timers, start: startedNs, configModified: dataDir.configModified)
        // After a checkpoint the WAL is cut back to this size, not kept at its largest.
        try store.setJournalSizeLimit(config.limits.walMaxBytes)
        checkpointer = Checkpointer(path: dataDir.databasePath, intervalMs: Int(config.timers.checkpointNs / 1_000_000), logger: logger)
        transfers = FileTransfers(disk: FileStore(dataDir: dataDir, wakeup: control.wakeup))
        // Two I/O threads: a file's chunks on one connection do not hold up chat frames on another.
        context = Context(ioThreads: 2)
        // The ZAP handler must exist before any CURVE server socket accepts a
        // handshake: libzmq 4.3.4 admits every key when no handler answers.
        zap = try Socket(context, .rep)
        try zap.bind("inproc://zeromq.zap.01")
        router = try Socket(context, .router)
        publisher = try Socket(context, .pub)
        admin = try Socket(context, .router)

        do {
            try loadState()
        } catch let error as SQLiteError {
            throw NodeStore.startupError(error, path: dataDir.databasePath)
        }

        var secret = keys.curve.secretKey.copyBytes()
        defer { wipe(&secret) }
        do {
            try router.setOption(SocketOption.routerMandatory, 1)
            // Clients and peers share it: burn messages with images (and their RELAYs) are the
            // largest frames; directory snapshots come back on our DEALERs.
            try router.setOption(SocketOption.maxMessageSize, int64: Command.maxLargeFrameBytes)
            try router.setOption(SocketOption.sendHWM, 100_000)
            try router.setOption(SocketOption.receiveHWM, 100_000)
            try router.setHeartbeat(intervalMs: 5_000, timeoutMs: 30_000)
            try router.makeCurveServer(secretKey: secret, zapDomain: Self.zapDomain)
            try router.bind(config.listen)
            routerEndpoint = try router.lastEndpoint()
        } catch let error as ZMQError {
            throw NodeError.bind("cannot listen on \(config.listen): \(error.description) (is another program or node using it? change 'listen' in \(dataDir.configPath))")
        }
        do {
            try publisher.setOption(SocketOption.sendHWM, 10_000)
            try publisher.makeCurveServer(secretKey: secret, zapDomain: Self.zapDomainPublish)
            try publisher.bind(config.publish)
            publishEndpoint = try publisher.lastEndpoint()
        } catch let error as ZMQError {
            throw NodeError.bind("cannot publish on \(config.publish): \(error.description) (is another program or node using it? change 'publish' in \(dataDir.configPath))")
        }
        do {
            unlink(dataDir.adminSocketPath)
            try admin.makeCurveServer(secretKey: secret, zapDomain: Self.zapDomainAdmin)
            try admin.bind(dataDir.adminEndpoint)
            adminEndpoint = dataDir.adminEndpoint
        } catch let error as ZMQError {
            throw NodeError.bind("cannot open the admin socket \(dataDir.adminEndpoint): \(error.description) (the data directory must be writable by the node's user)")
        }
        self.logger[metadataKey: "node"] = "\(config.name)"
        applyPeers(config.peers)
    }

    /// Loads what the reactor keeps in memory from the database.
    private func loadState() throws {
        // A disabled user's key is not admitted; their row (and mail) stays.
        users = UserRegistry(users: try store.users())
        // One scan of the mailbox gives both what waits per user and the quotas' usage.
        let mailboxUsage = try store.mailboxUsage()
        delivery = DeliveryState(waiting: mailboxUsage.mapValues(\.count))
        var senders = try store.mailboxUsageBySender()
        // DELIVERs that leave before their commit carry only seqs below the committed end of
        // the reservation: numbering starts there (or past the mailbox), never below one that left.
        mailboxSeqs = ReservedSeqs(saved: try store.mailboxSeqReservation(olderMargin: UInt64(Self.batchLimit)),
                                   above: try store.maxMailboxSeq(), block: Self.mailboxSeqBlock)
        peering = FederationState(me: config.name, streamOut: try store.streams(outgoing: true), streamIn: try store.streams(outgoing: false),
                                  heldCount: try store.heldCounts())
        directory = DirectoryState(localVersion: UInt64(try store.meta("directory_version") ?? Int64(users.byName.count)),
                                   nodes: try store.remoteNodes(), entries: try store.remoteEntries(), floors: try store.directoryFloors())
        tracing.officers = Set(try store.officers().map(\.user))
        schedule = try ReminderSchedule(store: store)
        groupHome = GroupHome(groups: try store.groups())
        var burnFiles: [FileID: BurnFile] = [:]
        for f in try store.burnFiles() { burnFiles[f.id] = BurnFile(message: f.message, sender: f.sender, pullers: f.pullers) }
        burns = BurnState(pending: try store.burnCount(), nextExpiryMs: try store.nextBurnExpiry(), files: burnFiles)
        try loadFiles()
        try loadRestoreState()
        try loadAudit()
        let epochs = try store.journalEpochs()
        for row in try store.journal() {
            var r = WireReader(row.envelope)
            guard let envelope = try? Envelope.decode(from: &r) else {
                // Stored by an older version that took a field now refused (SPEC 3): kept, not sent.
                logger.warning("journal entry cannot be decoded, not sent", metadata: ["jid": "\(row.jid)", "dest": "\(row.dest)"])
                continue
            }
            peering.journalled(RelayJournal.Entry(jid: row.jid, dest: row.dest, origin: row.origin, streamSeq: row.streamSeq,
                                           hops: row.hops, envelope: envelope, createdMs: row.createdAt, epoch: epochs[row.jid] ?? 0))
            if row.origin == config.name {
                senders[envelope.from, default: Quotas.Usage()].count += 1
                senders[envelope.from, default: Quotas.Usage()].bytes += row.envelope.count
            }
            if let burn = burnInside(envelope), let (expiresAt, _, sealed) = try? Burn.split(burn.body), !sealed.isEmpty {
                burns.journalled(jid: row.jid, expiresAt: expiresAt)
            }
        }
        quotas = Quotas(mailbox: mailboxUsage, burns: try store.burnUsage(), senders: senders)
    }

    func address(_ user: String) -> String { "\(user)@\(config.name)" }

    // MARK: loop

    func run() {
        logger.info("node running", metadata: ["router": "\(routerEndpoint)", "publish": "\(publishEndpoint)",
                                               "users": "\(users.byName.count)", "peers": "\(peering.links.count)",
                                               "journal": "\(peering.journal.count)", "reminders": "\(schedule.count)"])
        auditPeerChanges()
        chores.loopStarts(now: Clock.monotonicNs())
        while !control.stopRequested {
            let linkList = Array(peering.links.values)
            var items: [(PollTarget, PollEvents)] = [(.socket(zap), .readable), (.socket(router), .readable),
                                                     (.fd(control.wakeup.fd), .readable), (.socket(admin), .readable)]
            for link in linkList {
                items.append((.socket(link.dealer), .readable))
                items.append((.socket(link.sub), .readable))
            }
            let events: [PollEvents]
            do {
                events = try poll(items, timeoutMs: nextTimeoutMs())
            } catch {
                logger.critical("poll failed: \(error)")
                break
            }
            // The cycle's time for what it reads; timers after the cycle's work read the clock again.
            let now = Clock.monotonicNs()
            cycleTimes.begin(now: now)
            if events[2].contains(.readable) { control.wakeup.drain() }
            if events[3].contains(.readable) { serveAdmin() }
            if control.metrics.isWanted { control.metrics.publish(status()) }
            if events[0].contains(.readable) { serveZap() }
            cycleTimes.mark(.admin, now: Clock.monotonicNs())
            // Due notices first: a cancel read in this same cycle then finds the notice
            // already fired (its row gone) and changes nothing, never the reverse.
            fireDueReminders()
            expireBurns()
            expireJournalledBurns()
            expireReadableUntil()
            expireFiles()
            cycleTimes.mark(.timers, now: Clock.monotonicNs())
            if events[1].contains(.readable) { readRouter(now: now) }
            cycleTimes.mark(.router, now: Clock.monotonicNs())
            for (index, link) in linkList.enumerated() where peering.links[link.name] === link {
                if events[4 + 2 * index].contains(.readable) { readDealer(link, now: now) }
                if events[5 + 2 * index].contains(.readable) { readSubscription(link, now: now) }
            }
            cycleTimes.mark(.peers, now: Clock.monotonicNs())
            // Operators' requests that came during the cycle's reads are answered now, not a whole cycle later.
            serveAdmin()
            cycleTimes.mark(.admin, now: Clock.monotonicNs())
            collectFileWrites()
            cycleTimes.mark(.files, now: Clock.monotonicNs())
            finishCycle()
            refreshStorageState(now: Clock.monotonicNs())
            cycleTimes.mark(.storage, now: Clock.monotonicNs())
            pumpFiles()
            if delivery.hasStalled { retryStalled() }
            let after = Clock.monotonicNs()
            cycleTimes.mark(.files, now: after)
            if after >= peering.nextTickNs {
                federationTick(now: after)
                cycleTimes.mark(.tick, now: Clock.monotonicNs())
            }
            if chores.housekeepingDue(now: after) {
                housekeeping()
                cycleTimes.mark(.housekeeping, now: Clock.monotonicNs())
            }
            auditTick(nowMs: Clock.nowMs())
            cycleTimes.end(now: Clock.monotonicNs())
        }
        logger.info("node stopping")
        shutdown()
    }

    /// Tickless: sleep until the next timer is due (sooner while pushes are stalled).
    private func nextTimeoutMs() -> Int {
        let now = Clock.monotonicNs()
        var deadline = chores.nextHousekeepingNs
        if !peering.links.isEmpty || !peering.journal.isEmpty || tracing.tracer.nextDeadlineNs != nil { deadline = min(deadline, peering.nextTickNs) }
        // node.yaml is looked at in the federation tick: a node without links wakes for it too (a peer added is seen in `configCheckNs`).
        deadline = min(deadline, max(peering.nextTickNs, chores.nextConfigCheckNs))
        var timeout = deadline <= now ? 0 : Int((deadline - now) / 1_000_000) + 1
        if delivery.hasStalled { timeout = min(timeout, 10) }
        // While the disk is full, look at it often enough to notice space coming back.
        if storage.isFull { timeout = min(timeout, Int(Self.storageCheckIntervalNs / 1_000_000)) }
        if let reminder = msUntilNextReminder() { timeout = min(timeout, reminder) }
        if let expiry = burns.nextExpiryMs {
            let nowMs = Clock.nowMs()
            timeout = min(timeout, expiry <= nowMs ? 0 : Int(min(expiry - nowMs, 3_600_000)))
        }
        if let expiry = labels.nextExpiryMs {
            let nowMs = Clock.nowMs()
            timeout = min(timeout, expiry <= nowMs ? 0 : Int(min(expiry - nowMs, 3_600_000)))
        }
        if let files = msUntilFileWork() { timeout = min(timeout, files) }
        if let expiry = msUntilFileExpiry() { timeout = min(timeout, expiry) }
        if let audit = auditLog.msUntilSigning(nowMs: Clock.nowMs()) { timeout = min(timeout, audit) }
        return timeout
    }

    private func shutdown() {
        for session in sessions.values where session.attached {
            _ = try? router.send([session.routingId, Command.error(code: ErrorCode.unavailable.rawValue, ref: .zero,
                                                                   reason: "node shutting down").encode()])
        }
        checkpointer.stop()
        transfers.disk.close()
        try? store.checkpoint()
        for link in peering.links.values { link.close() }
        router.close()
        publisher.close()
        admin.close()
        unlink(dataDir.adminSocketPath)
        zap.close()
        store.close()
    }

    // MARK: ZAP (RFC 27)

    func serveZap() {
        while let message = try? zap.receive(dontWait: true) {
            let f = message.frames
            guard f.count >= 6 else {
                _ = try? zap.send([Array("1.0".utf8), f.count > 1 ? f[1] : [], Array("500".utf8), Array("bad ZAP request".utf8), [], []])
                continue
            }
            let requestId = f[1]
            let domain = String(decoding: f[2], as: UTF8.self)
            let mechanism = String(decoding: f[5], as: UTF8.self)
            var status = "400", text = "unknown key", userId = ""
            if mechanism == "CURVE", f.count >= 7, f[6].count == 32, let principal = authorize(curveKey: f[6], domain: domain) {
                status = "200"; text = "OK"; userId = principal.userId
            } else {
                noteRefusedKey(key: f.count >= 7 && f[6].count == 32 ? Z85.encode(f[6]) : "-", domain: domain,
                               from: String(decoding: f[3], as: UTF8.self), now: Clock.monotonicNs())
            }
            _ = try? zap.send([Array("1.0".utf8), requestId, Array(status.utf8), Array(text.utf8), Array(userId.utf8), []])
        }
    }

    /// Who may connect where: the ROUTER admits enrolled users, usable invites and
    /// configured peers; the PUB admits configured peers; the admin socket admits
    /// only the data dir's admin key.
    func authorize(curveKey: [UInt8], domain: String) -> Principal? {
        switch domain {
        case Self.zapDomainAdmin:
            return curveKey == adminKey ? .admin : nil
        case Self.zapDomainPublish:
            return peering.peer(curveKey: curveKey).map { .node($0) }
        case Self.zapDomain:
            if let name = users.user(curveKey: curveKey) { return .user(name, generation: users.authGeneration) }
            if let peer = peering.peer(curveKey: curveKey) { return .node(peer) }
            guard let invite = try? store.invite(curveKey: curveKey) else { return nil }
            let now = Clock.nowMs() / 1000
            // A used invite stays admitted for 10 minutes (even past its expiry), so a
            // join whose answer was lost can ask again; ENROLL then only re-answers
            // the same keys.
            if let usedAt = invite.usedAt { return now <= usedAt + 600 ? .invite(invite.id) : nil }
            if invite.expiresAt <= now { return nil }
            return .invite(invite.id)
        default:
            return nil
        }
    }
}
