import Sodium

/// Forwarding with signed provenance (protocol/SPEC.md 7.9).
///
/// Every forwardable message (text, card, file offer) carries, sealed, its **origin
/// record** signed by its sender's user key and a random **hash key**; a `forward`
/// envelope (kind 15) carries the origin record and one **hop record** per forward,
/// each signed by its forwarder, in the clear, so that nodes judge the policy from the
/// signed header alone. The content hash in the origin is keyed with the hash key,
/// which only readers have, so a node cannot confirm a guess of the content.
public enum Forward {
    /// Envelope flag bit 2: the sealed content starts with a provenance block (section 7.9.2).
    public static let originFlag: UInt16 = 0x0004
    public static let version: UInt8 = 1
    /// An origin record with the original envelope's label (section 7.9.1), and a forward body
    /// that carries a downgrade (section 7.9.3).
    public static let version2: UInt8 = 2
    public static let hashKeyBytes = 32
    public static let hashBytes = 32
    /// Most hops a forward may carry on the wire (a node's `forwarding.max_hops` is at most this).
    public static let maxWireHops = 64
    /// Longest note a forwarder may add, in bytes of UTF-8.
    public static let maxNoteBytes = 4096
    /// Most recipients of one forward on the wire (a node's `forwarding.max_recipients` is at most this).
    public static let maxWireRecipients = 500

    static let originContext = Array("sealpost-fwd-origin-v1".utf8)
    static let hopContext = Array("sealpost-fwd-hop-v1".utf8)
    static let linkContext = Array("sealpost-fwd-link-v1".utf8)
    static let contentContext = Array("sealpost-fwd-content-v1".utf8)
    static let recipientsContext = Array("sealpost-fwd-rcpt-v1".utf8)

    /// The kinds whose content can be forwarded, as the origin names them (a group text is `text`).
    public static func contentKind(of kind: EnvelopeKind) -> EnvelopeKind? {
        switch kind {
        case .text, .groupMessage: return .text
        case .card: return .card
        case .file: return .file
        default: return nil
        }
    }

    /// The keyed hash of a content: `BLAKE2b-256(key = hash_key, "sealpost-fwd-content-v1" || kind:u8 || content)`.
    public static func contentHash(kind: UInt8, content: [UInt8], hashKey: [UInt8]) -> [UInt8] {
        Sodium.genericHash(contentContext + [kind] + content, outputLength: hashBytes, key: hashKey)
    }

    /// The keyed hash of a hop's recipients: `BLAKE2b-256(key = hash_key, "sealpost-fwd-rcpt-v1" ||
    /// count:u16 || *recipient:string)`, the addresses sorted (bytewise) without repeats.
    public static func recipientSetHash(_ recipients: [String], hashKey: [UInt8]) -> [UInt8] {
        let sorted = Array(Set(recipients)).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var w = WireWriter()
        w.octets(recipientsContext)
        w.u16(UInt16(sorted.count))
        for r in sorted { w.string(r) }
        return Sodium.genericHash(w.bytes, outputLength: hashBytes, key: hashKey)
    }

    /// What a record links to: `BLAKE2b-256("sealpost-fwd-link-v1" || record, signature included)`.
    public static func link(_ record: [UInt8]) -> [UInt8] {
        Sodium.genericHash(linkContext + record, outputLength: hashBytes)
    }
}

/// Where the originator lets a message go (`scope` of the origin record).
public enum ForwardScope: UInt8, Sendable, CaseIterable {
    /// Not set: the forwarder's node applies its `forwarding.default_scope`.
    case unset = 0
    /// `--no-forward`: never forwarded.
    case none = 1
    /// Only to people (and groups) of the origin's unit.
    case unit = 2
    /// To units of the federation (units the judging node has in its directory).
    case federation = 3
    /// No unit restriction.
    case anywhere = 4

    public var name: String {
        switch self {
        case .unset: return "default"
        case .none: return "none"
        case .unit: return "unit"
        case .federation: return "federation"
        case .anywhere: return "anywhere"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    /// Whether `self` lets through at least everything `other` does.
    public func isLooser(than other: ForwardScope) -> Bool { rawValue > other.rawValue }
}

/// The originator's forward policy for one message. Zero means "not set": the judging
/// node's setting applies (`forwarding:` in node.yaml), and a set value can only be
/// stricter than the node's `max_hops` and `max_recipients` (section 7.9.5).
public struct ForwardPolicy: Sendable, Equatable {
    public var scope: ForwardScope
    public var maxHops: UInt8
    public var maxRecipients: UInt16

    public init(scope: ForwardScope = .unset, maxHops: UInt8 = 0, maxRecipients: UInt16 = 0) {
        self.scope = scope
        self.maxHops = maxHops
        self.maxRecipients = maxRecipients
    }
}

/// The limits a judge applies: the origin's policy resolved against a node's settings.
public struct ForwardLimits: Sendable, Equatable {
    public var defaultScope: ForwardScope
    public var maxHops: Int
    public var maxRecipients: Int

    /// The protocol's defaults, which the reference client applies when it does not know its node's.
    public static let standard = ForwardLimits(defaultScope: .federation, maxHops: 10, maxRecipients: 5)

    public init(defaultScope: ForwardScope, maxHops: Int, maxRecipients: Int) {
        self.defaultScope = defaultScope
        self.maxHops = maxHops
        self.maxRecipients = maxRecipients
    }

    /// The scope, hops and fan-out that hold for a message of `policy`.
    public func effective(_ policy: ForwardPolicy) -> (scope: ForwardScope, maxHops: Int, maxRecipients: Int) {
        let scope = policy.scope == .unset ? defaultScope : policy.scope
        let hops = policy.maxHops == 0 ? maxHops : min(Int(policy.maxHops), maxHops)
        let recipients = policy.maxRecipients == 0 ? maxRecipients : min(Int(policy.maxRecipients), maxRecipients)
        return (scope, hops, recipients)
    }
}

/// An origin or hop record: its fields, then the signature of its signer over a context string and them.
public protocol SignedForwardRecord: Sendable, Equatable {
    /// The context string the signature covers first.
    static var context: [UInt8] { get }
    var signature: [UInt8] { get set }
    /// The fields before the signature.
    func fields(into w: inout WireWriter)
}

extension SignedForwardRecord {
    /// `context || fields`: what the signer signs.
    public var signedBytes: [UInt8] {
        var w = WireWriter(capacity: 200)
        w.octets(Self.context)
        fields(into: &w)
        return w.bytes
    }

    public mutating func sign(with key: SignKeyPair) { signature = key.sign(signedBytes) }

    public func verify(signKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: signKey)
    }

    /// The record as encoded: its fields, then the signature.
    public func encode(into w: inout WireWriter) {
        fields(into: &w)
        w.octets(signature)
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 200)
        encode(into: &w)
        return w.bytes
    }

    /// What the next record links to (`Forward.link`).
    public var link: [UInt8] { Forward.link(encode()) }
}

/// The originator's signed statement of a message (section 7.9.1):
/// `version:u8 id:octets[16] sender:string to:string sent_at:u64 content_kind:u8 scope:u8
///  max_hops:u8 max_recipients:u16 content_hash:octets[32] [label:u8] signature:octets[64]`,
/// signed (Ed25519, the sender's `sign_key`) over `"sealpost-fwd-origin-v1" || the fields before the signature`.
/// Version 2 carries `label` (the original envelope's label rank); version 1 has none, and a
/// forward of it cannot be checked for a lowered label.
public struct ForwardOrigin: SignedForwardRecord {
    public var id: MessageID
    public var sender: String
    /// The original recipient: a person or a group.
    public var to: String
    public var sentAt: UInt64
    public var contentKind: UInt8
    public var policy: ForwardPolicy
    public var contentHash: [UInt8]
    /// The original envelope's label rank (version 2); nil: a version 1 record, label unknown.
    public var label: UInt8?
    public var signature: [UInt8]

    public init(id: MessageID, sender: String, to: String, sentAt: UInt64, contentKind: UInt8, policy: ForwardPolicy,
                contentHash: [UInt8], label: UInt8? = nil, signature: [UInt8] = []) {
        self.label = label
        self.id = id
        self.sender = sender
        self.to = to
        self.sentAt = sentAt
        self.contentKind = contentKind
        self.policy = policy
        self.contentHash = contentHash
        self.signature = signature
    }

    /// The origin's unit: the node of its sender.
    public var unit: String { Address(sender)?.node ?? "" }

    public static let context = Forward.originContext

    public func fields(into w: inout WireWriter) {
        w.u8(label == nil ? Forward.version : Forward.version2)
        w.octets(id.bytes)
        w.string(sender)
        w.string(to)
        w.u64(sentAt)
        w.u8(contentKind)
        w.u8(policy.scope.rawValue)
        w.u8(policy.maxHops)
        w.u16(policy.maxRecipients)
        w.octets(contentHash)
        if let label { w.u8(label) }
    }

    public static func decode(from r: inout WireReader) throws -> ForwardOrigin {
        let version = try r.u8("origin.version")
        guard version == Forward.version || version == Forward.version2 else {
            throw WireError.invalid(field: "origin.version", reason: "unsupported origin record")
        }
        let id = MessageID(bytes: try r.octets(16, "origin.id"))!
        let sender = try r.string("origin.sender")
        let to = try r.string("origin.to")
        let sentAt = try r.u64("origin.sent_at")
        let kind = try r.u8("origin.content_kind")
        guard let scope = ForwardScope(rawValue: try r.u8("origin.scope")) else {
            throw WireError.invalid(field: "origin.scope", reason: "unknown scope")
        }
        let maxHops = try r.u8("origin.max_hops")
        let maxRecipients = try r.u16("origin.max_recipients")
        let hash = try r.octets(Forward.hashBytes, "origin.content_hash")
        let label = version == Forward.version2 ? try r.u8("origin.label") : nil
        if let label, Int(label) >= LabelSet.maxLabels {
            throw WireError.invalid(field: "origin.label", reason: "\(label) is not a label rank (below \(LabelSet.maxLabels))")
        }
        let signature = try r.octets(SignKeyPair.signatureBytes, "origin.signature")
        guard Address.isValid(sender) else { throw WireError.invalid(field: "origin.sender", reason: "not an address") }
        guard Address.isValid(to) else { throw WireError.invalid(field: "origin.to", reason: "not an address") }
        guard [EnvelopeKind.text, .card, .file].map(\.rawValue).contains(kind) else {
            throw WireError.invalid(field: "origin.content_kind", reason: "\(kind) is not a forwardable kind (1, 2 or 14)")
        }
        return ForwardOrigin(id: id, sender: sender, to: to, sentAt: sentAt, contentKind: kind,
                             policy: ForwardPolicy(scope: scope, maxHops: maxHops, maxRecipients: maxRecipients),
                             contentHash: hash, label: label, signature: signature)
    }

}

/// One forward (section 7.9.1):
/// `forwarder:string via:string recipients:u16 recipient_set:octets[32] at:u64 parent:octets[32] signature:octets[64]`,
/// signed by the forwarder's `sign_key` over `"sealpost-fwd-hop-v1" || the fields before the signature`.
public struct ForwardHop: SignedForwardRecord {
    public var forwarder: String
    /// Where the forwarder received what it forwards: its own address, or the group it came through.
    public var via: String
    /// How many recipients this forward has (a group counts as one).
    public var recipients: UInt16
    /// `Forward.recipientSetHash` of them.
    public var recipientSet: [UInt8]
    /// Milliseconds since the epoch, by the forwarder's clock.
    public var at: UInt64
    /// The link (`Forward.link`) of the record before: the origin for the first hop.
    public var parent: [UInt8]
    public var signature: [UInt8]

    public init(forwarder: String, via: String, recipients: UInt16, recipientSet: [UInt8], at: UInt64, parent: [UInt8],
                signature: [UInt8] = []) {
        self.forwarder = forwarder
        self.via = via
        self.recipients = recipients
        self.recipientSet = recipientSet
        self.at = at
        self.parent = parent
        self.signature = signature
    }

    public static let context = Forward.hopContext

    public func fields(into w: inout WireWriter) {
        w.string(forwarder)
        w.string(via)
        w.u16(recipients)
        w.octets(recipientSet)
        w.u64(at)
        w.octets(parent)
    }

    public static func decode(from r: inout WireReader) throws -> ForwardHop {
        let forwarder = try r.string("hop.forwarder")
        let via = try r.string("hop.via")
        let recipients = try r.u16("hop.recipients")
        let set = try r.octets(Forward.hashBytes, "hop.recipient_set")
        let at = try r.u64("hop.at")
        let parent = try r.octets(Forward.hashBytes, "hop.parent")
        let signature = try r.octets(SignKeyPair.signatureBytes, "hop.signature")
        guard Address.isValid(forwarder) else { throw WireError.invalid(field: "hop.forwarder", reason: "not an address") }
        guard Address.isValid(via) else { throw WireError.invalid(field: "hop.via", reason: "not an address") }
        guard recipients >= 1, Int(recipients) <= Forward.maxWireRecipients else {
            throw WireError.invalid(field: "hop.recipients", reason: "\(recipients), must be 1 to \(Forward.maxWireRecipients)")
        }
        return ForwardHop(forwarder: forwarder, via: via, recipients: recipients, recipientSet: set, at: at, parent: parent,
                          signature: signature)
    }

}

/// The clear part of a `forward` envelope (section 7.9.3):
/// `version:u8=1 origin hops:u8 *hop [offer]` then `sealed`, or, carrying a downgrade,
/// `version:u8=2 origin hops:u8 *hop has_downgrade:u8 [downgrade] [offer]` then `sealed`,
/// where `offer` is a file offer header (`FileOffer`, 29 bytes) when the origin's
/// `content_kind` is 14 (file).
public struct ForwardHeader: Sendable, Equatable {
    public var origin: ForwardOrigin
    public var hops: [ForwardHop]
    public var offer: FileOffer?
    /// The origin unit's signed downgrade of the message (section 7.11.11), if it was downgraded.
    public var downgrade: DowngradeRecord?

    public init(origin: ForwardOrigin, hops: [ForwardHop], offer: FileOffer? = nil, downgrade: DowngradeRecord? = nil) {
        self.origin = origin
        self.hops = hops
        self.offer = offer
        self.downgrade = downgrade
    }

    /// The last hop: the forward this envelope is.
    public var last: ForwardHop? { hops.last }

    /// The envelope body: this header, then `sealed`.
    public func body(sealed: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: 600 + hops.count * 250 + sealed.count)
        // Version 1 when nothing is downgraded, so nodes of earlier releases still read it.
        w.u8(downgrade == nil ? Forward.version : Forward.version2)
        origin.encode(into: &w)
        w.u8(UInt8(hops.count))
        for h in hops { h.encode(into: &w) }
        if let downgrade {
            w.u8(1)
            downgrade.encode(into: &w)
        }
        if let offer {
            // The file offer's own clear header, without a sealed part.
            w.octets(offer.body(sealed: []))
        }
        w.octets(sealed)
        return w.bytes
    }

    /// Splits a `forward` body into its clear header and its sealed part; checks every field's range.
    public static func split(_ body: [UInt8]) throws -> (header: ForwardHeader, sealed: [UInt8]) {
        var r = WireReader(body)
        let version = try r.u8("forward.version")
        guard version == Forward.version || version == Forward.version2 else {
            throw WireError.invalid(field: "forward.version", reason: "unsupported forward body")
        }
        let origin = try ForwardOrigin.decode(from: &r)
        let count = Int(try r.u8("forward.hops"))
        guard count >= 1, count <= Forward.maxWireHops else {
            throw WireError.invalid(field: "forward.hops", reason: "\(count), must be 1 to \(Forward.maxWireHops)")
        }
        var hops: [ForwardHop] = []
        for _ in 0..<count { hops.append(try ForwardHop.decode(from: &r)) }
        var downgrade: DowngradeRecord?
        if version == Forward.version2 {
            switch try r.u8("forward.has_downgrade") {
            case 0: break
            case 1: downgrade = try DowngradeRecord.decode(from: &r)
            default: throw WireError.invalid(field: "forward.has_downgrade", reason: "must be 0 or 1")
            }
        }
        var offer: FileOffer?
        if origin.contentKind == EnvelopeKind.file.rawValue {
            let start = r.offset
            _ = try r.octets(FileOffer.headerBytes, "forward.offer")
            offer = try FileOffer.split(Array(body[start..<(start + FileOffer.headerBytes)])).offer
        }
        return (ForwardHeader(origin: origin, hops: hops, offer: offer, downgrade: downgrade), Array(body[r.offset...]))
    }
}

/// The sealed content of a `forward` (inner kind 15, section 7.9.3):
/// `version:u8=1 hash_key:octets[32] content:longstr note:longstr count:u16 *recipient:string`
/// — the forwarded content as its origin sealed it, the forwarder's note (UTF-8, may be empty)
/// and the recipients of this forward, for `recipient_set`.
public struct ForwardContent: Sendable, Equatable {
    public var hashKey: [UInt8]
    public var content: [UInt8]
    public var note: String
    public var recipients: [String]

    public init(hashKey: [UInt8], content: [UInt8], note: String, recipients: [String]) {
        self.hashKey = hashKey
        self.content = content
        self.note = note
        self.recipients = recipients
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: content.count + note.utf8.count + 64 + recipients.count * 40)
        w.u8(Forward.version)
        w.octets(hashKey)
        w.longstr(content)
        w.longstr(Array(note.utf8))
        w.u16(UInt16(recipients.count))
        for r in recipients { w.string(r) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> ForwardContent {
        var r = WireReader(bytes)
        guard try r.u8("version") == Forward.version else { throw WireError.invalid(field: "version", reason: "unsupported forward content") }
        let key = try r.octets(Forward.hashKeyBytes, "hash_key")
        let content = try r.longstr("content", max: Envelope.maxBodyBytes)
        let note = try r.longstr("note", max: Forward.maxNoteBytes)
        guard let noteText = String(validating: note, as: UTF8.self) else { throw WireError.invalid(field: "note", reason: "not UTF-8") }
        let n = Int(try r.u16("count"))
        guard n <= Forward.maxWireRecipients else { throw WireError.invalid(field: "count", reason: "over \(Forward.maxWireRecipients)") }
        var recipients: [String] = []
        for _ in 0..<n { recipients.append(try r.string("recipient")) }
        try r.expectEnd()
        return ForwardContent(hashKey: key, content: content, note: noteText, recipients: recipients)
    }
}

/// The provenance block at the start of an original message's sealed content when envelope
/// flag bit 2 is set (section 7.9.2): `version:u8=1 hash_key:octets[32] origin`, then the kind's content.
public struct Provenance: Sendable, Equatable {
    public var hashKey: [UInt8]
    public var origin: ForwardOrigin

    public init(hashKey: [UInt8], origin: ForwardOrigin) {
        self.hashKey = hashKey
        self.origin = origin
    }

    /// A signed origin for content about to be sealed by `sender` (a fresh hash key).
    /// - Parameter label: the envelope's label rank (a version 2 origin); nil makes a version 1 one.
    public static func make(id: MessageID, sender: String, to: String, sentAt: UInt64, kind: EnvelopeKind, content: [UInt8],
                            policy: ForwardPolicy, key: SignKeyPair, label: UInt8? = nil,
                            hashKey: [UInt8] = Sodium.randomBytes(Forward.hashKeyBytes)) -> Provenance {
        let contentKind = (Forward.contentKind(of: kind) ?? kind).rawValue
        var origin = ForwardOrigin(id: id, sender: sender, to: to, sentAt: sentAt, contentKind: contentKind, policy: policy,
                                   contentHash: Forward.contentHash(kind: contentKind, content: content, hashKey: hashKey),
                                   label: label)
        origin.sign(with: key)
        return Provenance(hashKey: hashKey, origin: origin)
    }

    /// The block followed by `content`.
    public func prefix(_ content: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: 300 + content.count)
        w.u8(Forward.version)
        w.octets(hashKey)
        origin.encode(into: &w)
        w.octets(content)
        return w.bytes
    }

    /// The block and the content after it.
    public static func split(_ sealedContent: [UInt8]) throws -> (provenance: Provenance, content: [UInt8]) {
        var r = WireReader(sealedContent)
        guard try r.u8("provenance.version") == Forward.version else {
            throw WireError.invalid(field: "provenance.version", reason: "unsupported provenance block")
        }
        let key = try r.octets(Forward.hashKeyBytes, "provenance.hash_key")
        let origin = try ForwardOrigin.decode(from: &r)
        return (Provenance(hashKey: key, origin: origin), Array(sealedContent[r.offset...]))
    }
}

/// What a check of a forward's chain found (section 7.9.6): every signature against the
/// signers' directory keys, the parent links, the keyed content hash and the recipient set.
public struct ForwardCheck: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Every record is signed by whom it names, links to the one before, and the content is the origin's.
        case verified
        /// Something does not verify: a signature, a link, the content hash, the recipients.
        case forged
        /// Nothing is wrong, but a signer's key could not be had (not in the directory).
        case unverifiable
    }

    /// One record: 0 is the origin, 1… the hops.
    public struct Record: Sendable, Equatable {
        public var signer: String
        public var at: UInt64
        /// nil when the signer's key could not be had.
        public var signatureValid: Bool?
    }

    public var status: Status
    /// What is wrong, one line each, naming the record ("hop 2: …").
    public var problems: [String]
    public var records: [Record]

    public var isVerified: Bool { status == .verified }
}

extension ForwardHeader {
    /// Checks the chain. Without `content` (a node), the content hash and recipient set are not checked.
    /// - Parameters:
    ///   - envelopeFrom: the authenticated sender of the envelope (the last hop's forwarder).
    ///   - envelopeTo: the envelope's recipient (a person or a group), which the recipient set must hold.
    ///   - content: the opened sealed content, for a recipient.
    ///   - signKey: the `sign_key` of an address's checked directory entry, or nil when unknown.
    public func check(envelopeFrom: String, envelopeTo: String, content: ForwardContent?,
                      signKey: (String) -> [UInt8]?) -> ForwardCheck {
        var problems: [String] = []
        var unknown: [String] = []
        var records: [ForwardCheck.Record] = []

        func signature(_ name: String, signer: String, valid: ([UInt8]) -> Bool) -> Bool? {
            guard let key = signKey(signer) else {
                unknown.append("\(name): the key of \(signer) is not in the directory, so its signature cannot be checked")
                return nil
            }
            let ok = valid(key)
            if !ok { problems.append("\(name): the signature is not \(signer)'s (forged or altered)") }
            return ok
        }

        let originOK = signature("origin", signer: origin.sender) { origin.verify(signKey: $0) }
        records.append(.init(signer: origin.sender, at: origin.sentAt, signatureValid: originOK))
        var parent = origin.link
        var previousTo = origin.to
        for (i, hop) in hops.enumerated() {
            let name = "hop \(i + 1)"
            let ok = signature(name, signer: hop.forwarder) { hop.verify(signKey: $0) }
            records.append(.init(signer: hop.forwarder, at: hop.at, signatureValid: ok))
            if hop.parent != parent {
                problems.append("\(name): it does not link to \(i == 0 ? "the origin" : "hop \(i)") (a record was removed, added or altered)")
            }
            if i == 0 && hop.via != previousTo {
                problems.append("\(name): \(hop.forwarder) says it received it at \(hop.via), but the origin was sent to \(previousTo)")
            } else if hop.via != hop.forwarder, signKey(hop.via) != nil {
                // A person's address other than the forwarder's own: it did not receive it there (it is not a group).
                problems.append("\(name): \(hop.forwarder) says it received it at \(hop.via), another person's address")
            }
            parent = hop.link
            previousTo = hop.via
        }
        if let last = hops.last, last.forwarder != envelopeFrom {
            problems.append("hop \(hops.count): it is by \(last.forwarder), but the envelope comes from \(envelopeFrom)")
        }
        if let content, let last = hops.last {
            if !Sodium.constantTimeEqual(Forward.contentHash(kind: origin.contentKind, content: content.content, hashKey: content.hashKey),
                                         origin.contentHash) {
                problems.append("content: it does not match the origin's hash (altered on the way)")
            }
            let set = Forward.recipientSetHash(content.recipients, hashKey: content.hashKey)
            if !Sodium.constantTimeEqual(set, last.recipientSet) || Int(last.recipients) != Set(content.recipients).count {
                problems.append("hop \(hops.count): the recipients do not match its signed recipient set")
            } else if !content.recipients.contains(envelopeTo) {
                problems.append("hop \(hops.count): \(envelopeTo) is not among its recipients")
            }
        }
        let status: ForwardCheck.Status = !problems.isEmpty ? .forged : unknown.isEmpty ? .verified : .unverifiable
        return ForwardCheck(status: status, problems: problems + unknown, records: records)
    }
}

extension ForwardHeader {
    /// Why a forward with these records, to `to`, breaks its origin's policy under `limits`, or nil
    /// (section 7.9.5). The forwarder's client and node both ask this; a recipient asks it with
    /// the origin's own values only (`explicitOnly`), as it does not know the forwarder's node's settings.
    /// - Parameters:
    ///   - groupMembers: the members of `to` when it is a group whose members the caller knows.
    ///   - knowsUnit: whether a unit is in the caller's federation.
    public func policyRefusal(to: String, limits: ForwardLimits, groupMembers: [String]?, knowsUnit: (String) -> Bool,
                              explicitOnly: Bool = false) -> ForwardRefusal? {
        guard let last else { return ForwardRefusal("chain", "a forward needs at least one hop record") }
        let rule = limits.effective(origin.policy)
        let message = "\(origin.sender)'s message \(origin.id.hex)"
        let scope = explicitOnly ? origin.policy.scope : rule.scope
        if scope == .none { return ForwardRefusal("no_forward", "\(message) may not be forwarded (its sender chose --no-forward)") }
        let maxHops = explicitOnly ? (origin.policy.maxHops == 0 ? Int.max : Int(origin.policy.maxHops)) : rule.maxHops
        if hops.count > maxHops {
            return ForwardRefusal("hops", "\(message) may be forwarded at most \(maxHops) time\(maxHops == 1 ? "" : "s") in a chain; this would be forward \(hops.count)")
        }
        let maxRecipients = explicitOnly ? (origin.policy.maxRecipients == 0 ? Int.max : Int(origin.policy.maxRecipients)) : rule.maxRecipients
        if Int(last.recipients) > maxRecipients {
            return ForwardRefusal("fanout", "a forward of \(message) may go to at most \(maxRecipients) recipient\(maxRecipients == 1 ? "" : "s") at once (a group counts as one); this one names \(last.recipients)")
        }
        guard let dest = Address(to) else { return ForwardRefusal("unit", "'\(to)' is not an address") }
        switch scope {
        case .unit:
            guard dest.node == origin.unit else { return ForwardRefusal("unit", "\(message) may be forwarded only within unit \(origin.unit); \(to) is at \(dest.node)") }
            let outside = (groupMembers ?? []).filter { Address($0)?.node != origin.unit }
            if !outside.isEmpty {
                return ForwardRefusal("unit", "\(message) may be forwarded only within unit \(origin.unit); group \(to) has members elsewhere: \(outside.prefix(5).joined(separator: ", "))")
            }
        case .federation:
            guard knowsUnit(dest.node) else { return ForwardRefusal("federation", "\(message) may be forwarded only within the federation; \(dest.node) is not in it") }
            if let outside = (groupMembers ?? []).first(where: { !knowsUnit(Address($0)?.node ?? "") }) {
                return ForwardRefusal("federation", "\(message) may be forwarded only within the federation; group \(to) has a member outside it: \(outside)")
            }
        case .anywhere, .unset, .none:
            break
        }
        return nil
    }
}

/// What a node countersigns in its audit log for each forward it handles (section 7.9.7):
/// `origin_id:octets[16] originator:string to:string hop_index:u8 role:u8 chain:u8 hop`,
/// signed by the node's key over `"sealpost-fwd-countersign-v1" || node:string || statement`.
/// `hop_index` counts from 1 (the hop this envelope is), `role` is 1 forwarder's node,
/// 2 relay, 3 group home, 4 recipient's node; `chain` is 1 when the chain verified at the
/// node, 0 when it did not, 2 when a signer's key was unknown there.
public struct ForwardCountersign: Sendable, Equatable {
    public enum Role: UInt8, Sendable, CaseIterable {
        case forwarder = 1, relay = 2, groupHome = 3, destination = 4

        public var name: String {
            switch self {
            case .forwarder: return "forwarder"
            case .relay: return "relay"
            case .groupHome: return "group_home"
            case .destination: return "destination"
            }
        }
    }

    public var originID: MessageID
    public var originator: String
    /// The forward envelope's recipient (a person or a group).
    public var to: String
    public var hopIndex: UInt8
    public var role: Role
    /// 1 verified, 0 did not verify, 2 a key was unknown.
    public var chain: UInt8
    public var hop: ForwardHop

    static let context = Array("sealpost-fwd-countersign-v1".utf8)

    public init(originID: MessageID, originator: String, to: String, hopIndex: UInt8, role: Role, chain: UInt8, hop: ForwardHop) {
        self.originID = originID
        self.originator = originator
        self.to = to
        self.hopIndex = hopIndex
        self.role = role
        self.chain = chain
        self.hop = hop
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 400)
        w.octets(originID.bytes); w.string(originator); w.string(to); w.u8(hopIndex); w.u8(role.rawValue); w.u8(chain)
        hop.encode(into: &w)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> ForwardCountersign {
        var r = WireReader(bytes)
        let id = MessageID(bytes: try r.octets(16, "origin_id"))!
        let originator = try r.string("originator"), to = try r.string("to")
        let index = try r.u8("hop_index")
        guard let role = Role(rawValue: try r.u8("role")) else { throw WireError.invalid(field: "role", reason: "unknown role") }
        let chain = try r.u8("chain")
        let hop = try ForwardHop.decode(from: &r)
        try r.expectEnd()
        return ForwardCountersign(originID: id, originator: originator, to: to, hopIndex: index, role: role, chain: chain, hop: hop)
    }

    /// The bytes a node named `node` signs.
    public func signedBytes(node: String) -> [UInt8] {
        var w = WireWriter(capacity: 450)
        w.octets(Self.context); w.string(node); w.octets(encode())
        return w.bytes
    }

    public func sign(node: String, with key: SignKeyPair) -> [UInt8] { key.sign(signedBytes(node: node)) }

    public func verify(node: String, signature: [UInt8], nodeKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: signature, message: signedBytes(node: node), publicKey: nodeKey)
    }
}

/// Why a forward is refused: a short name for audit records and a sentence for the person.
public struct ForwardRefusal: Sendable, Equatable, Error, CustomStringConvertible {
    /// `chain`, `no_forward`, `hops`, `fanout`, `unit`, `federation`, `burn`, `view_once`, `file`, `flags`.
    public var code: String
    public var reason: String

    public init(_ code: String, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }
}
