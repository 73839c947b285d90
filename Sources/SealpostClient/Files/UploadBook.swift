import Foundation
import Sodium

/// Uploads not finished yet (`PROFILE.uploads`, mode 0600): for each file and
/// recipient, the file id and stream key, so that sending the same file again
/// continues the upload instead of starting over.
public final class UploadBook {
    public struct Entry: Codable, Equatable {
        public var fileId: [UInt8]
        public var key: [UInt8]
        public var header: [UInt8]
    }

    private let book: Book<[String: Entry]>
    public var path: String { book.path ?? "" }

    public init(profilePath: String) {
        book = Book(path: profilePath + ".uploads", empty: [:])
    }

    /// Identifies "the same file to the same recipient": address, absolute path, size and modification time.
    static func key(to: String, path: String, size: UInt64, modified: Int64) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "\(to)|\(absolute)|\(size)|\(modified)"
    }

    func entry(_ key: String) -> Entry? { book.value[key] }

    /// Written at once: the key must be on disk before the first chunk leaves.
    func set(_ key: String, _ entry: Entry) throws {
        guard book.value[key] != entry else { return }
        book.update { $0[key] = entry }
        try book.save()
    }

    func remove(_ key: String) {
        guard book.value[key] != nil else { return }
        book.update { $0[key] = nil }
        try? book.save()
    }
}
