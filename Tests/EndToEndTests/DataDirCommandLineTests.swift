import Foundation
import SealpostNode
import XCTest

/// A node's data directory is never silently lost: a missing, empty or damaged
/// database stops `run` with one `error:` line that names the file and says what to do.
final class DataDirCommandLineTests: TempRootTestCase {

    /// A node `hq` with two enrolled users, stopped (its WAL checkpointed into node.db).
    func stoppedNodeWithUsers() throws -> String {
        let data = root + "/hq"
        let port = Harness.freePort(), pub = Harness.freePort()
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", "hq",
                                                        "--listen", "tcp://127.0.0.1:\(port)", "--publish", "tcp://127.0.0.1:\(pub)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        for user in ["alice", "bob"] {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user]).status, 0)
        }
        XCTAssertEqual(node.stop(), 0)
        return data
    }

    /// Before: `run` made a new, empty node.db and started with no users, as if nothing happened.
    func testRunRefusesAMissingOrEmptyDatabaseBesideItsConfigAndKeys() throws {
        let data = try stoppedNodeWithUsers()
        let db = data + "/node.db"
        try FileManager.default.removeItem(atPath: db)
        let missing = try Harness.run("sealpost-node", ["run", "--data", data], timeout: 20)
        XCTAssertEqual(missing.status, 1, missing.stdout + missing.stderr)
        XCTAssertTrue(missing.stderr.hasPrefix("error: the node database \(db) is missing"), missing.stderr)
        XCTAssertTrue(missing.stderr.contains("sealpost-node restore"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "no empty database was made")
        // Operator commands refuse too (invite would have made one).
        let invite = try Harness.run("sealpost-node", ["invite", "--data", data, "carol"])
        XCTAssertEqual(invite.status, 1)
        XCTAssertTrue(invite.stderr.contains("is missing"), invite.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db))

        XCTAssertTrue(FileManager.default.createFile(atPath: db, contents: Data()))
        let empty = try Harness.run("sealpost-node", ["run", "--data", data], timeout: 20)
        XCTAssertEqual(empty.status, 1, empty.stdout + empty.stderr)
        XCTAssertTrue(empty.stderr.hasPrefix("error: the node database \(db) is empty (0 bytes)"), empty.stderr)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int, 0, "left as it was")
    }

    /// `backup` while the node runs, `restore` refused while it runs, then put back.
    func testBackupWhileRunningAndRestoreIntoTheStoppedNode() throws {
        let data = try stoppedNodeWithUsers()
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        let backup = root + "/backup"
        let made = try Harness.run("sealpost-node", ["backup", "--data", data, backup, "--json"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any], made.stdout)
        XCTAssertEqual(info["node"] as? String, "hq")
        XCTAssertGreaterThan(info["db_bytes"] as? Int ?? 0, 0)
        for name in ["node.db", "node.keys", "node.yaml", "backup.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: backup + "/" + name), name)
        }
        let again = try Harness.run("sealpost-node", ["backup", "--data", data, backup])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.hasPrefix("error: \(backup) is not empty"), again.stderr)

        let running = try Harness.run("sealpost-node", ["restore", "--data", data, backup])
        XCTAssertEqual(running.status, 1)
        XCTAssertTrue(running.stderr.contains("is running: stop it first"), running.stderr)
        let notBackup = try Harness.run("sealpost-node", ["restore", "--data", data, root])
        XCTAssertEqual(notBackup.status, 1)
        XCTAssertTrue(notBackup.stderr.contains("is not a finished backup"), notBackup.stderr)
        // A second node on the same data dir: one `error:` line that says what to look at.
        let twice = try Harness.run("sealpost-node", ["run", "--data", data], timeout: 20)
        XCTAssertEqual(twice.status, 1, twice.stdout)
        XCTAssertTrue(twice.stderr.contains("error: cannot listen on tcp://127.0.0.1:"), twice.stderr)
        XCTAssertTrue(twice.stderr.contains("is another program or node using it? change 'listen' in \(data)/node.yaml"), twice.stderr)
        XCTAssertNoThrow(try Harness.run("sealpost-node", ["status", "--data", data]), "the first node still answers")
        XCTAssertEqual(node.stop(), 0)

        // The database is lost; the backup comes back.
        try FileManager.default.removeItem(atPath: data + "/node.db")
        let restored = try Harness.run("sealpost-node", ["restore", "--data", data, backup, "--json"])
        XCTAssertEqual(restored.status, 0, restored.stderr)
        let r = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(restored.stdout.utf8)) as? [String: Any], restored.stdout)
        XCTAssertGreaterThan(r["epoch"] as? Int ?? 0, 0)
        let users = try Harness.run("sealpost-node", ["users", "--data", data, "--json"])
        XCTAssertEqual(users.lines.count, 2, users.stdout + users.stderr)
        let back = try NodeProcess(data: data)
        try back.waitUntilListening()
        let status = try Harness.run("sealpost-node", ["status", "--data", data, "--json"])
        let s = try JSONDecoder().decode(NodeStatus.self, from: Data(status.stdout.utf8))
        XCTAssertNotNil(s.restore.restoredAt, status.stdout)
        XCTAssertEqual(back.stop(), 0)
    }

    /// Before: `Error: SQLite error 11: database disk image is malformed`, no file, no advice.
    func testDamagedDatabaseStopsRunWithTheFileAndRestoreAdvice() throws {
        let data = try stoppedNodeWithUsers()
        let db = data + "/node.db"
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: db))
        let size = try handle.seekToEnd()
        XCTAssertGreaterThan(size, 8192)
        // Every page after the first (the header stays good) becomes garbage.
        try handle.seek(toOffset: 4096)
        handle.write(Data(repeating: 0xA5, count: Int(size) - 4096))
        try handle.close()
        let r = try Harness.run("sealpost-node", ["run", "--data", data], timeout: 20)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: the node database \(db) is damaged"), r.stderr)
        XCTAssertTrue(r.stderr.contains("restore from a backup: sealpost-node restore --data \(data)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Error:"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        for args in [["users", "--data", data], ["invite", "--data", data, "carol"]] {
            let o = try Harness.run("sealpost-node", args)
            XCTAssertEqual(o.status, 1, args[0])
            XCTAssertTrue(o.stderr.hasPrefix("error: the node database \(db) is damaged"), "\(args[0]): \(o.stderr)")
        }

        // A damaged first page (not a database at all) reads the same way.
        let h2 = try XCTUnwrap(FileHandle(forUpdatingAtPath: db))
        h2.write(Data(repeating: 0x5A, count: 100))
        try h2.close()
        let r2 = try Harness.run("sealpost-node", ["run", "--data", data], timeout: 20)
        XCTAssertEqual(r2.status, 1)
        XCTAssertTrue(r2.stderr.hasPrefix("error: the node database \(db) is damaged"), r2.stderr)
    }
}
