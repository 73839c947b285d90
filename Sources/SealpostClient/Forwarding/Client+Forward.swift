import Foundation
import SealpostCore
import Sodium

/// What is needed to forward a received message on (protocol/SPEC.md 7.9): its content as its
/// origin sealed it, the hash key, the origin record and the hops so far, and where it came.
public struct ForwardSource: Sendable, Equatable {
    /// The received message's id (what `sealpost forward ID` names).
    public var id: MessageID
    public var from: String
    /// The address it came to: this person, or the group it came through.
    public var via: String
    public var origin: ForwardOrigin
    public var hops: [ForwardHop]
    /// For a file: its clear offer header.
    public var offer: FileOffer?
    public var content: [UInt8]
    public var hashKey: [UInt8]
    /// Why it cannot be forwarded on (its origin or chain does not verify), or nil.
    public var problem: String?
    /// The label it came with: a forward carries it on (protocol/SPEC.md 7.11.10).
    public var label: EnvelopeLabel?
    /// Its unit's signed downgrade (section 7.11.11): every later forward carries it, with its label.
    public var downgrade: DowngradeRecord?

    public init(id: MessageID, from: String, via: String, origin: ForwardOrigin, hops: [ForwardHop], offer: FileOffer?,
                content: [UInt8], hashKey: [UInt8], problem: String?, label: EnvelopeLabel? = nil) {
        self.label = label
        self.id = id
        self.from = from
        self.via = via
        self.origin = origin
        self.hops = hops
        self.offer = offer
        self.content = content
        self.hashKey = hashKey
        self.problem = problem
    }

    init(id: MessageID, from: String, via: String, header: ForwardHeader, content: [UInt8], hashKey: [UInt8], problem: String?) {
        self.init(id: id, from: from, via: via, origin: header.origin, hops: header.hops, offer: header.offer, content: content,
                  hashKey: hashKey, problem: problem)
        downgrade = header.downgrade
    }

    /// `version:u8 id:octets[16] from:string via:string origin hops:u8 *hop has_offer:u8 [offer:octets[29]]
    /// content:longstr hash_key:octets[32] problem:string [label:u8 readable_until:u64] [has_downgrade:u8 [downgrade]]`
    /// (device-local, for `ForwardBook`); version 2 when it carries a downgrade (then with the label).
    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: content.count + 700 + hops.count * 250)
        w.u8(downgrade == nil ? 1 : 2); w.octets(id.bytes); w.string(from); w.string(via)
        origin.encode(into: &w)
        w.u8(UInt8(hops.count))
        for h in hops { h.encode(into: &w) }
        w.u8(offer == nil ? 0 : 1)
        if let offer { w.octets(offer.body(sealed: [])) }
        w.longstr(content); w.octets(hashKey); w.string((problem ?? "").truncatedUTF8(255))
        if let downgrade {
            let label = self.label ?? EnvelopeLabel(rank: downgrade.to)
            w.u8(label.rank); w.u64(label.readableUntil)
            w.u8(1); downgrade.encode(into: &w)
        } else if let label {
            w.u8(label.rank); w.u64(label.readableUntil)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> ForwardSource {
        var r = WireReader(bytes)
        let version = try r.u8("version")
        guard version == 1 || version == 2 else { throw WireError.invalid(field: "version", reason: "unsupported") }
        let id = MessageID(bytes: try r.octets(16, "id"))!
        let from = try r.string("from"), via = try r.string("via")
        let origin = try ForwardOrigin.decode(from: &r)
        var hops: [ForwardHop] = []
        for _ in 0..<Int(try r.u8("hops")) { hops.append(try ForwardHop.decode(from: &r)) }
        var offer: FileOffer?
        if try r.u8("has_offer") == 1 { offer = try FileOffer.split(try r.octets(FileOffer.headerBytes, "offer")).offer }
        let content = try r.longstr("content", max: Envelope.maxBodyBytes)
        let key = try r.octets(Forward.hashKeyBytes, "hash_key")
        let problem = try r.string("problem")
        let label = r.remaining == 0 ? nil : EnvelopeLabel(rank: try r.u8("label"), readableUntil: try r.u64("readable_until"))
        var downgrade: DowngradeRecord?
        if version == 2, try r.u8("has_downgrade") == 1 { downgrade = try DowngradeRecord.decode(from: &r) }
        try r.expectEnd()
        var source = ForwardSource(id: id, from: from, via: via, origin: origin, hops: hops, offer: offer, content: content, hashKey: key,
                                   problem: problem.isEmpty ? nil : problem, label: label)
        source.downgrade = downgrade
        return source
    }

    /// The header a next forward carries: these records and `hop`, and the downgrade.
    public func header(adding hop: ForwardHop) -> ForwardHeader {
        ForwardHeader(origin: origin, hops: hops + [hop], offer: offer, downgrade: downgrade)
    }

    /// The label a next forward carries: the downgrade's when there is one (with the readable-until
    /// time it came with), else the one it came with.
    public var forwardLabel: EnvelopeLabel? {
        guard let downgrade else { return label }
        return EnvelopeLabel(rank: downgrade.to, readableUntil: label?.readableUntil ?? 0)
    }

    /// Takes a downgrade of this message: later forwards carry it and its label.
    public mutating func apply(_ record: DowngradeRecord) {
        downgrade = record
        label = EnvelopeLabel(rank: record.to, readableUntil: label?.readableUntil ?? 0)
    }

    /// The link a next hop names as its parent.
    public var parentLink: [UInt8] { hops.last?.link ?? origin.link }
}

/// A forward as its recipient sees it.
public struct ReceivedForward: Sendable, Equatable {
    public var header: ForwardHeader
    public var check: ForwardCheck
    public var note: String
    /// The recipients of the last hop, as the forwarder named them.
    public var recipients: [String]

    /// "forwarded from bob@traffic — originally by li@hq at 2026-…Z, 3 hops", and what is wrong when it does not verify.
    public var summary: String {
        let hops = header.hops.count
        var line = "forwarded from \(header.last?.forwarder ?? "?") — originally by \(header.origin.sender) at \(Clock.rfc3339(ms: header.origin.sentAt)), \(hops) hop\(hops == 1 ? "" : "s")"
        switch check.status {
        case .verified: break
        case .forged: line += " — FORGED OR BROKEN CHAIN: \(check.problems.first ?? "")"
        case .unverifiable: line += " — NOT VERIFIED: \(check.problems.first ?? "")"
        }
        return line
    }
}

extension Client {
    /// The content sealed for an original message: with its signed provenance block (flag bit 2)
    /// for a forwardable kind when `signsOrigins`, as it is otherwise.
    /// The origin is version 2 and names `label` (section 7.9.1); `keepsOrigin` is given the message as its sender holds it.
    func withOrigin(kind: EnvelopeKind, id: MessageID, to: Address, sentAt: UInt64, label: EnvelopeLabel, content: [UInt8])
        -> (content: [UInt8], flags: UInt16) {
        guard signsOrigins, Forward.contentKind(of: kind) != nil else { return (content, 0) }
        let provenance = Provenance.make(id: id, sender: profile.address.description, to: to.description, sentAt: sentAt, kind: kind,
                                         content: content, policy: forwardPolicy, key: profile.sign, label: label.rank)
        keepsOrigin?(ForwardSource(id: id, from: profile.address.description, via: to.description, origin: provenance.origin, hops: [],
                                   offer: nil, content: content, hashKey: provenance.hashKey, problem: nil, label: label))
        return (provenance.prefix(content), Forward.originFlag)
    }

    /// The `sign_key` of a person's checked directory entry, or nil when it cannot be had.
    func signKey(of address: String) -> [UInt8]? {
        guard let a = Address(address) else { return nil }
        if a == profile.address { return profile.sign.publicKey }
        return try? lookup(a).signKey
    }

    /// Checks the provenance block of an original message against its envelope (section 7.9.2).
    func checkedOrigin(_ provenance: Provenance, content: [UInt8], envelope: Envelope, kind: EnvelopeKind) -> ForwardSource {
        let origin = provenance.origin
        var problem: String?
        if origin.id != envelope.id || origin.sender != envelope.from || origin.to != envelope.to || origin.sentAt != envelope.sentAt
            || origin.contentKind != Forward.contentKind(of: kind)?.rawValue {
            problem = "its origin record does not describe this message"
        } else if let label = origin.label, label != envelope.label?.rank {
            problem = "its origin names label \(labelDisplay(label)), but it came as \(envelope.label.map { labelDisplay($0.rank) } ?? "unlabelled")"
        } else if !Sodium.constantTimeEqual(Forward.contentHash(kind: origin.contentKind, content: content, hashKey: provenance.hashKey),
                                            origin.contentHash) {
            problem = "its content does not match its origin's hash"
        } else if let key = signKey(of: origin.sender) {
            if !origin.verify(signKey: key) { problem = "its origin is not signed by \(origin.sender)" }
        } else {
            problem = "the key of \(origin.sender) cannot be had to check its origin"
        }
        let offer = kind == .file ? (try? FileOffer.split(envelope.body))?.offer : nil
        return ForwardSource(id: envelope.id, from: envelope.from, via: envelope.to, origin: origin, hops: [], offer: offer, content: content,
                             hashKey: provenance.hashKey, problem: problem, label: envelope.label)
    }

    /// Checks a received forward's chain against the directory (section 7.9.6).
    func receivedForward(_ header: ForwardHeader, content: ForwardContent, envelope: Envelope) -> ReceivedForward {
        var check = header.check(envelopeFrom: envelope.from, envelopeTo: envelope.to, content: content) { [unowned self] in self.signKey(of: $0) }
        // What the origin itself set can be checked here (the forwarder's node applied its own settings too).
        if let broken = header.policyRefusal(to: envelope.to, limits: .standard, groupMembers: nil, knowsUnit: { _ in true }, explicitOnly: true) {
            check.problems.insert("policy: \(broken.reason)", at: 0)
            check.status = .forged
        }
        return ReceivedForward(header: header, check: check, note: content.note, recipients: content.recipients)
    }

    /// Why this client will not forward `source` to `recipients` under `limits`, or nil (section 7.9.5).
    /// - Parameter groups: the members of the recipients that are groups (as `GroupBook` has them).
    public func forwardRefusal(_ source: ForwardSource, to recipients: [Address], groups: [String: [String]], note: String,
                               limits: ForwardLimits = .standard) -> String? {
        if let problem = source.problem { return "\(source.id.hex) cannot be forwarded: \(problem)" }
        if source.hops.isEmpty, source.from == profile.address.description, source.via != source.from {
            // Kept when sent, for a downgrade: its recipient forwards it, not its sender.
            return "\(source.id.hex) is a message you sent to \(source.via): send it again as a new message instead"
        }
        if source.origin.contentKind == EnvelopeKind.file.rawValue,
           let manifest = try? FileManifest.decode(source.content), manifest.flags & Burn.manifestFlag != 0 {
            return "view-once files cannot be forwarded"
        }
        guard !recipients.isEmpty else { return "name at least one recipient" }
        guard note.utf8.count <= Forward.maxNoteBytes else { return "the note is \(note.utf8.count) bytes; the limit is \(Forward.maxNoteBytes)" }
        let unique = Array(Set(recipients.map(\.description)))
        let hop = ForwardHop(forwarder: profile.address.description, via: source.via, recipients: UInt16(min(unique.count, Int(UInt16.max))),
                             recipientSet: [], at: 0, parent: source.parentLink)
        let header = source.header(adding: hop)
        if let lowered = loweredLabel(header, clear: source.forwardLabel) { return lowered }
        for to in unique.sorted() {
            if let refusal = header.policyRefusal(to: to, limits: limits, groupMembers: groups[to], knowsUnit: { _ in true }) {
                return refusal.reason
            }
        }
        return nil
    }

    /// Builds the forward of `source` to each of `recipients` without checking any policy (a
    /// caller that checks first is `forward`): one envelope per recipient, all with the same
    /// hop record signed by this person, its content sealed for that recipient (or group).
    public func prepareForward(_ source: ForwardSource, to recipients: [Address], groups: [String: [String]], note: String) throws -> [Envelope] {
        var seen = Set<String>()
        let unique = recipients.filter { seen.insert($0.description).inserted }
        guard unique.count <= Forward.maxWireRecipients else { throw ClientError.invalid("at most \(Forward.maxWireRecipients) recipients") }
        var hop = ForwardHop(forwarder: profile.address.description, via: source.via, recipients: UInt16(unique.count),
                             recipientSet: Forward.recipientSetHash(unique.map(\.description), hashKey: source.hashKey),
                             at: Clock.nowMs(), parent: source.parentLink)
        hop.sign(with: profile.sign)
        let header = source.header(adding: hop)
        var content = ForwardContent(hashKey: source.hashKey, content: source.content, note: note, recipients: unique.map(\.description)).encode()
        defer { wipe(&content) }
        let kind = EnvelopeKind.forward.rawValue
        // The label travels with the forward: every new recipient (each member of a group) is checked for it.
        let labels = try unique.map { try outgoingLabel(to: $0, members: groups[$0.description], carrying: source.forwardLabel) }
        return try zip(unique, labels).map { to, label in
            let id = MessageID(bytes: Sodium.randomBytes(16))!
            let sentAt = Clock.nowMs()
            let sealed = try seal(kind: kind, id: id, to: to, sentAt: sentAt, label: label, content: content, members: groups[to.description])
            return Envelope(id: id, from: "", to: to.description, kind: kind, sentAt: sentAt, label: label, body: header.body(sealed: sealed))
        }
    }

    /// Forwards `source` to `recipients` (people and groups, a group counting as one) with an
    /// optional note, after checking its origin's policy under `limits`; returns once the node
    /// stored every envelope.
    /// - Throws: `ClientError.invalid` with the reason when this client refuses; `.refused` with
    ///   code 422 when the node does.
    public func forward(_ source: ForwardSource, to recipients: [Address], groups: [String: [String]], note: String = "",
                        limits: ForwardLimits = .standard) throws -> [Envelope] {
        if let refusal = forwardRefusal(source, to: recipients, groups: groups, note: note, limits: limits) {
            throw ClientError.invalid(refusal)
        }
        let envelopes = try prepareForward(source, to: recipients, groups: groups, note: note)
        for e in envelopes { try store(e) }
        return envelopes
    }
}

extension Client {
    /// Checks a kept message's origin and chain again against the directory (for `sealpost show`):
    /// every signature, every link, and the content against the origin's keyed hash.
    public func checkChain(_ source: ForwardSource) -> ForwardCheck {
        let header = ForwardHeader(origin: source.origin, hops: source.hops, offer: source.offer)
        var check = header.check(envelopeFrom: source.hops.last?.forwarder ?? source.from, envelopeTo: source.via, content: nil) { [unowned self] in
            self.signKey(of: $0)
        }
        if !Sodium.constantTimeEqual(Forward.contentHash(kind: source.origin.contentKind, content: source.content, hashKey: source.hashKey),
                                     source.origin.contentHash) {
            check.problems.insert("content: it does not match the origin's hash (altered on the way)", at: 0)
            check.status = .forged
        }
        if let problem = source.problem, !check.problems.contains(where: { problem.contains($0) || $0.contains(problem) }) {
            check.problems.append(problem)
            if check.status == .verified { check.status = .forged }
        }
        return check
    }
}

extension Client {
    /// Why a forward with `header`, labelled `clear`, lowers the label of what it forwards, or nil
    /// (section 7.11.11): the downgrade it carries is checked with the key our node holds for its node.
    func loweredLabel(_ header: ForwardHeader, clear: EnvelopeLabel?) -> String? {
        let rank = clear?.rank ?? cachedLabelInfo?.defaultRank ?? Self.provisionalLabels.defaultRank
        let keys = header.downgrade == nil ? [:] : ((try? nodeKeys()) ?? [:])
        return header.loweredLabel(clearRank: rank, nodeKey: { keys[$0] }, display: { self.labelDisplay($0) })
    }

    /// Asks this person's node to downgrade `source` (a message of this unit) to `label`, for
    /// `reason` (section 7.11.11); returns the source with the countersigned record, which later
    /// forwards carry.
    /// - Throws: `ClientError.invalid` for what this client can tell already; `.refused` with code
    ///   453 and the node's reason when the node refuses.
    public func downgrade(_ source: ForwardSource, to label: String, reason: String) throws -> ForwardSource {
        let rank = try labelRank(label)
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ClientError.invalid("a downgrade needs a --reason") }
        guard trimmed.utf8.count <= 255 else { throw ClientError.invalid("the reason is \(trimmed.utf8.count) bytes; the limit is 255") }
        guard let originLabel = source.origin.label else {
            throw ClientError.invalid("\(source.id.hex) has a version 1 origin, which names no label: it cannot be downgraded")
        }
        let current = source.downgrade?.to ?? originLabel
        guard rank < current else {
            throw ClientError.invalid("\(source.id.hex) is \(labelDisplay(current)): \(labelDisplay(rank)) is not lower")
        }
        guard source.origin.unit == profile.address.node else {
            throw ClientError.invalid("\(source.id.hex) is of unit \(source.origin.unit): only a person of that unit can downgrade it")
        }
        let request = DowngradeRequest.signed(origin: source.origin, previous: source.downgrade, to: rank, reason: trimmed,
                                              by: profile.address.description, at: Clock.nowMs(), key: profile.sign)
        try connection.send(.downgrade(request))
        let link = source.origin.link
        let reply = try awaitReply(timeoutMs: timeoutMs) { command in
            switch command {
            case .downgraded(let record): return record.originLink == link
            case .error(_, let ref, _): return ref == source.origin.id
            default: return false
            }
        }
        switch reply {
        case .downgraded(let record)?:
            guard record.problem(for: source.origin, nodeKey: profile.nodeSignKey) == nil, record.to == rank,
                  record.by == profile.address.description else {
                throw ClientError.protocolError("the node's downgrade record does not verify")
            }
            var updated = source
            updated.apply(record)
            return updated
        case .error(let code, _, let reason)?:
            throw ClientError.refused(code: code, reason: reason)
        default:
            throw unreachable
        }
    }
}
