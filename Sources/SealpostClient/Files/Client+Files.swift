import Foundation
import SealpostCore
import Sodium

/// What `sendFile` did.
public struct SentFile: Sendable, Equatable {
    /// The id of the `file` envelope (the message).
    public var id: MessageID
    public var fileId: FileID
    public var name: String
    public var size: UInt64
    /// Chunks already on the node from an earlier, interrupted run.
    public var resumedChunks: UInt32
    /// Its label's readable-until time (ms since the epoch), 0 for none (SPEC 7.11.9).
    public var readableUntil: UInt64 = 0
}

/// What `fetchFile` did.
public struct FetchedFile: Sendable, Equatable {
    public var path: String
    public var size: UInt64
    public var resumedChunks: UInt32
}

/// Sending and fetching files (protocol/SPEC.md 7.8): encrypted here in 128 KiB
/// secretstream chunks, uploaded to our own node with credit, offered to the
/// recipients in a `file` envelope; fetched from our own node, decrypted as they
/// come, checked against the whole-file hash, and renamed into place.
extension Client {
    /// Chunks in flight (upload) or asked for (download) at once.
    public static let fileWindow: UInt32 = 16
    /// A download writes its resume point every this many chunks (32 MiB).
    static let checkpointChunks: UInt32 = 256
    /// A download silent this long (and not asked in as long) asks again from its next chunk.
    static let reaskNs: UInt64 = 3_000_000_000

    // MARK: sending

    /// Uploads `path` and offers it to `to` (a person, or a group with its `members`).
    ///
    /// An interrupted upload continues where the node's durable copy ends when the
    /// same file is sent to the same address again (`uploads` keeps its key).
    /// - Throws: `ClientError.invalid` for a file over 2 GiB, before anything is sent.
    public func sendFile(to: Address, path: String, groupMembers: [String]? = nil, burn: Bool = false, uploads: UploadBook,
                         progress: (UInt64, UInt64) throws -> Void = { _, _ in }) throws -> SentFile {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ClientError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw ClientError.invalid("\(path) is not a regular file") }
        let size = UInt64(info.st_size)
        guard size <= FileChunks.maxFileBytes else { throw ClientError.invalid(FileChunks.tooLargeMessage(size: size)) }
        let name = String((path.split(separator: "/").last.map(String.init) ?? path).truncatedUTF8(255))
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ClientError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        if groupMembers == nil { _ = try sharedKey(with: to) } // an unknown recipient fails before the upload
        _ = try outgoingLabel(to: to, members: groupMembers) // so does a recipient not cleared for the label

        let resumeKey = UploadBook.key(to: to.description, path: path, size: size, modified: Int64(info.st_mtim.tv_sec))
        let upload = uploads.entry(resumeKey) ?? {
            var key = Sodium.randomBytes(SecretStream.keyBytes)
            defer { wipe(&key) }
            let (_, header) = SecretStream.push(key: key)
            return UploadBook.Entry(fileId: Sodium.randomBytes(16), key: key, header: header)
        }()
        try uploads.set(resumeKey, upload)
        let fileId = FileID(bytes: upload.fileId)!
        let chunks = FileChunks.chunkCount(plainSize: size)
        let cipherSize = FileChunks.cipherSize(plainSize: size)

        var buffer = [UInt8](repeating: 0, count: FileChunks.plainChunkBytes)
        func readChunk(_ index: UInt32) throws -> ArraySlice<UInt8> {
            let offset = FileChunks.plainOffset(index: index)
            let length = Int(min(UInt64(FileChunks.plainChunkBytes), size - offset))
            var done = 0
            while done < length {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset) + off_t(done)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw ClientError.io("cannot read \(path): \(n == 0 ? "it became shorter" : String(cString: strerror(errno)))") }
                done += n
            }
            return buffer[0..<length]
        }
        // UploadMachine decides; this loop reads, encrypts, sends and feeds back what arrives.
        var machine = UploadMachine(chunks: chunks, window: Self.fileWindow, timeoutNs: UInt64(timeoutMs) * 1_000_000,
                                    retransmitNs: UInt64(retransmitMs) * 1_000_000, now: Clock.monotonicNs())
        var stream: SecretStream?
        var hash = GenericHashStream()
        var resumed: UInt32?
        /// A chunk encrypted but not taken by a full outgoing queue: sent as is when there is room.
        var unsent: (index: UInt32, cipher: [UInt8])?
        func perform(_ actions: [UploadMachine.Action]) throws {
            for action in actions {
                switch action {
                case .sendBegin:
                    try connection.send(.fileBegin(fileId: fileId, size: cipherSize, chunks: chunks))
                case .rewind(let have):
                    // The chunks the node already has: through the stream again (output dropped) for its state and the hash.
                    guard let fresh = SecretStream(key: upload.key, header: upload.header) else { throw ClientError.protocolError("damaged upload state") }
                    stream = fresh
                    hash = GenericHashStream()
                    unsent = nil
                    for index in 0..<have {
                        let plain = try readChunk(index)
                        hash.update(plain)
                        _ = fresh.push(plain, final: index + 1 == chunks, additional: fileId.bytes)
                    }
                    if resumed == nil { resumed = have }
                case .progress(let have):
                    try progress(min(size, UInt64(have) * UInt64(FileChunks.plainChunkBytes)), size)
                case .forgetResumePoint:
                    uploads.remove(resumeKey)
                }
            }
        }
        try perform(machine.start())
        while true {
            switch machine.state {
            case .complete: break
            case .failed(.refused(let code, let reason)): throw ClientError.refused(code: code, reason: reason)
            case .failed(.stalled):
                throw ClientError.unreachable("the upload stalled: node '\(profile.address.node)' has not acknowledged a chunk for \(Self.seconds(timeoutMs)); run the same command again to continue")
            case .failed(.unreachable): throw unreachable
            case .beginning, .sending:
                var blocked = false
                while let index = machine.nextToSend, let stream {
                    let cipher: [UInt8]
                    if let pending = unsent, pending.index == index {
                        cipher = pending.cipher
                    } else {
                        let plain = try readChunk(index)
                        hash.update(plain)
                        cipher = stream.push(plain, final: index + 1 == chunks, additional: fileId.bytes)
                    }
                    guard try connection.send(.fileChunk(fileId: fileId, index: index, data: cipher)) else {
                        unsent = (index, cipher) // the outgoing queue is full: wait for room, not a fixed sleep
                        blocked = true
                        break
                    }
                    unsent = nil
                    machine.sent(index)
                }
                let now = Clock.monotonicNs()
                switch try connection.receive(timeoutMs: 200, orWritable: blocked) {
                case let .fileStatus(id, durable, _)? where id == fileId:
                    try perform(machine.fileStatus(durable: durable, now: now))
                case let .error(code, ref, reason)? where ref == fileId:
                    try perform(machine.error(code: code, reason: reason, now: now))
                case let command?:
                    buffered.append(command)
                case nil:
                    try perform(machine.tick(now: now))
                }
                continue
            }
            break
        }
        let digest = hash.finish()
        let manifest = FileManifest(flags: burn ? Burn.manifestFlag : 0, fileId: fileId, name: name, size: size, key: upload.key,
                                    header: upload.header, hash: digest)
        let offer = FileOffer(fileId: fileId, cipherSize: cipherSize, chunks: chunks)
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let sentAt = Clock.nowMs()
        let kind = EnvelopeKind.file.rawValue
        let label = try outgoingLabel(to: to, members: groupMembers)
        // A view-once file carries no origin: it is never forwarded.
        var (content, originFlag) = burn ? (manifest.encode(), UInt16(0))
                                         : withOrigin(kind: .file, id: id, to: to, sentAt: sentAt, label: label, content: manifest.encode())
        defer { wipe(&content) }
        let sealed = try seal(kind: kind, id: id, to: to, sentAt: sentAt, label: label, content: content, members: groupMembers)
        try store(Envelope(id: id, from: "", to: to.description, kind: kind, flags: (burn ? Burn.fileFlag : 0) | originFlag, sentAt: sentAt,
                           label: label, body: offer.body(sealed: sealed)))
        uploads.remove(resumeKey)
        return SentFile(id: id, fileId: fileId, name: name, size: size, resumedChunks: resumed ?? 0, readableUntil: label.readableUntil)
    }

    // MARK: fetching

    /// Downloads a received file from our node into `output` (a file path; its
    /// directory must exist). Chunks are decrypted as they arrive into a hidden
    /// `.NAME.sealpost-ID.part` beside it; an interrupted fetch continues from its
    /// last resume point when run again. The file appears under `output` only
    /// complete, checked and synced.
    public func fetchFile(_ manifest: FileManifest, to output: String, progress: (UInt64, UInt64) throws -> Void = { _, _ in }) throws -> FetchedFile {
        let fileId = manifest.fileId
        let chunks = manifest.chunks
        let dir = output.lastIndex(of: "/").map { String(output[..<$0]) } ?? "."
        let base = output.split(separator: "/").last.map(String.init) ?? output
        let stem = dir + "/." + base + ".sealpost-" + String(fileId.hex.prefix(16))
        let partPath = stem + ".part", resumePath = stem + ".resume"

        var stream: SecretStream
        var next: UInt32 = 0
        let hash = GenericHashStream()
        let fd: Int32
        if let state = DownloadState.load(resumePath), state.fileId == fileId.hex, let restored = SecretStream(state: state.stream),
           state.chunks <= chunks, FileManager.default.fileExists(atPath: partPath) {
            fd = Glibc.open(partPath, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw ClientError.io("cannot open \(partPath): \(String(cString: strerror(errno)))") }
            stream = restored
            next = state.chunks
            // The plaintext so far, hashed again (the hash state is not saved).
            try Self.hashPrefix(fd, bytes: min(manifest.size, FileChunks.plainOffset(index: next)), into: hash, path: partPath)
        } else {
            fd = Glibc.open(partPath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ClientError.io("cannot write \(partPath): \(String(cString: strerror(errno)))") }
            guard let fresh = SecretStream(key: manifest.key, header: manifest.header) else { throw ClientError.protocolError("damaged file key") }
            stream = fresh
        }
        defer { Glibc.close(fd) }
        let resumed = next
        try progress(min(manifest.size, FileChunks.plainOffset(index: next)), manifest.size)

        // DownloadMachine decides; this loop asks, decrypts, writes and syncs.
        var machine = DownloadMachine(chunks: chunks, next: next, window: Self.fileWindow, checkpointEvery: Self.checkpointChunks,
                                      timeoutNs: UInt64(timeoutMs) * 1_000_000, reaskNs: Self.reaskNs, now: Clock.monotonicNs())
        /// The chunk that arrived, decrypted and written by `.accept`.
        var arrived: [UInt8] = []
        func perform(_ actions: [DownloadMachine.Action]) throws {
            for action in actions {
                switch action {
                case let .ask(from, count):
                    try connection.send(.fileGet(fileId: fileId, from: from, count: count))
                case .accept(let index):
                    guard let (plain, tag) = stream.pull(arrived[...], additional: fileId.bytes) else {
                        throw ClientError.protocolError("chunk \(index) of the file does not decrypt: it was damaged or altered; nothing was written under \(output)")
                    }
                    let last = index + 1 == chunks
                    if tag == SecretStream.tagFinal && !last { throw ClientError.protocolError("the file ends early (final tag on chunk \(index) of \(chunks))") }
                    if last && tag != SecretStream.tagFinal { throw ClientError.protocolError("the file is truncated: its last chunk has no final tag") }
                    try Self.writeAll(fd, plain, at: FileChunks.plainOffset(index: index), path: partPath)
                    // Start writing it out now (on Linux, POSIX_FADV_DONTNEED starts the range's writeback without
                    // waiting): the checkpoints' syncs stay short, and so do other programs' on this disk.
                    _ = posix_fadvise(fd, off_t(FileChunks.plainOffset(index: index)), off_t(plain.count), POSIX_FADV_DONTNEED)
                    hash.update(plain[...])
                    next = index + 1
                    try progress(min(manifest.size, FileChunks.plainOffset(index: next)), manifest.size)
                case .checkpoint(let done):
                    try checkpoint(fd, stream, done, fileId, resumePath, partPath)
                }
            }
        }
        try perform(machine.start(now: Clock.monotonicNs()))
        loop: while true {
            switch machine.state {
            case .complete: break loop
            case .failed(.refused(let code, let reason)): throw ClientError.refused(code: code, reason: reason)
            case .failed(.stalled(let nodeHas?)):
                throw ClientError.unreachable("node '\(profile.address.node)' is still fetching the file from its origin (\(nodeHas) of \(chunks) chunks there); run the same command again later to continue")
            case .failed(.stalled(nil)):
                throw ClientError.unreachable("the download stalled: no data from node '\(profile.address.node)' for \(Self.seconds(timeoutMs)); run the same command again to continue")
            case .fetching:
                let now = Clock.monotonicNs()
                switch try connection.receive(timeoutMs: 200) {
                case let .fileChunk(id, index, data)? where id == fileId:
                    arrived = data
                    try perform(machine.chunk(index: index, now: now))
                case let .fileStatus(id, have, _)? where id == fileId:
                    machine.fileStatus(have: have, now: now)
                case let .error(code, ref, reason)? where ref == fileId:
                    machine.error(code: code, reason: reason)
                case let command?:
                    buffered.append(command)
                case nil:
                    try perform(machine.tick(now: now))
                }
            }
        }
        guard Sodium.constantTimeEqual(hash.finish(), manifest.hash) else {
            unlink(partPath)
            unlink(resumePath)
            throw ClientError.protocolError("the file's hash does not match the one its sender signed: it was altered; nothing was written under \(output)")
        }
        guard ftruncate(fd, off_t(manifest.size)) == 0, fsync(fd) == 0, rename(partPath, output) == 0 else {
            throw ClientError.io("cannot write \(output): \(String(cString: strerror(errno)))")
        }
        let dirFd = Glibc.open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFd >= 0 { fsync(dirFd); Glibc.close(dirFd) }
        unlink(resumePath)
        try connection.send(.fileDone(fileId: fileId))
        try flush()
        return FetchedFile(path: output, size: manifest.size, resumedChunks: resumed)
    }

    /// Syncs the part file, then records how far it is (so the record never runs ahead of the data).
    private func checkpoint(_ fd: Int32, _ stream: SecretStream, _ chunks: UInt32, _ fileId: FileID, _ resumePath: String, _ partPath: String) throws {
        guard fdatasync(fd) == 0 else { throw ClientError.io("cannot write \(partPath): \(String(cString: strerror(errno)))") }
        var state = stream.exportState()
        defer { wipe(&state) }
        try DownloadState(fileId: fileId.hex, chunks: chunks, stream: state).save(resumePath)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ClientError.io("cannot write \(path): \(n == 0 ? "no space left" : String(cString: strerror(errno)))") }
            done += n
        }
    }

    static func hashPrefix(_ fd: Int32, bytes: UInt64, into hash: GenericHashStream, path: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        while offset < bytes {
            let want = Int(min(UInt64(buffer.count), bytes - offset))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(offset)) }
            guard n > 0 else { throw ClientError.io("cannot read \(path) to continue: it is shorter than its resume point") }
            hash.update(buffer[0..<n])
            offset += UInt64(n)
        }
    }
}

/// A download's resume point: how many chunks are in the part file, and the
/// decryption state after them (a device-local file, mode 0600: it holds the stream key).
struct DownloadState: Codable {
    var fileId: String
    var chunks: UInt32
    var stream: [UInt8]

    static func load(_ path: String) -> DownloadState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(DownloadState.self, from: data)
    }

    func save(_ path: String) throws {
        try PrivateFile.write(try JSONEncoder().encode(self), to: path)
    }
}
