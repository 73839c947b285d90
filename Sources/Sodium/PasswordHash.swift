import CSodium

/// Keys from passphrases: libsodium's `crypto_pwhash` with Argon2id (v1.3).
public enum PasswordHash {
    public static let saltBytes = Int(crypto_pwhash_saltbytes())

    /// Work factors, kept beside what they sealed so that they can be raised later.
    public struct Limits: Sendable, Equatable {
        public var ops: UInt64
        public var memBytes: Int

        public init(ops: UInt64, memBytes: Int) {
            self.ops = ops
            self.memBytes = memBytes
        }

        /// libsodium's interactive limits (2 passes, 64 MiB): a fraction of a second here.
        public static let interactive = Limits(ops: UInt64(crypto_pwhash_opslimit_interactive()), memBytes: Int(crypto_pwhash_memlimit_interactive()))
        /// libsodium's moderate limits (3 passes, 256 MiB): about a second on a desktop.
        public static let moderate = Limits(ops: UInt64(crypto_pwhash_opslimit_moderate()), memBytes: Int(crypto_pwhash_memlimit_moderate()))

        /// Whether libsodium accepts these limits (values read from a file are checked with it).
        public var isValid: Bool {
            ops >= UInt64(crypto_pwhash_opslimit_min()) && ops <= UInt64(crypto_pwhash_opslimit_max())
                && memBytes >= Int(crypto_pwhash_memlimit_min()) && memBytes <= 1 << 30
        }
    }

    /// Derives a `length`-byte key from `passphrase` and `salt`.
    /// - Returns: the key, locked in memory and wiped when released; nil when libsodium
    ///   refuses (limits out of range, or not enough memory).
    public static func deriveKey(length: Int, passphrase: String, salt: [UInt8], limits: Limits) -> SecretBytes? {
        Sodium.ready()
        guard salt.count == saltBytes, limits.isValid else { return nil }
        var password = Array(passphrase.utf8)
        defer { wipe(&password) }
        var ok = false
        let key = SecretBytes(count: length) { out in
            ok = password.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { pc in
                    crypto_pwhash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(length),
                                  pc.baseAddress ?? UnsafePointer(bitPattern: 1)!, UInt64(pc.count), salt,
                                  limits.ops, limits.memBytes, crypto_pwhash_alg_argon2id13()) == 0
                }
            }
        }
        return ok ? key : nil
    }
}
