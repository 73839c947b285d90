import Foundation
import Sodium

/// Secret bytes sealed by a passphrase: Argon2id (`crypto_pwhash`) derives a secretbox key
/// from the passphrase and a random salt; the work factors are kept beside the box so they
/// can be raised later. Stored as JSON with base64 fields.
public struct PassphraseSeal: Codable, Equatable, Sendable {
    public var kdf: String
    public var ops: UInt64
    public var mem: Int
    public var salt: String
    public var nonce: String
    public var box: String

    public static let argon2id = "argon2id13"
    /// The limits new seals use (libsodium's interactive: 2 passes, 64 MiB).
    public static let defaultLimits = PasswordHash.Limits.interactive

    /// Seals `secret` (the caller wipes its copy).
    /// - Throws: `ClientError.invalid` for an empty passphrase; `.io` when the key cannot be derived.
    public static func seal(_ secret: [UInt8], passphrase: String, limits: PasswordHash.Limits = defaultLimits) throws -> PassphraseSeal {
        guard !passphrase.isEmpty else { throw ClientError.invalid("the passphrase is empty") }
        let salt = Sodium.randomBytes(PasswordHash.saltBytes)
        guard let key = PasswordHash.deriveKey(length: SecretBox.keyBytes, passphrase: passphrase, salt: salt, limits: limits) else {
            throw ClientError.io("cannot derive a key from the passphrase (not enough memory?)")
        }
        let nonce = Sodium.randomBytes(SecretBox.nonceBytes)
        var k = key.copyBytes()
        defer { wipe(&k) }
        return PassphraseSeal(kdf: argon2id, ops: limits.ops, mem: limits.memBytes, salt: Sodium.base64(salt),
                              nonce: Sodium.base64(nonce), box: Sodium.base64(SecretBox.seal(secret, nonce: nonce, key: k)))
    }

    /// The sealed bytes, or nil for a wrong passphrase (or a damaged seal).
    public func open(passphrase: String) -> [UInt8]? {
        let limits = PasswordHash.Limits(ops: ops, memBytes: mem)
        guard kdf == Self.argon2id, limits.isValid, let salt = Sodium.fromBase64(salt), let nonce = Sodium.fromBase64(nonce),
              let box = Sodium.fromBase64(box),
              let key = PasswordHash.deriveKey(length: SecretBox.keyBytes, passphrase: passphrase, salt: salt, limits: limits) else { return nil }
        var k = key.copyBytes()
        defer { wipe(&k) }
        return SecretBox.open(box, nonce: nonce, key: k)
    }
}
