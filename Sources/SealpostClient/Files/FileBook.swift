import Foundation
import SealpostCore
import Sodium

/// Files received (`PROFILE.files`, mode 0600): the manifest of each offer shown
/// by `inbox` or `chat`, so that `sealpost fetch ID` can download and open it later.
public final class FileBook {
    public struct Entry: Codable, Equatable {
        public var from: String
        public var name: String
        public var size: UInt64
        public var key: String
        public var header: String
        public var hash: String
        public var flags: UInt8
        public var receivedAt: UInt64
        /// Its label's readable-until time (SPEC 7.11.9): then the kept key is deleted. Absent: none.
        public var until: UInt64?
    }

    private let book: Book<[String: Entry]>
    public var path: String { book.path ?? "" }
    public var files: [String: Entry] { book.value }

    public init(profilePath: String) {
        book = Book(path: profilePath + ".files", empty: [:])
        purgeExpired(now: Clock.nowMs())
    }

    /// Forgets the files whose readable-until time has come (their keys with them).
    public func purgeExpired(now: UInt64) {
        guard files.values.contains(where: { ($0.until ?? .max) <= now }) else { return }
        book.update { $0 = $0.filter { ($0.value.until ?? .max) > now } }
    }

    public func note(_ m: ReceivedMessage) {
        guard let f = m.file, files[f.fileId.hex] == nil else { return }
        let entry = Entry(from: m.from, name: f.name, size: f.size, key: Sodium.base64(f.key), header: Sodium.base64(f.header),
                          hash: Hex.encode(f.hash), flags: f.flags, receivedAt: m.sentAt,
                          until: m.readableUntil.flatMap { $0 > 0 ? $0 : nil })
        book.update { $0[f.fileId.hex] = entry }
    }

    /// The manifest of a received file, by its id (or a unique prefix of it).
    public func manifest(_ id: String) -> (manifest: FileManifest, from: String)? {
        purgeExpired(now: Clock.nowMs())
        let matches = files.filter { $0.key.hasPrefix(id.lowercased()) }
        guard matches.count == 1, let (hex, e) = matches.first, let fileId = FileID(hex: hex),
              let key = Sodium.fromBase64(e.key), let header = Sodium.fromBase64(e.header), let hash = Hex.decode(e.hash) else { return nil }
        return (FileManifest(flags: e.flags, fileId: fileId, name: e.name, size: e.size, key: key, header: header, hash: hash), e.from)
    }

    public func save() throws {
        purgeExpired(now: Clock.nowMs())
        try book.save()
    }
}
