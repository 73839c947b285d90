import Foundation
import Sodium

/// The key that seals the history's records: 32 random bytes in `PROFILE.history.key`,
/// mode 0600, beside the profile. Made on first use.
///
/// Not sealed by a passphrase yet (issue 14 asks for `crypto_pwhash`): it is exactly as
/// safe as the profile's private keys next to it.
enum HistoryKey {
    struct Damaged: Error, CustomStringConvertible {
        let path: String
        var description: String { "the history key \(path) is damaged (not 32 bytes of base64); move it away to start a new, empty history" }
    }

    /// Loads the key, or makes and writes a new one when the file does not exist.
    /// - Throws: `Damaged` for a file that is not a key; `WebError.io` when it cannot be written.
    static func loadOrCreate(path: String) throws -> SecretBytes {
        if let data = FileManager.default.contents(atPath: path) {
            var text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { text = "" }
            guard var bytes = Sodium.fromBase64(text), bytes.count == SecretBox.keyBytes else { throw Damaged(path: path) }
            return SecretBytes(wiping: &bytes)
        }
        var bytes = Sodium.randomBytes(SecretBox.keyBytes)
        var text = Array((Sodium.base64(bytes) + "\n").utf8)
        defer { wipe(&text) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw WebError.io("cannot create the history key \(path): \(String(cString: strerror(errno)))") }
        let ok = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok else {
            unlink(path)
            throw WebError.io("cannot write the history key \(path)")
        }
        return SecretBytes(wiping: &bytes)
    }
}

/// Errors of the web daemon a person can meet; each is one clear line.
public enum WebError: Error, CustomStringConvertible, Equatable {
    case alreadyRunning(pid: Int32, url: String)
    case io(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .alreadyRunning(let pid, let url):
            return "sealpost web already runs for this profile (pid \(pid)); open \(url)"
        case .io(let m), .invalid(let m): return m
        }
    }
}
