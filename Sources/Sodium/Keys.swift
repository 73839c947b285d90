import CSodium

/// An X25519 key pair (`crypto_box`, and CurveZMQ, which uses the same curve).
public struct BoxKeyPair: Sendable {
    public let publicKey: [UInt8]
    public let secretKey: SecretBytes

    public static let publicKeyBytes = Int(crypto_box_PUBLICKEYBYTES)
    public static let secretKeyBytes = Int(crypto_box_SECRETKEYBYTES)

    public static func generate() -> BoxKeyPair {
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: publicKeyBytes)
        let sk = SecretBytes(count: secretKeyBytes) { buffer in
            _ = crypto_box_keypair(&pk, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return BoxKeyPair(publicKey: pk, secretKey: sk)
    }

    /// Rebuilds a key pair from its secret key (the public key is derived).
    public init?(secretKey bytes: inout [UInt8]) {
        guard bytes.count == Self.secretKeyBytes else { return nil }
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: Self.publicKeyBytes)
        _ = bytes.withUnsafeBufferPointer { crypto_scalarmult_base(&pk, $0.baseAddress!) }
        publicKey = pk
        secretKey = SecretBytes(wiping: &bytes)
    }

    public init(publicKey: [UInt8], secretKey: SecretBytes) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// An Ed25519 key pair (`crypto_sign`).
public struct SignKeyPair: Sendable {
    public let publicKey: [UInt8]
    /// libsodium's 64-byte secret key (seed followed by public key).
    public let secretKey: SecretBytes

    public static let publicKeyBytes = Int(crypto_sign_PUBLICKEYBYTES)
    public static let secretKeyBytes = Int(crypto_sign_SECRETKEYBYTES)
    public static let signatureBytes = Int(crypto_sign_BYTES)
    public static let seedBytes = Int(crypto_sign_SEEDBYTES)

    public static func generate() -> SignKeyPair {
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: publicKeyBytes)
        let sk = SecretBytes(count: secretKeyBytes) { buffer in
            _ = crypto_sign_keypair(&pk, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return SignKeyPair(publicKey: pk, secretKey: sk)
    }

    /// Derives the key pair from a 32-byte seed (used by test vectors and stored keys).
    public init?(seed bytes: inout [UInt8]) {
        guard bytes.count == Self.seedBytes else { return nil }
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: Self.publicKeyBytes)
        // Read the caller's buffer in place: a `let` copy would share it and the
        // wipe below would then zero a new copy, leaving the original unwiped.
        secretKey = bytes.withUnsafeBufferPointer { seed in
            SecretBytes(count: Self.secretKeyBytes) { buffer in
                _ = crypto_sign_seed_keypair(&pk, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), seed.baseAddress!)
            }
        }
        wipe(&bytes)
        publicKey = pk
    }

    public init(publicKey: [UInt8], secretKey: SecretBytes) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// The 32-byte seed the secret key was made from (first half of the secret key).
    public func seed() -> [UInt8] { secretKey.withUnsafeBytes { Array($0.prefix(Self.seedBytes)) } }

    /// A detached Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: Self.signatureBytes)
        secretKey.withUnsafeBytes { sk in
            _ = message.withUnsafeBufferPointer { m in
                crypto_sign_detached(&sig, nil, m.baseAddress, UInt64(m.count), sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return sig
    }

    /// Verifies a detached signature made by `publicKey`.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        Sodium.ready()
        guard signature.count == signatureBytes, publicKey.count == publicKeyBytes else { return false }
        return message.withUnsafeBufferPointer { m in
            crypto_sign_verify_detached(signature, m.baseAddress ?? UnsafePointer(bitPattern: 1)!, UInt64(m.count), publicKey) == 0
        }
    }
}

/// `crypto_box` with a precomputed shared key: X25519 once per correspondent,
/// then XSalsa20-Poly1305 per message (~40x cheaper than `crypto_box_easy`).
public struct BoxSharedKey: Sendable {
    public let key: SecretBytes

    public static let nonceBytes = Int(crypto_box_NONCEBYTES)
    public static let macBytes = Int(crypto_box_MACBYTES)

    /// `crypto_box_beforenm(theirPublic, mySecret)`; nil when their key is a weak point.
    public init?(theirPublicKey: [UInt8], mySecretKey: SecretBytes) {
        guard theirPublicKey.count == BoxKeyPair.publicKeyBytes else { return nil }
        Sodium.ready()
        var rc: Int32 = 0
        key = SecretBytes(count: Int(crypto_box_BEFORENMBYTES)) { buffer in
            mySecretKey.withUnsafeBytes { sk in
                rc = crypto_box_beforenm(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), theirPublicKey,
                                         sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        if rc != 0 { return nil }
    }

    /// Encrypts: returns MAC || ciphertext (`crypto_box_easy_afternm`).
    public func seal(_ plaintext: [UInt8], nonce: [UInt8]) -> [UInt8] {
        precondition(nonce.count == Self.nonceBytes)
        var out = [UInt8](repeating: 0, count: plaintext.count + Self.macBytes)
        key.withUnsafeBytes { k in
            _ = plaintext.withUnsafeBufferPointer { p in
                crypto_box_easy_afternm(&out, p.baseAddress, UInt64(p.count), nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return out
    }

    /// Decrypts MAC || ciphertext; nil when it does not authenticate.
    public func open(_ ciphertext: ArraySlice<UInt8>, nonce: ArraySlice<UInt8>) -> [UInt8]? {
        guard nonce.count == Self.nonceBytes, ciphertext.count >= Self.macBytes else { return nil }
        var out = [UInt8](repeating: 0, count: ciphertext.count - Self.macBytes)
        let n = Array(nonce)
        let rc = key.withUnsafeBytes { k in
            ciphertext.withUnsafeBufferPointer { c in
                crypto_box_open_easy_afternm(&out, c.baseAddress!, UInt64(c.count), n, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return rc == 0 ? out : nil
    }
}

/// `crypto_secretbox` (XSalsa20-Poly1305) under a 32-byte key: the group content
/// cipher (one key per message, wrapped for every member).
public enum SecretBox {
    public static let keyBytes = Int(crypto_secretbox_KEYBYTES)
    public static let nonceBytes = Int(crypto_secretbox_NONCEBYTES)
    public static let macBytes = Int(crypto_secretbox_MACBYTES)

    public static func seal(_ plaintext: [UInt8], nonce: [UInt8], key: [UInt8]) -> [UInt8] {
        precondition(nonce.count == nonceBytes && key.count == keyBytes)
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: plaintext.count + macBytes)
        _ = plaintext.withUnsafeBufferPointer { p in
            crypto_secretbox_easy(&out, p.baseAddress ?? UnsafePointer(bitPattern: 1)!, UInt64(p.count), nonce, key)
        }
        return out
    }

    public static func open(_ ciphertext: [UInt8], nonce: [UInt8], key: [UInt8]) -> [UInt8]? {
        guard nonce.count == nonceBytes, key.count == keyBytes, ciphertext.count >= macBytes else { return nil }
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: ciphertext.count - macBytes)
        let rc = ciphertext.withUnsafeBufferPointer { c in
            crypto_secretbox_open_easy(&out, c.baseAddress!, UInt64(c.count), nonce, key)
        }
        return rc == 0 ? out : nil
    }
}
