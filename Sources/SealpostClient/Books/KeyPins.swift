import Foundation
import SealpostCore

/// The directory entry this profile last saw per address (`PROFILE.keys`), so that a
/// changed key (a correspondent who lost a device and was re-keyed, or a node that
/// hands out another key) is shown to the person instead of used silently.
///
/// Every entry the client gets from its node (LOOKUP, DIRECTORY) is checked here after
/// its signature: the first one for an address is pinned; one with other keys replaces
/// the pin and is reported once as a `Change`. Without a path the pins live in memory.
public final class KeyPins {
    /// A correspondent's keys changed since this profile last saw them.
    public struct Change: Sendable, Equatable, Codable {
        public let address: String
        /// Fingerprints (`DirectoryEntry.fingerprint`) of the old and the new keys.
        public let was: String
        public let now: String

        public init(address: String, was: String, now: String) {
            self.address = address
            self.was = was
            self.now = now
        }

        /// One line for a person.
        public var notice: String {
            "key changed for \(address): was \(was), now \(now); verify with them"
        }

        public var json: [String: Any] {
            ["kind": "key_changed", "address": address, "was": was, "now": now]
        }
    }

    /// File: `{"entries": {ADDRESS: hex of the encoded entry}, "unshown": [{"address", "was", "now"}]}`, mode 0600.
    struct File: Codable, Equatable {
        var entries: [String: String] = [:]
        /// Changes noticed and not shown yet: kept in the file, so a command that does not
        /// print them (remind, card, group…) leaves them for the next one that does.
        var unshown: [Change] = []
    }
    private let book: Book<File>
    public var path: String? { book.path }
    /// The entries of `book`, decoded.
    private var pins: [String: DirectoryEntry] = [:]

    /// - Parameter profilePath: the profile whose `.keys` file holds the pins; nil keeps them in memory.
    public init(profilePath: String?) {
        book = Book(path: profilePath.map { $0 + ".keys" }, empty: File())
        for (address, hex) in book.value.entries {
            if let bytes = Hex.decode(hex), let entry = try? DirectoryEntry.decode(bytes), entry.address == address {
                pins[address] = entry
            }
        }
    }

    /// The pinned entry of `address` (its signature was checked when it was pinned).
    public func pinned(_ address: String) -> DirectoryEntry? { pins[address] }

    /// Pins `entry` (already verified) unless the pin is newer (a node still holding an
    /// older copy), and returns the entry to use, with the change when its keys differ
    /// from the pin (also kept for `takeChanges`). A new display name or signing time
    /// alone is no change of keys. Call `save()` after a batch.
    /// - Parameter pinNew: false checks and updates existing pins only (a directory
    ///   listing: people one has never written to are not pinned).
    @discardableResult
    public func observe(_ entry: DirectoryEntry, pinNew: Bool = true) -> (entry: DirectoryEntry, change: Change?) {
        let old = pins[entry.address]
        if old == entry { return (entry, nil) }
        if old == nil && !pinNew { return (entry, nil) }
        if let old, old.updatedAt > entry.updatedAt { return (old, nil) }
        pins[entry.address] = entry
        book.update { $0.entries[entry.address] = Hex.encode(entry.encode()) }
        guard let old, old.boxKey != entry.boxKey || old.signKey != entry.signKey else { return (entry, nil) }
        let change = Change(address: entry.address, was: old.fingerprint, now: entry.fingerprint)
        book.update { $0.unshown.append(change) }
        return (entry, change)
    }

    /// The changes not shown yet, oldest first; they count as shown from now on.
    public func takeChanges() -> [Change] {
        let unshown = book.value.unshown
        guard !unshown.isEmpty else { return [] }
        book.update { $0.unshown.removeAll() }
        save()
        return unshown
    }

    /// Writes the pins if they changed (best effort: a pin not written is made again next time).
    public func save() { try? book.save() }
}
