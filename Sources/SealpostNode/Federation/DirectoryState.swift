/// What this node knows of the federated directory (protocol/SPEC.md 14): other nodes'
/// pinned signing keys, the version, signature and entries held for each home, the floors
/// the operator left when forgetting one, this node's own version, the DIR-REQs waiting for
/// their answer, and the count of refused snapshots not yet logged.
///
/// Pure bookkeeping: the reactor writes the rows, checks signatures and sends; it asks this
/// type whether a snapshot is to be taken (`answered`) and tells it what was committed
/// (`applied`, `forgot`). A key pinned inside a cycle comes with an undo (`putBack`,
/// `pinRolledBack`) for the cycle's rollback.
struct DirectoryState {
    /// An entry of another node's directory: its home node and the signed entry.
    typealias RemoteEntry = (home: String, entry: [UInt8])

    /// Signing keys of other nodes: configured peers' from HELLO, others pinned on first sight.
    private(set) var nodeKeys: [String: [UInt8]] = [:]
    /// The directory version held per home node.
    private(set) var versions: [String: UInt64] = [:]
    /// Per home node whose directory the operator forgot: the version held then. A snapshot
    /// older than it is a replay of what was already superseded (SPEC 14.3); gone on unpin.
    private(set) var floors: [String: UInt64] = [:]
    /// Each home's own signature over the version and entries held for it (passed on in DIR-SNAPSHOT).
    private(set) var signatures: [String: [UInt8]] = [:]
    /// Other nodes' entries, by address.
    private(set) var remoteEntries: [String: RemoteEntry] = [:]
    /// This node's own directory version (raised when a local entry changes).
    private(set) var localVersion: UInt64 = 0
    /// When a DIR-REQ was last sent per home.
    private var requestedNs: [String: UInt64] = [:]
    /// DIR-REQs waiting for their answer, per home: the peer asked and when (only these get applied).
    private(set) var requests: [String: (hop: String, sentNs: UInt64)] = [:]
    /// Refused snapshots: one warning per interval, the rest at debug level and counted.
    private var warnedNs: UInt64?
    private var refusalsUnlogged = 0

    /// What a node knew of a home before its key was pinned in this cycle (for the rollback).
    struct Held {
        var node: String
        var key: [UInt8]?
        var version: UInt64?
        var signature: [UInt8]?
        var floor: UInt64?
    }

    /// What to do with a DIR-SNAPSHOT (SPEC 14.3).
    enum SnapshotDecision: Equatable {
        /// Check its signature and entries with the home's pinned key, then apply it.
        case check(key: [UInt8])
        /// Not newer than what is held (the next hop is still fetching it), or no key: dropped quietly, asked again later.
        case ignore
        /// Dropped and counted: why.
        case refuse(String)
    }

    /// How a refused snapshot is logged.
    enum RefusalLog: Equatable {
        /// A warning, saying how many were refused (at debug level) since the last one.
        case warning(alsoRefused: Int)
        case debug
    }

    init() {}

    /// - Parameters: what the database holds.
    init(localVersion: UInt64, nodes: [(name: String, signKey: [UInt8], version: UInt64, signature: [UInt8])],
         entries: [(address: String, home: String, entry: [UInt8])], floors: [String: UInt64]) {
        self.localVersion = localVersion
        for node in nodes {
            nodeKeys[node.name] = node.signKey
            versions[node.name] = node.version
            if !node.signature.isEmpty { signatures[node.name] = node.signature }
        }
        for e in entries { remoteEntries[e.address] = (e.home, e.entry) }
        self.floors = floors
    }

    // MARK: keys

    /// A configured peer proved `signKey` over its link (HELLO): it is authoritative. A key other
    /// than the one pinned starts the peer's directory fresh (no version, signature or floor: a
    /// rebuilt node numbers from low again, and snapshots signed with the old key no longer verify).
    /// - Returns: what was held before, for `putBack` if the cycle is rolled back.
    mutating func pinPeer(_ node: String, signKey: [UInt8]) -> Held {
        let held = Held(node: node, key: nodeKeys[node], version: versions[node], signature: signatures[node], floor: floors[node])
        if let old = nodeKeys[node], old != signKey {
            versions[node] = 0
            signatures[node] = nil
            floors[node] = nil
        }
        nodeKeys[node] = signKey
        return held
    }

    /// The cycle that pinned a peer's key was rolled back: what was held before is back.
    mutating func putBack(_ held: Held) {
        nodeKeys[held.node] = held.key
        versions[held.node] = held.version
        signatures[held.node] = held.signature
        floors[held.node] = held.floor
    }

    /// A node seen for the first time in an announcement: its key is pinned (trust on first use).
    mutating func pinFirstSeen(_ node: String, signKey: [UInt8]) {
        precondition(nodeKeys[node] == nil, "Invalid pin: \(node) already has a pinned key")
        nodeKeys[node] = signKey
    }

    /// The cycle that pinned `node` on first sight was rolled back: pinned again on the next announcement.
    mutating func pinRolledBack(_ node: String) {
        nodeKeys[node] = nil
    }

    // MARK: this node's directory

    /// A commit raised this node's directory `version` (it only goes up).
    mutating func raiseLocalVersion(to version: UInt64) {
        localVersion = max(localVersion, version)
    }

    // MARK: asking

    /// Gives up DIR-REQs unanswered for longer than `timeout` (a later answer is unsolicited).
    mutating func expireRequests(now: UInt64, timeout: UInt64) {
        for (home, request) in requests where now &- request.sentNs > timeout { requests[home] = nil }
    }

    /// Whether to ask `hop` for `home`'s directory now, which it announces at `version`: newer than
    /// held, with a pinned key, no question open to the same hop, and none sent within `interval`.
    /// If so, the question is recorded as sent at `now`.
    mutating func shouldRequest(home: String, via hop: String, version: UInt64, now: UInt64, interval: UInt64) -> Bool {
        guard version > versions[home, default: 0], nodeKeys[home] != nil else { return false }
        // One question at a time per home, unless the way to it changed.
        if let open = requests[home], open.hop == hop { return false }
        if let last = requestedNs[home], now &- last < interval { return false }
        requestedNs[home] = now
        requests[home] = (hop, now)
        return true
    }

    // MARK: snapshots

    /// A DIR-SNAPSHOT for `home` at `version` came from `hop` at `now`, where `nextHop` is this
    /// node's next hop toward `home` and `me` its name. Taken only as the answer to our own
    /// DIR-REQ to that peer within `timeout` (which it closes), from the next hop toward `home`,
    /// newer than the version held and not older than the floor (SPEC 14.3).
    mutating func answered(home: String, from hop: String, version: UInt64, nextHop: String?, me: String,
                           now: UInt64, timeout: UInt64) -> SnapshotDecision {
        guard let request = requests[home], request.hop == hop, now &- request.sentNs <= timeout else {
            return .refuse("not asked for")
        }
        requests[home] = nil
        guard nextHop == hop else { return .refuse("the peer is not the next hop toward the node") }
        guard home != me, version > versions[home, default: 0] else { return .ignore }
        if let floor = floors[home], version < floor {
            // Older than what this node held before its operator forgot it: a replay.
            return .refuse("its version is older than the one held before the directory was forgotten")
        }
        guard let key = nodeKeys[home] else { return .ignore }
        return .check(key: key)
    }

    /// A checked snapshot of `home` was committed: its entries replace every entry held of it.
    mutating func applied(home: String, version: UInt64, signature: [UInt8], entries: [(address: String, entry: [UInt8])]) {
        remoteEntries = remoteEntries.filter { $0.value.home != home }
        for e in entries { remoteEntries[e.address] = (home, e.entry) }
        versions[home] = version
        signatures[home] = signature
    }

    /// The snapshot a node passes on for `home`: only what `home` signed, unchanged (nil: nothing held).
    func snapshot(of home: String) -> (version: UInt64, entries: [[UInt8]], signature: [UInt8])? {
        guard let version = versions[home], version > 0, let signature = signatures[home] else { return nil }
        let entries = remoteEntries.filter { $0.value.home == home }.sorted { $0.key < $1.key }.map(\.value.entry)
        return (version, entries, signature)
    }

    /// A snapshot was refused at `now`: whether to warn (at most once per `interval`) or log at debug level.
    mutating func refused(now: UInt64, interval: UInt64) -> RefusalLog {
        if let warnedNs, now &- warnedNs < interval {
            refusalsUnlogged += 1
            return .debug
        }
        defer {
            warnedNs = now
            refusalsUnlogged = 0
        }
        return .warning(alsoRefused: refusalsUnlogged)
    }

    // MARK: the operator

    /// The entries held of `home`.
    func entryCount(of home: String) -> Int { remoteEntries.values.filter { $0.home == home }.count }

    /// The operator's forget (or unpin) of `node` was committed: its entries, version, signature
    /// and questions are gone; unpinned, its key and floor too; forgotten, `floor` stays.
    mutating func forgot(_ node: String, unpin: Bool, floor: UInt64) {
        remoteEntries = remoteEntries.filter { $0.value.home != node }
        versions[node] = nil
        signatures[node] = nil
        requests[node] = nil
        requestedNs[node] = nil
        if unpin {
            // A new key starts fresh: its node's versions may start low again (a rebuilt node).
            nodeKeys[node] = nil
            floors[node] = nil
        } else if floor > 0 {
            floors[node] = floor
        }
    }
}
