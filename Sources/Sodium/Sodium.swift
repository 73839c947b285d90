import CSodium

/// libsodium, initialised once for the process.
public enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    /// Makes sure `sodium_init` ran; every entry point of this module calls it.
    @inline(__always) static func ready() {
        precondition(initialised, "sodium_init failed")
    }

    public static var version: String { String(cString: sodium_version_string()) }

    /// `count` bytes from the system's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        ready()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }

    /// Constant-time comparison of two byte strings of equal length.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 } }
    }

    /// BLAKE2b (`crypto_generichash`) of `input`, `outputLength` bytes (16...64), optionally keyed.
    public static func genericHash(_ input: [UInt8], outputLength: Int = 32, key: [UInt8] = []) -> [UInt8] {
        ready()
        var out = [UInt8](repeating: 0, count: outputLength)
        _ = out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in
                key.withUnsafeBytes { k in
                    crypto_generichash(o.baseAddress!, outputLength, i.baseAddress, UInt64(i.count),
                                       k.count == 0 ? nil : k.baseAddress, k.count)
                }
            }
        }
        return out
    }

    /// URL-safe base64 without padding.
    public static func base64(_ bytes: [UInt8]) -> String {
        ready()
        let variant = Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        let length = sodium_base64_encoded_len(bytes.count, variant)
        var out = [CChar](repeating: 0, count: length)
        _ = bytes.withUnsafeBufferPointer { sodium_bin2base64(&out, length, $0.baseAddress, $0.count, variant) }
        return String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes URL-safe base64 without padding; nil when invalid.
    public static func fromBase64(_ text: String) -> [UInt8]? {
        ready()
        let chars = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: chars.count * 3 / 4 + 3)
        var length = 0
        let rc = chars.withUnsafeBufferPointer { c in
            c.withMemoryRebound(to: CChar.self) { cc in
                sodium_base642bin(&out, out.count, cc.baseAddress, cc.count, nil, &length, nil,
                                  Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING))
            }
        }
        guard rc == 0 else { return nil }
        return Array(out.prefix(length))
    }
}

/// Secret bytes (a secret key, a shared key) in memory that is locked where the OS
/// allows it and wiped when the value goes away.
///
/// `@unchecked Sendable` is earned: the bytes are written once in `init` and only
/// read afterwards, and the buffer is freed only in `deinit`, when no reference is left.
public final class SecretBytes: @unchecked Sendable {
    private let buffer: UnsafeMutableRawBufferPointer

    /// Takes a copy of `bytes` and wipes the caller's array.
    public init(wiping bytes: inout [UInt8]) {
        Sodium.ready()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        _ = sodium_mlock(buffer.baseAddress!, buffer.count)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        count = bytes.count
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress!, $0.count) }
    }

    /// Fills `count` bytes by calling `fill` on the locked buffer.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        Sodium.ready()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        _ = sodium_mlock(buffer.baseAddress!, buffer.count)
        fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        self.buffer = buffer
        self.count = count
    }

    public let count: Int

    deinit {
        sodium_munlock(buffer.baseAddress!, buffer.count) // also zeroes
        sodium_memzero(buffer.baseAddress!, buffer.count)
        buffer.deallocate()
    }

    /// Read access; the pointer must not escape the closure.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// A plain copy, for the few places that must serialise a key (the profile file,
    /// a CURVE socket option). The caller wipes it.
    public func copyBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

/// Wipes an array in place (for short-lived copies of secrets).
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress!, $0.count) }
}
