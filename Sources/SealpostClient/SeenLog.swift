import Foundation
import SealpostCore

/// Ids of messages already shown on this device, so that a delivery repeated
/// after a lost acknowledgement is never shown twice. Kept next to the profile.
public final class SeenLog {
    public let path: String
    private var order: [String] = []
    private var set: Set<String> = []
    public static let capacity = 20_000

    public init(profilePath: String) {
        path = profilePath + ".seen"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") where line.count == 32 {
                let id = String(line)
                if set.insert(id).inserted { order.append(id) }
            }
        }
    }

    public func contains(_ id: MessageID) -> Bool { set.contains(id.hex) }

    public func add(_ ids: [MessageID]) {
        for id in ids where set.insert(id.hex).inserted { order.append(id.hex) }
        if order.count > Self.capacity {
            let drop = order.count - Self.capacity
            for id in order.prefix(drop) { set.remove(id) }
            order.removeFirst(drop)
        }
    }

    /// Writes the log durably; called before acknowledging what it records.
    public func save() throws {
        try PrivateFile.write(Data((order.joined(separator: "\n") + "\n").utf8), to: path)
    }
}
