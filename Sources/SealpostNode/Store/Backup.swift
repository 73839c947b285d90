import Foundation
import SQLite
import SealpostCore

/// `sealpost-node backup` and `restore`: a copy of a node's data dir taken while it
/// runs, and putting one back into a stopped node's data dir, made safe to run
/// (a new stream epoch, protocol/SPEC.md 13.8).
///
/// A backup directory holds `node.db` (one SQLite snapshot, through the online
/// backup API), `files/` (the chunk files, copied after that snapshot), `node.yaml`,
/// `node.keys`, `admin.keys`, and `backup.json`, written last: a directory without
/// it is an unfinished backup and `restore` refuses it.
public enum Backup {
    public struct Summary: Sendable {
        public var node: String
        public var createdAt: UInt64
        public var databaseBytes: Int
        public var files: Int
        public var fileBytes: Int
        /// Where a restore moved the data it replaced (nil when there was none).
        public var movedAside: String?
        /// The restored node's new stream epoch (restore only).
        public var epoch: UInt64?
    }

    /// What is being copied, for progress lines: a phase ("database", "files"), done and total bytes.
    public typealias Progress = (String, Int, Int) -> Void

    static let manifestName = "backup.json"

    /// Copies `dataDir` into the new directory `target` while the node may be running.
    public static func backup(dataDir: DataDir, to target: String, progress: Progress = { _, _, _ in }) throws -> Summary {
        let config = try dataDir.loadConfig()
        try dataDir.checkDatabase()
        let fm = FileManager.default
        let target = DataDir(target).path
        if fm.fileExists(atPath: target) {
            let contents = (try? fm.contentsOfDirectory(atPath: target)) ?? ["?"]
            guard contents.isEmpty else { throw NodeError.usage("\(target) is not empty: back up into a new or empty directory") }
        }
        do {
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeError.dataDir("cannot create \(target): \(error.localizedDescription)")
        }
        let now = Clock.nowMs()
        let source: Database
        do { source = try Database(path: dataDir.databasePath, create: false) } catch let error as SQLiteError {
            throw NodeStore.startupError(error, path: dataDir.databasePath)
        }
        defer { source.close() }
        let epoch: Int64
        do {
            try source.execute("PRAGMA busy_timeout=5000")
            epoch = try source.first("SELECT value FROM meta WHERE key = 'stream_epoch'") { $0.int(0) } ?? 0
            let pageSize = Int(try source.first("PRAGMA page_size") { $0.int(0) } ?? 4096)
            try source.backup(to: target + "/node.db") { done, total in progress("database", done * pageSize, total * pageSize) }
        } catch let error as SQLiteError {
            throw NodeError.storage("cannot copy \(dataDir.databasePath) (\(error.description)); nothing of \(target) is a backup yet")
        }
        chmod(target + "/node.db", 0o600)
        // Burn-after-reading content never goes into a backup: a restore would bring back
        // what was viewed (and reported viewed to its sender) after the backup was taken.
        let burnFiles: Set<String>
        do {
            let copy = try Database(path: target + "/node.db", create: false)
            defer { copy.close() }
            let dropped = try NodeStore.dropBurnContent(copy, at: now)
            burnFiles = Set(dropped.files.map { $0.hex + ".chunks" })
            try copy.execute("VACUUM")
            try copy.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        } catch let error as SQLiteError {
            throw NodeError.storage("cannot take burn content out of \(target)/node.db (\(error.description)); do not keep this directory as a backup")
        }
        try? FileManager.default.removeItem(atPath: target + "/node.db-wal")
        try? FileManager.default.removeItem(atPath: target + "/node.db-shm")
        let dbBytes = size(target + "/node.db")
        let (count, bytes) = try copyFiles(from: dataDir.path + "/files", to: target + "/files", skipping: burnFiles, progress: progress)
        for name in ["node.yaml", "node.keys", "admin.keys"] where fm.fileExists(atPath: dataDir.path + "/" + name) {
            try copyFile(dataDir.path + "/" + name, target + "/" + name)
        }
        let manifest: [String: Any] = ["format": 1, "node": config.name, "created_at": Clock.rfc3339(ms: now), "created_at_ms": now,
                                       "epoch": epoch, "db_bytes": dbBytes, "files": count, "file_bytes": bytes]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
        try dataDir.writePrivate(String(decoding: data, as: UTF8.self) + "\n", to: target + "/" + manifestName)
        // Recorded in the node's own log once the backup is finished (so not in the backup itself).
        try Operator.audit(dataDir: dataDir, .backup(destination: target, by: AuditActor.operator))
        return Summary(node: config.name, createdAt: now, databaseBytes: dbBytes, files: count, fileBytes: bytes)
    }

    /// Puts the backup in `source` into `dataDir` (which may be empty, or hold the same
    /// node, stopped). What it replaces is moved into `dataDir/pre-restore-TIME/`, never deleted.
    public static func restore(from source: String, into dataDir: DataDir, progress: Progress = { _, _, _ in }) throws -> Summary {
        let fm = FileManager.default
        let source = DataDir(source).path
        guard let text = try? String(contentsOfFile: source + "/" + manifestName, encoding: .utf8),
              let manifest = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let node = manifest["node"] as? String, let createdAt = (manifest["created_at_ms"] as? NSNumber)?.uint64Value else {
            throw NodeError.usage("\(source) is not a finished backup (no readable \(manifestName)); take one with sealpost-node backup DIR")
        }
        for name in ["node.db", "node.keys"] where !fm.fileExists(atPath: source + "/" + name) {
            throw NodeError.usage("the backup in \(source) has no \(name): it is incomplete")
        }
        if dataDir.exists {
            let config = try dataDir.loadConfig()
            guard config.name == node else {
                throw NodeError.usage("\(dataDir.path) holds node '\(config.name)' but the backup is of '\(node)'; restore into that node's data dir or an empty one")
            }
        }
        if fm.fileExists(atPath: dataDir.keysPath) {
            let mine = try? String(contentsOfFile: dataDir.keysPath, encoding: .utf8)
            let theirs = try? String(contentsOfFile: source + "/node.keys", encoding: .utf8)
            guard mine == theirs else {
                throw NodeError.usage("\(dataDir.keysPath) is not the key of the node in the backup; restore into an empty directory instead")
            }
            if fm.fileExists(atPath: dataDir.adminSocketPath), (try? AdminClient.request(dataDir: dataDir, ["cmd": "status"], timeoutMs: 1000)) != nil {
                throw NodeError.usage("the node in \(dataDir.path) is running: stop it first, then restore")
            }
        }
        try? fm.createDirectory(atPath: dataDir.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // What is there now goes aside, whole.
        var aside: String?
        let replaced = ["node.db", "node.db-wal", "node.db-shm", "files"].filter { fm.fileExists(atPath: dataDir.path + "/" + $0) }
        if !replaced.isEmpty {
            let dir = dataDir.path + "/pre-restore-" + Clock.rfc3339(ms: Clock.nowMs()).replacingOccurrences(of: ":", with: "-")
            do {
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                for name in replaced { try fm.moveItem(atPath: dataDir.path + "/" + name, toPath: dir + "/" + name) }
            } catch {
                throw NodeError.dataDir("cannot move the current data aside into \(dir): \(error.localizedDescription); nothing was restored")
            }
            aside = dir
        }
        let dbBytes = size(source + "/node.db")
        progress("database", 0, dbBytes)
        try copyFile(source + "/node.db", dataDir.databasePath)
        progress("database", dbBytes, dbBytes)
        let (count, bytes) = try copyFiles(from: source + "/files", to: dataDir.path + "/files", skipping: [], progress: progress)
        for name in ["node.keys", "admin.keys", "node.yaml"]
            where !fm.fileExists(atPath: dataDir.path + "/" + name) && fm.fileExists(atPath: source + "/" + name) {
            try copyFile(source + "/" + name, dataDir.path + "/" + name)
        }
        let epoch: UInt64
        do {
            let store = try NodeStore(path: dataDir.databasePath)
            defer { store.close() }
            epoch = try store.markRestored(now: Clock.nowMs())
            // The log is the backup's (a prefix of the one before): the restore says so in it.
            try store.begin()
            try store.appendAudit(.restore(source: source, epoch: epoch, by: AuditActor.operator), time: Clock.nowMs())
            try store.commit()
            // A backup taken before burn content was left out of backups may still hold some.
            let dropped = try NodeStore.dropBurnContent(store.db, at: Clock.nowMs())
            for id in dropped.files { FileStore.overwrite(dataDir.path + "/files/" + id.hex + ".chunks"); try? fm.removeItem(atPath: dataDir.path + "/files/" + id.hex + ".chunks") }
            try store.checkpoint()
        } catch let error as SQLiteError {
            throw NodeStore.startupError(error, path: dataDir.databasePath)
        }
        return Summary(node: node, createdAt: createdAt, databaseBytes: dbBytes, files: count, fileBytes: bytes,
                       movedAside: aside, epoch: epoch)
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Copies one file durably (fsync), mode 0600.
    static func copyFile(_ from: String, _ to: String) throws {
        let input = open(from, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw NodeError.dataDir("cannot read \(from): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let output = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw NodeError.dataDir("cannot write \(to): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n == 0 { break }
            guard n > 0 else { throw NodeError.dataDir("cannot read \(from): \(String(cString: strerror(errno)))") }
            let written = buffer.withUnsafeBytes { write(output, $0.baseAddress, n) }
            guard written == n else { throw NodeError.dataDir("cannot write \(to): \(String(cString: strerror(errno)))") }
        }
        guard fsync(output) == 0 else { throw NodeError.dataDir("cannot write \(to): \(String(cString: strerror(errno)))") }
    }

    /// Copies the chunk files of a file store; a file removed meanwhile (collected) is left out.
    static func copyFiles(from: String, to: String, skipping: Set<String>, progress: Progress) throws -> (Int, Int) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: from) else { return (0, 0) }
        try? fm.createDirectory(atPath: to, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let chunkFiles = names.filter { $0.hasSuffix(".chunks") && !skipping.contains($0) }.sorted()
        let total = chunkFiles.reduce(0) { $0 + size(from + "/" + $1) }
        var count = 0, bytes = 0
        for name in chunkFiles {
            guard fm.fileExists(atPath: from + "/" + name) else { continue }
            try copyFile(from + "/" + name, to + "/" + name)
            count += 1
            bytes += size(to + "/" + name)
            progress("files", bytes, total)
        }
        return (count, bytes)
    }
}
