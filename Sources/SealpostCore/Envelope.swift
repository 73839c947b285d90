/// A 128-bit message id, chosen at random by the sending client.
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public static let size = 16

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard let b = Hex.decode(hex), b.count == Self.size else { return nil }
        bytes = b
    }

    public static let zero = MessageID(bytes: [UInt8](repeating: 0, count: size))!

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// What an envelope carries. The body is opaque to nodes; the kind is routing metadata.
public enum EnvelopeKind: UInt8, Sendable, CaseIterable {
    case text = 1
    /// A contact card (`ContactCard`), end-to-end encrypted like a text.
    case card = 2
    /// A reminder: clear due time, sealed text (`Reminder`).
    case reminder = 3
    /// Made by a node for its own user when a reminder is due; clear body.
    case reminderDue = 4
    /// The reminder's sender withdraws it; clear body (the reminder id).
    case reminderCancel = 5
    /// A recipient marks the reminder done; clear body (the reminder id).
    case reminderDone = 6
    /// A member asks a group's home node to change the group; clear body (`Group.opBody`).
    case groupOp = 7
    /// A group's home node tells members what changed; clear body (`Group.Event`).
    case groupEvent = 8
    /// A text to a group, sealed once and the key wrapped per member (`GroupSealed`).
    case groupMessage = 9
    /// Home node → a member's node: one member envelope for several local recipients.
    case groupFanout = 10
    /// Burn after reading: clear expiry and image count, sealed text and images (`Burn`).
    case burn = 11
    /// A node's signed statement that it deleted its copy of a burn message (`Burn.Receipt`); made by nodes only.
    case burnReceipt = 12
    /// A recipient's client reports a screen capture of burn content to its sender; sealed (`Burn.Capture`).
    case capture = 13
    /// A file offer: clear file id and sizes, then the sealed `FileManifest` (`FileOffer`).
    case file = 14
    /// A forward: the clear origin and hop records, a file offer for a file, then the sealed content (`ForwardHeader`).
    case forward = 15
    /// The recipient's node stored messages for its user; clear id list (`Receipt`); made by nodes only.
    case delivered = 16
    /// The recipient's client showed messages; sealed id list (`Receipt`).
    case seen = 17
    /// A node's signed notice that it refused an envelope for its label (`LabelNotice`); made by nodes only.
    case refusal = 18
    /// A node's signed report that it refused a forward, to the origin's unit (`ForwardReport`); made by nodes only.
    case forwardReport = 19

    /// Kinds a member sends to a group's address for its home node to fan out to every member
    /// (a group is not in the directory, so nodes on the way do not look the address up).
    public var fansOut: Bool {
        self == .groupMessage || self == .reminder || self == .reminderCancel || self == .burn || self == .file || self == .forward
    }

    public var name: String {
        switch self {
        case .text: return "text"
        case .card: return "card"
        case .reminder: return "reminder"
        case .reminderDue: return "reminder_due"
        case .reminderCancel: return "reminder_cancelled"
        case .reminderDone: return "reminder_done"
        case .groupOp: return "group_op"
        case .groupEvent: return "group_event"
        case .groupMessage: return "text"
        case .groupFanout: return "group_fanout"
        case .burn: return "burn"
        case .burnReceipt: return "burn_receipt"
        case .capture: return "capture"
        case .file: return "file"
        case .forward: return "forward"
        case .delivered: return "delivered"
        case .seen: return "seen"
        case .refusal: return "refusal"
        case .forwardReport: return "forward_report"
        }
    }

    /// Kinds whose body is end-to-end encrypted (the others carry metadata only).
    public var isSealed: Bool {
        self == .text || self == .card || self == .reminder || self == .groupMessage || self == .burn || self == .capture || self == .file
            || self == .forward || self == .seen
    }
}

/// The unit nodes store and route: a clear header and an end-to-end encrypted body.
///
/// Wire form (protocol/SPEC.md, "Envelope"):
/// `id:octets[16] from:string to:string kind:u8 flags:u16 sent_at:u64 [label:u8 readable_until:u64] body:longstr`,
/// the label fields present when flag bit 3 (`labelledFlag`) is set (section 7.11).
public struct Envelope: Sendable, Equatable {
    public var id: MessageID
    /// Stamped by the sender's home node from the authenticated key; empty when a client sends.
    public var from: String
    public var to: String
    /// The kind as on the wire; `knownKind` is what code compares.
    public var kind: UInt8
    public var flags: UInt16
    /// Milliseconds since the Unix epoch, as the sending client's clock said.
    public var sentAt: UInt64
    /// The classification label in the clear header (nil: unlabelled, handled as the default
    /// label). On the wire, flag bit 3 says it is there; `flags` never holds that bit.
    public var label: EnvelopeLabel?
    public var body: [UInt8]

    /// Flag bit 3: the header carries `label:u8 readable_until:u64` after `sent_at`.
    public static let labelledFlag: UInt16 = 0x0008

    /// Largest body a node accepts: 64 KiB of text plus the crypto overhead, inner
    /// header and a group message's per-member key wraps (500 × ~100 B), with room to spare.
    public static let maxBodyBytes = 200 * 1024
    /// Largest body of a `burn` (six 2 MiB images, a text and a group's key wraps) and
    /// of a `group_fanout`, which may carry one.
    public static let maxLargeBodyBytes = 12 * 1024 * 1024 + 512 * 1024

    /// The body limit for envelopes of `kind`.
    public static func maxBodyBytes(kind: UInt8) -> Int {
        switch EnvelopeKind(rawValue: kind) {
        case .burn?, .groupFanout?: return maxLargeBodyBytes
        default: return maxBodyBytes
        }
    }

    /// The kind, or nil for a kind this version does not know (the wire carries any `u8`:
    /// a node refuses an unknown kind from its own users, and passes one on between nodes).
    public var knownKind: EnvelopeKind? { EnvelopeKind(rawValue: kind) }

    public init(id: MessageID, from: String, to: String, kind: UInt8, flags: UInt16 = 0, sentAt: UInt64,
                label: EnvelopeLabel? = nil, body: [UInt8]) {
        self.id = id
        self.from = from
        self.to = to
        self.kind = kind
        self.flags = flags & ~Self.labelledFlag
        self.sentAt = sentAt
        self.label = label
        self.body = body
    }

    public init(id: MessageID, from: String, to: String, kind: EnvelopeKind, flags: UInt16 = 0, sentAt: UInt64,
                label: EnvelopeLabel? = nil, body: [UInt8]) {
        self.init(id: id, from: from, to: to, kind: kind.rawValue, flags: flags, sentAt: sentAt, label: label, body: body)
    }

    public func encode(into w: inout WireWriter) {
        w.octets(id.bytes)
        w.string(from)
        w.string(to)
        w.u8(kind)
        if let label {
            w.u16(flags | Self.labelledFlag)
            w.u64(sentAt)
            w.u8(label.rank)
            w.u64(label.readableUntil)
        } else {
            w.u16(flags & ~Self.labelledFlag)
            w.u64(sentAt)
        }
        w.longstr(body)
    }

    public static func decode(from r: inout WireReader) throws -> Envelope {
        let id = MessageID(bytes: try r.octets(MessageID.size, "envelope.id"))!
        let from = try r.string("envelope.from")
        let to = try r.string("envelope.to")
        let kind = try r.u8("envelope.kind")
        let flags = try r.u16("envelope.flags")
        let sentAt = try r.u64("envelope.sent_at")
        var label: EnvelopeLabel?
        if flags & labelledFlag != 0 {
            let rank = try r.u8("envelope.label")
            guard Int(rank) < LabelSet.maxLabels else { throw WireError.invalid(field: "envelope.label", reason: "rank \(rank) is 16 or more") }
            let until = try r.u64("envelope.readable_until")
            label = EnvelopeLabel(rank: rank, readableUntil: until)
        }
        let body = try r.longstr("envelope.body", max: maxBodyBytes(kind: kind))
        if !from.isEmpty, !Address.isValid(from) { throw WireError.invalid(field: "envelope.from", reason: "not an address") }
        guard Address.isValid(to) else { throw WireError.invalid(field: "envelope.to", reason: "not an address") }
        return Envelope(id: id, from: from, to: to, kind: kind, flags: flags, sentAt: sentAt, label: label, body: body)
    }

    /// Checks the clear fields that nodes read in the body of a `reminder` (`due_at`),
    /// `burn` (`expires_at`, `images`), `file` (file id and sizes) or `delivered` envelope (its ids): the
    /// decoding rules of those bodies, so a relay that breaks them is malformed
    /// (protocol/SPEC.md 11.5.2) and is neither journalled nor passed on.
    /// - Throws: `WireError` for the first rule broken.
    public func checkClearHeader() throws {
        switch knownKind {
        case .reminder?: _ = try Reminder.split(body)
        case .burn?: _ = try Burn.split(body)
        case .file?: _ = try FileOffer.split(body)
        case .forward?: _ = try ForwardHeader.split(body)
        case .delivered?: _ = try Receipt.decode(body)
        default: break
        }
    }

    /// Encoded size, for storage accounting.
    public var encodedSize: Int {
        16 + 1 + from.utf8.count + 1 + to.utf8.count + 1 + 2 + 8 + (label == nil ? 0 : EnvelopeLabel.encodedBytes) + 4 + body.count
    }
}

/// Lowercase hex without separators.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
