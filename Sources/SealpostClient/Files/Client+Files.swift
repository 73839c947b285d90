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

        var have = try beginUpload(fileId, size: cipherSize, chunks: chunks)
        let resumed = have
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
        var digest: [UInt8] = []
        // The node may lose chunks that were not durable yet (it restarted, the connection broke):
        // it then refuses what follows as out of order, or stops answering. The upload asks again
        // where to continue (FILE-BEGIN) a few times before it gives up.
        var attempts = 0
        upload: while true {
            guard let stream = SecretStream(key: upload.key, header: upload.header) else { throw ClientError.protocolError("damaged upload state") }
            let hash = GenericHashStream()
            // The chunks the node already has: through the stream again (output dropped) for its state and the hash.
            for index in 0..<have {
                let plain = try readChunk(index)
                hash.update(plain)
                _ = stream.push(plain, final: index + 1 == chunks, additional: fileId.bytes)
            }
            try progress(min(size, UInt64(have) * UInt64(FileChunks.plainChunkBytes)), size)
            var next = have
            var lastHeard = Clock.monotonicNs()
            while have < chunks {
                while next < chunks && next < have + Self.fileWindow {
                    let plain = try readChunk(next)
                    hash.update(plain)
                    let cipher = stream.push(plain, final: next + 1 == chunks, additional: fileId.bytes)
                    while try !connection.send(.fileChunk(fileId: fileId, index: next, data: cipher)) {
                        usleep(1_000) // the outgoing queue is full: let it drain
                    }
                    next += 1
                }
                guard let command = try connection.receive(timeoutMs: 200) else {
                    if Clock.monotonicNs() - lastHeard > UInt64(timeoutMs) * 1_000_000 {
                        guard attempts < 3, let again = try? beginUpload(fileId, size: cipherSize, chunks: chunks, again: true) else {
                            throw ClientError.unreachable("the upload stalled: node '\(profile.address.node)' has not acknowledged a chunk for \(Self.seconds(timeoutMs)); run the same command again to continue")
                        }
                        attempts += 1
                        have = again
                        continue upload
                    }
                    continue
                }
                switch command {
                case let .fileStatus(id, durable, _) where id == fileId:
                    lastHeard = Clock.monotonicNs()
                    if durable > have {
                        have = durable
                        try progress(min(size, UInt64(have) * UInt64(FileChunks.plainChunkBytes)), size)
                    }
                case let .error(code, ref, reason) where ref == fileId:
                    if code == ErrorCode.insufficientStorage.rawValue || code == ErrorCode.tooLarge.rawValue { uploads.remove(resumeKey) }
                    if (code == ErrorCode.badRequest.rawValue || code == ErrorCode.unknownAddress.rawValue) && attempts < 3 {
                        attempts += 1
                        have = try beginUpload(fileId, size: cipherSize, chunks: chunks, again: true)
                        continue upload
                    }
                    throw ClientError.refused(code: code, reason: reason)
                default:
                    buffered.append(command)
                }
            }
            digest = hash.finish()
            break
        }
        let manifest = FileManifest(flags: burn ? Burn.manifestFlag : 0, fileId: fileId, name: name, size: size, key: upload.key,
                                    header: upload.header, hash: digest)
        let offer = FileOffer(fileId: fileId, cipherSize: cipherSize, chunks: chunks)
        let id = MessageID(bytes: Sodium.randomBytes(16))!
        let sentAt = Clock.nowMs()
        let kind = EnvelopeKind.file.rawValue
        // A view-once file carries no origin: it is never forwarded.
        var (content, originFlag) = burn ? (manifest.encode(), UInt16(0))
                                         : withOrigin(kind: .file, id: id, to: to, sentAt: sentAt, content: manifest.encode())
        defer { wipe(&content) }
        let label = try outgoingLabel(to: to, members: groupMembers)
        let sealed = try seal(kind: kind, id: id, to: to, sentAt: sentAt, label: label, content: content, members: groupMembers)
        try store(Envelope(id: id, from: "", to: to.description, kind: kind, flags: (burn ? Burn.fileFlag : 0) | originFlag, sentAt: sentAt,
                           label: label, body: offer.body(sealed: sealed)))
        uploads.remove(resumeKey)
        return SentFile(id: id, fileId: fileId, name: name, size: size, resumedChunks: resumed)
    }

    /// FILE-BEGIN until the node answers how much it already holds. `again`: the refusals of
    /// chunks sent before (400, 404) may still come first, and are passed over.
    private func beginUpload(_ fileId: FileID, size: UInt64, chunks: UInt32, again: Bool = false) throws -> UInt32 {
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            try connection.send(.fileBegin(fileId: fileId, size: size, chunks: chunks))
            let until = min(deadline, Clock.monotonicNs() + UInt64(retransmitMs) * 1_000_000)
            while Clock.monotonicNs() < until {
                guard let command = try connection.receive(timeoutMs: Int((until - Clock.monotonicNs()) / 1_000_000) + 1) else { break }
                switch command {
                case let .fileStatus(id, have, _) where id == fileId: return have
                case let .error(code, ref, _) where ref == fileId && again
                    && (code == ErrorCode.badRequest.rawValue || code == ErrorCode.unknownAddress.rawValue):
                    continue
                case let .error(code, ref, reason) where ref == fileId: throw ClientError.refused(code: code, reason: reason)
                default: buffered.append(command)
                }
            }
        }
        throw unreachable
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

        var requested = next
        var lastHeard = Clock.monotonicNs()
        var lastAsked = lastHeard
        var nodeHas: UInt32?
        func ask() throws {
            let count = min(Self.fileWindow, chunks - requested)
            guard count > 0 else { return }
            try connection.send(.fileGet(fileId: fileId, from: requested, count: count))
            requested += count
            lastAsked = Clock.monotonicNs()
        }
        try ask()
        while next < chunks {
            if requested - next <= Self.fileWindow / 2 { try ask() }
            guard let command = try connection.receive(timeoutMs: 200) else {
                let idle = Clock.monotonicNs() - lastHeard
                if idle > UInt64(timeoutMs) * 1_000_000 {
                    try checkpoint(fd, stream, next, fileId, resumePath, partPath)
                    if let nodeHas {
                        throw ClientError.unreachable("node '\(profile.address.node)' is still fetching the file from its origin (\(nodeHas) of \(chunks) chunks there); run the same command again later to continue")
                    }
                    throw ClientError.unreachable("the download stalled: no data from node '\(profile.address.node)' for \(Self.seconds(timeoutMs)); run the same command again to continue")
                }
                if idle > 3_000_000_000 && Clock.monotonicNs() - lastAsked > 3_000_000_000 {
                    requested = next // the node may have restarted: ask again
                    try ask()
                }
                continue
            }
            switch command {
            case let .fileChunk(id, index, data) where id == fileId:
                lastHeard = Clock.monotonicNs()
                guard index == next else { continue } // a repeat after asking again
                guard let (plain, tag) = stream.pull(data[...], additional: fileId.bytes) else {
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
                next += 1
                try progress(min(manifest.size, FileChunks.plainOffset(index: next)), manifest.size)
                if next % Self.checkpointChunks == 0 && next < chunks { try checkpoint(fd, stream, next, fileId, resumePath, partPath) }
            case let .fileStatus(id, have, _) where id == fileId:
                lastHeard = Clock.monotonicNs()
                nodeHas = have
            case let .error(code, ref, reason) where ref == fileId:
                throw ClientError.refused(code: code, reason: reason)
            default:
                buffered.append(command)
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
