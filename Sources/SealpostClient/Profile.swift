import Foundation
import SealpostCore
import Sodium

/// A person's identity on this device: address, node, and private keys.
/// Kept in one JSON file, mode 0600; private keys never leave it.
public struct Profile: Sendable {
    public var address: Address
    public var display: String
    public var endpoint: String
    public var nodeCurveKey: [UInt8]
    public var nodeSignKey: [UInt8]
    public var curve: BoxKeyPair
    public var box: BoxKeyPair
    public var sign: SignKeyPair

    public init(address: Address, display: String, endpoint: String, nodeCurveKey: [UInt8], nodeSignKey: [UInt8],
                curve: BoxKeyPair, box: BoxKeyPair, sign: SignKeyPair) {
        self.address = address
        self.display = display
        self.endpoint = endpoint
        self.nodeCurveKey = nodeCurveKey
        self.nodeSignKey = nodeSignKey
        self.curve = curve
        self.box = box
        self.sign = sign
    }

    /// `$SEALPOST_PROFILE`, else `~/.sealpost/profile`.
    public static func defaultPath() -> String {
        if let env = ProcessInfo.processInfo.environment["SEALPOST_PROFILE"], !env.isEmpty { return env }
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.sealpost/profile"
    }

    struct File: Codable {
        var version: Int
        var address: String
        var display: String
        var endpoint: String
        var node_curve_key: String
        var node_sign_key: String
        var curve_secret: String
        var box_secret: String
        var sign_seed: String
    }

    public func write(to path: String) throws {
        var curveSecret = curve.secretKey.copyBytes(), boxSecret = box.secretKey.copyBytes(), seed = sign.seed()
        defer { wipe(&curveSecret); wipe(&boxSecret); wipe(&seed) }
        let file = File(version: 1, address: address.description, display: display, endpoint: endpoint,
                        node_curve_key: Sodium.base64(nodeCurveKey), node_sign_key: Sodium.base64(nodeSignKey),
                        curve_secret: Sodium.base64(curveSecret), box_secret: Sodium.base64(boxSecret),
                        sign_seed: Sodium.base64(seed))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try PrivateFile.write(try encoder.encode(file), to: path)
    }

    public static func load(from path: String) throws -> Profile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ClientError.noProfile("no profile at \(path): join first with 'sealpost join CODE' (or pass --profile FILE)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClientError.noProfile("cannot read the profile at \(path)")
        }
        if isSealed(data) {
            throw ClientError.noProfile("the profile at \(path) is sealed by a passphrase: give it (SEALPOST_PASSPHRASE, or at the prompt)")
        }
        return try decode(data, path: path)
    }

    /// A profile from the clear JSON of its file.
    static func decode(_ data: Data, path: String) throws -> Profile {
        guard let file = try? JSONDecoder().decode(File.self, from: data),
              let address = Address(file.address),
              let nodeCurveKey = Sodium.fromBase64(file.node_curve_key), nodeCurveKey.count == 32,
              let nodeSignKey = Sodium.fromBase64(file.node_sign_key), nodeSignKey.count == 32,
              var curveSecret = Sodium.fromBase64(file.curve_secret), let curve = BoxKeyPair(secretKey: &curveSecret),
              var boxSecret = Sodium.fromBase64(file.box_secret), let box = BoxKeyPair(secretKey: &boxSecret),
              var seed = Sodium.fromBase64(file.sign_seed), let sign = SignKeyPair(seed: &seed)
        else {
            throw ClientError.noProfile("the profile at \(path) is damaged or not a Sealpost profile")
        }
        return Profile(address: address, display: file.display, endpoint: file.endpoint, nodeCurveKey: nodeCurveKey,
                       nodeSignKey: nodeSignKey, curve: curve, box: box, sign: sign)
    }
}

/// Writes files only the owner can read, atomically (temp file + rename + directory sync).
enum PrivateFile {
    static func write(_ data: Data, to path: String) throws {
        // Not NSString.deletingLastPathComponent: Foundation on Linux traps on a
        // one-character relative path such as "a" (regression test: CommandLineTests).
        let dir = directory(of: path)
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClientError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { writeAll(fd, $0, at: 0) } && fsync(fd) == 0
        close(fd)
        guard ok, rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw ClientError.io("cannot write \(path): \(reason)")
        }
        // The rename is durable only once the directory is.
        let dirFd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFd >= 0 {
            _ = fsync(dirFd)
            close(dirFd)
        }
    }

    static func directory(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
    }

    /// Writes all of `bytes` at `offset` (retrying short writes and EINTR); false on an error (errno set).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: off_t) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, offset + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }

    /// Removes `PATH.tmp-PID` files left by a process that died mid-write (its pid no longer
    /// runs); with `andBooks`, also those of the files next to it (`PATH.groups.tmp-PID`, …).
    static func removeStaleTemps(of path: String, andBooks: Bool = false) {
        let dir = directory(of: path)
        let base = String(path.dropFirst(dir.isEmpty ? 0 : dir.count + 1))
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir) else { return }
        for name in names where name.hasPrefix(base + ".") {
            guard let marker = name.range(of: ".tmp-", options: .backwards),
                  andBooks || name[..<marker.lowerBound] == base,
                  let pid = Int32(name[marker.upperBound...]), pid > 0 else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                unlink(dir.isEmpty ? name : dir + "/" + name)
            }
        }
    }
}

extension PrivateFile {
    /// Reads a JSON book kept next to the profile (reminders, groups, burns); nil when absent or unreadable.
    static func readJSON<T: Decodable>(_ type: T.Type, from path: String) -> T? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(T.self, from: $0) }
    }

    /// Writes a JSON book atomically, mode 0600, keys sorted.
    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try write(try encoder.encode(value), to: path)
    }
}

/// Errors a person can cause or meet; each is one clear line.
public enum ClientError: Error, CustomStringConvertible, Equatable {
    case noProfile(String)
    case unreachable(String)
    case refused(code: UInt16, reason: String)
    case invalid(String)
    case io(String)
    case protocolError(String)
    /// Another process holds the profile (see `ProfileLock`).
    case busy(String)

    public var description: String {
        switch self {
        case .noProfile(let m), .unreachable(let m), .invalid(let m), .io(let m), .protocolError(let m), .busy(let m): return m
        case .refused(_, let reason): return reason
        }
    }
}
