import Sodium

/// Burn after reading (protocol/SPEC.md, "Burn after reading").
///
/// A `burn` envelope's body is `expires_at:u64 images:u8 || sealed`: when it
/// expires and how many images it holds, in the clear (nodes expire it and the
/// inbox shows the count), then a 1:1 (`Sealed`) or group (`GroupSealed`) body
/// whose content is a `Burn.Content`. The recipient's node keeps the whole
/// envelope apart from the mailbox and delivers only a **notice**: the same
/// envelope with the sealed part removed (a body of exactly `headerBytes`). The
/// content leaves the node once, in answer to VIEW, and is deleted in the same
/// commit.
public enum Burn {
    /// At most this many images in one message.
    public static let maxImages = 6
    /// Largest image (2 MiB): six of them and a text fit one envelope. Larger files go as files.
    public static let maxImageBytes = 2 * 1024 * 1024
    /// Largest image name, in bytes of UTF-8.
    public static let maxNameBytes = 255
    /// A node keeps an unviewed burn message at most this long unless its operator says otherwise.
    public static let defaultTTLMs: UInt64 = 24 * 3_600_000
    /// The longest a sender may ask for (nodes cap it at their own setting).
    public static let maxTTLMs: UInt64 = 7 * 24 * 3_600_000
    /// Envelope flag bit 1 of a `file` offer: a view-once file (section 7.7.12).
    public static let fileFlag: UInt16 = 0x0002
    /// Manifest flag bit 0 of a view-once file (repeated inside the sealed manifest).
    public static let manifestFlag: UInt8 = 0x01
    /// Clear header: `expires_at:u64 images:u8`.
    public static let headerBytes = 9
    /// Largest content: six maximal images with their names and lengths, the longest text, and the header.
    public static let maxContentBytes = maxImages * (maxImageBytes + 1 + maxNameBytes + 4) + Sealed.maxTextBytes + 4 + 9

    public static func body(expiresAt: UInt64, images: Int, sealed: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: sealed.count + headerBytes)
        w.u64(expiresAt)
        w.u8(UInt8(images))
        w.octets(sealed)
        return w.bytes
    }

    /// The clear header and the sealed part of a burn body (empty in a notice).
    public static func split(_ body: [UInt8]) throws -> (expiresAt: UInt64, images: Int, sealed: [UInt8]) {
        var r = WireReader(body)
        let expiresAt = try r.u64("expires_at")
        let images = Int(try r.u8("images"))
        guard images <= maxImages else { throw WireError.invalid(field: "images", reason: "at most \(maxImages) images") }
        return (expiresAt, images, Array(body[headerBytes...]))
    }

    /// What the recipient's node delivers in place of the burn: header only.
    public static func notice(of envelope: Envelope) -> Envelope {
        var stub = envelope
        stub.body = Array(envelope.body.prefix(headerBytes))
        return stub
    }

    /// One image of a burn message.
    public struct Image: Sendable, Equatable {
        public var name: String
        public var data: [UInt8]
        public init(name: String, data: [UInt8]) {
            self.name = name
            self.data = data
        }
    }

    /// The sealed content: `expires_at:u64 count:u8 text:longstr count*(name:string data:longstr)`.
    /// `expires_at` and `count` repeat the clear header, which the recipient checks.
    public struct Content: Sendable, Equatable {
        public var expiresAt: UInt64
        public var text: [UInt8]
        public var images: [Image]

        public init(expiresAt: UInt64, text: [UInt8], images: [Image]) {
            self.expiresAt = expiresAt
            self.text = text
            self.images = images
        }

        public func encode() -> [UInt8] {
            var w = WireWriter(capacity: text.count + images.reduce(16) { $0 + $1.data.count + $1.name.utf8.count + 5 })
            w.u64(expiresAt)
            w.u8(UInt8(images.count))
            w.longstr(text)
            for image in images { w.string(image.name); w.longstr(image.data) }
            return w.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws -> Content {
            var r = WireReader(bytes)
            let expiresAt = try r.u64("expires_at")
            let count = Int(try r.u8("count"))
            guard count <= maxImages else { throw WireError.invalid(field: "count", reason: "at most \(maxImages) images") }
            let text = try r.longstr("text", max: Sealed.maxTextBytes)
            var images: [Image] = []
            for _ in 0..<count {
                let name = try r.string("name")
                images.append(Image(name: name, data: try r.longstr("image", max: maxImageBytes)))
            }
            try r.expectEnd()
            return Content(expiresAt: expiresAt, text: text, images: images)
        }
    }

    /// A node's signed statement that it deleted its copy of a burn message
    /// (`burn_receipt`, clear body):
    /// `burn:octets[16] sender:string node:string event:u8 subject:string deleted_at:u64 signature:octets[64]`.
    ///
    /// The signature is Ed25519 by `node`'s signing key over `context || body
    /// without the signature`, so a receipt cannot be moved to another message,
    /// sender, node or event.
    public struct Receipt: Sendable, Equatable {
        public enum Event: UInt8, Sendable {
            /// A node on the way passed it on; its copy went when the next hop had it durably. `subject`:
            /// that next hop, or `DEST via HOP` for a copy on its way to a node further on.
            case forwarded = 1
            /// The recipient viewed it; the recipient's node deleted it as it handed it over. `subject`: the viewer.
            case viewed = 2
            /// Nobody viewed it in time; the node deleted it. `subject`: the recipient.
            case expired = 3

            public var name: String {
                switch self {
                case .forwarded: return "forwarded"
                case .viewed: return "viewed"
                case .expired: return "expired"
                }
            }
        }

        public static let context = Array("sealpost burn receipt v1".utf8)
        public static let signatureBytes = 64

        public var burn: MessageID
        /// Who sent the burn message (the receipt's recipient).
        public var sender: String
        /// The node that deleted its copy and signs this.
        public var node: String
        public var event: Event
        public var subject: String
        /// Milliseconds since the epoch, by the node's clock.
        public var deletedAt: UInt64
        public var signature: [UInt8]

        public init(burn: MessageID, sender: String, node: String, event: Event, subject: String, deletedAt: UInt64,
                    signature: [UInt8] = []) {
            self.burn = burn
            self.sender = sender
            self.node = node
            self.event = event
            self.subject = subject
            self.deletedAt = deletedAt
            self.signature = signature
        }

        /// The bytes the signature covers.
        public var signedBytes: [UInt8] { Self.context + unsigned }

        private var unsigned: [UInt8] {
            var w = WireWriter()
            w.octets(burn.bytes); w.string(sender); w.string(node); w.u8(event.rawValue); w.string(subject); w.u64(deletedAt)
            return w.bytes
        }

        public mutating func sign(with key: SignKeyPair) {
            signature = key.sign(signedBytes)
        }

        public func verify(nodeKey: [UInt8]) -> Bool {
            signature.count == Self.signatureBytes && SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
        }

        public func encode() -> [UInt8] { unsigned + signature }

        public static func decode(_ bytes: [UInt8]) throws -> Receipt {
            var r = WireReader(bytes)
            let burn = MessageID(bytes: try r.octets(16, "burn"))!
            let sender = try r.string("sender")
            let node = try r.string("node")
            guard let event = Event(rawValue: try r.u8("event")) else { throw WireError.invalid(field: "event", reason: "unknown event") }
            let subject = try r.string("subject")
            let deletedAt = try r.u64("deleted_at")
            let signature = try r.octets(signatureBytes, "signature")
            try r.expectEnd()
            return Receipt(burn: burn, sender: sender, node: node, event: event, subject: subject, deletedAt: deletedAt, signature: signature)
        }

        /// Its envelope id: the same receipt made twice (after a crash) is one message.
        public var messageID: MessageID {
            MessageID(bytes: Sodium.genericHash(Array("receipt".utf8) + burn.bytes + Array(node.utf8) + [0, event.rawValue]
                                                + Array(subject.utf8), outputLength: 16))!
        }
    }

    /// A capture report (`capture`, sealed 1:1 to the burn message's sender):
    /// `burn:octets[16] at:u64 how:string`.
    public struct Capture: Sendable, Equatable {
        public var burn: MessageID
        public var at: UInt64
        /// What the platform reported: "screenshot", "screen recording", …
        public var how: String

        public init(burn: MessageID, at: UInt64, how: String) {
            self.burn = burn
            self.at = at
            self.how = how
        }

        public func encode() -> [UInt8] {
            var w = WireWriter()
            w.octets(burn.bytes); w.u64(at); w.string(how.truncatedUTF8(255))
            return w.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws -> Capture {
            var r = WireReader(bytes)
            let c = Capture(burn: MessageID(bytes: try r.octets(16, "burn"))!, at: try r.u64("at"), how: try r.string("how"))
            try r.expectEnd()
            return c
        }
    }
}

/// A message that quotes (replies to, forwards from) another carries flag bit 0
/// and starts its body with the quoted id in the clear: `ref:octets[16] || body`.
/// Nodes refuse any that names a burn message they handled.
public enum Quote {
    public static let flag: UInt16 = 0x0001

    public static func body(ref: MessageID, rest: [UInt8]) -> [UInt8] { ref.bytes + rest }

    /// The quoted id and the rest of the body, for an envelope with `flag` set.
    public static func split(_ envelope: Envelope) -> (ref: MessageID, rest: [UInt8])? {
        guard envelope.flags & flag != 0, envelope.body.count >= MessageID.size else { return nil }
        return (MessageID(bytes: Array(envelope.body.prefix(MessageID.size)))!, Array(envelope.body.dropFirst(MessageID.size)))
    }
}
