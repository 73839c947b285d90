import Sodium

/// The end-to-end construction for a 1:1 body (protocol/SPEC.md, "End-to-end body").
///
/// `body = 0x01 || nonce[24] || crypto_box_easy_afternm(inner, nonce, k)` with
/// `k = crypto_box_beforenm(recipient_box_pk, sender_box_sk)`, and
/// `inner = kind:u8 id:octets[16] from:string to:string sent_at:u64 content:longstr`.
/// The inner header repeats the clear one, so a relay cannot move a body into
/// another envelope: the recipient checks both agree.
public enum Sealed {
    public static let version: UInt8 = 1
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
            case .headerMismatch(let f): return "the encrypted header does not match the envelope (\(f))"
            case .malformed(let f): return "malformed body (\(f))"
            }
        }
    }

    /// Encrypts `content` for the envelope described by the other parameters.
    /// - Parameters:
    ///   - key: the shared key of sender and recipient.
    ///   - nonce: 24 random bytes; fixed only in test vectors.
    public static func seal(kind: UInt8, id: MessageID, from: String, to: String, sentAt: UInt64,
                            content: [UInt8], key: BoxSharedKey, nonce: [UInt8] = Sodium.randomBytes(BoxSharedKey.nonceBytes)) -> [UInt8] {
        var inner = WireWriter(capacity: content.count + 64)
        inner.u8(kind)
        inner.octets(id.bytes)
        inner.string(from)
        inner.string(to)
        inner.u64(sentAt)
        inner.longstr(content)
        var plain = inner.bytes
        defer { wipe(&plain) }
        var body = [version]
        body.append(contentsOf: nonce)
        body.append(contentsOf: key.seal(plain, nonce: nonce))
        return body
    }

    /// Decrypts and checks a body against its envelope; returns the content.
    public static func open(_ envelope: Envelope, key: BoxSharedKey) throws -> [UInt8] {
        let body = envelope.body
        guard let first = body.first else { throw OpenError.malformed("empty") }
        guard first == version else { throw OpenError.unsupportedVersion }
        guard body.count >= 1 + BoxSharedKey.nonceBytes + BoxSharedKey.macBytes else { throw OpenError.malformed("too short") }
        let nonce = body[1..<(1 + BoxSharedKey.nonceBytes)]
        guard let plain = key.open(body[(1 + BoxSharedKey.nonceBytes)...], nonce: nonce) else {
            throw OpenError.doesNotAuthenticate
        }
        var r = WireReader(plain)
        do {
            let kind = try r.u8("kind")
            let id = try r.octets(16, "id")
            let from = try r.string("from")
            let to = try r.string("to")
            let sentAt = try r.u64("sent_at")
            let content = try r.longstr("content", max: Envelope.maxBodyBytes(kind: envelope.kind))
            try r.expectEnd()
            if kind != envelope.kind { throw OpenError.headerMismatch("kind") }
            if id != envelope.id.bytes { throw OpenError.headerMismatch("id") }
            if from != envelope.from { throw OpenError.headerMismatch("from") }
            if to != envelope.to { throw OpenError.headerMismatch("to") }
            if sentAt != envelope.sentAt { throw OpenError.headerMismatch("sent_at") }
            return content
        } catch let error as WireError {
            throw OpenError.malformed(error.description)
        }
    }
}
