import Sodium

/// The end-to-end construction for a 1:1 body (protocol/SPEC.md, "End-to-end body").
///
/// `body = 0x01 || nonce[24] || crypto_box_easy_afternm(inner, nonce, k)` with
/// `k = crypto_box_beforenm(recipient_box_pk, sender_box_sk)`, and
/// `inner = kind:u8 id:octets[16] from:string to:string sent_at:u64 content:longstr`.
/// The inner header repeats the clear one, so a relay cannot move a body into
/// another envelope: the recipient checks both agree.
///
/// A labelled envelope (section 7.11) uses version 2: `body = 0x02 || nonce || box(inner)` with
/// `label:u8 readable_until:u64` after `sent_at` in `inner`, so the label is authenticated with
/// the content and a relay that rewrites, adds or strips the clear label is detected.
public enum Sealed {
    public static let version: UInt8 = 1
    /// The body version of a labelled envelope.
    public static let labelledVersion: UInt8 = 2
    /// Longest text a person may send.
    public static let maxTextBytes = 64 * 1024

    public enum OpenError: Error, Equatable, CustomStringConvertible {
        case unsupportedVersion
        case doesNotAuthenticate
        case headerMismatch(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .unsupportedVersion: return "unsupported body version"
            case .doesNotAuthenticate: return "the body does not decrypt with the sender's key (tampered or wrong key)"
            case .headerMismatch("label"): return "the label in the envelope's header is not the label its sender sealed (rewritten on the way)"
        case .headerMismatch(let f): return "the encrypted header does not match the envelope (\(f))"
            case .malformed(let f): return "malformed body (\(f))"
            }
        }
    }

    /// Encrypts `content` for the envelope described by the other parameters.
    /// - Parameters:
    ///   - key: the shared key of sender and recipient.
    ///   - nonce: 24 random bytes; fixed only in test vectors.
    ///   - label: the envelope's clear label, bound into the body (version 2); nil: version 1.
    public static func seal(kind: UInt8, id: MessageID, from: String, to: String, sentAt: UInt64, label: EnvelopeLabel? = nil,
                            content: [UInt8], key: BoxSharedKey, nonce: [UInt8] = Sodium.randomBytes(BoxSharedKey.nonceBytes)) -> [UInt8] {
        var inner = WireWriter(capacity: content.count + 64)
        innerHeader(kind: kind, id: id, from: from, to: to, sentAt: sentAt, label: label, into: &inner)
        inner.longstr(content)
        var plain = inner.bytes
        defer { wipe(&plain) }
        var body = [label == nil ? version : labelledVersion]
        body.append(contentsOf: nonce)
        body.append(contentsOf: key.seal(plain, nonce: nonce))
        return body
    }

    /// The inner header of section 8.2 (and 7.6.3): `kind id from to sent_at [label readable_until]`.
    static func innerHeader(kind: UInt8, id: MessageID, from: String, to: String, sentAt: UInt64, label: EnvelopeLabel?,
                            into inner: inout WireWriter) {
        inner.u8(kind)
        inner.octets(id.bytes)
        inner.string(from)
        inner.string(to)
        inner.u64(sentAt)
        if let label {
            inner.u8(label.rank)
            inner.u64(label.readableUntil)
        }
    }

    /// Reads and checks an inner header against the envelope. `labelled`: the body's version
    /// said the inner header carries a label; it must then equal the clear one, and an envelope
    /// with a clear label must have a labelled body (section 7.11.3).
    static func checkInner(_ r: inout WireReader, labelled: Bool, against envelope: Envelope) throws -> [UInt8] {
        let kind = try r.u8("kind")
        let id = try r.octets(16, "id")
        let from = try r.string("from")
        let to = try r.string("to")
        let sentAt = try r.u64("sent_at")
        let label = labelled ? EnvelopeLabel(rank: try r.u8("label"), readableUntil: try r.u64("readable_until")) : nil
        let content = try r.longstr("content", max: Envelope.maxBodyBytes(kind: envelope.kind))
        try r.expectEnd()
        if kind != envelope.kind { throw OpenError.headerMismatch("kind") }
        if id != envelope.id.bytes { throw OpenError.headerMismatch("id") }
        if from != envelope.from { throw OpenError.headerMismatch("from") }
        if to != envelope.to { throw OpenError.headerMismatch("to") }
        if sentAt != envelope.sentAt { throw OpenError.headerMismatch("sent_at") }
        if label != envelope.label { throw OpenError.headerMismatch("label") }
        return content
    }

    /// Decrypts and checks a body against its envelope; returns the content.
    public static func open(_ envelope: Envelope, key: BoxSharedKey) throws -> [UInt8] {
        let body = envelope.body
        guard let first = body.first else { throw OpenError.malformed("empty") }
        guard first == version || first == labelledVersion else { throw OpenError.unsupportedVersion }
        guard body.count >= 1 + BoxSharedKey.nonceBytes + BoxSharedKey.macBytes else { throw OpenError.malformed("too short") }
        let nonce = body[1..<(1 + BoxSharedKey.nonceBytes)]
        guard let plain = key.open(body[(1 + BoxSharedKey.nonceBytes)...], nonce: nonce) else {
            throw OpenError.doesNotAuthenticate
        }
        var r = WireReader(plain)
        do {
            return try checkInner(&r, labelled: first == labelledVersion, against: envelope)
        } catch let error as WireError {
            throw OpenError.malformed(error.description)
        }
    }
}
