import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

/// Progress on stderr for long copies: at most one line a second, and the last one.
final class CopyProgress {
    private var lastNs: UInt64 = 0
    private var lastPhase = ""
    let quiet: Bool

    init(quiet: Bool) { self.quiet = quiet }

    func report(_ phase: String, _ done: Int, _ total: Int) {
        guard !quiet else { return }
        let now = Clock.monotonicNs()
        guard phase != lastPhase || now &- lastNs >= 1_000_000_000 || done >= total else { return }
        lastNs = now
        lastPhase = phase
        let mib = { (b: Int) in String(format: "%.1f", Double(b) / 1_048_576) }
        FileHandle.standardError.write(Data("\(phase): \(mib(done)) of \(mib(total)) MiB\n".utf8))
    }
}

extension SealpostNodeCommand {
    struct BackupCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup",
            abstract: "Copy the node's data (database, file store, config, keys) into a new directory, while it runs.",
            discussion: "The database is one consistent snapshot; the node goes on serving meanwhile. Restore with: sealpost-node restore DIR.")

        @OptionGroup var options: DataOption
        @Argument(help: "A new or empty directory for the backup.") var target: String
        @Flag(help: "Print the result as JSON (no progress lines).") var json = false

        func run() throws {
            let progress = CopyProgress(quiet: json)
            let summary: Backup.Summary
            do {
                summary = try Backup.backup(dataDir: options.dir, to: target, progress: progress.report)
            } catch let error as NodeError {
                fail(error.description)
            }
            let path = DataDir(target).path
            if json {
                printJSON(["node": summary.node, "backup": path, "created_at": Clock.rfc3339(ms: summary.createdAt),
                           "db_bytes": summary.databaseBytes, "files": summary.files, "file_bytes": summary.fileBytes])
            } else {
                print("""
                    backed up node '\(summary.node)' into \(path)
                      database  \(summary.databaseBytes) bytes
                      files     \(summary.files) (\(summary.fileBytes) bytes)
                    restore it (node stopped): sealpost-node restore --data \(options.data) \(target)
                    """)
            }
        }
    }

    struct RestoreCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore",
            abstract: "Put a backup back into a stopped node's data directory (or an empty one).",
            discussion: """
                What the data directory held is moved into DATA/pre-restore-TIME/, not deleted. The restored node \
                starts a new stream epoch: its peers send again what they kept for it (relay_retention_hours).
                """)

        @OptionGroup var options: DataOption
        @Argument(help: "The backup directory (made by sealpost-node backup).") var backup: String
        @Flag(help: "Print the result as JSON (no progress lines).") var json = false

        func run() throws {
            let progress = CopyProgress(quiet: json)
            let summary: Backup.Summary
            do {
                summary = try Backup.restore(from: backup, into: options.dir, progress: progress.report)
            } catch let error as NodeError {
                fail(error.description)
            }
            if json {
                printJSON(["node": summary.node, "data": options.dir.path, "backup_created_at": Clock.rfc3339(ms: summary.createdAt),
                           "db_bytes": summary.databaseBytes, "files": summary.files, "file_bytes": summary.fileBytes,
                           "moved_aside": summary.movedAside ?? NSNull(), "epoch": summary.epoch ?? 0])
            } else {
                print("restored node '\(summary.node)' into \(options.dir.path) from the backup of \(Clock.rfc3339(ms: summary.createdAt))")
                if let aside = summary.movedAside { print("  the data it replaced is in \(aside)") }
                print("""
                      new stream epoch \(summary.epoch ?? 0): peers send again what they kept for it
                    start it: sealpost-node run --data \(options.data)
                    """)
            }
        }
    }
}
