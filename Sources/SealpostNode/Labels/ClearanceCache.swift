import SealpostCore

/// People's clearances as their signed directory entries give them, kept per address with the
/// entry's bytes: an entry is decoded again only when its bytes change (the label checks ask for
/// a clearance at every SEND and every delivery; decoding the entry each time was most of what
/// labels cost on the nodes' path). Derived data, no row copy: a lookup with other bytes (a new
/// entry, or one put back by a rollback) reads those bytes.
struct ClearanceCache {
    /// Addresses kept at most; past it the cache starts again empty.
    static let capacity = 65_536

    private var known: [String: (entry: [UInt8], rank: UInt8?)] = [:]

    var count: Int { known.count }

    /// The clearance in `entry`, the signed directory entry of `address`; nil when it sets none
    /// or does not decode (the caller takes the default label then).
    mutating func clearance(of address: String, entry: [UInt8]) -> UInt8? {
        // Array equality is a pointer check when the bytes are the same storage, as they are
        // while the registry holds the same entry.
        if let hit = known[address], hit.entry == entry { return hit.rank }
        let rank = (try? DirectoryEntry.decode(entry))?.clearance
        if known[address] == nil, known.count >= Self.capacity { known.removeAll(keepingCapacity: true) }
        known[address] = (entry, rank)
        return rank
    }
}
