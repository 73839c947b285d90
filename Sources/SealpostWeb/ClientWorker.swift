import Foundation
import Logging
import SealpostClient
import SealpostCore
import Synchronization
import ZeroMQ

/// What the HTTP side asks of the client thread.
enum WorkerRequest: Sendable {
    case state
    case history(conversation: String, before: Int64?, limit: Int)
    case send(to: String, text: String)
    case markRead(conversation: String, through: Int64)
    case directory(query: String)
    case search(query: String, limit: Int)
    /// Forwards received message `id` (protocol/SPEC.md 7.9) to people and groups.
    case forward(id: String, to: [String], note: String)
    /// Lowers the label of message `id` (received or sent, of this person's unit; SPEC 7.11.11).
    case downgrade(id: String, to: String, reason: String)
    case group(op: Group.Op, group: String, members: [String])
    case createGroup(name: String, members: [String])
    case remind(to: String, dueAt: UInt64, text: String)
    case reminders
    case reminderDone(id: String)
    case sendCard(to: String, contact: String)
    case sendBurn(to: String, text: String, images: [Burn.Image])
    case viewBurn(id: String)
    case reportCapture(id: String, how: String)
    /// A viewer code from this person's node for a view of received message `id` (SPEC 11.7).
    case viewerMark(id: String)
    /// Who a file goes to: the group's members, or nil for a person (checked to be known).
    case fileTarget(to: String)
    /// A received file's manifest, for a download.
    case fileManifest(fileId: String)
    /// A file the transfer thread sent: recorded in the history and shown.
    case recordSentFile(to: String, sent: SentFile)
    /// Read receipts on or off (nil: only read the setting).
    case readReceipts(Bool?)
}

/// The client thread's answer: an HTTP status and a JSON body.
struct WorkerReply: Sendable {
    var status: Int
    var body: Data

    static func json(_ object: Any, status: Int = 200) -> WorkerReply {
        WorkerReply(status: status, body: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    static func error(_ message: String, status: Int) -> WorkerReply { json(["error": message], status: status) }
}

/// The one thread that owns the `Client` (its ZeroMQ socket), the history database and the
/// profile's books. Everything else talks to it by messages: requests go into a
/// `Mutex`-protected queue and an eventfd wakes the thread's poll; answers come back through
/// each request's continuation; live events leave through the `EventHub`.
final class ClientWorker: Sendable {
    struct Job: Sendable {
        var request: WorkerRequest
        var reply: @Sendable (WorkerReply) -> Void
    }

    fileprivate let queue = Mutex<[Job]>([])
    fileprivate let wakeup = Wakeup()
    fileprivate let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    let hub: EventHub

    /// The first error of the thread's start, handed back to `init`.
    private final class StartError: Sendable {
        let message = Mutex<String?>(nil)
    }

    /// Starts the thread; returns once the history is open and the client connected (or throws).
    init(profile: Profile, profilePath: String, passphrase: String?, hub: EventHub, nodeTimeoutMs: Int = 5_000, logger: Logger) throws {
        self.hub = hub
        let started = DispatchSemaphore(value: 0)
        let startError = StartError()
        let finished = self.finished
        let thread = Thread { [self] in
            let engine: Engine
            do {
                engine = try Engine(profile: profile, profilePath: profilePath, passphrase: passphrase, hub: hub,
                                    nodeTimeoutMs: nodeTimeoutMs, logger: logger)
            } catch {
                startError.message.withLock { $0 = "\(error)" }
                started.signal()
                finished.signal()
                return
            }
            started.signal()
            engine.run(worker: self)
            finished.signal()
        }
        thread.name = "sealpost-web-client"
        thread.start()
        started.wait()
        if let message = startError.message.withLock({ $0 }) {
            finished.wait()
            wakeup.close()
            throw WebError.io(message)
        }
    }

    /// Asks the client thread and waits for its answer.
    func ask(_ request: WorkerRequest) async -> WorkerReply {
        await withCheckedContinuation { (c: CheckedContinuation<WorkerReply, Never>) in
            enqueue(request) { c.resume(returning: $0) }
        }
    }

    /// Asks the client thread from another thread (a transfer's), blocking it until the answer.
    func askWaiting(_ request: WorkerRequest) -> WorkerReply {
        let answer = Mutex<WorkerReply?>(nil)
        let done = DispatchSemaphore(value: 0)
        enqueue(request) { r in
            answer.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return answer.withLock { $0 } ?? .error("no answer", status: 500)
    }

    private func enqueue(_ request: WorkerRequest, reply: @escaping @Sendable (WorkerReply) -> Void) {
        // Under the queue's lock: after `stop` set the flag no job is queued (it would never be
        // answered), and the eventfd is signalled only while it is open.
        let queued = queue.withLock { q -> Bool in
            guard !stopping.load(ordering: .acquiring) else { return false }
            q.append(Job(request: request, reply: reply))
            wakeup.signal()
            return true
        }
        if !queued { reply(.error("the daemon is stopping", status: 503)) }
    }

    /// Stops the thread (it detaches from the node and closes the history) and waits for it.
    func stop() {
        let first = queue.withLock { _ -> Bool in
            guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return false }
            wakeup.signal()
            return true
        }
        guard first else { return }
        finished.wait()
        let left = queue.withLock { q -> [Job] in
            defer { q.removeAll(); wakeup.close() }
            return q
        }
        for job in left { job.reply(.error("the daemon is stopping", status: 503)) }
    }
}

extension ClientWorker {
    /// Lives on the client thread only.
    final class Engine {
        let profile: Profile
        let me: String
        let client: Client
        let history: History
        let books: ProfileBooks
        let profilePath: String
        let hub: EventHub
        let logger: Logger

        /// Sent envelopes not yet STORED by the home node, with when they last left.
        var pending: [MessageID: (envelope: Envelope, lastSentNs: UInt64)] = [:]
        var online = false
        var lastPingNs: UInt64 = 0
        var lastPongNs: UInt64 = 0
        /// When to acknowledge and when to attach again: the rule of `MailboxReader` (nothing at or after a
        /// delivery whose sender is not known yet is acknowledged; a retry detaches and waits for a PONG first).
        var gate = AttachGate()
        var lastAttachNs: UInt64 = 0

        static let retransmitNs: UInt64 = 2_000_000_000
        static let pingNs: UInt64 = 5_000_000_000
        static let offlineNs: UInt64 = 12_000_000_000

        init(profile: Profile, profilePath: String, passphrase: String?, hub: EventHub, nodeTimeoutMs: Int, logger: Logger) throws {
            self.profile = profile
            me = profile.address.description
            self.hub = hub
            self.logger = logger
            let key = try HistoryKey.loadOrCreate(path: HistoryKey.path(profilePath: profilePath), passphrase: passphrase)
            history = try History(path: profilePath + ".history.db", key: key)
            try history.prepareReceipts()
            // What passed its readable-until time while the daemon was stopped goes before anything is shown.
            _ = try history.purgeExpired(now: Clock.nowMs())
            self.profilePath = profilePath
            let books = ProfileBooks(profilePath: profilePath, me: me, profile: profile)
            self.books = books
            client = try Client(profile: profile)
            client.timeoutMs = nodeTimeoutMs
            client.labelCachePath = profilePath + ".labels"
            // What this person sends is kept with its origin, so that they can downgrade it later.
            client.keepsOrigin = { [books] in books.forwards?.add($0, at: Clock.nowMs()) }
            books.contacts.load(into: client)
            for group in books.groups.groups.keys { try history.ensureConversation(group, isGroup: true) }
            for (address, bytes) in try history.people() {
                guard let entry = try? DirectoryEntry.decode(bytes), entry.address == address else { continue }
                people[address] = entry
                names[address] = entry.display
            }
            for (id, bytes) in try history.outbox() {
                var reader = WireReader(bytes)
                guard let envelope = try? Envelope.decode(from: &reader), envelope.id.hex == id else {
                    try history.removeOutbox(id: id)
                    continue
                }
                pending[envelope.id] = (envelope, 0)
            }
        }

        func run(worker: ClientWorker) {
            try? attach()
            var failures = 0
            while !worker.stopping.load(ordering: .acquiring) {
                do {
                    if try client.wait(orReadable: worker.wakeup.fd, timeoutMs: 500) { worker.wakeup.drain() }
                    for job in worker.queue.withLock({ q -> [Job] in defer { q.removeAll() }; return q }) {
                        job.reply(handle(job.request))
                    }
                    try receive()
                    try housekeeping()
                    failures = 0
                } catch {
                    // The thread never dies under the HTTP side (its requests would wait forever):
                    // it logs, pauses a little so a lasting fault does not spin, and goes on.
                    failures += 1
                    if failures == 1 || failures % 100 == 0 {
                        logger.error("client loop failed", metadata: ["error": "\(error)", "times": "\(failures)"])
                    }
                    usleep(useconds_t(min(failures, 10)) * 100_000)
                }
            }
            try? client.detach()
            // A node known to be down cannot confirm anything: stopping does not wait for it.
            let down = (try? client.connection.knownDown()) ?? false
            if !down { try? client.flush() }
            client.close(lingerMs: down ? 0 : 500)
            history.close()
        }

        func attach() throws {
            try client.attach()
            lastAttachNs = Clock.monotonicNs()
            gate.didAttach()
        }

        // MARK: receiving: record durably, then show, then acknowledge

        func receive() throws {
            var batch: [ReceivedMessage] = []
            var receipts: [ReceivedMessage] = []
            var through: UInt64 = 0
            var count = 0
            while count < 500, let event = try client.next(timeoutMs: 0) {
                count += 1
                switch event {
                case .message(let m):
                    through = max(through, m.seq)
                    gate.delivered(seq: m.seq)
                    batch.append(m)
                case .receipt(let m):
                    through = max(through, m.seq)
                    gate.delivered(seq: m.seq)
                    receipts.append(m)
                case .undecryptable(let seq, let id, let from, let reason):
                    through = max(through, seq)
                    gate.delivered(seq: seq)
                    logger.warning("a message could not be opened", metadata: ["id": "\(id.hex)", "from": "\(from)", "reason": "\(reason)"])
                case .senderUnknown(let seq, let id, let from, _):
                    gate.waiting(seq: seq, nowNs: Clock.monotonicNs())
                    logger.notice("a message waits until its sender is in the directory", metadata: ["id": "\(id.hex)", "from": "\(from)"])
                case .synced:
                    setOnline(true)
                case .stored(let id):
                    stored(id)
                case .refused(let code, let ref, let reason):
                    refused(code: code, ref: ref, reason: reason)
                case .pong(let attached):
                    lastPongNs = Clock.monotonicNs()
                    setOnline(true)
                    if gate.pong(isAttached: attached) {
                        // What this loop took of the old session comes again on the new one (the ids dedupe).
                        try attach()
                        batch.removeAll()
                        receipts.removeAll()
                        through = 0
                    }
                }
            }
            guard through > 0 else { return }
            var fresh: [History.Record] = []
            var changedStates: [String] = []
            do {
                try history.transaction {
                    for m in batch {
                        guard var entry = HistoryEntry(m, me: me) else { continue }
                        try relate(&entry)
                        if let r = try history.record(id: m.id.hex, conversation: entry.conversation, isGroup: entry.isGroup,
                                                      outgoing: false, from: m.from, kind: entry.kind, text: entry.text,
                                                      sentAt: m.sentAt, state: .received, label: m.label ?? "",
                                                      readableUntil: m.readableUntil ?? 0, effectiveLabel: m.effectiveLabel ?? "",
                                                      downgrade: Self.heldDowngrade(m)) {
                            fresh.append(r)
                        }
                    }
                    changedStates = try receipts.flatMap(noteReceipt)
                }
            } catch {
                // Not acknowledged: the node delivers it again on the next attach; the ids dedupe.
                logger.error("cannot write the history; messages stay on the node", metadata: ["error": "\(error)"])
                return
            }
            for m in batch { books.note(m) }
            do { try books.save() } catch { logger.warning("cannot save the profile's books", metadata: ["error": "\(error)"]) }
            for m in batch where m.kind == .groupEvent { try? groupChanged(m.group) }
            if batch.contains(where: { $0.reminder != nil }) { hub.publish(["type": "reminders"]) }
            for r in fresh {
                publishMessage(r)
                if r.kind == "reminder_due" { hub.publish(["type": "reminder_due", "message": json(r)]) }
                // A receipt or a capture report changes how the burn message it is about is shown.
                if let about = HistoryEntry.about(kind: r.kind, text: r.text), let original = try? history.message(id: about),
                   original.kind == "burn" {
                    hub.publish(["type": "update", "message": json(original)])
                }
            }
            for id in Set(changedStates) { publishState(id) }
            let upTo = gate.ackThrough(through)
            if upTo > 0 { try client.ack(upTo) }
        }

        /// A notice about an earlier message (a reminder due or done, a burn receipt, a capture
        /// report) goes into that message's conversation, whoever sent the notice; a due notice
        /// carries the reminder's text, which only the reminder itself had.
        func relate(_ entry: inout HistoryEntry) throws {
            guard let about = entry.about, let original = try history.message(id: about) else { return }
            entry.conversation = original.conversation
            entry.isGroup = books.groups.groups[original.conversation] != nil
            guard entry.kind == "reminder_due",
                  var object = (try? JSONSerialization.jsonObject(with: Data(entry.text.utf8))) as? [String: Any],
                  let reminder = (try? JSONSerialization.jsonObject(with: Data(original.text.utf8))) as? [String: Any] else { return }
            object["text"] = reminder["text"]
            object["from"] = original.from
            entry.text = HistoryEntry.json(object) ?? entry.text
        }

        func groupChanged(_ group: String?) throws {
            guard let group else { return }
            try history.ensureConversation(group, isGroup: true)
            if let c = try history.conversation(group) { hub.publish(["type": "conversation", "conversation": json(c)]) }
        }

        func stored(_ id: MessageID) {
            guard pending.removeValue(forKey: id) != nil else { return }
            do {
                try history.transaction {
                    try history.removeOutbox(id: id.hex)
                    try history.setState(id: id.hex, .stored)
                }
            } catch { logger.error("cannot record a stored message", metadata: ["error": "\(error)"]) }
            publishState(id.hex)
        }

        func refused(code: UInt16, ref: MessageID, reason: String) {
            guard pending[ref] != nil else {
                logger.notice("the node refused a request", metadata: ["code": "\(code)", "reason": "\(reason)"])
                return
            }
            // 500 and 503 are transient: the retransmission goes on.
            if code == ErrorCode.internalError.rawValue || code == ErrorCode.unavailable.rawValue { return }
            pending[ref] = nil
            try? history.transaction {
                try history.removeOutbox(id: ref.hex)
                try history.setState(id: ref.hex, .failed, reason: reason)
            }
            publishState(ref.hex)
        }

        func housekeeping() throws {
            for event in try client.connection.takeEvents() {
                switch event {
                case .lost:
                    // The node closed the connection (it stopped): offline at once, not after 12 s without a PONG.
                    setOnline(false)
                case .established where !online:
                    // Back: ask at once (the PONG re-attaches and says online), and send what waits now.
                    lastPingNs = 0
                    for id in pending.keys { pending[id]?.lastSentNs = 0 }
                default:
                    break
                }
            }
            let now = Clock.monotonicNs()
            for (id, p) in pending where now - p.lastSentNs >= Self.retransmitNs {
                try client.submit(p.envelope)
                pending[id]?.lastSentNs = now
            }
            if now - lastPingNs >= Self.pingNs {
                try client.ping()
                gate.didPing()
                lastPingNs = now
            }
            if online, now - lastPongNs > Self.offlineNs, now - lastAttachNs > Self.offlineNs { setOnline(false) }
            if gate.retryDue(nowNs: now, retryMs: 5_000) {
                try client.detach()
                try client.ping()
                gate.didPing()
                gate.didFence()
            }
            try purgeExpired()
        }

        /// 保密期限 (SPEC 7.11.9): at a message's readable-until time its content is deleted from the
        /// history (at start, then by the loop's timer) and the UI shows it as expired. An own message
        /// still waiting to be sent then is not sent any more.
        func purgeExpired() throws {
            let now = Clock.nowMs()
            books.forwards?.purgeExpired(now: now)
            books.files.purgeExpired(now: now)
            let purged = try history.purgeExpired(now: now)
            if !purged.isEmpty { try books.save() }
            for r in purged {
                if r.outgoing, r.state == History.State.sending.rawValue, let id = MessageID(hex: r.id) {
                    pending[id] = nil
                    try history.removeOutbox(id: r.id)
                    try history.setState(id: r.id, .failed, reason: "its readable-until time passed before it could be sent")
                }
                logger.info("message content deleted at its readable-until time", metadata: ["id": "\(r.id)"])
                if let fresh = try history.message(id: r.id) { hub.publish(["type": "update", "message": json(fresh)]) }
            }
            // The conversation list shows a conversation's last message: that text goes too.
            for address in Set(purged.map(\.conversation)) {
                if let c = try history.conversation(address) { hub.publish(["type": "conversation", "conversation": json(c)]) }
            }
        }

        func setOnline(_ value: Bool) {
            if value { lastPongNs = Clock.monotonicNs() }
            guard value != online else { return }
            online = value
            hub.publish(["type": "status", "online": value])
        }

        // MARK: requests

        func handle(_ request: WorkerRequest) -> WorkerReply {
            do {
                switch request {
                case .state:
                    // The labels, lowest first (for the downgrade dialog: the ones below a message's).
                    let labels = ((online ? try? client.labelInfo() : nil)?.set ?? .standard).labels.map(\.display)
                    return .json(["me": ["address": me, "name": profile.display], "online": online, "read_receipts": readReceipts,
                                  "conversations": try history.conversations().map(json), "labels": labels])
                case .history(let conversation, let before, let limit):
                    let records = try history.messages(conversation: conversation, before: before, limit: limit)
                    return .json(["conversation": conversation, "messages": records.map(json), "more": records.count == limit])
                case .send(let to, let text):
                    return try send(to: to, text: text)
                case .forward(let id, let to, let note):
                    // The client checks the origin's policy, the node again (422); it returns once the node stored each.
                    guard let source = try books.forwards?.source(id) else { return .error("no forwardable message \(id)", status: 404) }
                    if books.burns.isBurn(source.id) { return .error("burn messages cannot be forwarded", status: 400) }
                    let targets = to.compactMap(Address.init)
                    guard targets.count == to.count else { return .error("every recipient must be an address (user@node)", status: 400) }
                    var groups: [String: [String]] = [:]
                    for t in targets { if let g = books.groups.groups[t.description] { groups[t.description] = g.members } }
                    let sent = try client.forward(source, to: targets, groups: groups, note: note)
                    return .json(["forwarded": source.id.hex, "hop": source.hops.count + 1, "sent": sent.map { ["id": $0.id.hex, "to": $0.to] }])
                case .downgrade(let id, let to, let reason):
                    return try downgrade(id: id, to: to, reason: reason)
                case .markRead(let conversation, let through):
                    let before = try history.readRow(conversation: conversation)
                    try history.markRead(conversation: conversation, through: through)
                    try sendReadReceipts(conversation: conversation, after: before, through: through)
                    if let c = try history.conversation(conversation) {
                        hub.publish(["type": "conversation", "conversation": json(c)])
                        return .json(["conversation": json(c)])
                    }
                    return .error("no conversation \(conversation)", status: 404)
                case .readReceipts(let on):
                    return try setReadReceipts(on)
                case .search(let query, let limit):
                    return .json(["results": try history.search(query, limit: limit).map(json)])
                case .directory(let query):
                    let entries = try client.directory(query: query)
                        .filter { $0.address != me }
                        .map { ["address": $0.address, "name": $0.display, "unit": Address($0.address)?.node ?? ""] }
                    let groups = books.groups.groups.keys.sorted().filter { query.isEmpty || $0.contains(query) }
                        .map { ["address": $0, "name": Address($0)?.local ?? $0, "unit": Address($0)?.node ?? "", "group": "1"] }
                    return .json(["entries": entries + groups])
                case .group(let op, let group, let members):
                    return try groupRequest(op, group: group, members: members)
                case .createGroup(let name, let members):
                    return try groupRequest(.create, group: "\(name)@\(profile.address.node)", members: members)
                case .remind(let to, let dueAt, let text):
                    return try remind(to: to, dueAt: dueAt, text: text)
                case .reminders:
                    return try reminderList()
                case .reminderDone(let id):
                    return try reminderDone(id)
                case .sendCard(let to, let contact):
                    return try sendCard(to: to, contact: contact)
                case .sendBurn(let to, let text, let images):
                    return try sendBurn(to: to, text: text, images: images)
                case .viewBurn(let id):
                    return try viewBurn(id)
                case .reportCapture(let id, let how):
                    return try reportCapture(id, how: how)
                case .viewerMark(let id):
                    guard let message = MessageID(hex: id) else { return .error("not a message id", status: 400) }
                    let mark = try client.viewerMark(for: message, burn: false)
                    return .json(["id": id, "viewer_code": mark.code, "watermark": mark.line])
                case .fileTarget(let to):
                    return try fileTarget(to)
                case .fileManifest(let fileId):
                    return fileManifest(fileId)
                case .recordSentFile(let to, let sent):
                    return try recordSentFile(to: to, sent: sent)
                }
            } catch let error as ClientError {
                switch error {
                case .invalid(let m): return .error(m, status: 400)
                // Gone (a burn message viewed or expired) keeps its code; other refusals are 422.
                case .refused(let code, let m): return .error(m, status: code == 410 ? 410 : 422)
                case .unreachable(let m): return .error(m, status: 503)
                default: return .error(error.description, status: 502)
                }
            } catch {
                logger.error("request failed", metadata: ["error": "\(error)"])
                return .error("\(error)", status: 500)
            }
        }

        /// Seals, records (state `sending`) and queues a text; STORED from the node moves it to `stored`.
        func send(to: String, text: String) throws -> WorkerReply {
            guard let address = Address(to) else { return .error("'\(to)' is not an address (user@node)", status: 400) }
            let envelope: Envelope
            let isGroup: Bool
            if let group = books.groups.groups[address.description] {
                envelope = try client.prepareGroupText(group: address, members: group.members, text: text)
                isGroup = true
            } else {
                // While the node is known to be unreachable, do not wait for a look-up it will not answer.
                if !online, let known = people[address.description] { client.remember(known) }
                do {
                    envelope = try client.prepareText(to: address, text: text)
                } catch ClientError.unreachable(let why) {
                    // The node did not answer the look-up: the entry checked the last time will do.
                    guard let known = people[address.description] else { throw ClientError.unreachable(why) }
                    client.remember(known)
                    envelope = try client.prepareText(to: address, text: text)
                }
                isGroup = false
                if let entry = try? client.lookup(address), people[entry.address] != entry {
                    try history.savePerson(address: entry.address, entry: entry.encode())
                    people[entry.address] = entry
                }
            }
            var writer = WireWriter()
            envelope.encode(into: &writer)
            let recipients = isGroup ? (books.groups.groups[address.description]?.members.filter { $0 != me }.count ?? 1) : 1
            let record = try history.transaction {
                try history.addOutbox(id: envelope.id.hex, envelope: writer.bytes)
                try history.recordRecipients(id: envelope.id.hex, count: recipients)
                return try history.record(id: envelope.id.hex, conversation: address.description, isGroup: isGroup, outgoing: true,
                                          from: me, kind: "text", text: text, sentAt: envelope.sentAt, state: .sending,
                                          label: envelope.label.map { client.labelDisplay($0.rank) } ?? "",
                                          readableUntil: envelope.label?.readableUntil ?? 0)
            }
            try client.submit(envelope)
            pending[envelope.id] = (envelope, Clock.monotonicNs())
            // Its origin, kept for a downgrade (`keepsOrigin`).
            do { try books.forwards?.save() } catch { logger.warning("cannot save the forward book", metadata: ["error": "\(error)"]) }
            guard let record else { return .error("a message with this id exists already", status: 409) }
            publishMessage(record)
            return .json(["message": json(record)])
        }

        // MARK: JSON

        func json(_ r: History.Record) -> [String: Any] {
            var object: [String: Any] = ["row": r.row, "id": r.id, "conversation": r.conversation, "outgoing": r.outgoing, "from": r.from,
                                         "from_name": r.outgoing ? profile.display : name(of: r.from, isGroup: false),
                                         "kind": r.kind, "text": r.text, "sent_at": r.sentAt, "state": r.state, "reason": r.reason,
                                         "receipts": receiptsJSON(r), "label": r.label, "readable_until": r.readableUntil,
                                         "effective_label": r.effectiveLabel.isEmpty ? r.label : r.effectiveLabel]
            if let d = r.downgrade { object["downgrade"] = ["by": d.by, "reason": d.reason] }
            if r.kind == "burn" { object["burn"] = burnJSON(r) }
            return object
        }

        /// Display names already looked up (a look-up waits for the node: never while it is unreachable).
        var names: [String: String] = [:]
        /// Directory entries of the people this person wrote to, kept in the history: writing to
        /// them again works while the node is unreachable (the message waits in the outbox).
        var people: [String: DirectoryEntry] = [:]

        func name(of address: String, isGroup: Bool) -> String {
            if isGroup { return Address(address)?.local ?? address }
            if address == me { return profile.display }
            if let known = names[address] { return known }
            guard online, let a = Address(address), let entry = try? client.lookup(a) else { return address }
            names[address] = entry.display
            return entry.display
        }

        func json(_ c: History.Conversation) -> [String: Any] {
            var object: [String: Any] = ["address": c.address, "is_group": c.isGroup, "unread": c.unread,
                                         "name": name(of: c.address, isGroup: c.isGroup)]
            object["last"] = c.last.map(json) ?? NSNull()
            if c.isGroup {
                let entry = books.groups.groups[c.address]
                let members = entry?.members ?? []
                object["members"] = members
                object["admins"] = entry?.admins ?? []
                object["member_names"] = Dictionary(uniqueKeysWithValues: members.map { ($0, name(of: $0, isGroup: false)) })
            }
            return object
        }

        func publishMessage(_ r: History.Record) {
            var event: [String: Any] = ["type": "message", "message": json(r)]
            if let c = try? history.conversation(r.conversation) { event["conversation"] = json(c) }
            hub.publish(event)
        }

        func publishState(_ id: String) {
            guard let r = try? history.message(id: id) else { return }
            hub.publish(["type": "state", "id": id, "conversation": r.conversation, "state": r.state, "reason": r.reason,
                         "receipts": receiptsJSON(r)])
        }
    }
}

/// Where a received message goes in the history, and what of it is kept.
struct HistoryEntry: Equatable {
    var conversation: String
    var isGroup: Bool
    var kind: String
    var text: String

    /// nil for what is not shown in a conversation (a reminder's due notice is kept, a group
    /// request echo too). Burn content is never kept: a burn message is recorded as a notice.
    init?(_ m: ReceivedMessage, me: String) {
        isGroup = m.group != nil
        conversation = m.group ?? m.from
        kind = m.kind.rawValue
        if m.burn != nil || m.kind == .burn {
            kind = "burn"
            text = ""
        } else if let event = m.groupEvent {
            // Structured, so that the UI can say it in the reader's language.
            text = Self.json(["op": event.opName, "actor": event.actor, "reason": event.reason,
                              "members": event.members.map(\.address),
                              "admins": event.members.filter(\.admin).map(\.address)]) ?? m.text
        } else if let f = m.file {
            text = Self.json(["file_id": f.fileId.hex, "name": f.name, "size": f.size, "burn": f.flags & Burn.manifestFlag != 0]) ?? m.text
        } else if let c = m.card {
            text = Self.json(Self.card(c)) ?? m.text
        } else if let r = m.reminder {
            var object: [String: Any] = ["reminder": r.id.hex, "due_at": r.dueAt, "late": r.late]
            if m.kind == .reminder { object["text"] = m.text }
            if let fired = r.firedAt { object["fired_at"] = fired }
            text = Self.json(object) ?? m.text
        } else if let c = m.capture {
            text = Self.json(["burn": c.burn.hex, "by": m.from, "how": c.how, "at": c.at]) ?? m.text
        } else if let r = m.receipt {
            text = Self.json(Self.receipt(r)) ?? m.text
        } else if let forward = m.forward {
            // A forward keeps its line (and a broken chain says so) with its content.
            text = "[\(forward.summary)] " + (forward.note.isEmpty ? "" : "(\(forward.note)) ") + m.text
        } else {
            text = m.text
        }
        if conversation.isEmpty { return nil }
    }

    /// The message this notice is about (a reminder's, a burn message's), whose conversation it belongs in.
    var about: String? { Self.about(kind: kind, text: text) }

    static let noticeKinds: Set<String> = ["reminder_due", "reminder_done", "reminder_cancelled", "burned", "burn_expired",
                                           "burn_receipt", "capture"]

    static func about(kind: String, text: String) -> String? {
        guard noticeKinds.contains(kind),
              let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return nil }
        return (object["reminder"] ?? object["burn"]) as? String
    }

    static func json(_ object: [String: Any]) -> String? {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
    }

    static func card(_ c: ReceivedCard) -> [String: Any] {
        ["address": c.address ?? "", "name": c.name, "unit": c.unit, "verified": c.verified, "reason": c.reason ?? "",
         "external": c.external, "phone": c.phone, "email": c.email]
    }

    static func receipt(_ r: ReceivedReceipt) -> [String: Any] {
        ["burn": r.receipt.burn.hex, "node": r.receipt.node, "event": r.receipt.event.name, "subject": r.receipt.subject,
         "at": r.receipt.deletedAt, "verified": r.verified, "reason": r.reason ?? ""]
    }
}
