import Foundation
import SealpostClient
import Sodium

/// The key that seals the history's records: 32 random bytes in `PROFILE.history.key`,
/// mode 0600, beside the profile. Made on first use. In clear (base64) until the person
/// sets a passphrase; then a `PassphraseSeal` of it (JSON), opened with the same
/// passphrase as the profile's private keys.
public enum HistoryKey {
    struct Damaged: Error, CustomStringConvertible {
        let path: String
        var description: String { "the history key \(path) is damaged (not 32 bytes of base64); move it away to start a new, empty history" }
    }

    /// The key file of a profile.
    public static func path(profilePath: String) -> String { profilePath + ".history.key" }

    /// Loads the key, or makes and writes a new one when the file does not exist.
    /// - Parameter passphrase: opens a sealed key, and seals a new one; nil: in clear.
    /// - Throws: `Damaged`; `ClientError.invalid` for a wrong or missing passphrase; `WebError.io`.
    static func loadOrCreate(path: String, passphrase: String? = nil) throws -> SecretBytes {
        if let data = FileManager.default.contents(atPath: path) {
            if data.first == UInt8(ascii: "{") {
                guard let seal = try? JSONDecoder().decode(PassphraseSeal.self, from: data) else { throw Damaged(path: path) }
                guard let passphrase else { throw ClientError.invalid("the history key \(path) is sealed by a passphrase") }
                guard var bytes = seal.open(passphrase: passphrase), bytes.count == SecretBox.keyBytes else {
                    throw ClientError.invalid("wrong passphrase for the history key \(path)")
                }
                return SecretBytes(wiping: &bytes)
            }
            var text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { text = "" }
            guard var bytes = Sodium.fromBase64(text), bytes.count == SecretBox.keyBytes else { throw Damaged(path: path) }
            return SecretBytes(wiping: &bytes)
        }
        var bytes = Sodium.randomBytes(SecretBox.keyBytes)
        try write(bytes, to: path, passphrase: passphrase, create: true)
        return SecretBytes(wiping: &bytes)
    }

    /// Seals the key (making it if there is none) by `new`, or puts it in clear when `new` is nil.
    /// - Parameter current: the passphrase the key is sealed by now, if it is.
    public static func reseal(profilePath: String, current: String?, new: String?) throws {
        let path = path(profilePath: profilePath)
        let key = try loadOrCreate(path: path, passphrase: current)
        var bytes = key.copyBytes()
        defer { wipe(&bytes) }
        try write(bytes, to: path, passphrase: new, create: false)
    }

    /// Writes the key file atomically, mode 0600.
    private static func write(_ key: [UInt8], to path: String, passphrase: String?, create: Bool) throws {
        var text: [UInt8]
        if let passphrase {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            text = [UInt8](try encoder.encode(try PassphraseSeal.seal(key, passphrase: passphrase))) + [10]
        } else {
            text = Array((Sodium.base64(key) + "\n").utf8)
        }
        defer { wipe(&text) }
        let temp = create ? path : path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | (create ? O_EXCL : O_TRUNC), 0o600)
        guard fd >= 0 else { throw WebError.io("cannot write the history key \(path): \(String(cString: strerror(errno)))") }
        let ok = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, create || rename(temp, path) == 0 else {
            unlink(temp)
            throw WebError.io("cannot write the history key \(path)")
        }
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
