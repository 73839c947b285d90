import Sodium

/// Groups (protocol/SPEC.md, "Groups"). A group `name@home` lives on its home
/// node, which keeps the membership and fans messages out.
public enum Group {
    public static let maxMembers = 500

    /// What a member asks the home node (`group_op`, clear body):
    /// `op:u8 count:u16 *member:string [label:u8]` — `label` on `create` (the group's label) and
    /// `label` (change it; no members), section 7.11.8.
    public enum Op: UInt8, Sendable {
        case create = 1, add = 2, remove = 3, leave = 4, admin = 5
        /// Set the group's label (op 6 is "refused" in events, so 7).
        case label = 7

        public var name: String {
            switch self {
            case .create: return "create"
            case .add: return "add"
            case .remove: return "remove"
            case .leave: return "leave"
            case .admin: return "admin"
            case .label: return "label"
            }
        }
    }

    public static func opBody(_ op: Op, members: [String], label: UInt8? = nil) -> [UInt8] {
        var w = WireWriter()
        w.u8(op.rawValue)
        w.u16(UInt16(members.count))
        for m in members { w.string(m) }
        if let label { w.u8(label) }
        return w.bytes
    }

    public static func parseOp(_ body: [UInt8]) throws -> (Op, [String]) {
        let (op, members, _) = try parseOp(labelled: body)
        return (op, members)
    }

    /// The operation, its members, and the label it names (create, label), if any.
    public static func parseOp(labelled body: [UInt8]) throws -> (Op, [String], UInt8?) {
        var r = WireReader(body)
        guard let op = Op(rawValue: try r.u8("op")) else { throw WireError.invalid(field: "op", reason: "unknown group operation") }
        let n = Int(try r.u16("count"))
        guard n <= maxMembers else { throw WireError.invalid(field: "count", reason: "more than \(maxMembers) members") }
        var members: [String] = []
        for _ in 0..<n {
            let m = try r.string("member")
            guard Address.isValid(m) else { throw WireError.invalid(field: "member", reason: "'\(m)' is not an address") }
            members.append(m)
        }
        let label: UInt8? = r.remaining > 0 ? try r.u8("label") : nil
        try r.expectEnd()
        if let label, Int(label) >= LabelSet.maxLabels { throw WireError.invalid(field: "label", reason: "rank 16 or more") }
        if op == .label && label == nil { throw WireError.invalid(field: "label", reason: "the label operation names a label") }
        return (op, members, label)
    }

    /// What the home node tells members (`group_event`, clear body):
    /// `op:u8 actor:string reason:string count:u16 *(member:string admin:u8) [label:u8]`, the
    /// group's label at the end (section 7.11.8; absent from nodes that predate labels).
    /// `op` is an `Op`, or 6 for "refused" (then `reason` says why and the list is empty).
    public struct Event: Sendable, Equatable {
        public var op: UInt8
        public var actor: String
        public var reason: String
        public var members: [(address: String, admin: Bool)]
        /// The group's label now (rank).
        public var label: UInt8?

        public static let refused: UInt8 = 6

        public init(op: UInt8, actor: String, reason: String = "", members: [(address: String, admin: Bool)], label: UInt8? = nil) {
            self.op = op
            self.actor = actor
            self.reason = reason
            self.members = members
            self.label = label
        }

        public static func == (a: Event, b: Event) -> Bool {
            a.op == b.op && a.actor == b.actor && a.reason == b.reason && a.label == b.label
                && a.members.map(\.address) == b.members.map(\.address) && a.members.map(\.admin) == b.members.map(\.admin)
        }

        public var opName: String { op == Self.refused ? "refused" : Op(rawValue: op)?.name ?? "unknown" }

        public func encode() -> [UInt8] {
            var w = WireWriter()
            w.u8(op); w.string(actor); w.string(reason.truncatedUTF8(255))
            w.u16(UInt16(members.count))
            for m in members { w.string(m.address); w.u8(m.admin ? 1 : 0) }
            if let label { w.u8(label) }
            return w.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws -> Event {
            var r = WireReader(bytes)
            let op = try r.u8("op")
            let actor = try r.string("actor")
            let reason = try r.string("reason")
            let n = Int(try r.u16("count"))
            var members: [(String, Bool)] = []
            for _ in 0..<n { members.append((try r.string("member"), try r.u8("admin") != 0)) }
            let label: UInt8? = r.remaining > 0 ? try r.u8("label") : nil
            try r.expectEnd()
            return Event(op: op, actor: actor, reason: reason, members: members, label: label)
        }
    }

    /// Fan-out wrapper from the home node to one destination node (`group_fanout`,
    /// clear body): `count:u16 *recipient:string envelope:longstr` — the member's
    /// envelope once, with the local recipients it is for.
    public static func fanoutBody(recipients: [String], envelope: Envelope) -> [UInt8] {
        var w = WireWriter()
        w.u16(UInt16(recipients.count))
        for r in recipients { w.string(r) }
        var inner = WireWriter(capacity: envelope.encodedSize)
        envelope.encode(into: &inner)
        w.longstr(inner.bytes)
        return w.bytes
    }

    /// The kind of the envelope a fan-out body carries, read without decoding the envelope
    /// (nil when the body is damaged): nodes look inside only the fan-outs they care about.
    public static func fanoutInnerKind(_ body: [UInt8]) -> UInt8? {
        var r = WireReader(body)
        do {
            for _ in 0..<Int(try r.u16("count")) { _ = try r.string("recipient") }
            _ = try r.u32("envelope.length")
            _ = try r.octets(MessageID.size, "envelope.id")
            _ = try r.string("envelope.from")
            _ = try r.string("envelope.to")
            return try r.u8("envelope.kind")
        } catch {
            return nil
        }
    }

    public static func parseFanout(_ body: [UInt8]) throws -> (recipients: [String], envelope: Envelope) {
        var r = WireReader(body)
        let n = Int(try r.u16("count"))
        var recipients: [String] = []
        for _ in 0..<n { recipients.append(try r.string("recipient")) }
        var inner = WireReader(try r.longstr("envelope", max: Envelope.maxLargeBodyBytes + 1024))
        let envelope = try Envelope.decode(from: &inner)
        try inner.expectEnd()
        try r.expectEnd()
        return (recipients, envelope)
    }
}

/// The end-to-end construction for a group message (kind `group_message`):
/// `0x01 nonce:octets[24] ciphertext:longstr count:u16 *(member:string wrap_nonce:octets[24] wrap:octets[80])`
/// where `ciphertext = crypto_secretbox(inner, nonce, K)` for a fresh 32-byte K,
/// `inner` as in `Sealed` (kind, id, from, to = the group, sent_at, content), and
/// each `wrap = crypto_box_easy_afternm(K || BLAKE2b-256(ciphertext), wrap_nonce, k(sender, member))`
/// (80 bytes). The digest ties the key to this ciphertext: another member, who
/// knows K, cannot put different content under the sender's wraps.
public enum GroupSealed {
    /// A wrap: MAC (16) + content key (32) + BLAKE2b-256 of the ciphertext (32).
    public static let wrapBytes = 16 + 32 + 32

    public static func seal(kind: UInt8, id: MessageID, from: String, group: String, sentAt: UInt64, label: EnvelopeLabel? = nil,
                            content: [UInt8], wraps: [(member: String, key: BoxSharedKey)]) -> [UInt8] {
        seal(kind: kind, id: id, from: from, group: group, sentAt: sentAt, label: label, content: content, wraps: wraps,
             contentKey: Sodium.randomBytes(SecretBox.keyBytes), nonce: Sodium.randomBytes(SecretBox.nonceBytes),
             wrapNonces: wraps.map { _ in Sodium.randomBytes(BoxSharedKey.nonceBytes) })
    }

    /// The same with every random input given (test vectors only).
    /// A labelled envelope's body is version 2, with the label in the inner header (section 7.11.3).
    public static func seal(kind: UInt8, id: MessageID, from: String, group: String, sentAt: UInt64, label: EnvelopeLabel? = nil,
                            content: [UInt8], wraps: [(member: String, key: BoxSharedKey)], contentKey fixedKey: [UInt8], nonce: [UInt8],
                            wrapNonces: [[UInt8]]) -> [UInt8] {
        var contentKey = fixedKey
        defer { wipe(&contentKey) }
        var inner = WireWriter(capacity: content.count + 64)
        Sealed.innerHeader(kind: kind, id: id, from: from, to: group, sentAt: sentAt, label: label, into: &inner)
        inner.longstr(content)
        var plain = inner.bytes
        defer { wipe(&plain) }
        var w = WireWriter(capacity: content.count + 64 + wraps.count * 140)
        w.u8(label == nil ? Sealed.version : Sealed.labelledVersion)
        w.octets(nonce)
        let ciphertext = SecretBox.seal(plain, nonce: nonce, key: contentKey)
        w.longstr(ciphertext)
        var payload = contentKey + Sodium.genericHash(ciphertext, outputLength: 32)
        defer { wipe(&payload) }
        w.u16(UInt16(wraps.count))
        for (index, (member, key)) in wraps.enumerated() {
            let wrapNonce = wrapNonces[index]
            w.string(member); w.octets(wrapNonce); w.octets(key.seal(payload, nonce: wrapNonce))
        }
        return w.bytes
    }

    /// Opens the message for `me` with the key shared with its sender.
    public static func open(_ envelope: Envelope, me: String, key: BoxSharedKey) throws -> [UInt8] {
        var r = WireReader(envelope.body)
        do {
            let version = try r.u8("version")
            guard version == Sealed.version || version == Sealed.labelledVersion else { throw Sealed.OpenError.unsupportedVersion }
            let nonce = try r.octets(SecretBox.nonceBytes, "nonce")
            let ciphertext = try r.longstr("ciphertext", max: Envelope.maxBodyBytes(kind: envelope.kind))
            let n = Int(try r.u16("count"))
            var wrap: (nonce: [UInt8], bytes: [UInt8])?
            for _ in 0..<n {
                let member = try r.string("member")
                let wn = try r.octets(BoxSharedKey.nonceBytes, "wrap_nonce")
                let wb = try r.octets(Self.wrapBytes, "wrap")
                if member == me { wrap = (wn, wb) }
            }
            try r.expectEnd()
            guard let wrap else { throw Sealed.OpenError.malformed("no key for you in this group message (sent before you joined?)") }
            guard var payload = key.open(wrap.bytes[...], nonce: wrap.nonce[...]) else { throw Sealed.OpenError.doesNotAuthenticate }
            defer { wipe(&payload) }
            // The wrap names the ciphertext it is for: anything else is a substitution.
            guard Sodium.constantTimeEqual(Array(payload[32...]), Sodium.genericHash(ciphertext, outputLength: 32)) else {
                throw Sealed.OpenError.doesNotAuthenticate
            }
            let contentKey = Array(payload[..<32])
            guard let plain = SecretBox.open(ciphertext, nonce: nonce, key: contentKey) else { throw Sealed.OpenError.doesNotAuthenticate }
            var inner = WireReader(plain)
            return try Sealed.checkInner(&inner, labelled: version == Sealed.labelledVersion, against: envelope)
        } catch let error as WireError {
            throw Sealed.OpenError.malformed(error.description)
        }
    }
}
