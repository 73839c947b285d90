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
    public struct Change: Sendable, Equatable {
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

    public let path: String?
    private var pins: [String: DirectoryEntry] = [:]
    private var dirty = false

    /// - Parameter profilePath: the profile whose `.keys` file holds the pins; nil keeps them in memory.
    public init(profilePath: String?) {
        path = profilePath.map { $0 + ".keys" }
        guard let path, let data = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: String] else { return }
        for (address, hex) in object {
            if let bytes = Hex.decode(hex), let entry = try? DirectoryEntry.decode(bytes), entry.address == address {
                pins[address] = entry
            }
        }
    }

    /// The pinned entry of `address` (its signature was checked when it was pinned).
    public func pinned(_ address: String) -> DirectoryEntry? { pins[address] }

    /// Pins `entry` (already verified) unless the pin is newer (a node still holding an
    /// older copy), and returns the entry to use, with the change when its keys differ
    /// from the pin. A new display name or signing time alone is no change of keys.
    /// - Parameter pinNew: false checks and updates existing pins only (a directory
    ///   listing: people one has never written to are not pinned).
    /// Call `save()` after a batch.
    public func observe(_ entry: DirectoryEntry, pinNew: Bool = true) -> (entry: DirectoryEntry, change: Change?) {
        let old = pins[entry.address]
        if old == entry { return (entry, nil) }
        if old == nil && !pinNew { return (entry, nil) }
        if let old, old.updatedAt > entry.updatedAt { return (old, nil) }
        pins[entry.address] = entry
        dirty = true
        guard let old, old.boxKey != entry.boxKey || old.signKey != entry.signKey else { return (entry, nil) }
        return (entry, Change(address: entry.address, was: old.fingerprint, now: entry.fingerprint))
    }

    /// Writes the pins if `observe` changed them (best effort: a pin not written is made again next time).
    public func save() {
        guard dirty, let path else { return }
        dirty = false
        let object = pins.mapValues { Hex.encode($0.encode()) }
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            try? PrivateFile.write(data, to: path)
        }
    }
}
