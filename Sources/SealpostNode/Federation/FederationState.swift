import SealpostCore

/// The node's federation bookkeeping: its peer links, which CURVE key is which peer, the
/// routes (`RouteTable`), the relay journal in memory (`RelayJournal`) and what each link
/// has in flight, the stream counters (protocol/SPEC.md, "Node to node": `stream_seq` per
/// destination out, the next expected per origin in), how many envelopes are held per
/// origin, the status summaries heard, and when the federation timers are next due.
///
/// Pure bookkeeping: the reactor reads and writes the database, sends and receives; it
/// tells this type what happened (`now` where time matters) and does what it answers.
/// The stream counters move during a cycle, ahead of its commit: `takeDirty` gives the
/// counters to write in the cycle's transaction, and if the commit fails `reloaded` puts
/// back what the database holds (the rollback path). The journal mirrors its table: an
/// entry comes (`journalled`) and goes (`acknowledged`) only once its row's change has
/// committed; what is sent and queued again is not stored, so no rollback touches it.
struct FederationState {
    /// One status summary per node (SPEC 13.8): its announcement seq, the JSON and when it was heard.
    typealias Summary = (seq: UInt64, json: [UInt8], heardMs: UInt64)

    /// Open links, by peer name.
    private(set) var links: [String: PeerLink] = [:]
    /// Configured peers by their CURVE public key.
    private var peersByKey: [[UInt8]: String] = [:]
    /// Next `stream_seq` to give an envelope bound for each destination node.
    private(set) var streamOut: [String: UInt64] = [:]
    /// Next `stream_seq` expected from each origin node.
    private(set) var streamIn: [String: UInt64] = [:]
    /// Counters moved this cycle and not yet written.
    private var dirtyOut: Set<String> = []
    private var dirtyIn: Set<String> = []
    /// Envelopes held per origin, waiting for the gap before them (mirrors the held table).
    private(set) var heldCount: [String: Int] = [:]
    /// The last status summary of each node, this one's included.
    private(set) var summaries: [String: Summary] = [:]
    /// When the federation tick, the route announcement and the summary are next due (monotonic ns).
    private(set) var nextTickNs: UInt64 = 0
    private(set) var nextAnnounceNs: UInt64 = 0
    private(set) var nextSummaryNs: UInt64 = 0

    /// The best route to each node, from the links' announcements.
    private(set) var routeTable: RouteTable
    /// Every envelope this node must still hand to a next hop.
    private(set) var journal = RelayJournal()

    /// - Parameters:
    ///   - me: this node's name (routes to it are not taken).
    ///   - streamOut, streamIn, heldCount: the counters as the database holds them.
    init(me: String, streamOut: [String: UInt64] = [:], streamIn: [String: UInt64] = [:], heldCount: [String: Int] = [:]) {
        routeTable = RouteTable(me: me)
        self.streamOut = streamOut
        self.streamIn = streamIn
        self.heldCount = heldCount
    }

    // MARK: links and peers

    /// A link to `link.name` was opened.
    mutating func opened(_ link: PeerLink) {
        precondition(links[link.name] == nil, "Invalid link: \(link.name) already has an open link")
        links[link.name] = link
    }

    /// The link to `name` was closed (the peer was removed or changed).
    mutating func closed(_ name: String) {
        links[name] = nil
    }

    /// The configured peers are now `peers`: who is admitted by key.
    mutating func setPeers(_ peers: [PeerConfig]) {
        peersByKey = [:]
        for peer in peers { peersByKey[peer.keyBytes] = peer.name }
    }

    /// The configured peer whose CURVE key is `curveKey`, if any.
    func peer(curveKey: [UInt8]) -> String? { peersByKey[curveKey] }

    // MARK: routes

    /// The links' announcements changed: the best routes again.
    /// - Returns: whether any route changed.
    mutating func recomputeRoutes(announcements: [String: [RouteEntry]]) -> Bool {
        routeTable.recompute(announcements: announcements)
    }

    // MARK: relay journal

    /// An entry's row committed (or was there at the start): it waits for its next hop.
    mutating func journalled(_ entry: RelayJournal.Entry) {
        journal.add(entry)
    }

    /// Up to `limit` entries queued for `dest`, oldest first, taken out of the queue: each is
    /// `sent` on a link or put back (`requeue`).
    mutating func takeQueued(for dest: String, limit: Int) -> [RelayJournal.Entry] {
        journal.take(dest: dest, limit: limit)
    }

    /// Entry `jid` (from `takeQueued`) went out on `link` at `now`: in flight until acknowledged.
    mutating func sent(_ jid: UInt64, on link: PeerLink, now: UInt64) {
        journal.markSent(jid, to: link.name)
        if link.inFlight.isEmpty { link.lastAckNs = now } // "stuck" counts from the oldest wait
        link.inFlight[jid] = now
    }

    /// Entry `jid` could not go out (pipe full, not connected): back in its queue, in order.
    mutating func requeue(_ jid: UInt64) {
        journal.requeue(jid)
    }

    /// `link` waited too long for `jid`'s acknowledgement: it is queued to be sent again.
    mutating func resend(_ jid: UInt64, from link: PeerLink) {
        link.inFlight[jid] = nil
        journal.requeue(jid)
    }

    /// What `link` has in flight goes back to the queues: the link fell silent, came up again
    /// (its window may have died with the connection) or is being closed.
    mutating func requeueInFlight(of link: PeerLink) {
        for jid in link.inFlight.keys { journal.requeue(jid) }
        link.inFlight.removeAll()
    }

    /// `link`'s peer acknowledged `jid`, and the entry's delete (or retention mark) committed.
    mutating func acknowledged(_ jid: UInt64, by link: PeerLink) {
        link.inFlight[jid] = nil
        journal.remove(jid)
    }

    /// Entry `jid` carries `envelope` from now on, in the same place (the committed notice
    /// that replaced an expired burn message).
    mutating func replaceJournalled(_ jid: UInt64, with envelope: Envelope) {
        journal.replaceEnvelope(jid, with: envelope)
    }

    // MARK: streams

    /// The `stream_seq` the next envelope for `dest` gets.
    func nextOut(to dest: String) -> UInt64 { streamOut[dest, default: 1] }

    /// An envelope for `dest` was journalled with `seq` (from `nextOut`) in this cycle's transaction.
    mutating func usedOut(_ seq: UInt64, to dest: String) {
        precondition(seq == nextOut(to: dest), "Invalid stream_seq: \(seq) for \(dest), expected \(nextOut(to: dest))")
        streamOut[dest] = seq + 1
        dirtyOut.insert(dest)
    }

    /// The `stream_seq` expected next from `origin`.
    func expectedIn(from origin: String) -> UInt64 { streamIn[origin, default: 1] }

    /// Everything from `origin` before `next` is now in mailboxes (in this cycle's transaction).
    mutating func acceptedIn(from origin: String, through next: UInt64) {
        streamIn[origin] = next
        dirtyIn.insert(origin)
    }

    /// `origin` started a new stream epoch (SPEC 13.11): it numbers from 1 again and nothing of it is held.
    /// The new counter is written by the reactor with the epoch, not as a dirty counter.
    /// - Returns: where the old epoch stood (its next expected seq).
    mutating func startedEpoch(origin: String) -> UInt64 {
        let previous = expectedIn(from: origin)
        heldCount[origin] = 0
        streamIn[origin] = 1
        return previous
    }

    /// The counters moved since the last call, to write in the cycle's transaction.
    mutating func takeDirty() -> (out: [String: UInt64], in: [String: UInt64]) {
        defer {
            dirtyOut.removeAll(keepingCapacity: true)
            dirtyIn.removeAll(keepingCapacity: true)
        }
        return (Dictionary(uniqueKeysWithValues: dirtyOut.map { ($0, nextOut(to: $0)) }),
                Dictionary(uniqueKeysWithValues: dirtyIn.map { ($0, expectedIn(from: $0)) }))
    }

    /// The cycle's commit failed: the counters are what the database holds again (a value the
    /// database could not give is kept as it is).
    mutating func reloaded(streamOut: [String: UInt64]?, streamIn: [String: UInt64]?, heldCount: [String: Int]?) {
        dirtyOut.removeAll()
        dirtyIn.removeAll()
        self.streamOut = streamOut ?? self.streamOut
        self.streamIn = streamIn ?? self.streamIn
        self.heldCount = heldCount ?? self.heldCount
    }

    // MARK: held envelopes

    /// Envelopes held from `origin`.
    func held(from origin: String) -> Int { heldCount[origin, default: 0] }

    /// Envelopes held from every origin.
    var heldTotal: Int { heldCount.values.reduce(0, +) }

    /// An envelope from `origin` was held (early: a gap before it).
    mutating func hold(from origin: String) {
        heldCount[origin, default: 0] += 1
    }

    /// A held envelope from `origin` was taken out (its turn came).
    mutating func released(from origin: String) {
        precondition(held(from: origin) > 0, "Invalid release: nothing is held from \(origin)")
        heldCount[origin, default: 1] -= 1
    }

    // MARK: summaries

    /// A summary from `node` with announcement `seq`: whether it is newer than the one held (and not this node's own, `me`).
    func isNewSummary(from node: String, seq: UInt64, me: String) -> Bool {
        node != me && seq > (summaries[node]?.seq ?? 0)
    }

    /// `node`'s summary is now `json` (announcement `seq`), heard at `nowMs`.
    mutating func heardSummary(from node: String, seq: UInt64, json: [UInt8], nowMs: UInt64) {
        summaries[node] = (seq, json, nowMs)
    }

    /// `node`'s summary is forgotten (it restarted with another epoch).
    mutating func forgetSummary(of node: String) {
        summaries[node] = nil
    }

    // MARK: timers

    /// The federation tick ran at `now`: the next one is `interval` later.
    mutating func ticked(now: UInt64, interval: UInt64) {
        nextTickNs = now + interval
    }

    /// Whether routes are to be announced at `now`; if so the next announcement is `interval` later.
    mutating func announceDue(now: UInt64, interval: UInt64) -> Bool {
        guard now >= nextAnnounceNs else { return false }
        nextAnnounceNs = now + interval
        return true
    }

    /// Something peers should hear of soon changed (a user, a route): announce at the next tick.
    mutating func announceSoon() {
        nextAnnounceNs = 0
    }

    /// Whether the summary is to be published at `now`; if so the next one is `interval` later.
    mutating func summaryDue(now: UInt64, interval: UInt64) -> Bool {
        guard now >= nextSummaryNs else { return false }
        nextSummaryNs = now + interval
        return true
    }
}
