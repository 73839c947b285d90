import Dispatch
import Foundation
import SealpostCore
import Synchronization
import ZeroMQ

/// The chunk files of the file store: `files/<id>.chunks` under the data dir,
/// chunk `i` at offset `i × 131089`. Owned by the reactor thread; the writes and
/// their `fdatasync` run on a `FileWriter` thread, the reads and their checks on a `FileReader`.
final class FileStore {
    let dir: String
    let writer: BackgroundWorker<FileWriter.Job, FileWriter.Done>
    let reader: BackgroundWorker<FileReader.Job, FileReader.Done>
    private var descriptors: [FileID: Int32] = [:]

    enum Failure: Error, CustomStringConvertible {
        case io(String)
        case full

        var description: String {
            switch self {
            case .io(let m): return m
            case .full: return "the node's disk is full"
            }
        }
    }

    /// The directory is made with the first file.
    init(dataDir: DataDir, wakeup: Wakeup) {
        dir = dataDir.path + "/files"
        writer = FileWriter.start(wakeup: wakeup)
        reader = FileReader.start(wakeup: wakeup)
    }

    /// Asks the reader thread for chunk `index`, checked against `expected`.
    func read(_ id: FileID, index: UInt32, length: Int, expected: [UInt8], token: UInt64) throws {
        let fd = dup(try descriptor(id))
        guard fd >= 0 else { throw Failure.io("cannot read \(path(id)): \(String(cString: strerror(errno)))") }
        reader.submit(FileReader.Job(token: token, id: id, fd: fd, index: index, length: length, expected: expected))
    }

    func path(_ id: FileID) -> String { dir + "/" + id.hex + ".chunks" }

    /// The open descriptor of a chunk file, created on first use.
    func descriptor(_ id: FileID) throws -> Int32 {
        if let fd = descriptors[id] { return fd }
        if descriptors.count >= 256, let (oldId, oldFd) = descriptors.first {
            Glibc.close(oldFd)
            descriptors[oldId] = nil
        }
        if !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure.io("cannot create the file store \(dir): \(error.localizedDescription)")
            }
        }
        let fd = open(path(id), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure.io("cannot open \(path(id)): \(String(cString: strerror(errno)))") }
        descriptors[id] = fd
        return fd
    }

    /// Hands chunks to the writer thread; their durability comes back as a `FileWriter.Done`.
    /// With `expected` (a pull), a chunk whose hash differs is not written: the job fails with `EBADMSG`.
    func write(_ id: FileID, first: UInt32, chunks: [[UInt8]], expected: [[UInt8]]?) throws {
        // A descriptor of its own: the writer closes it, whatever this thread closes meanwhile.
        let fd = dup(try descriptor(id))
        guard fd >= 0 else { throw Failure.io("cannot write \(path(id)): \(String(cString: strerror(errno)))") }
        writer.submit(FileWriter.Job(id: id, fd: fd, first: first, chunks: chunks, expected: expected))
    }

    /// Removes a file's chunks (the writer may still hold a descriptor: the space is freed when it closes it). With `wipe` (a view-once file) they are first overwritten
    /// with zeros and synced, on a thread of their own so the reactor does not wait.
    func remove(_ id: FileID, wipe: Bool = false) {
        if let fd = descriptors.removeValue(forKey: id) { Glibc.close(fd) }
        let file = path(id)
        guard wipe else {
            unlink(file)
            return
        }
        Thread.detachNewThread {
            Self.overwrite(file)
            unlink(file)
        }
    }

    /// Overwrites a file in place with zeros and syncs it.
    static func overwrite(_ path: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while offset < st.st_size {
            let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, min(Int(st.st_size - offset), $0.count), offset) }
            guard n > 0 else { break }
            offset += off_t(n)
        }
        fsync(fd)
    }

    /// Free bytes for this node's files on their file system.
    var freeBytes: UInt64 {
        var s = statvfs()
        let path = FileManager.default.fileExists(atPath: dir) ? dir : String(dir.dropLast("/files".count))
        guard statvfs(path, &s) == 0 else { return 0 }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize)
    }

    func close() {
        writer.stop()
        reader.stop()
        for fd in descriptors.values { Glibc.close(fd) }
        descriptors.removeAll()
    }
}

/// A thread below the reactor's priority that takes jobs in batches and hands
/// results back through `completed()` and a wake-up of the reactor's poll. The
/// file writer and the file reader are two of these with different work.
final class BackgroundWorker<Job: Sendable, Result: Sendable>: Sendable {
    private let jobs = Mutex<[Job]>([])
    private let results = Mutex<[Result]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter work: runs on the thread for each batch of jobs taken; it calls `emit`
    ///   with results as they are ready (each call wakes the reactor).
    init(name: String, wakeup: Wakeup, work: @escaping @Sendable (_ batch: [Job], _ emit: ([Result]) -> Void) -> Void) {
        let thread = Thread { [self] in
            // Bulk work: below the reactors and the chat they carry.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10) // on Linux: this thread only
            while true {
                let batch = self.jobs.withLock { j in
                    defer { j.removeAll(keepingCapacity: true) }
                    return j
                }
                if batch.isEmpty {
                    if self.stopFlag.load(ordering: .acquiring) { break }
                    self.wake.wait()
                    continue
                }
                work(batch) { done in
                    self.results.withLock { $0.append(contentsOf: done) }
                    wakeup.signal()
                }
            }
            self.finished.signal()
        }
        thread.name = name
        thread.start()
    }

    func submit(_ job: Job) {
        jobs.withLock { $0.append(job) }
        wake.signal()
    }

    /// What finished since the last call, in the order it finished.
    func completed() -> [Result] {
        results.withLock { r in
            defer { r.removeAll(keepingCapacity: true) }
            return r
        }
    }

    var hasResults: Bool { results.withLock { !$0.isEmpty } }

    /// Finishes the jobs taken, stops the thread and waits for it.
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        wake.signal()
        finished.wait()
    }
}

/// Writes chunks, hashes them and makes them durable (`fdatasync`) on its own
/// thread, so a file in flight never stalls the reactor's loop.
enum FileWriter {
    struct Job: Sendable {
        let id: FileID
        let fd: Int32
        let first: UInt32
        let chunks: [[UInt8]]
        let expected: [[UInt8]]?
    }

    /// Chunks `first ..< first + hashes.count` of `id` are on disk and synced; or `error` says why not.
    struct Done: Sendable {
        let id: FileID
        let first: UInt32
        let hashes: [[UInt8]]
        let error: Int32?
    }

    static func start(wakeup: Wakeup) -> BackgroundWorker<Job, Done> {
        BackgroundWorker(name: "sealpost-files", wakeup: wakeup) { batch, emit in emit(write(batch)) }
    }

    /// Every job of a file is written first, then one fdatasync per file covers them all.
    private static func write(_ batch: [Job]) -> [Done] {
        var out: [Done] = []
        var failed: [FileID: Int32] = [:]
        var toSync: [FileID: Int32] = [:]
        for job in batch {
            if failed[job.id] != nil {
                out.append(Done(id: job.id, first: job.first, hashes: [], error: failed[job.id]))
                Glibc.close(job.fd)
                continue
            }
            var hashes: [[UInt8]] = []
            var error: Int32?
            for (i, chunk) in job.chunks.enumerated() {
                let hash = FileChunks.chunkHash(chunk[...])
                if let expected = job.expected, expected[i] != hash {
                    error = EBADMSG
                    break
                }
                let offset = off_t(FileChunks.cipherOffset(index: job.first + UInt32(i)))
                if let e = writeAll(job.fd, chunk, at: offset) {
                    error = e
                    break
                }
                // Write-behind: the disk gets it steadily, so the sync (and the node's database commits) wait less.
                // (On Linux, POSIX_FADV_DONTNEED starts the range's writeback without waiting for it.)
                _ = posix_fadvise(job.fd, offset, off_t(chunk.count), POSIX_FADV_DONTNEED)
                hashes.append(hash)
            }
            if let error { failed[job.id] = error }
            out.append(Done(id: job.id, first: job.first, hashes: hashes, error: error))
            if let old = toSync[job.id] { Glibc.close(old) }
            toSync[job.id] = job.fd
        }
        for (id, fd) in toSync {
            if failed[id] == nil, fdatasync(fd) != 0 { failed[id] = errno }
            Glibc.close(fd)
        }
        return out.map { d in failed[d.id].map { Done(id: d.id, first: d.first, hashes: [], error: $0) } ?? d }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: off_t) -> Int32? {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, offset + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n < 0 ? errno : ENOSPC }
            done += n
        }
        return nil
    }
}

/// Reads chunks and checks their hashes on its own thread (below the reactor's
/// priority), for downloads and pulls; each result comes back as soon as it is read,
/// in the order it was asked for.
enum FileReader {
    struct Job: Sendable {
        let token: UInt64
        let id: FileID
        let fd: Int32
        let index: UInt32
        let length: Int
        let expected: [UInt8]
    }

    /// The chunk, or nil when it could not be read or its hash differs from the recorded one.
    struct Done: Sendable {
        let token: UInt64
        let id: FileID
        let index: UInt32
        let data: [UInt8]?
        let hash: [UInt8]
    }

    static func start(wakeup: Wakeup) -> BackgroundWorker<Job, Done> {
        BackgroundWorker(name: "sealpost-reads", wakeup: wakeup) { batch, emit in
            for job in batch { emit([read(job)]) }
        }
    }

    private static func read(_ job: Job) -> Done {
        var data = [UInt8](repeating: 0, count: job.length)
        var done = 0
        while done < job.length {
            let n = data.withUnsafeMutableBytes {
                pread(job.fd, $0.baseAddress! + done, job.length - done, off_t(FileChunks.cipherOffset(index: job.index)) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        Glibc.close(job.fd)
        let hash = done == job.length ? FileChunks.chunkHash(data[...]) : []
        let ok = done == job.length && hash == job.expected
        return Done(token: job.token, id: job.id, index: job.index, data: ok ? data : nil, hash: hash)
    }
}
