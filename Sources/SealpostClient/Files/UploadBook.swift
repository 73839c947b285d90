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

    public let path: String
    private var entries: [String: Entry] = [:]

    public init(profilePath: String) {
        path = profilePath + ".uploads"
        if let data = FileManager.default.contents(atPath: path), let loaded = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries = loaded
        }
    }

    /// Identifies "the same file to the same recipient": address, absolute path, size and modification time.
    static func key(to: String, path: String, size: UInt64, modified: Int64) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "\(to)|\(absolute)|\(size)|\(modified)"
    }

    func entry(_ key: String) -> Entry? { entries[key] }

    func set(_ key: String, _ entry: Entry) throws {
        guard entries[key] != entry else { return }
        entries[key] = entry
        try save()
    }

    func remove(_ key: String) {
        guard entries.removeValue(forKey: key) != nil else { return }
        try? save()
    }

    private func save() throws {
        try PrivateFile.write(try JSONEncoder().encode(entries), to: path)
    }
}
