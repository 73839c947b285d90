import Foundation
import SealpostCore
import Sodium
import ZeroMQ

/// A message as the person sees it, decrypted and checked.
public struct ReceivedMessage: Sendable, Equatable {
    public var seq: UInt64
    public var id: MessageID
    public var from: String
    public var to: String
    public var kind: Kind
    public var text: String
    public var sentAt: UInt64
    /// For `kind == .card`: the contact, checked.
    public var card: ReceivedCard?
    /// For the reminder kinds: which reminder, and when it is (was) due.
    public var reminder: ReminderInfo?
    /// For a message to a group, or a group event: the group's address.
    public var group: String?
    /// For `group_event`: what changed (or why a request was refused) and the members now.
    public var groupEvent: Group.Event?
    /// For `burn`: that one waits, and how many images it holds (never its content: `Client.view`).
    public var burn: BurnInfo?
    /// For `burned`, `burn_expired` and `burn_receipt`: a node's signed deletion receipt, checked.
    public var receipt: ReceivedReceipt?
    /// For `capture`: the recipient's device reported a capture of burn content.
    public var capture: Burn.Capture?
    /// The message this one quotes, if any.
    public var quote: MessageID?
    /// For `kind == .file`: what to fetch and how to open it (checked against the clear offer).
    public var file: FileManifest?
    /// For `delivered` and `seen` receipts: the ids of this person's messages they are about.
    public var receiptIds: [MessageID]?
    /// The classification label (`敏感 sensitive`), checked against the sealed one (SPEC 7.11.3).
    public var label: String?
    public var labelRank: UInt8?
    /// For a forward: the label of what it forwards (its downgrade's, else its origin's; SPEC
    /// 7.11.11), which its own label is at least; nil when the origin names none.
    public var effectiveLabelRank: UInt8?
    public var effectiveLabel: String?
    /// When the content is deleted (ms since the epoch), if the sender set a time.
    public var readableUntil: UInt64?
    /// For `refusal`: a node's signed notice that it refused something this person sent.
    public var refusal: ReceivedRefusal?
    /// For `forward_report` (to a security officer): a node's signed report that it refused a forward of this unit's message.
    public var forwardReport: ReceivedForwardReport?
    /// For a forwarded message: its chain, as checked, and the forwarder's note.
    public var forward: ReceivedForward?
    /// What `Client.forward` needs to forward this message on (nil: it has no signed origin).
    public var forwardable: ForwardSource?

    /// What a message is, as the person sees it; `rawValue` is the name `--json` and the
    /// web history use (`reminder_due`, `burn_expired`, …).
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case text, card, reminder, file, capture, burn
        case reminderDue = "reminder_due"
        case reminderCancelled = "reminder_cancelled"
        case reminderDone = "reminder_done"
        case groupOp = "group_op"
        case groupEvent = "group_event"
        case groupFanout = "group_fanout"
        /// A node's signed receipt that it passed a burn message on and deleted its copy.
        case burnReceipt = "burn_receipt"
        /// A node's signed receipt that the recipient viewed a burn message and it was deleted.
        case burned
        /// A node's signed receipt that a burn message expired unviewed.
        case burnExpired = "burn_expired"
        /// Receipts (protocol/SPEC.md 7.10): delivered to the recipient's node, seen by the recipient.
        case delivered, seen
        /// A node's signed notice that it refused one of this person's messages for its label (SPEC 7.11).
        case refusal
        /// A node's signed report, to this unit's security officers, that it refused a forward (SPEC 7.9.9).
        case forwardReport = "forward_report"
        /// A labelled message opened after its readable-until time: its content is gone (SPEC 7.11.9).
        case expired
        /// An envelope kind this version does not know.
        case unknown

        /// The kind an envelope of `kind` is shown as (a burn receipt's event refines `burnReceipt`).
        public init(_ kind: EnvelopeKind?) {
            switch kind {
            case .text?, .groupMessage?: self = .text
            case .card?: self = .card
            case .reminder?: self = .reminder
            case .reminderDue?: self = .reminderDue
            case .reminderCancel?: self = .reminderCancelled
            case .reminderDone?: self = .reminderDone
            case .groupOp?: self = .groupOp
            case .groupEvent?: self = .groupEvent
            case .groupFanout?: self = .groupFanout
            case .burn?: self = .burn
            case .burnReceipt?: self = .burnReceipt
            case .capture?: self = .capture
            case .file?: self = .file
            // Shown as what it carries: the opened forward's content kind replaces this.
            case .forward?: self = .unknown
            // Receipts: folded into the sender's receipt book, never shown as messages (`ClientEvent.receipt`).
            case .delivered?: self = .delivered
            case .seen?: self = .seen
            case .refusal?: self = .refusal
            case .forwardReport?: self = .forwardReport
            case nil: self = .unknown
            }
        }
    }
}

/// The reminder a message is about.
public struct ReminderInfo: Sendable, Equatable {
    public var id: MessageID
    public var dueAt: UInt64
    /// For `reminder_due`: when the node fired it, and whether that was late (it was down at the due time).
    public var firedAt: UInt64?
    public var late: Bool
}

/// A contact card as the recipient sees it, after checking its signature.
public struct ReceivedCard: Sendable, Equatable {
    /// `user@node` for a person of the federation; nil for an external contact.
    public var address: String?
    public var name: String
    /// The contact's unit (its node), or the organisation of an external contact.
    public var unit: String
    /// Signed by the contact's home node with the key our own node holds for it.
    public var verified: Bool
    /// Why it is not verified, when it is not.
    public var reason: String?
    public var external: Bool
    public var phone: String = ""
    public var email: String = ""
    /// The checked entry, for sending to the contact straight away.
    public var entry: DirectoryEntry?
}

/// What `Client.next` returns.
public enum ClientEvent: Sendable {
    /// A delivered envelope, decrypted. `seq` must be acknowledged.
    case message(ReceivedMessage)
    /// A `delivered` or `seen` receipt about this person's own messages (kind `delivered` or
    /// `seen`, ids in `receiptIds`), checked. Never a message to show; `seq` must be acknowledged.
    case receipt(ReceivedMessage)
    /// A delivered envelope that can never be opened (tampered, wrong key): acknowledge it.
    case undecryptable(seq: UInt64, id: MessageID, from: String, reason: String)
    /// A delivered envelope whose sender's key cannot be had yet (the directory has not
    /// reached our node, or the node did not answer). Do NOT acknowledge it or anything
    /// after it: the node delivers it again on the next attach.
    case senderUnknown(seq: UInt64, id: MessageID, from: String, reason: String)
    /// Everything waiting at attach time has been delivered.
    case synced
    /// The node stored a sent envelope.
    case stored(MessageID)
    /// The node refused something.
    case refused(code: UInt16, ref: MessageID, reason: String)
    /// The node answered a keep-alive.
    case pong(attached: Bool)
}

/// The person's side of the protocol: encrypts, sends, receives, decrypts.
/// Not Sendable: one thread drives it.
public final class Client {
    public let profile: Profile
    public let connection: Connection
    /// How long a request may wait for the node before the client gives up.
    public var timeoutMs = 10_000
    /// How often an unanswered SEND is sent again (the node drops duplicates).
    public var retransmitMs = 2_000
    /// The forward policy signed into the origin of each text, card and file this client sends (protocol/SPEC.md 7.9).
    public var forwardPolicy = ForwardPolicy()
    /// Whether originals carry a signed origin record (flag bit 2); off only to measure its cost.
    public var signsOrigins = true
    /// Given each original this person signs an origin for, as its sender holds it (for `ForwardBook`:
    /// a sender may downgrade its own message later, section 7.11.11).
    public var keepsOrigin: ((ForwardSource) -> Void)?

    /// The keys last seen per address; set a file-backed one (`KeyPins(profilePath:)`) so
    /// a change is noticed across runs.
    public var pins = KeyPins(profilePath: nil)
    /// How long a looked-up entry is used before the node is asked again (a correspondent may be re-keyed).
    public var directoryRefreshMs = 60_000

    var buffered: [Command] = []
    private var directory: [String: (entry: DirectoryEntry, fetchedNs: UInt64)] = [:]
    /// Entries of verified contact cards: used when the node does not (yet) know the address.
    private var cards: [String: DirectoryEntry] = [:]
    private var sharedKeys: [String: (boxKey: [UInt8], key: BoxSharedKey)] = [:]
    private var nextRequestId: UInt32 = 1
    /// Node signing keys our node holds (for burn receipts), fetched once.
    var cachedNodeKeys: [String: [UInt8]]?
    /// The node's label rules (LABELS), fetched once.
    var cachedLabelInfo: LabelInfo?
    /// The label of what is sent next (a name or English name); nil: the node's default.
    public var sendLabel: String?
    /// The readable-until time of what is sent next (ms since the epoch), 0 for none.
    public var readableUntil: UInt64 = 0
    /// The label of what was sealed last (with its readable-until time, from `--until` or the
    /// label's 保密期限), for a device that keeps a copy and deletes it then.
    public internal(set) var lastSentLabel: EnvelopeLabel?
    /// Tests of the nodes' checks only: a client that skips its own label checks (a modified client).
    public var checksLabels = true
    /// False: deliveries are handed on as their clear header alone, not opened (no decryption,
    /// no signature checks). Only for measuring the nodes' path without this client's
    /// end-to-end crypto (`sealpost-bench … --presealed`); a person's client always opens.
    public var opensDeliveries = true
    /// Where the node's last LABELS answer is kept (`PROFILE.labels`), for sending while it cannot
    /// be reached; nil: in memory only.
    public var labelCachePath: String?

    func nextRequest() -> UInt32 {
        defer { nextRequestId &+= 1 }
        return nextRequestId
    }

    static func seconds(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000) s" : String(format: "%.1f s", Double(ms) / 1000)
    }

    public init(profile: Profile) throws {
        self.profile = profile
        connection = try Connection(endpoint: profile.endpoint, serverKey: profile.nodeCurveKey, curve: profile.curve,
                                    refusal: "node '\(profile.address.node)' at \(profile.endpoint) refused this profile's key: it does not "
                                        + "know it (never enrolled, or disabled, re-keyed or removed by its operator)")
    }

    public func close(lingerMs: Int32 = 0) { connection.close(lingerMs: lingerMs) }

    var unreachable: ClientError {
        .unreachable("cannot reach node '\(profile.address.node)' at \(profile.endpoint): no answer within \(Self.seconds(timeoutMs)) (is it running, and does it still know this profile's key?)")
    }

    // MARK: directory

    /// The verified directory entry of `address`, from the node (again after
    /// `directoryRefreshMs`), checked against the key pinned for it (`pins`): a change
    /// is kept for `takeKeyChanges`. When the node does not know the address (its entry
    /// has not arrived yet, or the user was disabled), a verified contact card or the
    /// pinned entry stands in, so messages already received can still be opened.
    /// - Throws: `ClientError.refused` for an unknown address; `.unreachable` on timeout.
    public func lookup(_ address: Address) throws -> DirectoryEntry {
        let key = address.description
        let now = Clock.monotonicNs()
        if let cached = directory[key], now &- cached.fetchedNs < UInt64(max(directoryRefreshMs, 0)) * 1_000_000 {
            return cached.entry
        }
        // The connection is known to be down (a long session after its node stopped): the entry
        // we have stands in at once, instead of after a request that cannot be answered times out.
        if try connection.knownDown(), let known = directory[key]?.entry ?? cards[key] ?? pins.pinned(key) { return known }
        let fresh: DirectoryEntry
        do {
            let item = try lookupItem(address)
            fresh = try verified(item)
        } catch ClientError.refused(let code, let reason) where code == ErrorCode.unknownAddress.rawValue {
            if let known = cards[key] ?? pins.pinned(key) { return known }
            throw ClientError.refused(code: code, reason: reason)
        } catch ClientError.unreachable(let reason) {
            // Due for a refresh, but the node is slow or down: the entry we have is still signed
            // (looked up before, remembered from a checked card or history, or pinned).
            if let known = directory[key]?.entry ?? cards[key] ?? pins.pinned(key) {
                // Used until the next refresh is due: the sender's label check and the sealing that
                // follows it do not each wait for a node that is not answering.
                directory[key] = (known, now)
                return known
            }
            throw ClientError.unreachable(reason)
        }
        guard fresh.address == key else {
            throw ClientError.protocolError("the node answered for \(fresh.address) when asked for \(address)")
        }
        let entry = pins.observe(fresh).entry
        pins.save()
        directory[key] = (entry, now)
        return entry
    }

    /// Remembers an entry checked elsewhere (a verified contact card), so that
    /// sending to it works before the node's directory has it.
    public func remember(_ entry: DirectoryEntry) {
        cards[entry.address] = entry
    }

    /// The key changes noticed and not shown yet ("key changed for …"), oldest first
    /// (with a file-backed `pins`, also those a previous run noticed and did not show).
    public func takeKeyChanges() -> [KeyPins.Change] {
        pins.takeChanges()
    }

    /// Forgets the looked-up entry of `address`, so the next use asks the node again.
    func forgetEntry(_ address: String) {
        directory[address] = nil
    }

    /// The raw directory item (entry and home key) of `address`, as our node has it.
    public func lookupItem(_ address: Address) throws -> DirectoryItem {
        let requestId = nextRequest()
        try connection.send(.lookup(requestId: requestId, address: address.description))
        let reply = try awaitReply(timeoutMs: timeoutMs) { command in
            switch command {
            case .entry(let id, _, _) where id == requestId: return true
            // ERROR carries no request id: with one LOOKUP outstanding, a zero-ref error answers it.
            case .error(_, let ref, _) where ref == .zero: return true
            default: return false
            }
        }
        switch reply {
        case .entry(_, let bytes, let homeKey):
            return DirectoryItem(entry: bytes, homeSignKey: homeKey)
        case .error(let code, _, let reason):
            throw ClientError.refused(code: code, reason: reason)
        default:
            throw unreachable
        }
    }

    /// Checks an entry's signature with its home node's key. For our own node that
    /// key is the one from the invite; for other nodes it is the key our node
    /// pinned (our node is the trust anchor for the rest of the federation).
    func verified(_ item: DirectoryItem) throws -> DirectoryEntry {
        let entry: DirectoryEntry
        do { entry = try DirectoryEntry.decode(item.entry) } catch {
            throw ClientError.protocolError("the node sent a damaged directory entry")
        }
        guard let address = Address(entry.address) else { throw ClientError.protocolError("a directory entry has no valid address") }
        let key = address.node == profile.address.node ? profile.nodeSignKey : item.homeSignKey
        if address.node == profile.address.node && item.homeSignKey != profile.nodeSignKey {
            throw ClientError.protocolError("the node presented another signing key for itself: refusing \(address)")
        }
        guard entry.verify(nodeKey: key) else {
            throw ClientError.protocolError("the directory entry of \(address) is not signed by its home node: refusing to use it")
        }
        return entry
    }

    /// Directory entries (all nodes of the federation) whose address or name contains `query`.
    public func directory(query: String = "") throws -> [DirectoryEntry] {
        let requestId = nextRequest()
        try connection.send(.directory(requestId: requestId, query: query))
        let reply = try awaitReply(timeoutMs: timeoutMs) { command in
            switch command {
            case .entries(let id, _) where id == requestId: return true
            case .error(_, let ref, _) where ref == .zero: return true
            default: return false
            }
        }
        switch reply {
        case .entries(_, let items):
            defer { pins.save() }
            return try items.map { item in
                pins.observe(try verified(item), pinNew: false).entry
            }
        case .error(let code, _, let reason):
            throw ClientError.refused(code: code, reason: reason)
        default:
            throw unreachable
        }
    }

    func sharedKey(with address: Address) throws -> BoxSharedKey {
        let entry = try lookup(address)
        if let cached = sharedKeys[address.description], cached.boxKey == entry.boxKey { return cached.key }
        guard let key = BoxSharedKey(theirPublicKey: entry.boxKey, mySecretKey: profile.box.secretKey) else {
            throw ClientError.protocolError("\(address) has an unusable public key")
        }
        sharedKeys[address.description] = (entry.boxKey, key)
        return key
    }

    // MARK: sending

    /// Checks and encrypts a text message for `to`; does not send it.
    public func prepareText(to: Address, text: String, id: MessageID = MessageID(bytes: Sodium.randomBytes(16))!) throws -> Envelope {
        let bytes = Array(text.utf8)
        guard !text.trimmingSpaces.isEmpty else { throw ClientError.invalid("the message is empty") }
        guard bytes.count <= Sealed.maxTextBytes else {
            throw ClientError.invalid("the message is \(bytes.count) bytes; the limit is \(Sealed.maxTextBytes) bytes (64 KiB)")
        }
        let label = try outgoingLabel(to: to, members: nil)
        let key = try sharedKey(with: to)
        let sentAt = Clock.nowMs()
        let kind = EnvelopeKind.text.rawValue
        let (content, flags) = withOrigin(kind: .text, id: id, to: to, sentAt: sentAt, label: label, content: bytes)
        let body = Sealed.seal(kind: kind, id: id, from: profile.address.description, to: to.description,
                               sentAt: sentAt, label: label, content: content, key: key)
        // `from` stays empty on the wire: the node stamps it from our authenticated key.
        return Envelope(id: id, from: "", to: to.description, kind: kind, flags: flags, sentAt: sentAt, label: label, body: body)
    }

    /// Queues an envelope without waiting (for pipelined senders); false when the queue is full.
    @discardableResult
    public func submit(_ envelope: Envelope) throws -> Bool {
        try connection.send(.send(envelope))
    }

    /// Sends a text and returns once the home node stored it durably.
    public func sendText(to: Address, text: String) throws -> MessageID {
        let envelope = try prepareText(to: to, text: text)
        try store(envelope)
        return envelope.id
    }

    /// Sends an envelope, resending until the node answers STORED or refuses it.
    ///
    /// A transient failure (500, 503) or a rate limit (429) is retried after an
    /// exponential back-off with jitter (`Backoff`), never at once: a node whose commits
    /// fail is not hammered. When the time is up after such answers, the last reason is
    /// thrown (`ClientError.refused`), not "unreachable".
    public func store(_ envelope: Envelope) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        var backoff = Backoff()
        var lastRefusal: (code: UInt16, reason: String)?
        while true {
            let now = Clock.monotonicNs()
            if now >= deadline {
                if let lastRefusal { throw ClientError.refused(code: lastRefusal.code, reason: lastRefusal.reason) }
                throw unreachable
            }
            try connection.send(.send(envelope))
            let wait = min(retransmitMs, Int((deadline - now) / 1_000_000))
            let reply = try awaitReply(timeoutMs: wait) { command in
                switch command {
                case .stored(let id): return id == envelope.id
                case .error(_, let ref, _): return ref == envelope.id
                default: return false
                }
            }
            switch reply {
            case .stored: return
            case .error(let code, _, let reason)
                where code == ErrorCode.internalError.rawValue || code == ErrorCode.unavailable.rawValue
                    || code == ErrorCode.rateLimited.rawValue:
                lastRefusal = (code, reason)
                let left = Int((deadline - min(deadline, Clock.monotonicNs())) / 1_000_000)
                let pause = backoff.next()
                if pause >= left { throw ClientError.refused(code: code, reason: reason) }
                usleep(UInt32(pause) * 1000)
            case .error(let code, _, let reason):
                throw ClientError.refused(code: code, reason: reason)
            default: continue // timed out: send again
            }
        }
    }

    // MARK: receiving

    /// Asks the node to push the mailbox, at most `window` unacknowledged at once.
    public func attach(window: UInt32 = 1000) throws {
        try connection.send(.attach(window: window))
        // The label rules, kept for what is sent while the node cannot be reached (web outbox).
        try requestLabelInfo()
    }

    /// Acknowledges every delivery up to `seq`: the node deletes them.
    public func ack(_ seq: UInt64) throws {
        try connection.send(.ack(seq: seq))
    }

    public func ping() throws { try connection.send(.ping) }

    /// Tells the node this session stops receiving (so it no longer counts as online).
    public func detach() throws { try connection.send(.detach) }

    /// Waits until the node has processed everything sent before (a PING/PONG
    /// round trip on the ordered connection), so acknowledgements are durable.
    public func flush() throws {
        try connection.send(.ping)
        let reply = try awaitReply(timeoutMs: timeoutMs) { if case .pong = $0 { return true } else { return false } }
        if reply == nil { throw unreachable }
        if case .error(let code, _, let reason)? = reply { throw ClientError.refused(code: code, reason: reason) }
    }

    /// The next event, or nil after `timeoutMs`.
    public func next(timeoutMs: Int) throws -> ClientEvent? {
        // Commands that are no event (a late answer, the LABELS asked for at attach) are taken
        // and the wait goes on, so nil still means "nothing within timeoutMs".
        let deadline = Clock.monotonicNs() + UInt64(max(timeoutMs, 0)) * 1_000_000
        while true {
            let command: Command
            if !buffered.isEmpty {
                command = buffered.removeFirst()
            } else {
                let now = Clock.monotonicNs()
                let left = now >= deadline ? 0 : Int((deadline - now) / 1_000_000)
                guard let received = try connection.receive(timeoutMs: left) else { return nil }
                command = received
            }
            if let event = try event(for: command) { return event }
        }
    }

    private func event(for command: Command) throws -> ClientEvent? {
        switch command {
        case .deliver(let seq, let envelope):
            guard opensDeliveries else {
                return .message(ReceivedMessage(seq: seq, id: envelope.id, from: envelope.from, to: envelope.to,
                                                kind: ReceivedMessage.Kind(envelope.knownKind), text: "", sentAt: envelope.sentAt))
            }
            do {
                let m = try openWithFreshKey(envelope, seq: seq)
                return m.receiptIds == nil ? .message(m) : .receipt(m)
            } catch let error as Sealed.OpenError {
                if error == .doesNotAuthenticate, mayHaveNewKey(envelope) {
                    // A sender on another node re-keyed moments ago: our node may not have their new entry yet.
                    forgetEntry(envelope.from)
                    return .senderUnknown(seq: seq, id: envelope.id, from: envelope.from,
                                          reason: "it does not open with the key your node has for \(envelope.from); their new key may not have reached your node yet")
                }
                return .undecryptable(seq: seq, id: envelope.id, from: envelope.from, reason: error.description)
            } catch let error as ClientError {
                if case .protocolError = error {
                    return .undecryptable(seq: seq, id: envelope.id, from: envelope.from, reason: error.description)
                }
                return .senderUnknown(seq: seq, id: envelope.id, from: envelope.from, reason: error.description)
            }
        case .labels(let info?):
            // Asked for at attach (or by a LABELS whose answer came late): kept for sending offline.
            keep(info)
            return nil
        case .synced: return .synced
        case .stored(let id): return .stored(id)
        case .error(let code, let ref, let reason): return .refused(code: code, ref: ref, reason: reason)
        case .pong(let attached): return .pong(attached: attached)
        default: return nil
        }
    }

    /// How long after it was sent a message that does not open is taken for one from a
    /// freshly re-keyed sender of another node (and waits), rather than a damaged one.
    static let newKeyGraceMs: UInt64 = 120_000

    func mayHaveNewKey(_ envelope: Envelope) -> Bool {
        guard let from = Address(envelope.from), from.node != profile.address.node else { return false }
        let now = Clock.nowMs()
        return envelope.sentAt <= now + 60_000 && now &- min(envelope.sentAt, now) < Self.newKeyGraceMs
    }

    /// Opens `envelope`; when it does not open with the sender's entry looked up earlier
    /// (they may have been re-keyed since), asks the node for the entry once more.
    func openWithFreshKey(_ envelope: Envelope, seq: UInt64) throws -> ReceivedMessage {
        do {
            return try open(envelope, seq: seq)
        } catch Sealed.OpenError.doesNotAuthenticate where directory[envelope.from] != nil {
            forgetEntry(envelope.from)
            return try open(envelope, seq: seq)
        }
    }

    /// Decrypts and checks a delivered envelope.
    public func open(_ envelope: Envelope, seq: UInt64) throws -> ReceivedMessage {
        guard let from = Address(envelope.from) else { throw ClientError.protocolError("delivery without a sender") }
        let kind = envelope.knownKind
        var message = ReceivedMessage(seq: seq, id: envelope.id, from: envelope.from, to: envelope.to, kind: ReceivedMessage.Kind(kind),
                                      text: "", sentAt: envelope.sentAt)
        // The label: shown, checked against this person's clearance; past its time, nothing to open.
        guard try checkReceivedLabel(envelope, into: &message) else { return message }
        // Metadata-only kinds: nothing to decrypt.
        switch kind {
        case .burn?:
            // Only the notice reaches a mailbox; the content comes once, by VIEW.
            guard let (expiresAt, images, _) = try? Burn.split(envelope.body) else { throw Sealed.OpenError.malformed("burn") }
            message.burn = BurnInfo(expiresAt: expiresAt, images: images)
            if envelope.to != profile.address.description { message.group = envelope.to }
            message.text = "burn after reading" + (images > 0 ? ", \(images) image\(images == 1 ? "" : "s")" : "")
                + ": sealpost view \(envelope.id.hex)"
            return message
        case .delivered?:
            guard envelope.to == profile.address.description, let ids = try? Receipt.decode(envelope.body) else {
                throw Sealed.OpenError.malformed("delivered")
            }
            message.receiptIds = ids
            message.text = "delivered to \(envelope.from)'s node: " + ids.map(\.hex).joined(separator: " ")
            return message
        case .refusal?:
            guard let notice = try? LabelNotice.decode(envelope.body), notice.sender == profile.address.description else {
                throw Sealed.OpenError.malformed("refusal")
            }
            let checked = check(refusal: notice)
            message.refusal = checked
            message.label = labelDisplay(notice.label)
            message.labelRank = notice.label
            let signed = checked.verified ? "signed by \(notice.node)" : "NOT VERIFIED: \(checked.reason ?? "")"
            message.text = "\(notice.node) refused your message \(notice.ref.hex) to \(notice.recipient): \(notice.text) (\(signed))"
            return message
        case .forwardReport?:
            guard let report = try? ForwardReport.decode(envelope.body), envelope.to == profile.address.description else {
                throw Sealed.OpenError.malformed("forward_report")
            }
            let checked = check(forwardReport: report)
            message.forwardReport = checked
            message.label = labelDisplay(report.label)
            message.labelRank = report.label
            message.text = Self.text(of: checked)
            return message
        case .burnReceipt?:
            guard let receipt = try? Burn.Receipt.decode(envelope.body), receipt.sender == profile.address.description else {
                throw Sealed.OpenError.malformed("burn_receipt")
            }
            let checked = check(receipt: receipt)
            message.receipt = checked
            let signed = checked.verified ? "signed by \(receipt.node)" : "NOT VERIFIED: \(checked.reason ?? "")"
            switch receipt.event {
            case .viewed:
                message.kind = .burned
                message.text = "\(receipt.subject) viewed burn message \(receipt.burn.hex); \(receipt.node) deleted it (\(signed))"
            case .expired:
                message.kind = .burnExpired
                message.text = "burn message \(receipt.burn.hex) expired unviewed for \(receipt.subject); \(receipt.node) deleted it (\(signed))"
            case .forwarded:
                message.kind = .burnReceipt
                message.text = "\(receipt.node) passed burn message \(receipt.burn.hex) on to \(receipt.subject) and deleted its copy (\(signed))"
            }
            return message
        default:
            break
        }
        var envelope = envelope
        if let (ref, rest) = Quote.split(envelope) {
            message.quote = ref
            envelope.body = rest
        }
        switch kind {
        case .groupEvent?:
            guard let event = try? Group.Event.decode(envelope.body) else { throw Sealed.OpenError.malformed("group_event") }
            message.group = envelope.to
            message.groupEvent = event
            message.text = event.op == Group.Event.refused ? "refused: \(event.reason)"
                : "\(event.actor) \(event.opName); members: \(event.members.map(\.address).joined(separator: ", "))"
            return message
        case .groupMessage?:
            var content = try GroupSealed.open(envelope, me: profile.address.description, key: try sharedKey(with: from))
            if envelope.flags & Forward.originFlag != 0 {
                guard let (provenance, rest) = try? Provenance.split(content) else { throw Sealed.OpenError.malformed("provenance block") }
                content = rest
                message.forwardable = checkedOrigin(provenance, content: rest, envelope: envelope, kind: .groupMessage)
            }
            message.group = envelope.to
            message.text = String(decoding: content, as: UTF8.self)
            return message
        case .reminderDue?:
            guard let due = try? Reminder.Due.decode(envelope.body) else { throw Sealed.OpenError.malformed("reminder_due") }
            message.reminder = ReminderInfo(id: due.reminder, dueAt: due.dueAt, firedAt: due.firedAt, late: due.late)
            message.text = "reminder due" + (due.late ? " (late: fired more than a second after its time)" : "")
            return message
        case .reminderCancel?, .reminderDone?:
            guard let id = try? Reminder.reference(envelope.body) else { throw Sealed.OpenError.malformed(kind!.name) }
            message.reminder = ReminderInfo(id: id, dueAt: 0, firedAt: nil, late: false)
            message.text = kind == .reminderDone ? "marked the reminder done" : "cancelled the reminder"
            return message
        default:
            break
        }
        // A forward's label may not be below the label of what it forwards (SPEC 7.11.11): such a
        // forward is refused unopened, whatever the nodes on the way let through.
        if kind == .forward, checksLabels, let (header, _) = try? ForwardHeader.split(envelope.body),
           let lowered = loweredLabel(header, clear: envelope.label) {
            throw ClientError.protocolError("refused: label lowered without a downgrade: \(lowered)")
        }
        let key = try sharedKey(with: from)
        var sealedEnvelope = envelope
        var clearDue: UInt64 = 0
        var offer: FileOffer?
        if kind == .file {
            guard let (clear, sealed) = try? FileOffer.split(envelope.body) else { throw Sealed.OpenError.malformed("file offer") }
            offer = clear
            sealedEnvelope.body = sealed
        }
        if kind == .reminder {
            guard let (due, sealed) = try? Reminder.split(envelope.body) else { throw Sealed.OpenError.malformed("reminder") }
            clearDue = due
            sealedEnvelope.body = sealed
        }
        var forwardHeader: ForwardHeader?
        if kind == .forward {
            guard let (header, sealed) = try? ForwardHeader.split(envelope.body) else { throw Sealed.OpenError.malformed("forward") }
            forwardHeader = header
            offer = header.offer
            sealedEnvelope.body = sealed
        }
        // Addressed to someone else than me: a group's envelope, sealed for its members.
        let toGroup = envelope.to != profile.address.description
        if toGroup { message.group = envelope.to }
        var content = toGroup ? try GroupSealed.open(sealedEnvelope, me: profile.address.description, key: key)
                              : try Sealed.open(sealedEnvelope, key: key)
        defer { wipe(&content) }
        var contentKind = kind
        if let forwardHeader {
            // A forward: its content is the origin's, of the origin's kind; the chain is checked.
            guard let inner = try? ForwardContent.decode(content) else { throw Sealed.OpenError.malformed("forward content") }
            let received = receivedForward(forwardHeader, content: inner, envelope: envelope)
            message.forward = received
            message.forwardable = ForwardSource(id: envelope.id, from: envelope.from, via: envelope.to, header: forwardHeader,
                                                content: inner.content, hashKey: inner.hashKey,
                                                problem: received.check.isVerified ? nil : received.check.problems.first)
            message.forwardable?.label = envelope.label
            if forwardHeader.origin.label != nil {
                let keys = forwardHeader.downgrade == nil ? [:] : ((try? nodeKeys()) ?? [:])
                let (rank, downgradeProblem) = forwardHeader.effectiveLabel(nodeKey: { keys[$0] })
                message.effectiveLabelRank = rank
                message.effectiveLabel = rank.map { labelDisplay($0) }
                // The downgrade is signed by no hop (a relay can add one): one that does not hold
                // with its node's key held here is not carried on, so this person's forwards keep
                // the origin's label (one whose key is not held yet may still be checked later).
                if downgradeProblem != nil, let node = forwardHeader.downgrade?.node, keys[node] != nil {
                    message.forwardable?.downgrade = nil
                }
            }
            contentKind = EnvelopeKind(rawValue: forwardHeader.origin.contentKind)
            message.kind = ReceivedMessage.Kind(contentKind)
            content = inner.content
        } else if envelope.flags & Forward.originFlag != 0, let k = kind, Forward.contentKind(of: k) != nil {
            guard let (provenance, rest) = try? Provenance.split(content) else { throw Sealed.OpenError.malformed("provenance block") }
            content = rest
            message.forwardable = checkedOrigin(provenance, content: rest, envelope: envelope, kind: k)
        }
        switch contentKind {
        case .reminder?:
            guard let (due, text) = try? Reminder.parseContent(content) else { throw Sealed.OpenError.malformed("reminder content") }
            guard due == clearDue else { throw Sealed.OpenError.headerMismatch("due_at") }
            message.reminder = ReminderInfo(id: envelope.id, dueAt: due, firedAt: nil, late: false)
            message.text = String(decoding: text, as: UTF8.self)
        case .seen?:
            guard !toGroup, let ids = try? Receipt.decode(content) else { throw Sealed.OpenError.malformed("seen") }
            message.receiptIds = ids
            message.text = "seen by \(envelope.from): " + ids.map(\.hex).joined(separator: " ")
        case .capture?:
            guard let capture = try? Burn.Capture.decode(content) else { throw Sealed.OpenError.malformed("capture") }
            message.capture = capture
            message.text = "\(envelope.from) captured (\(capture.how)) burn message \(capture.burn.hex) at \(Clock.rfc3339(ms: capture.at))"
        case .file?:
            guard let manifest = try? FileManifest.decode(content) else { throw Sealed.OpenError.malformed("file manifest") }
            guard let offer, manifest.fileId == offer.fileId, manifest.cipherSize == offer.cipherSize, manifest.chunks == offer.chunks else {
                throw Sealed.OpenError.headerMismatch("file offer")
            }
            // View-once: the clear flag nodes act on and the sealed one must agree.
            let burn = envelope.flags & Burn.fileFlag != 0
            guard burn == (manifest.flags & Burn.manifestFlag != 0) else { throw Sealed.OpenError.headerMismatch("burn flag") }
            message.file = manifest
            message.text = "file \(manifest.name) (\(manifest.size) bytes)"
            if burn {
                message.burn = BurnInfo(expiresAt: nil, images: 0)
                message.text = "burn after reading: " + message.text
            }
        case .card?:
            message.card = check(card: content)
            if let c = message.card {
                message.text = c.external ? "contact: \(c.name) (external)"
                    : c.address.map { "contact: \(c.name) <\($0)>" } ?? "contact card: \(c.reason ?? "damaged")"
            }
        default:
            message.text = String(decoding: content, as: UTF8.self)
        }
        return message
    }

    /// Checks a received card. A member card is verified when its entry's signature
    /// verifies with the key OUR node holds for the contact's home node (or, for our
    /// own node, the key from our invite); the key the card carries is never trusted alone.
    func check(card bytes: [UInt8]) -> ReceivedCard {
        let card: ContactCard
        do { card = try ContactCard.decode(bytes) } catch {
            return ReceivedCard(address: nil, name: "(damaged card)", unit: "", verified: false, reason: "the card is damaged: \(error)", external: false)
        }
        switch card {
        case let .external(name, phone, org, email):
            return ReceivedCard(address: nil, name: name, unit: org, verified: false,
                                reason: "external contact: not on Sealpost, not reachable by chat", external: true,
                                phone: phone, email: email)
        case let .member(entryBytes, cardKey):
            guard let entry = try? DirectoryEntry.decode(entryBytes), let address = Address(entry.address) else {
                return ReceivedCard(address: nil, name: "(damaged card)", unit: "", verified: false, reason: "the card is damaged: its entry does not decode", external: false)
            }
            var out = ReceivedCard(address: entry.address, name: entry.display, unit: address.node, verified: false,
                                   reason: nil, external: false)
            let anchor: [UInt8]?
            if address.node == profile.address.node {
                anchor = profile.nodeSignKey
            } else {
                anchor = try? lookupItem(address).homeSignKey
            }
            if let anchor {
                if entry.verify(nodeKey: anchor) {
                    out.verified = true
                    out.entry = entry
                } else if entry.verify(nodeKey: cardKey) {
                    out.reason = "signed with a key that is not the one your node holds for '\(address.node)'"
                } else {
                    out.reason = "the signature does not verify: the card was altered"
                }
            } else {
                out.reason = entry.verify(nodeKey: cardKey)
                    ? "'\(address.node)' or this person is not known to your node, so the signature cannot be checked"
                    : "the signature does not verify: the card was altered"
            }
            return out
        }
    }

    // MARK: cards

    /// Sends the contact card of `contact` (a person of any node) to `to`.
    public func sendCard(to: Address, contact: Address) throws -> MessageID {
        let item = try lookupItem(contact)
        let entry = try verified(item)
        guard entry.address == contact.description else {
            throw ClientError.protocolError("the node answered for \(entry.address) when asked for \(contact)")
        }
        return try send(ContactCard.member(entry: item.entry, homeSignKey: item.homeSignKey), to: to)
    }

    /// Sends a card as given (the receiver checks it; nothing here vouches for it).
    public func send(_ card: ContactCard, to: Address) throws -> MessageID {
        if case let .external(name, phone, org, email) = card {
            for (field, value) in [("name", name), ("phone", phone), ("org", org), ("email", email)] where value.utf8.count > 255 {
                throw ClientError.invalid("the \(field) is longer than 255 bytes")
            }
        }
        return try sendContent(to: to, kind: .card, content: card.encode())
    }

    /// Sends the card of someone not on Sealpost; the recipient sees it as not reachable by chat.
    public func sendExternalCard(to: Address, name: String, phone: String, org: String, email: String) throws -> MessageID {
        guard !name.trimmingSpaces.isEmpty else { throw ClientError.invalid("an external contact needs a --name") }
        return try send(ContactCard.external(name: name, phone: phone, org: org, email: email), to: to)
    }

    func sendContent(to: Address, kind: EnvelopeKind, content: [UInt8], dueAt: UInt64? = nil) throws -> MessageID {
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let label = try outgoingLabel(to: to, members: nil)
        let key = try sharedKey(with: to)
        let sentAt = Clock.nowMs()
        let (sealedContent, flags) = withOrigin(kind: kind, id: id, to: to, sentAt: sentAt, label: label, content: content)
        var body = Sealed.seal(kind: kind.rawValue, id: id, from: profile.address.description, to: to.description,
                               sentAt: sentAt, label: label, content: sealedContent, key: key)
        if let dueAt { body = Reminder.body(dueAt: dueAt, sealed: body) }
        try store(Envelope(id: id, from: "", to: to.description, kind: kind.rawValue, flags: flags, sentAt: sentAt, label: label, body: body))
        return id
    }

    // MARK: groups

    /// Asks the group's home node to change it; the answer comes back as a `group_event`.
    /// `label`: the group's label, for `create` and `label` (SPEC 7.11.8).
    public func groupOp(_ op: Group.Op, group: Address, members: [String] = [], label: UInt8? = nil) throws {
        for m in members where Address(m) == nil { throw ClientError.invalid("'\(m)' is not an address (user@node)") }
        try sendMeta(to: group, kind: .groupOp, body: Group.opBody(op, members: members, label: label))
    }

    /// Posts a text to a group: sealed once, the key wrapped for each other member.
    public func sendGroupText(group: Address, members: [String], text: String) throws -> MessageID {
        let bytes = Array(text.utf8)
        guard !text.trimmingSpaces.isEmpty else { throw ClientError.invalid("the message is empty") }
        guard bytes.count <= Sealed.maxTextBytes else {
            throw ClientError.invalid("the message is \(bytes.count) bytes; the limit is \(Sealed.maxTextBytes) bytes (64 KiB)")
        }
        return try sendToGroup(group, members: members, kind: .groupMessage, content: bytes)
    }

    /// Seals `content` for `to`: the 1:1 body of section 8, or, with the group's `members`,
    /// once for the group with its key wrapped for every other member (section 7.6.3).
    func seal(kind: UInt8, id: MessageID, to: Address, sentAt: UInt64, label: EnvelopeLabel, content: [UInt8], members: [String]?) throws -> [UInt8] {
        let me = profile.address.description
        guard let members else {
            return Sealed.seal(kind: kind, id: id, from: me, to: to.description, sentAt: sentAt, label: label, content: content,
                               key: try sharedKey(with: to))
        }
        var wraps: [(member: String, key: BoxSharedKey)] = []
        for m in members where m != me {
            guard let a = Address(m) else { continue }
            wraps.append((m, try sharedKey(with: a)))
        }
        return GroupSealed.seal(kind: kind, id: id, from: me, group: to.description, sentAt: sentAt, label: label, content: content, wraps: wraps)
    }

    /// Seals `content` once for the group, wraps its key for every other member, and stores it.
    func sendToGroup(_ group: Address, members: [String], kind: EnvelopeKind, content: [UInt8], dueAt: UInt64? = nil) throws -> MessageID {
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let label = try outgoingLabel(to: group, members: members)
        let sentAt = Clock.nowMs()
        let (sealedContent, flags) = withOrigin(kind: kind, id: id, to: group, sentAt: sentAt, label: label, content: content)
        var body = try seal(kind: kind.rawValue, id: id, to: group, sentAt: sentAt, label: label, content: sealedContent, members: members)
        if let dueAt { body = Reminder.body(dueAt: dueAt, sealed: body) }
        try store(Envelope(id: id, from: "", to: group.description, kind: kind.rawValue, flags: flags, sentAt: sentAt, label: label, body: body))
        return id
    }

    /// Sends a reminder to a group: every member, on every node, and the sender are reminded.
    public func remindGroup(group: Address, members: [String], at dueAt: UInt64, text: String) throws -> MessageID {
        _ = try prepareReminderChecks(at: dueAt, text: text)
        return try sendToGroup(group, members: members, kind: .reminder,
                               content: Reminder.content(dueAt: dueAt, text: Array(text.utf8)), dueAt: dueAt)
    }

    func prepareReminderChecks(at dueAt: UInt64, text: String) throws -> Bool {
        guard !text.trimmingSpaces.isEmpty else { throw ClientError.invalid("the reminder text is empty") }
        guard text.utf8.count <= Sealed.maxTextBytes else { throw ClientError.invalid("the reminder text is over 64 KiB") }
        let now = Clock.nowMs()
        guard dueAt > now else { throw ClientError.invalid("the reminder time \(Clock.rfc3339(ms: dueAt)) is in the past") }
        guard dueAt <= now + Reminder.maxAheadMs else { throw ClientError.invalid("a reminder may be set at most a year ahead") }
        return true
    }

    /// Waits for the home node's answer to a group request (without acknowledging anything).
    public func awaitGroupEvent(group: Address, timeoutMs: Int) throws -> ReceivedMessage? {
        try attach()
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            guard let event = try next(timeoutMs: 200) else { continue }
            if case .message(let m) = event, m.kind == .groupEvent, m.group == group.description,
               m.groupEvent?.actor == profile.address.description {
                try detach()
                return m
            }
        }
        try detach()
        return nil
    }

    // MARK: reminders

    /// Sends a reminder: `to` gets it now; at `dueAt` (ms since the epoch) both
    /// `to` and this sender get a `reminder_due` from their own nodes.
    public func remind(to: Address, at dueAt: UInt64, text: String) throws -> MessageID {
        let envelope = try prepareReminder(to: to, at: dueAt, text: text)
        try store(envelope)
        return envelope.id
    }

    /// Checks and seals a reminder without sending it (for pipelined senders).
    public func prepareReminder(to: Address, at dueAt: UInt64, text: String) throws -> Envelope {
        _ = try prepareReminderChecks(at: dueAt, text: text)
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let label = try outgoingLabel(to: to, members: nil)
        let key = try sharedKey(with: to)
        let sentAt = Clock.nowMs()
        let sealed = Sealed.seal(kind: EnvelopeKind.reminder.rawValue, id: id, from: profile.address.description, to: to.description,
                                 sentAt: sentAt, label: label, content: Reminder.content(dueAt: dueAt, text: Array(text.utf8)), key: key)
        return Envelope(id: id, from: "", to: to.description, kind: EnvelopeKind.reminder.rawValue, sentAt: sentAt, label: label,
                        body: Reminder.body(dueAt: dueAt, sealed: sealed))
    }

    /// Withdraws a reminder this person sent: the recipients' pending due notices go away.
    public func cancelReminder(_ reminder: MessageID, recipients: [Address]) throws {
        for to in recipients { try sendMeta(to: to, kind: .reminderCancel, body: reminder.bytes) }
    }

    /// Tells the reminder's sender that this person has done it.
    public func markReminderDone(_ reminder: MessageID, sender: Address) throws {
        try sendMeta(to: sender, kind: .reminderDone, body: reminder.bytes)
    }

    /// A metadata-only envelope (no end-to-end body).
    func sendMeta(to: Address, kind: EnvelopeKind, body: [UInt8]) throws {
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        try store(Envelope(id: id, from: "", to: to.description, kind: kind.rawValue, sentAt: Clock.nowMs(), body: body))
    }

    /// Receives until `matches` accepts a command; everything else is kept for `next`.
    func awaitReply(timeoutMs: Int, _ matches: (Command) -> Bool) throws -> Command? {
        let deadline = Clock.monotonicNs() + UInt64(max(timeoutMs, 0)) * 1_000_000
        while true {
            let now = Clock.monotonicNs()
            if now >= deadline { return nil }
            guard let command = try connection.receive(timeoutMs: Int((deadline - now) / 1_000_000) + 1) else { return nil }
            if case .error(let code, let ref, _) = command, ref == .zero,
               code == ErrorCode.keyRevoked.rawValue || code == ErrorCode.unavailable.rawValue {
                // Unprompted and about the whole session (SPEC 5: key revoked, node shutting down), not an
                // answer to what is awaited, though LOOKUP's errors have a zero ref too: the request fails
                // with it, and the event stream still gets it (a LOOKUP made while opening a DELIVER
                // swallowed a 423 before, so `next` never showed it).
                buffered.append(command)
                return command
            }
            if matches(command) { return command }
            buffered.append(command)
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}

extension Client {
    /// Waits until the node has something for us, the connection was lost or regained
    /// (`Connection.takeEvents`), or `fd` (a terminal) is readable.
    /// - Returns: whether `fd` is readable.
    public func wait(orReadable fd: Int32, timeoutMs: Int) throws -> Bool {
        if !buffered.isEmpty { return false }
        let events = try poll([(.fd(fd), .readable)] + connection.pollTargets.map { ($0, .readable) }, timeoutMs: timeoutMs)
        // A closed pipe shows as an error, not as readable: report it so the caller reads EOF.
        return !events[0].isDisjoint(with: [.readable, .error])
    }
}
