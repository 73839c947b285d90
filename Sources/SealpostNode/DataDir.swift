import Foundation
import Sodium
import SealpostCore

/// A node's data directory: `node.yaml`, `node.keys` (0600), `node.db` (+ WAL).
public struct DataDir: Sendable {
    public let path: String

    public init(_ path: String) {
        self.path = (path as NSString).standardizingPath
    }

    public var configPath: String { path + "/node.yaml" }
    public var keysPath: String { path + "/node.keys" }
    public var databasePath: String { path + "/node.db" }

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
        } catch {
            throw NodeError.dataDir("cannot create \(path): \(error.localizedDescription)")
        }
        let keys = NodeKeys.generate()
        do {
            try writePrivate(keys.fileText(), to: keysPath)
            // The store creates the schema; the config file is written last, so a
            // directory without it is an unfinished init, never a half-working node.
            let store = try NodeStore(path: databasePath)
            store.close()
            chmod(databasePath, 0o600)
            try writePrivate(try config.yaml(), to: configPath)
        } catch {
            try? fm.removeItem(atPath: keysPath)
            try? fm.removeItem(atPath: databasePath)
            throw error
        }
        return keys
    }

    public func loadConfig() throws -> NodeConfig {
        guard exists else {
            throw NodeError.dataDir("no node in \(path) (no node.yaml); create one with: sealpost-node init --data \(path) --name NAME")
        }
        guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
            throw NodeError.dataDir("cannot read \(configPath)")
        }
        return try NodeConfig.parse(yaml: text, file: configPath)
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
