import Foundation
import SQLite

/// What `sealpost-node check` finds in a data directory: the configuration, the keys, the
/// database and the disk, read without changing anything (safe while the node runs).
public enum NodeCheck {
    public enum Level: String, Sendable {
        case ok, warning, error
    }

    public struct Finding: Sendable, Equatable {
        public let level: Level
        /// What was looked at: `config`, `keys`, `admin`, `database`, `files`, `disk`, `node`.
        public let subject: String
        /// What was found, and for a warning or an error what to do.
        public let message: String
    }

    /// Looks at every part of `dataDir`; one finding per part, in a fixed order.
    public static func run(dataDir: DataDir) -> [Finding] {
        var out: [Finding] = []
        func add(_ level: Level, _ subject: String, _ message: String) { out.append(Finding(level: level, subject: subject, message: message)) }

        guard FileManager.default.fileExists(atPath: dataDir.path) else {
            add(.error, "config", "no directory \(dataDir.path); create a node with: sealpost-node init --data \(dataDir.path) --name NAME")
            return out
        }
        var config: NodeConfig?
        do {
            config = try dataDir.loadConfig()
            add(.ok, "config", "\(dataDir.configPath): node '\(config!.name)', \(config!.peers.count) peer(s)")
        } catch {
            add(.error, "config", "\(error)")
        }
        do {
            _ = try dataDir.loadKeys()
            if let loose = looseMode(dataDir.keysPath) {
                add(.warning, "keys", "\(dataDir.keysPath) is readable by others (mode \(loose)); run: chmod 600 \(dataDir.keysPath)")
            } else {
                add(.ok, "keys", "\(dataDir.keysPath)")
            }
        } catch {
            add(.error, "keys", "\(error)")
        }
        if FileManager.default.fileExists(atPath: dataDir.adminKeysPath) {
            do {
                _ = try dataDir.loadAdminKeys()
                add(.ok, "admin", "\(dataDir.adminKeysPath)")
            } catch {
                add(.error, "admin", "\(error)")
            }
        } else {
            add(.warning, "admin", "no \(dataDir.adminKeysPath) yet; the node makes it when it starts")
        }
        out.append(database(dataDir))
        let files = dataDir.path + "/files"
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: files, isDirectory: &isDir) {
            add(isDir.boolValue && access(files, R_OK | W_OK | X_OK) == 0 ? .ok : .error, "files",
                isDir.boolValue && access(files, R_OK | W_OK | X_OK) == 0 ? files
                    : "\(files) is not a directory this user can read and write; run this as the node's user, or fix its owner")
        } else {
            add(.ok, "files", "no file store yet (made with the first file)")
        }
        var fs = statvfs()
        if statvfs(dataDir.path, &fs) == 0 {
            let free = Int(fs.f_bavail) * Int(fs.f_frsize)
            let floor = (config?.files.minFreeMB ?? FilesConfig().minFreeMB) << 20
            add(free < floor ? .warning : .ok, "disk",
                "\(free >> 20) MiB free" + (free < floor ? ", under the \(floor >> 20) MiB floor (files.min_free_mb): free some space" : ""))
        }
        if FileManager.default.fileExists(atPath: dataDir.adminSocketPath) {
            if let status = try? AdminClient.request(dataDir: dataDir, ["cmd": "status"], timeoutMs: 1000) {
                add(.ok, "node", "running, version \(status["version"] ?? "?"), up \(status["uptime_s"] ?? 0) s")
            } else {
                add(.warning, "node", "an admin socket exists but the node does not answer: it is stopped (stale socket) or hung")
            }
        } else {
            add(.ok, "node", "not running")
        }
        return out
    }

    /// The database: present, not empty, readable, intact, and of a schema this binary knows.
    static func database(_ dataDir: DataDir) -> Finding {
        let path = dataDir.databasePath
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue
        guard let size else {
            return Finding(level: .error, subject: "database",
                           message: "\(path) is missing: restore the data directory from a backup (sealpost-node restore), never start the node without it")
        }
        guard size > 0 else {
            return Finding(level: .error, subject: "database",
                           message: "\(path) is empty: restore the data directory from a backup (sealpost-node restore)")
        }
        do {
            let db = try Database(path: path, readOnly: true, create: false)
            defer { db.close() }
            let version = try db.first("PRAGMA user_version") { $0.int(0) } ?? 0
            let problems = try db.query("PRAGMA quick_check(5)") { $0.text(0) }
            guard problems == ["ok"] else {
                return Finding(level: .error, subject: "database",
                               message: "\(path) is damaged (\(problems.joined(separator: "; "))): stop the node and restore from a backup")
            }
            if version > NodeStore.schemaVersion {
                return Finding(level: .error, subject: "database",
                               message: "\(path) has schema \(version), newer than this sealpost-node (\(NodeStore.schemaVersion)): run the newer version")
            }
            let note = version < NodeStore.schemaVersion ? " (upgraded to \(NodeStore.schemaVersion) at the next start)" : ""
            return Finding(level: .ok, subject: "database", message: "\(path): \(size >> 10) KiB, schema \(version)\(note), intact")
        } catch {
            return Finding(level: .error, subject: "database",
                           message: "\(path) cannot be read (\(error)): stop the node and restore from a backup")
        }
    }

    /// The mode as octal text when group or others may read the file.
    static func looseMode(_ path: String) -> String? {
        guard let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber,
              mode.intValue & 0o077 != 0 else { return nil }
        return String(mode.intValue & 0o777, radix: 8)
    }
}
