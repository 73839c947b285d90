import Foundation
import SealpostCore
import Sodium

/// Received messages that can be forwarded (`PROFILE.forwards`, mode 0600): for each, what
/// `sealpost forward ID` and `sealpost show ID --chain` need — its content, hash key, origin
/// and hops (`ForwardSource`). Each entry is sealed (`crypto_secretbox`) under a key derived
/// from the profile's private box key, so the file holds no content in clear; the newest
/// `capacity` entries are kept.
public final class ForwardBook {
    struct Entry: Codable {
        var at: UInt64
        /// base64 of `nonce[24] || secretbox(ForwardSource.encode())`.
        var sealed: String
        /// The message's readable-until time (SPEC 7.11.9): then its kept content is deleted. Absent: none.
        var until: UInt64?
    }

    public let path: String
    public static let capacity = 5_000
    private var entries: [String: Entry] = [:]
    private var changed = false
    private let key: [UInt8]

    public init(profilePath: String, profile: Profile) {
        path = profilePath + ".forwards"
        var secret = profile.box.secretKey.copyBytes()
        defer { wipe(&secret) }
        key = Sodium.genericHash(Array("sealpost-forward-book-v1".utf8), outputLength: SecretBox.keyBytes, key: secret)
        if let loaded = PrivateFile.readJSON([String: Entry].self, from: path) { entries = loaded }
        purgeExpired(now: Clock.nowMs())
    }

    /// Deletes the kept content of messages whose readable-until time has come.
    public func purgeExpired(now: UInt64) {
        guard entries.values.contains(where: { ($0.until ?? .max) <= now }) else { return }
        let before = entries.count
        entries = entries.filter { ($0.value.until ?? .max) > now }
        if entries.count != before { changed = true }
    }

    deinit {
        var k = key
        wipe(&k)
    }

    public var count: Int { entries.count }

    /// Keeps the forwardable part of a shown message.
    public func note(_ m: ReceivedMessage) {
        guard let source = m.forwardable, entries[m.id.hex] == nil else { return }
        add(source, at: Clock.nowMs())
    }

    public func add(_ source: ForwardSource, at: UInt64) {
        var plain = source.encode()
        defer { wipe(&plain) }
        let nonce = Sodium.randomBytes(SecretBox.nonceBytes)
        let until = source.label?.readableUntil ?? 0
        entries[source.id.hex] = Entry(at: at, sealed: Sodium.base64(nonce + SecretBox.seal(plain, nonce: nonce, key: key)),
                                       until: until > 0 ? until : nil)
        if entries.count > Self.capacity {
            for (id, _) in entries.sorted(by: { $0.value.at < $1.value.at }).prefix(entries.count - Self.capacity) { entries[id] = nil }
        }
        changed = true
    }

    /// The received message `id` (or a unique prefix of its 32 hex digits).
    /// - Throws: `ClientError.invalid` saying what is wrong: unknown, ambiguous, damaged.
    public func source(_ id: String) throws -> ForwardSource {
        purgeExpired(now: Clock.nowMs())
        let matches = entries.filter { $0.key.hasPrefix(id.lowercased()) }
        guard !matches.isEmpty else {
            throw ClientError.invalid("no received message \(id) that can be forwarded (burn messages, view-once files and messages without a signed origin cannot be)")
        }
        guard matches.count == 1, let entry = matches.first?.value else { throw ClientError.invalid("\(id) names \(matches.count) messages: give more digits") }
        guard let raw = Sodium.fromBase64(entry.sealed), raw.count > SecretBox.nonceBytes,
              var plain = SecretBox.open(Array(raw[SecretBox.nonceBytes...]), nonce: Array(raw[..<SecretBox.nonceBytes]), key: key),
              let source = try? ForwardSource.decode(plain) else {
            throw ClientError.invalid("the kept copy of \(id) is damaged or was made with other keys")
        }
        wipe(&plain)
        return source
    }

    public func save() throws {
        purgeExpired(now: Clock.nowMs())
        guard changed else { return }
        changed = false
        try PrivateFile.writeJSON(entries, to: path)
    }
}
