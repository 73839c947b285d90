import SealpostCore

/// The best known way to a destination node.
struct Route: Equatable {
    var dest: String
    var nextHop: String
    /// Nodes from here to `dest`, starting with `nextHop` and ending with `dest`.
    var path: [String]
    var signKey: [UInt8]
    var directoryVersion: UInt64
    var hops: Int { path.count }
}

/// Path-vector routing (protocol/SPEC.md, "Routing").
///
/// Each live peer announces every destination it reaches with the path it uses.
/// A path through this node is a loop and is ignored; of the rest the shortest
/// wins, ties going to the peer whose name sorts first (so every node decides
/// the same way). Pure logic: the reactor feeds it and sends what it returns.
struct RouteTable {
    let me: String
    private(set) var routes: [String: Route] = [:]

    init(me: String) { self.me = me }

    /// Recomputes from the announcements of the peers that are up.
    /// - Parameter announcements: per live peer, its latest announced entries.
    /// - Returns: whether any route changed.
    @discardableResult
    mutating func recompute(announcements: [String: [RouteEntry]]) -> Bool {
        var best: [String: Route] = [:]
        func offer(_ route: Route) {
            // Paths longer than an announcement may carry would make ours undecodable.
            guard route.dest != me, !route.path.contains(me), route.path.count <= 32 else { return }
            if let current = best[route.dest] {
                if route.hops > current.hops { return }
                if route.hops == current.hops && route.nextHop >= current.nextHop { return }
            }
            best[route.dest] = route
        }
        for (peer, entries) in announcements {
            for entry in entries {
                let path = entry.dest == peer ? [peer] : [peer] + entry.path
                // The announcer's own path to `dest` must start at a neighbour of it, not at us.
                offer(Route(dest: entry.dest, nextHop: peer, path: path, signKey: entry.signKey,
                            directoryVersion: entry.directoryVersion))
            }
        }
        let changed = best != routes
        routes = best
        return changed
    }

    /// What this node announces: itself, then every destination it reaches.
    func announcement(signKey: [UInt8], directoryVersion: UInt64) -> [RouteEntry] {
        var entries = [RouteEntry(dest: me, signKey: signKey, directoryVersion: directoryVersion, path: [])]
        for route in routes.values.sorted(by: { $0.dest < $1.dest }) {
            entries.append(RouteEntry(dest: route.dest, signKey: route.signKey, directoryVersion: route.directoryVersion, path: route.path))
        }
        return entries
    }

    func nextHop(to dest: String) -> String? { routes[dest]?.nextHop }
}
