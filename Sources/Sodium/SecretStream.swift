import CSodium

/// `crypto_secretstream_xchacha20poly1305`: a stream of authenticated chunks under
/// one key, in order, the last one tagged final (a missing final tag is truncation).
///
/// One value is one direction's state, locked in memory and wiped when it goes
/// away. Not Sendable: one thread drives a stream.
public final class SecretStream {
    public static let keyBytes = Int(crypto_secretstream_xchacha20poly1305_KEYBYTES)
    public static let headerBytes = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)
    /// Added to every chunk: the encrypted tag byte and the Poly1305 MAC.
    public static let overheadBytes = Int(crypto_secretstream_xchacha20poly1305_ABYTES)
    public static let stateBytes = crypto_secretstream_xchacha20poly1305_statebytes()
    public static let tagMessage = UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
    public static let tagFinal = UInt8(crypto_secretstream_xchacha20poly1305_TAG_FINAL)

    private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    private init() {
        Sodium.ready()
        state = .allocate(capacity: 1)
        _ = sodium_mlock(state, Self.stateBytes)
    }

    deinit {
        sodium_munlock(state, Self.stateBytes) // also zeroes
        sodium_memzero(state, Self.stateBytes)
        state.deallocate()
    }

    /// A new encrypting stream under `key`, with the random header the receiver needs.
    public static func push(key: [UInt8]) -> (stream: SecretStream, header: [UInt8]) {
        precondition(key.count == keyBytes)
        let stream = SecretStream()
        var header = [UInt8](repeating: 0, count: headerBytes)
        _ = crypto_secretstream_xchacha20poly1305_init_push(stream.state, &header, key)
        return (stream, header)
    }

    /// The stream state right after the header, for decrypting — or for encrypting
    /// again under a header made before (an interrupted upload continuing, test
    /// vectors): the push and pull states start the same. Nil for wrong sizes.
    public convenience init?(key: [UInt8], header: [UInt8]) {
        guard key.count == Self.keyBytes, header.count == Self.headerBytes else { return nil }
        self.init()
        guard crypto_secretstream_xchacha20poly1305_init_pull(state, header, key) == 0 else { return nil }
    }

    /// Rebuilds a state saved by `exportState` (a download continuing on this device).
    public convenience init?(state bytes: [UInt8]) {
        guard bytes.count == Self.stateBytes else { return nil }
        self.init()
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(state).copyMemory(from: $0.baseAddress!, byteCount: Self.stateBytes) }
    }

    /// The raw state, for a device-local resume file only (it holds the stream key). The caller wipes it.
    public func exportState() -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: state, count: Self.stateBytes))
    }

    /// Encrypts the next chunk; `final` marks the end of the stream.
    public func push(_ plain: ArraySlice<UInt8>, final: Bool, additional: [UInt8] = []) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plain.count + Self.overheadBytes)
        let tag = final ? Self.tagFinal : Self.tagMessage
        _ = plain.withUnsafeBufferPointer { p in
            additional.withUnsafeBufferPointer { a in
                crypto_secretstream_xchacha20poly1305_push(state, &out, nil, p.baseAddress ?? UnsafePointer(bitPattern: 1)!, UInt64(p.count),
                                                           a.baseAddress, UInt64(a.count), tag)
            }
        }
        return out
    }

    /// Decrypts the next chunk: its plaintext and tag, or nil when it does not
    /// authenticate (tampered, out of order, or from another stream).
    public func pull(_ cipher: ArraySlice<UInt8>, additional: [UInt8] = []) -> (plain: [UInt8], tag: UInt8)? {
        guard cipher.count >= Self.overheadBytes else { return nil }
        var out = [UInt8](repeating: 0, count: cipher.count - Self.overheadBytes)
        var tag: UInt8 = 0
        let rc = cipher.withUnsafeBufferPointer { c in
            additional.withUnsafeBufferPointer { a in
                crypto_secretstream_xchacha20poly1305_pull(state, &out, nil, &tag, c.baseAddress!, UInt64(c.count),
                                                           a.baseAddress, UInt64(a.count))
            }
        }
        return rc == 0 ? (out, tag) : nil
    }
}

/// BLAKE2b (`crypto_generichash`) over data given in pieces.
public final class GenericHashStream {
    private let state: UnsafeMutableRawPointer
    private let outputLength: Int

    public init(outputLength: Int = 32) {
        Sodium.ready()
        self.outputLength = outputLength
        state = .allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        _ = crypto_generichash_init(OpaquePointer(state), nil, 0, outputLength)
    }

    deinit { state.deallocate() }

    public func update(_ bytes: ArraySlice<UInt8>) {
        _ = bytes.withUnsafeBufferPointer { b in
            crypto_generichash_update(OpaquePointer(state), b.baseAddress, UInt64(b.count))
        }
    }

    /// The digest; the stream cannot be updated afterwards.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        _ = crypto_generichash_final(OpaquePointer(state), &out, outputLength)
        return out
    }
}
