import Foundation
import SealpostCore

/// Contacts received on verified cards, kept next to the profile (`PROFILE.contacts`),
/// so that the person can write to them at once, without a directory lookup.
public final class ContactBook {
    public let path: String
    public private(set) var entries: [String: DirectoryEntry] = [:]

    public init(profilePath: String) {
        path = profilePath + ".contacts"
        guard let data = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: String] else { return }
        for (address, hex) in object {
            if let bytes = Hex.decode(hex), let entry = try? DirectoryEntry.decode(bytes), entry.address == address {
                entries[address] = entry
            }
        }
    }

    private var changed = false

    public func add(_ entry: DirectoryEntry) {
        if entries[entry.address] != entry { changed = true }
        entries[entry.address] = entry
    }

    /// Writes the book if a card added or changed a contact.
    public func save() throws {
        guard changed else { return }
        changed = false
        let object = entries.mapValues { Hex.encode($0.encode()) }
        try PrivateFile.write(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), to: path)
    }

    /// Hands every contact to the client (its signature was checked when the card arrived).
    public func load(into client: Client) {
        for entry in entries.values { client.remember(entry) }
    }
}
