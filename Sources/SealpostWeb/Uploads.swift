import Foundation
import SealpostCore
import Sodium
import Synchronization

/// Files the browser is handing to the daemon before they are sent: each in a folder of its
/// own beside the profile (`PROFILE.web-uploads/ID/NAME`, mode 0700), written in pieces at
/// the offset the browser says (so an interrupted hand-over continues where it stopped), then
/// sent by the transfer thread from there (so an interrupted upload to the node continues too).
final class Uploads: Sendable {
    struct Staged: Sendable, Equatable {
        var id: String
        var name: String
        var size: UInt64
        var path: String
    }

    enum Failure: Error, Equatable { case unknown, badOffset(have: UInt64), tooLong, io(String) }

    let root: String
    private let staged = Mutex<[String: Staged]>([:])

    /// Starts empty: what a previous run was handed and did not send is removed (the browser
    /// that handed it over is gone with that run; the person sends the file again).
    init(profilePath: String) {
        root = profilePath + ".web-uploads"
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A name a file may be stored under: no folders, no dot files, at most 255 bytes.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && !name.contains("/") && !name.hasPrefix(".") && !name.contains("\0")
            && name.unicodeScalars.allSatisfy { $0.value >= 0x20 }
    }

    func create(name: String, size: UInt64) throws -> Staged {
        let id = Hex.encode(Sodium.randomBytes(16))
        let dir = root + "/" + id
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root)
        let path = dir + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw Failure.io("cannot create \(path)")
        }
        let s = Staged(id: id, name: name, size: size, path: path)
        staged.withLock { $0[id] = s }
        return s
    }

    func get(_ id: String) -> Staged? { staged.withLock { $0[id] } }

    /// Bytes received so far.
    func received(_ id: String) -> UInt64? {
        guard let s = get(id) else { return nil }
        let size = (try? FileManager.default.attributesOfItem(atPath: s.path)[.size] as? NSNumber)?.uint64Value
        return size ?? 0
    }

    /// Writes a piece at `offset`, which must be where the file ends now.
    /// - Returns: the bytes held after it.
    func append(_ id: String, offset: UInt64, data: Data) throws -> UInt64 {
        guard let s = get(id), let have = received(id) else { throw Failure.unknown }
        guard offset == have else { throw Failure.badOffset(have: have) }
        guard have + UInt64(data.count) <= s.size else { throw Failure.tooLong }
        guard let handle = FileHandle(forWritingAtPath: s.path) else { throw Failure.io("cannot write \(s.path)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
        return have + UInt64(data.count)
    }

    func remove(_ id: String) {
        guard staged.withLock({ $0.removeValue(forKey: id) }) != nil else { return }
        try? FileManager.default.removeItem(atPath: root + "/" + id)
    }
}
