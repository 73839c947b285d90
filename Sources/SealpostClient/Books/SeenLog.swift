import Foundation
import SealpostCore

/// Ids of messages already shown on this device, so that a delivery repeated
/// after a lost acknowledgement is never shown twice. Kept next to the profile
/// (`PROFILE.seen`).
///
/// The file is append-only: each batch is one appended line, `ID ID … #CHECK\n`
/// (ids as 32 hex digits, CHECK the FNV-1a 32 of the text before ` #`), synced
/// with `fdatasync` once per batch (`prepare`, `commit`, `sync`). A batch is
/// therefore all in the log or not at all: a last line torn by a crash (no
/// newline, a bad check) is ignored and cut off when the log is opened again.
/// Lines of one bare id (the earlier format) are read too.
///
/// The log keeps the last `capacity` ids. When the file holds more than half as
/// many again, it is compacted: the kept ids are written to `PROFILE.seen.tmp-PID`,
/// synced, renamed over the log, and the directory synced. Temp files left by a
/// process that died are removed when the log is opened.
///
/// One process at a time: open it only while holding the profile's `ProfileLock`.
public final class SeenLog {
    public let path: String
    public let capacity: Int
    public static let capacity = 20_000

    private var order: [String] = []
    private var set: Set<String> = []
    private var fd: Int32 = -1
    /// Bytes of whole lines in the file, where the next record goes.
    private var size: off_t = 0
    private var unsynced = false
    /// Ids in the file, counting the ones memory has dropped: what compaction bounds.
    public private(set) var idsInFile = 0
    /// Lines skipped when the log was read (torn or damaged).
    public private(set) var damagedLines = 0

    /// Ids the log holds now (at most `capacity`).
    public var count: Int {
        finishCommit()
        return order.count
    }

    /// Opens (or creates) the log of the profile at `profilePath`.
    /// - Throws: `ClientError.io` when the file cannot be opened or repaired.
    public init(profilePath: String, capacity: Int = SeenLog.capacity) throws {
        path = profilePath + ".seen"
        self.capacity = max(1, capacity)
        PrivateFile.removeStaleTemps(of: path)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClientError.io("cannot open the seen log \(path): \(String(cString: strerror(errno)))") }
        let text = FileManager.default.contents(atPath: path) ?? Data()
        var good = 0
        var lineStart = 0
        text.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            for i in 0..<bytes.count where bytes[i] == 0x0A {
                if let ids = Self.parse(line: UnsafeBufferPointer(rebasing: bytes[lineStart..<i])) {
                    take(ids)
                    idsInFile += ids.count
                } else {
                    damagedLines += 1
                }
                lineStart = i + 1
                good = i + 1
            }
        }
        if text.count > good {
            // A torn last line: cut it off so that the next record starts on a line of its own.
            damagedLines += 1
            guard ftruncate(fd, off_t(good)) == 0, fdatasync(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw ClientError.io("cannot repair the seen log \(path): \(reason)")
            }
        }
        size = off_t(good)
    }

    deinit {
        if let map = pending?.map { munmap(map, pending!.mapLength) }
        if fd >= 0 { close(fd) }
    }

    public func contains(_ id: MessageID) -> Bool {
        finishCommit()
        return set.contains(id.hex)
    }

    /// A batch written but not committed: its line ends in a blank, not a newline.
    private struct Pending {
        var ids: [String]
        var length: Int
        /// The mapped page holding the line's last byte, already written to (see `prepare`).
        var map: UnsafeMutableRawPointer?
        var mapLength: Int
        var byteInMap: Int
    }
    private var pending: Pending?

    /// Step 1 of recording a batch, before it is shown: writes its line with a blank
    /// where the newline goes. Until `commit`, the line reads as a torn last line,
    /// so a process killed now shows the batch next time. Ids already in the log are
    /// left out. Whatever can block (the write, the first store into the mapped page)
    /// happens here, so that `commit` is one store to memory.
    /// - Throws: `ClientError.io` when the line cannot be written (nothing is recorded).
    public func prepare(_ ids: [MessageID]) throws {
        finishCommit()
        if let stale = pending {
            // Prepared and never committed (its output failed): cut it off.
            if let map = stale.map { munmap(map, stale.mapLength) }
            pending = nil
            _ = ftruncate(fd, size)
        }
        var fresh: [String] = []
        var inBatch = Set<String>()
        for id in ids where !set.contains(id.hex) && inBatch.insert(id.hex).inserted { fresh.append(id.hex) }
        guard !fresh.isEmpty else { return }
        var line = Self.line(fresh)
        line[line.count - 1] = 0x20
        guard line.withUnsafeBytes({ PrivateFile.writeAll(fd, $0, at: size) }) else {
            let reason = String(cString: strerror(errno))
            _ = ftruncate(fd, size)
            throw ClientError.io("cannot write the seen log \(path): \(reason)")
        }
        var next = Pending(ids: fresh, length: line.count, map: nil, mapLength: 0, byteInMap: 0)
        let last = Int(size) + line.count - 1
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pageStart = last - last % pageSize
        if let map = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(pageStart)), map != MAP_FAILED {
            next.map = map
            next.mapLength = pageSize
            next.byteInMap = last - pageStart
            // Store the blank again: the page fault (and any wait for the disk) happens now.
            map.storeBytes(of: 0x20, toByteOffset: next.byteInMap, as: UInt8.self)
        }
        pending = next
    }

    /// Step 2, right before the batch is shown: the newline goes in (one store into
    /// the mapped page, or a one-byte write), and the ids count as seen, here and for
    /// any later process. Durable on disk after `sync`; if the machine goes down before,
    /// the batch is shown again rather than lost.
    /// Only the store: the bookkeeping waits until the caller has written its output.
    public func commit() {
        guard let p = pending else { return }
        if let map = p.map {
            map.storeBytes(of: 0x0A, toByteOffset: p.byteInMap, as: UInt8.self)
        } else {
            var newline: UInt8 = 0x0A
            _ = withUnsafeBytes(of: &newline) { PrivateFile.writeAll(fd, $0, at: size + off_t(p.length - 1)) }
        }
        committed = true
    }

    private var committed = false

    /// The mapped byte that commits the prepared batch: a caller that stores its newline
    /// there itself, as the last thing before its output's system call, leaves nothing
    /// between the two (then calls `commit`, which stores the same byte again and does
    /// the bookkeeping). Nil when nothing is prepared or the page could not be mapped.
    public var commitByte: UnsafeMutablePointer<UInt8>? {
        guard let p = pending, let map = p.map else { return nil }
        return (map + p.byteInMap).assumingMemoryBound(to: UInt8.self)
    }

    /// The bookkeeping of a commit (memory, offsets, the mapping), done after the output.
    private func finishCommit() {
        guard committed, let p = pending else { return }
        committed = false
        pending = nil
        if let map = p.map { munmap(map, p.mapLength) }
        size += off_t(p.length)
        idsInFile += p.ids.count
        unsynced = true
        take(p.ids)
    }

    /// Step 3, after the batch is shown and before it is acknowledged: `fdatasync`.
    /// Compacts the file when it has grown past its bound.
    /// - Throws: `ClientError.io` when the disk does not confirm it.
    public func sync() throws {
        finishCommit()
        if unsynced {
            guard fdatasync(fd) == 0 else { throw ClientError.io("cannot write the seen log \(path): \(String(cString: strerror(errno)))") }
            unsynced = false
        }
        if idsInFile > capacity + capacity / 2 { try compact() }
    }

    /// All three steps: records `ids` durably.
    public func record(_ ids: [MessageID]) throws {
        try prepare(ids)
        commit()
        try sync()
    }

    /// Rewrites the file with only the ids memory keeps (atomically: temp file, rename, directory sync).
    public func compact() throws {
        finishCommit()
        if let stale = pending {
            // Prepared and not committed: not seen, so not kept.
            if let map = stale.map { munmap(map, stale.mapLength) }
            pending = nil
        }
        var data = Data()
        var start = 0
        while start < order.count {
            let end = min(start + 1000, order.count)
            data.append(Self.line(Array(order[start..<end])))
            start = end
        }
        try PrivateFile.write(data, to: path)
        let reopened = open(path, O_RDWR | O_CLOEXEC)
        guard reopened >= 0 else { throw ClientError.io("cannot open the seen log \(path): \(String(cString: strerror(errno)))") }
        close(fd)
        fd = reopened
        size = off_t(data.count)
        idsInFile = order.count
    }

    private func take(_ ids: [String]) {
        for id in ids where set.insert(id).inserted { order.append(id) }
        if order.count > capacity {
            let drop = order.count - capacity
            for id in order.prefix(drop) { set.remove(id) }
            order.removeFirst(drop)
        }
    }

    // MARK: the line format

    static func line(_ ids: [String]) -> Data {
        let body = ids.joined(separator: " ")
        let check = String(Self.fnv1a(Array(body.utf8)), radix: 16)
        return Data((body + " #" + String(repeating: "0", count: 8 - check.count) + check + "\n").utf8)
    }

    /// The ids of one line (without its newline), or nil when it is torn or damaged.
    static func parse(line: UnsafeBufferPointer<UInt8>) -> [String]? {
        func isHex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b) }
        if line.count == 32 {
            // The earlier format: one bare id per line.
            return line.allSatisfy(isHex) ? [String(decoding: line, as: UTF8.self)] : nil
        }
        // ID( ID)* #CHECK: 33 bytes per id, then "#" and 8 hex digits.
        guard line.count >= 33 + 9, (line.count - 9) % 33 == 0, line[line.count - 9] == 0x23 else { return nil }
        let bodyEnd = line.count - 10
        guard line[bodyEnd] == 0x20 else { return nil }
        let checkBytes = line[(line.count - 8)...]
        guard checkBytes.allSatisfy(isHex), let check = UInt32(String(decoding: checkBytes, as: UTF8.self), radix: 16),
              check == fnv1a(Array(line[..<bodyEnd])) else { return nil }
        var ids: [String] = []
        var i = 0
        while i < bodyEnd {
            let id = line[i..<(i + 32)]
            guard id.allSatisfy(isHex), i + 32 == bodyEnd || line[i + 32] == 0x20 else { return nil }
            ids.append(String(decoding: id, as: UTF8.self))
            i += 33
        }
        return ids
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }
}
