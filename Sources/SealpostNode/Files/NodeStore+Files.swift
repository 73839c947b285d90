import SQLite
import SealpostCore

/// A file held by this node: uploaded here by one of its users (`owner`), or
/// pulled from its origin node for local recipients (`owner` empty).
struct FileRecord: Sendable, Equatable {
    var id: FileID
    var origin: String
    var owner: String
    /// Ciphertext bytes and chunks, as declared at upload (and carried by the offer).
    var size: UInt64
    var chunks: UInt32
    /// The first `have` chunks are durable here (their hashes in `file_chunks`).
    var have: UInt32
    var createdAt: UInt64
    var completedAt: UInt64?
}

/// The file store's metadata: one row per file, one per durable chunk (its
/// BLAKE2b-256, checked on every read), one per reader (who may fetch it, and
/// whether they have).
extension NodeStore {
    func migrateTo7() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS files(
                    id BLOB PRIMARY KEY, origin TEXT NOT NULL, owner TEXT NOT NULL, size INTEGER NOT NULL,
                    chunks INTEGER NOT NULL, have INTEGER NOT NULL, created_at INTEGER NOT NULL,
                    completed_at INTEGER) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS file_chunks(
                    id BLOB NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY(id, idx)) WITHOUT ROWID;
                -- 'user:NAME' for a local recipient (or the uploader), 'node:NAME' for a node that pulls it.
                CREATE TABLE IF NOT EXISTS file_readers(
                    id BLOB NOT NULL, reader TEXT NOT NULL, fetched INTEGER NOT NULL, PRIMARY KEY(id, reader)) WITHOUT ROWID;
                PRAGMA user_version = 7;
                """)
        }
    }

    func insert(file f: FileRecord) throws {
        try db.run("INSERT INTO files(id, origin, owner, size, chunks, have, created_at, completed_at) VALUES(?,?,?,?,?,?,?,NULL)",
                   .blob(f.id.bytes), .text(f.origin), .text(f.owner), .int(Int64(f.size)), .int(Int64(f.chunks)),
                   .int(Int64(f.have)), .int(Int64(f.createdAt)))
    }

    func files() throws -> [FileRecord] {
        try db.query("SELECT id, origin, owner, size, chunks, have, created_at, completed_at FROM files") { s in
            FileRecord(id: FileID(bytes: s.blob(0))!, origin: s.text(1), owner: s.text(2), size: UInt64(s.int(3)),
                       chunks: UInt32(s.int(4)), have: UInt32(s.int(5)), createdAt: UInt64(s.int(6)),
                       completedAt: s.isNull(7) ? nil : UInt64(s.int(7)))
        }
    }

    func fileReaders() throws -> [(id: FileID, reader: String, fetched: Bool)] {
        try db.query("SELECT id, reader, fetched FROM file_readers") { s in (FileID(bytes: s.blob(0))!, s.text(1), s.int(2) != 0) }
    }

    /// Records chunks `first ..< first + hashes.count` as durable and moves `have` to their end.
    func addChunks(file id: FileID, first: UInt32, hashes: [[UInt8]], completedAt: UInt64?) throws {
        for (i, hash) in hashes.enumerated() {
            try db.run("INSERT OR REPLACE INTO file_chunks(id, idx, hash) VALUES(?,?,?)",
                       .blob(id.bytes), .int(Int64(first) + Int64(i)), .blob(hash))
        }
        try db.run("UPDATE files SET have = ?, completed_at = ? WHERE id = ?", .int(Int64(first) + Int64(hashes.count)),
                   completedAt.map { .int(Int64($0)) } ?? .null, .blob(id.bytes))
    }

    func chunkHash(file id: FileID, index: UInt32) throws -> [UInt8]? {
        try db.first("SELECT hash FROM file_chunks WHERE id = ? AND idx = ?", .blob(id.bytes), .int(Int64(index))) { $0.blob(0) }
    }

    /// Forgets chunks from `index` on (a damaged one was found): they are fetched again.
    func truncateChunks(file id: FileID, from index: UInt32) throws {
        try db.run("DELETE FROM file_chunks WHERE id = ? AND idx >= ?", .blob(id.bytes), .int(Int64(index)))
        try db.run("UPDATE files SET have = ?, completed_at = NULL WHERE id = ?", .int(Int64(index)), .blob(id.bytes))
    }

    func setReader(file id: FileID, reader: StoredFile.Reader, fetched: Bool) throws {
        try db.run("INSERT INTO file_readers(id, reader, fetched) VALUES(?,?,?) ON CONFLICT(id, reader) DO UPDATE SET fetched = excluded.fetched",
                   .blob(id.bytes), .text(reader.stored), .int(fetched ? 1 : 0))
    }

    func deleteReader(file id: FileID, reader: StoredFile.Reader) throws {
        try db.run("DELETE FROM file_readers WHERE id = ? AND reader = ?", .blob(id.bytes), .text(reader.stored))
    }

    func deleteFile(_ id: FileID) throws {
        try db.run("DELETE FROM file_chunks WHERE id = ?", .blob(id.bytes))
        try db.run("DELETE FROM file_readers WHERE id = ?", .blob(id.bytes))
        try db.run("DELETE FROM file_labels WHERE id = ?", .blob(id.bytes))
        try db.run("DELETE FROM files WHERE id = ?", .blob(id.bytes))
    }
}
