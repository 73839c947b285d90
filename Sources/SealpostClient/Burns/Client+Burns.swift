import Foundation
import SealpostCore
import Sodium

/// A burn message waiting on the node, as the inbox shows it: never its content.
public struct BurnInfo: Sendable, Equatable {
    /// When it expires, as its clear header says; nil for a view-once file, which each node
    /// keeps for its own `burn_ttl_hours` from when it arrived.
    public var expiresAt: UInt64?
    public var images: Int
}

/// A burn message handed over by VIEW, decrypted. It no longer exists on any node.
public struct ViewedBurn: Sendable, Equatable {
    public var id: MessageID
    public var from: String
    /// The group it was sent to, if any.
    public var group: String?
    public var sentAt: UInt64
    public var text: String
    public var images: [Burn.Image]
}

/// A node's receipt for its deletion of a burn message, as the sender holds it.
public struct ReceivedReceipt: Sendable, Equatable {
    public var receipt: Burn.Receipt
    /// Whether the signature verifies with the key our own node holds for `receipt.node`.
    public var verified: Bool
    public var reason: String?
}

extension Client {
    // MARK: sending

    /// Checks and seals a burn message: a text, 0 to 6 images, or both. To a group,
    /// `members` are the group's members (the key is wrapped for each other one).
    /// - Throws: `ClientError.invalid` before anything is sent when a limit is broken.
    public func prepareBurn(to: Address, text: String, images: [Burn.Image], ttlMs: UInt64 = Burn.defaultTTLMs,
                            members: [String]? = nil) throws -> Envelope {
        let bytes = Array(text.utf8)
        guard !text.trimmingSpaces.isEmpty || !images.isEmpty else { throw ClientError.invalid("a burn message needs a text or at least one image") }
        guard bytes.count <= Sealed.maxTextBytes else {
            throw ClientError.invalid("the text is \(bytes.count) bytes; the limit is \(Sealed.maxTextBytes) bytes (64 KiB)")
        }
        guard images.count <= Burn.maxImages else {
            throw ClientError.invalid("a burn message holds at most \(Burn.maxImages) images; this one has \(images.count)")
        }
        for image in images {
            guard image.data.count <= Burn.maxImageBytes else {
                throw ClientError.invalid("image '\(image.name)' is \(image.data.count) bytes; the limit is \(Burn.maxImageBytes / 1024 / 1024) MiB per image (send larger files with send-file --burn)")
            }
            guard !image.data.isEmpty else { throw ClientError.invalid("image '\(image.name)' is empty") }
            guard image.name.utf8.count <= Burn.maxNameBytes else { throw ClientError.invalid("an image name is longer than 255 bytes") }
        }
        guard ttlMs >= 1000, ttlMs <= Burn.maxTTLMs else {
            throw ClientError.invalid("a burn message lives from 1 second to \(Burn.maxTTLMs / 3_600_000) hours")
        }
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let label = try outgoingLabel(to: to, members: members)
        let sentAt = Clock.nowMs()
        let expiresAt = sentAt + ttlMs
        var content = Burn.Content(expiresAt: expiresAt, text: bytes, images: images).encode()
        defer { wipe(&content) }
        let kind = EnvelopeKind.burn.rawValue
        let sealed = try seal(kind: kind, id: id, to: to, sentAt: sentAt, label: label, content: content, members: members)
        return Envelope(id: id, from: "", to: to.description, kind: kind, sentAt: sentAt, label: label,
                        body: Burn.body(expiresAt: expiresAt, images: images.count, sealed: sealed))
    }

    /// Sends a burn message and returns once the sender's node stored it durably.
    public func sendBurn(to: Address, text: String, images: [Burn.Image] = [], ttlMs: UInt64 = Burn.defaultTTLMs,
                         members: [String]? = nil) throws -> MessageID {
        let envelope = try prepareBurn(to: to, text: text, images: images, ttlMs: ttlMs, members: members)
        try store(envelope)
        return envelope.id
    }

    /// Sends a text that quotes (replies to, forwards from) message `quoting`.
    /// The caller refuses burn messages first; the node refuses any it handled.
    public func sendText(to: Address, text: String, quoting: MessageID) throws -> MessageID {
        var envelope = try prepareText(to: to, text: text)
        envelope.flags |= Quote.flag
        envelope.body = Quote.body(ref: quoting, rest: envelope.body)
        try store(envelope)
        return envelope.id
    }

    /// Tells the sender of burn message `burn` that this device saw its content captured
    /// (a platform client calls this when the OS reports a screenshot or recording).
    public func reportCapture(burn: MessageID, sender: Address, how: String = "screenshot") throws -> MessageID {
        try sendContent(to: sender, kind: .capture, content: Burn.Capture(burn: burn, at: Clock.nowMs(), how: how).encode())
    }

    // MARK: viewing

    /// Asks the node for burn message `id` and opens it. The node deletes it as it
    /// answers: this succeeds once. Render the result with a watermark of the
    /// viewer's identity (`Watermark`), keep it out of caches, notifications and
    /// backups, and report captures (`reportCapture`).
    /// - Throws: `ClientError.refused` with code 410 when it was already viewed or
    ///   expired, 404 when there is none for this person.
    public func view(_ id: MessageID) throws -> ViewedBurn {
        try connection.send(.view(id: id))
        let reply = try awaitReply(timeoutMs: timeoutMs) { command in
            switch command {
            case .viewing(let envelope): return envelope.id == id
            case .error(_, let ref, _): return ref == id
            default: return false
            }
        }
        switch reply {
        case .viewing(let envelope)?:
            return try openBurn(envelope)
        case .error(let code, _, let reason)?:
            throw ClientError.refused(code: code, reason: reason)
        default:
            throw unreachable
        }
    }

    /// Decrypts a whole burn envelope and checks its clear header against the content.
    public func openBurn(_ envelope: Envelope) throws -> ViewedBurn {
        guard let from = Address(envelope.from) else { throw ClientError.protocolError("burn message without a sender") }
        guard let (expiresAt, images, sealed) = try? Burn.split(envelope.body), !sealed.isEmpty else {
            throw ClientError.protocolError("the burn message is damaged")
        }
        var inner = envelope
        inner.body = sealed
        let toGroup = envelope.to != profile.address.description
        let key = try sharedKey(with: from)
        do {
            var bytes = toGroup ? try GroupSealed.open(inner, me: profile.address.description, key: key) : try Sealed.open(inner, key: key)
            defer { wipe(&bytes) }
            let content = try Burn.Content.decode(bytes)
            guard content.expiresAt == expiresAt, content.images.count == images else {
                throw ClientError.protocolError("the burn message's sealed header does not match its clear one")
            }
            return ViewedBurn(id: envelope.id, from: envelope.from, group: toGroup ? envelope.to : nil, sentAt: envelope.sentAt,
                              text: String(decoding: content.text, as: UTF8.self), images: content.images)
        } catch let error as Sealed.OpenError {
            throw ClientError.protocolError("the burn message cannot be opened: \(error)")
        } catch let error as WireError {
            throw ClientError.protocolError("the burn message's content is damaged: \(error)")
        }
    }

    // MARK: receipts

    /// The signing keys our node holds: its own and those of the nodes it knows.
    public func nodeKeys() throws -> [String: [UInt8]] {
        if let cached = cachedNodeKeys { return cached }
        let requestId = nextRequest()
        try connection.send(.nodeKeys(requestId: requestId))
        let reply = try awaitReply(timeoutMs: timeoutMs) { command in
            if case .nodeList(let r, _) = command { return r == requestId }
            return false
        }
        guard case .nodeList(_, let nodes)? = reply else { throw unreachable }
        var keys: [String: [UInt8]] = [:]
        for n in nodes { keys[n.name] = n.signKey }
        // Our own node's key as our invite gave it wins over what the node says.
        keys[profile.address.node] = profile.nodeSignKey
        cachedNodeKeys = keys
        return keys
    }

    /// Checks a receipt's signature with the key our node holds for the node that made it.
    public func check(receipt: Burn.Receipt) -> ReceivedReceipt {
        let (ok, reason) = checkSigned(by: receipt.node) { receipt.verify(nodeKey: $0) }
        return ReceivedReceipt(receipt: receipt, verified: ok, reason: reason)
    }

    /// Whether something `node` signed verifies with the key our node holds for it, and why not.
    func checkSigned(by node: String, _ verify: ([UInt8]) -> Bool) -> (verified: Bool, reason: String?) {
        guard let keys = try? nodeKeys() else { return (false, "cannot reach our node to get '\(node)''s key") }
        guard let key = keys[node] else { return (false, "our node holds no key for node '\(node)'") }
        let ok = verify(key)
        return (ok, ok ? nil : "the signature does not verify with '\(node)''s key")
    }
}
