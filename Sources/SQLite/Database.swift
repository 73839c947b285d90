import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// An SQLite error with SQLite's own message.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY }
    public var isConstraint: Bool { code & 0xff == SQLITE_CONSTRAINT }
    public var isFull: Bool { code & 0xff == SQLITE_FULL }

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])
}

/// One SQLite connection. Not Sendable: the thread that opened it uses it.
///
/// Statements are prepared once and cached by their SQL text, since preparing
/// costs more than running them on the hot path.
public final class Database {
    private var handle: OpaquePointer?
    private var cache: [String: Statement] = [:]
    public let path: String

    /// Opens (and with `create`, creates) the database file.
    public init(path: String, readOnly: Bool = false, create: Bool = true) throws {
        self.path = path
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "\(message) (\(path))")
        }
        handle = db
        sqlite3_busy_handler(db, Database.busyHandler, nil)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    /// Waits for a lock held by another connection (the checkpointer, a backup) for up to
    /// about 5 s, retrying every 0.1 ms at first and every 1 ms after 10 ms. SQLite's own
    /// `sqlite3_busy_timeout` sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between
    /// tries, so the waiting writer goes on only at the next of 1, 3, 8, … 78, 103, 128, …
    /// 428 ms after its first try (measured: 79, 105, 130, 338, 448 ms), and the reactor's
    /// whole loop (due reminders, deliveries) stood still that long.
    private static let busyHandler: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { _, tries in
        if tries < 100 {
            usleep(100)
            return 1
        }
        usleep(1000)
        return tries < 5090 ? 1 : 0
    }

    /// Gives up waiting for another connection's lock after about `ms` milliseconds (SQLite's
    /// own `sqlite3_busy_timeout`, which sleeps 1, 2, 5, 10, … ms between tries), instead of
    /// the 5 s of fine-grained retries every connection starts with. For a connection whose
    /// work can wait for its next round (the checkpointer), not for one that must get through.
    public func setBusyTimeout(ms: Int32) {
        sqlite3_busy_timeout(raw, ms)
    }

    public func close() {
        cache.removeAll() // finalises statements first
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    var raw: OpaquePointer {
        guard let handle else { preconditionFailure("database used after close") }
        return handle
    }

    func error(_ code: Int32) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(raw)))
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(raw, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw SQLiteError(code: rc, message: text)
        }
    }

    /// A cached prepared statement for `sql`, reset and with its bindings cleared.
    public func statement(_ sql: String) throws -> Statement {
        if let cached = cache[sql] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql)
        cache[sql] = statement
        return statement
    }

    /// Runs `sql` with `values` bound to its parameters; returns the rows changed.
    @discardableResult
    public func run(_ sql: String, _ values: SQLValue...) throws -> Int {
        let statement = try statement(sql)
        try statement.bind(values)
        while try statement.step() {}
        return Int(sqlite3_changes(raw))
    }

    /// Runs a query and maps every row.
    public func query<T>(_ sql: String, _ values: SQLValue..., map: (Statement) throws -> T) throws -> [T] {
        let statement = try statement(sql)
        try statement.bind(values)
        var rows: [T] = []
        while try statement.step() { rows.append(try map(statement)) }
        return rows
    }

    /// The first row of a query, mapped, or nil.
    public func first<T>(_ sql: String, _ values: SQLValue..., map: (Statement) throws -> T) throws -> T? {
        let statement = try statement(sql)
        try statement.bind(values)
        defer { statement.reset() }
        return try statement.step() ? map(statement) : nil
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(raw) }

    /// Copies this database, as of one read snapshot, into a new file at `path` with
    /// SQLite's online backup API. Writers on other connections go on meanwhile (WAL);
    /// the copy is what a reader saw when the copy started.
    /// - Parameters:
    ///   - pagesPerStep: pages copied between two calls of `progress`.
    ///   - progress: pages copied so far and the total.
    public func backup(to path: String, pagesPerStep: Int32 = 1024, progress: (Int, Int) -> Void = { _, _ in }) throws {
        let dest = try Database(path: path, readOnly: false, create: true)
        defer { dest.close() }
        // One read transaction across every step: the copy is one snapshot, and the
        // backup does not start over when another connection commits.
        try execute("BEGIN")
        defer { try? execute("COMMIT") }
        _ = try first("SELECT COUNT(*) FROM sqlite_master") { $0.int(0) }
        guard let backup = sqlite3_backup_init(dest.raw, "main", raw, "main") else { throw dest.error(sqlite3_errcode(dest.raw)) }
        var rc: Int32 = SQLITE_OK
        repeat {
            rc = sqlite3_backup_step(backup, pagesPerStep)
            let total = Int(sqlite3_backup_pagecount(backup))
            progress(total - Int(sqlite3_backup_remaining(backup)), total)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(10) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else { throw dest.error(rc == SQLITE_DONE ? finish : rc) }
    }

    /// Runs `body` in one transaction: commits if it returns, rolls back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// A prepared statement owned by its `Database`.
public final class Statement {
    private let handle: OpaquePointer
    private unowned let database: Database

    init(database: Database, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc) }
        self.handle = stmt
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    public func bind(_ values: [SQLValue]) throws {
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .int(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .text(let s):
                // The byte count, not -1: text may hold U+0000.
                let utf8 = Array(s.utf8)
                if utf8.isEmpty { rc = sqlite3_bind_text(handle, index, "", 0, csqlite_transient()); break }
                rc = utf8.withUnsafeBufferPointer { p in
                    p.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), csqlite_transient()) }
                }
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), csqlite_transient()) }
            }
            guard rc == SQLITE_OK else { throw database.error(rc) }
        }
    }

    /// Steps once: true when a row is ready, false when done.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc)
            sqlite3_reset(handle)
            throw error
        }
    }

    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
    }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let p = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }
}
