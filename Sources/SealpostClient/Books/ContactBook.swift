import Foundation
import SealpostCore

/// Contacts received on verified cards, kept next to the profile (`PROFILE.contacts`),
/// so that the person can write to them at once, without a directory lookup.
public final class ContactBook {
    /// File: `{ADDRESS: hex of the encoded entry}`.
    private let book: Book<[String: String]>
    public var path: String { book.path ?? "" }
    public private(set) var entries: [String: DirectoryEntry] = [:]

    public init(profilePath: String) {
        book = Book(path: profilePath + ".contacts", empty: [:])
        for (address, hex) in book.value {
            if let bytes = Hex.decode(hex), let entry = try? DirectoryEntry.decode(bytes), entry.address == address {
                entries[address] = entry
            }
        }
    }

    public func add(_ entry: DirectoryEntry) {
        guard entries[entry.address] != entry else { return }
        entries[entry.address] = entry
        book.update { $0[entry.address] = Hex.encode(entry.encode()) }
    }

    /// Writes the book if a card added or changed a contact.
    public func save() throws { try book.save() }

    /// Hands every contact to the client (its signature was checked when the card arrived).
    public func load(into client: Client) {
        for entry in entries.values { client.remember(entry) }
    }
}
