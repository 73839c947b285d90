import Foundation
import Sodium
import SealpostCore

/// A node's data directory: `node.yaml`, `node.keys` (0600), `node.db` (+ WAL).
public struct DataDir: Sendable {
    public let path: String

    public init(_ path: String) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        self.path = (absolute as NSString).standardizingPath
    }

    public var configPath: String { path + "/node.yaml" }
    public var keysPath: String { path + "/node.keys" }
    public var databasePath: String { path + "/node.db" }
    /// The operator's key for the admin socket (`status`, `pending`), mode 0600.
    public var adminKeysPath: String { path + "/admin.keys" }
    public var adminSocketPath: String { path + "/admin.sock" }
    public var adminEndpoint: String { "ipc://" + adminSocketPath }

    /// When node.yaml last changed (the running node reloads peers when it does).
    public var configModified: Date? {
        (try? FileManager.default.attributesOfItem(atPath: configPath))?[.modificationDate] as? Date
    }

    /// The admin key pair, made on first use (by `init`, or a node started on an older data dir).
    public func loadOrCreateAdminKeys() throws -> BoxKeyPair {
        if FileManager.default.fileExists(atPath: adminKeysPath) { return try loadAdminKeys() }
        let pair = BoxKeyPair.generate()
        var secret = pair.secretKey.copyBytes()
        defer { wipe(&secret) }
        try writePrivate("admin_secret \(Sodium.base64(secret))\n", to: adminKeysPath)
        return pair
    }

    /// The admin key pair as it is; never makes one (a new key would not be the running node's).
    public func loadAdminKeys() throws -> BoxKeyPair {
        if let text = try? String(contentsOfFile: adminKeysPath, encoding: .utf8) {
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if parts.count >= 2, parts[0] == "admin_secret", var secret = Sodium.fromBase64(String(parts[1])),
               let pair = BoxKeyPair(secretKey: &secret) {
                return pair
            }
            throw NodeError.dataDir("\(adminKeysPath) is damaged; remove it and restart the node to make a new one")
        }
        throw NodeError.dataDir("cannot read \(adminKeysPath) (run this as the node's user; a node started once makes it)")
    }

    /// Writes node.yaml atomically (temp file, fsync, rename), keeping it 0600.
    public func saveConfig(_ config: NodeConfig) throws {
        try config.validate()
        let temp = configPath + ".tmp"
        try writePrivate(try config.yaml(), to: temp)
        guard rename(temp, configPath) == 0 else {
            throw NodeError.dataDir("cannot replace \(configPath): \(String(cString: strerror(errno)))")
        }
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: configPath) }

    /// Creates a new node here: refuses a directory that already holds a node or other files.
    public func create(config: NodeConfig) throws -> NodeKeys {
        try config.validate()
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw NodeError.dataDir("\(path) exists and is not a directory") }
            if exists { throw NodeError.dataDir("\(path) already holds a node; choose another --data directory") }
            let contents = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            if !contents.isEmpty { throw NodeError.dataDir("\(path) is not empty; choose a new or empty directory") }
        }
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            chmod(path, 0o700)
        } catch {
            throw NodeError.dataDir("cannot create \(path): \(error.localizedDescription)")
        }
        let keys = NodeKeys.generate()
        do {
            try writePrivate(keys.fileText(), to: keysPath)
            _ = try loadOrCreateAdminKeys()
            // The store creates the schema; the config file is written last, so a
            // directory without it is an unfinished init, never a half-working node.
            let store = try NodeStore(path: databasePath)
            store.close()
            chmod(databasePath, 0o600)
            try writePrivate(try config.yaml(), to: configPath)
        } catch {
            try? fm.removeItem(atPath: keysPath)
            try? fm.removeItem(atPath: adminKeysPath)
            try? fm.removeItem(atPath: databasePath)
            throw error
        }
        return keys
    }

    public func loadConfig() throws -> NodeConfig {
        if !exists, FileManager.default.fileExists(atPath: path), !FileManager.default.isReadableFile(atPath: path) {
            throw NodeError.dataDir("cannot read \(path): permission denied (run this as the node's user)")
        }
        guard exists else {
            throw NodeError.dataDir("no node in \(path) (no node.yaml); create one with: sealpost-node init --data \(path) --name NAME")
        }
        guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
            throw NodeError.dataDir("cannot read \(configPath)")
        }
        return try NodeConfig.parse(yaml: text, file: configPath)
    }

    /// Refuses a data dir whose database is gone or empty while its config and keys are there:
    /// opening it would make an empty database, and every user, mailbox and stream with it.
    public func checkDatabase() throws {
        let fm = FileManager.default
        guard exists || fm.fileExists(atPath: keysPath) else { return }
        let size = (try? fm.attributesOfItem(atPath: databasePath))?[.size] as? Int
        let what: String
        switch size {
        case nil: what = "is missing"
        case 0?: what = "is empty (0 bytes)"
        default: return
        }
        throw NodeError.dataDir("""
            the node database \(databasePath) \(what), but \(fm.fileExists(atPath: configPath) ? "node.yaml" : "node.keys") is there: \
            starting would lose every user and mailbox. Restore it from a backup (sealpost-node restore --data \(path) BACKUP_DIR), \
            or put the file back; to start an empty node instead, create one in a new directory with sealpost-node init
            """)
    }

    public func loadKeys() throws -> NodeKeys {
        guard let text = try? String(contentsOfFile: keysPath, encoding: .utf8) else {
            throw NodeError.dataDir("cannot read \(keysPath)")
        }
        return try NodeKeys.parse(text, file: keysPath)
    }

    func writePrivate(_ text: String, to file: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw NodeError.dataDir("cannot write \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw NodeError.dataDir("cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }
}
