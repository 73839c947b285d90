import Foundation

/// The admin `status` answer (SPEC 15.3): built by the node, read by `sealpost-node status`,
/// the metrics endpoint, the tests and the bench. The JSON keys are the `CodingKeys` below,
/// written once; a key renamed here is a compile error at every reader, not a silent `?? 0`.
///
/// Absent values (`last_heard_ms` of a peer never heard, `next_hop` with no route, …) are
/// encoded as JSON `null`, as SPEC 15.3 says, and decode as `nil`.
public struct NodeStatus: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    public var uptimeS: Int
    public var router: String
    public var publish: String
    /// One per configured peer, in name order.
    public var peers: [Peer]
    /// One per route, in destination order.
    public var routes: [Route]
    public var users: Users
    public var waiting: Waiting
    /// Entries in the relay journal.
    public var journal: Int
    /// Per destination node with envelopes in the journal, routed or not.
    public var destinations: [Destination]
    public var restore: Restore
    /// Journal entries for destinations with no route now.
    public var unrouted: Int
    /// Envelopes held for a gap in their stream.
    public var held: Int
    public var reminders: Reminders
    public var burns: Burns
    public var forwards: Forwards
    public var receipts: Receipts
    public var storage: Storage
    public var limits: Limits
    public var labels: Labels
    public var files: Files
    public var audit: Audit
    public var trace: Trace
    public var rates: Rates
    /// How long the reactor's recent cycles took.
    public var cycles: Cycles
    public var counters: Counters

    enum CodingKeys: String, CodingKey {
        case name, version, uptimeS = "uptime_s", router, publish, peers, routes, users, waiting, journal, destinations,
             restore, unrouted, held, reminders, burns, receipts, forwards, storage, limits, labels, files, audit, trace, rates, cycles, counters
    }

    /// Delivered receipts (SPEC 7.10) since the start: made for this node's users' senders, and ids
    /// dropped from relayed receipts that named messages their addressee never sent here.
    public struct Receipts: Codable, Sendable, Equatable {
        public var deliveredMade: Int
        public var forgedDropped: Int

        enum CodingKeys: String, CodingKey { case deliveredMade = "delivered_made", forgedDropped = "forged_dropped" }
    }

    /// Classification labels (SPEC 7.11): the set and this node's rules, and since the start the
    /// envelopes refused by reason and the messages deleted at their readable-until time.
    public struct Labels: Codable, Sendable, Equatable {
        public var `default`: String
        public var ceiling: String
        public var accredited: [String]
        public var set: [String]
        public var digest: String
        /// Peer → the ceiling of the link to it.
        public var links: [String: String]
        public var mismatchedPeers: [String]
        public var refused: [String: Int]
        public var expired: Int
        @Nullable public var nextExpiry: String?
        /// Peers let in without a label digest (`peers[].unlabelled`), their links capped at the default label.
        public var unlabelledPeers: [String]
        /// Relayed refusal notices dropped: about no message their addressee sent through the refusing node.
        public var noticesDropped: Int
        /// Downgrades countersigned since the start (SPEC 7.11.11).
        public var downgrades: Int
        /// 保密期限 per label (`labels.expiry`): `敏感 sensitive` → `90d`.
        public var expiry: [String: String]

        enum CodingKeys: String, CodingKey {
            case `default`, ceiling, accredited, set, digest, links, mismatchedPeers = "mismatched_peers", refused, expired,
                 nextExpiry = "next_expiry", unlabelledPeers = "unlabelled_peers", noticesDropped = "notices_dropped", downgrades,
                 expiry
        }
    }

    /// Forwards this node judged as the forwarder's node, and its settings (SPEC 7.9).
    public struct Forwards: Codable, Sendable, Equatable {
        public var accepted: Int
        public var refused: Int
        public var hops: Int
        public var defaultScope: String
        public var maxRecipients: Int
        public var maxHops: Int
        /// Forward reports (SPEC 7.9.9): sent to other units, withheld by the per-forwarder rate,
        /// received for this unit, of those read by no officer (there is none), dropped (forged or not this unit's).
        public var reportsSent: Int
        public var reportsWithheld: Int
        public var reportsReceived: Int
        public var reportsUnread: Int
        public var reportsDropped: Int
        /// The rate settings of forward reports, per forwarder.
        public var reportBurst: Int
        public var reportsPerHour: Int

        enum CodingKeys: String, CodingKey {
            case accepted, refused, hops, defaultScope = "default_scope", maxRecipients = "max_recipients", maxHops = "max_hops"
            case reportsSent = "reports_sent", reportsWithheld = "reports_withheld", reportsReceived = "reports_received"
            case reportsUnread = "reports_unread", reportsDropped = "reports_dropped"
            case reportBurst = "report_burst", reportsPerHour = "reports_per_hour"
        }
    }

    /// Federated traces (SPEC 11.7, 15.8): this node's answer policy, its officers, and since the start
    /// the queries it answered, refused and dropped and the viewer codes it issued.
    public struct Trace: Codable, Sendable, Equatable {
        public var answer: String
        public var supervisors: [String]
        public var timeoutS: Int
        public var officers: Int
        public var inProgress: Int
        public var answered: Int
        public var refused: Int
        public var dropped: Int
        public var codesIssued: Int

        enum CodingKeys: String, CodingKey {
            case answer, supervisors, timeoutS = "timeout_s", officers, inProgress = "in_progress", answered, refused, dropped,
                 codesIssued = "codes_issued"
        }
    }

    /// The node's audit log (SPEC 15.7): records committed, the last signed head.
    public struct Audit: Codable, Sendable, Equatable {
        public var records: Int
        public var signedThrough: Int
        @Nullable public var lastSigned: String?
        public var signEveryS: Int

        enum CodingKeys: String, CodingKey { case records, signedThrough = "signed_through", lastSigned = "last_signed", signEveryS = "sign_every_s" }
    }

    /// This node's link to one configured peer, as seen from here.
    public struct Peer: Codable, Sendable, Equatable {
        public var name: String
        public var router: String
        /// `connected`, `stuck`, `reconnecting` or `unreachable` (SPEC 15.3).
        public var state: String
        public var queue: Int
        public var inFlight: Int
        public var rttUs: Int
        @Nullable public var lastHeardMs: Int?
        @Nullable public var oldestUnackedMs: Int?
        /// What the peer's last SUMMARY said of its storage.
        @Nullable public var storage: String?

        enum CodingKeys: String, CodingKey {
            case name, router, state, queue, inFlight = "in_flight", rttUs = "rtt_us", lastHeardMs = "last_heard_ms",
                 oldestUnackedMs = "oldest_unacked_ms", storage
        }
    }

    public struct Route: Codable, Sendable, Equatable {
        public var dest: String
        public var nextHop: String
        public var hops: Int
        public var path: [String]

        enum CodingKeys: String, CodingKey { case dest, nextHop = "next_hop", hops, path }
    }

    public struct Users: Codable, Sendable, Equatable {
        public var enrolled: Int
        public var online: Int
        public var disabled: Int
        public var federated: Int
    }

    public struct Waiting: Codable, Sendable, Equatable {
        public var messages: Int
        public var users: Int
        public var byUser: [String: Int]

        enum CodingKeys: String, CodingKey { case messages, users, byUser = "by_user" }
    }

    public struct Destination: Codable, Sendable, Equatable {
        public var node: String
        public var waiting: Int
        public var inFlight: Int
        public var oldestMs: Int
        @Nullable public var nextHop: String?

        enum CodingKeys: String, CodingKey { case node, waiting, inFlight = "in_flight", oldestMs = "oldest_ms", nextHop = "next_hop" }
    }

    public struct Restore: Codable, Sendable, Equatable {
        public var epoch: UInt64
        @Nullable public var restoredAt: String?
        public var retained: Int
        public var retentionHours: Int
        public var resent: Int
        public var released: Int
        public var lateOldEpoch: Int
        public var lost: Int
        public var lostByStream: [String: Int]

        enum CodingKeys: String, CodingKey {
            case epoch, restoredAt = "restored_at", retained, retentionHours = "retention_hours", resent, released,
                 lateOldEpoch = "late_old_epoch", lost, lostByStream = "lost_by_stream"
        }
    }

    public struct Reminders: Codable, Sendable, Equatable {
        public var pending: Int
        @Nullable public var nextDue: String?
        public var fired: Int
        public var late: Int

        enum CodingKeys: String, CodingKey { case pending, nextDue = "next_due", fired, late }
    }

    public struct Burns: Codable, Sendable, Equatable {
        public var pending: Int
        @Nullable public var nextExpiry: String?
        public var viewed: Int
        public var expired: Int
        public var receipts: Int
        public var refusedQuotes: Int

        enum CodingKeys: String, CodingKey {
            case pending, nextExpiry = "next_expiry", viewed, expired, receipts, refusedQuotes = "refused_quotes"
        }
    }

    public struct Storage: Codable, Sendable, Equatable {
        public var dbBytes: Int
        public var walBytes: Int
        /// `ok`, or `disk full` while new messages are refused.
        public var state: String
        public var freeBytes: Int
        public var minFreeMb: Int
        public var walMaxMb: Int

        enum CodingKeys: String, CodingKey {
            case dbBytes = "db_bytes", walBytes = "wal_bytes", state, freeBytes = "free_bytes", minFreeMb = "min_free_mb",
                 walMaxMb = "wal_max_mb"
        }
    }

    public struct Limits: Codable, Sendable, Equatable {
        public var mailboxMessages: Int
        public var mailboxMb: Int
        public var burnMb: Int
        public var senderMb: Int
        public var sendPerS: Int
        public var sendBurst: Int
        public var sendMbS: Int
        public var sendBurstMb: Int
        public var heldPerOrigin: Int
        /// Refusals since the start, per reason (`rate_limited`, `mailbox_full`, … SPEC 15.3); every reason is present.
        public var refused: [String: Int]
        @Nullable public var fullestMailbox: FullestMailbox?

        public struct FullestMailbox: Codable, Sendable, Equatable {
            public var user: String
            public var messages: Int
            public var bytes: Int
        }

        enum CodingKeys: String, CodingKey {
            case mailboxMessages = "mailbox_messages", mailboxMb = "mailbox_mb", burnMb = "burn_mb", senderMb = "sender_mb",
                 sendPerS = "send_per_s", sendBurst = "send_burst", sendMbS = "send_mb_s", sendBurstMb = "send_burst_mb",
                 heldPerOrigin = "held_per_origin", refused, fullestMailbox = "fullest_mailbox"
        }
    }

    public struct Files: Codable, Sendable, Equatable {
        public var files: Int
        public var bytes: Int
        public var complete: Int
        public var uploading: Int
        public var pulling: Int
        public var failed: Int
        public var sending: Int
        public var freeBytes: Int
        public var quotaMb: Int
        public var retentionHours: Int
        public var expireDays: Int
        public var byUser: [String: Int]
        public var chunksIn: Int
        public var chunksOut: Int
        public var damagedChunks: Int
        public var refused: Int
        public var collected: Int

        enum CodingKeys: String, CodingKey {
            case files, bytes, complete, uploading, pulling, failed, sending, freeBytes = "free_bytes", quotaMb = "quota_mb",
                 retentionHours = "retention_hours", expireDays = "expire_days", byUser = "by_user", chunksIn = "chunks_in",
                 chunksOut = "chunks_out", damagedChunks = "damaged_chunks", refused, collected
        }
    }

    public struct Rates: Codable, Sendable, Equatable {
        public var inLastMinute: Int
        public var outLastMinute: Int
        public var relayedLastMinute: Int
        public var inPerS: Double
        public var outPerS: Double
        public var relayedPerS: Double

        enum CodingKeys: String, CodingKey {
            case inLastMinute = "in_last_minute", outLastMinute = "out_last_minute", relayedLastMinute = "relayed_last_minute",
                 inPerS = "in_per_s", outPerS = "out_per_s", relayedPerS = "relayed_per_s"
        }
    }

    /// Since the node started (SPEC 15.3 `counters`).
    /// The reactor's recent cycles (their work, not the poll's wait): what a late message waited for.
    public struct Cycles: Codable, Sendable, Equatable {
        /// Cycles since the start.
        public var count: Int
        /// How many recent cycles the figures below are over.
        public var recent: Int
        public var slowestMs: Double
        /// The node thread's CPU time in the slowest cycle: much less than `slowestMs` means it waited
        /// (for the disk, or for a CPU other programs held), not that it worked.
        public var slowestCPUMs: Double
        /// Times the node thread waited in the kernel (the disk, a lock) during the slowest cycle.
        public var slowestBlocks: Int
        /// Times another thread was given the node thread's CPU during the slowest cycle.
        public var slowestPreemptions: Int
        /// The phase that took longest in the slowest cycle (`router`, `commit`, …).
        @Nullable public var phase: String?
        public var phaseMs: Double
        public var p50Ms: Double
        public var p99Ms: Double

        enum CodingKeys: String, CodingKey {
            case count, recent, slowestMs = "slowest_ms", slowestCPUMs = "slowest_cpu_ms", slowestBlocks = "slowest_blocks",
                 slowestPreemptions = "slowest_preemptions", phase, phaseMs = "phase_ms", p50Ms = "p50_ms", p99Ms = "p99_ms"
        }
    }

    public struct Counters: Codable, Sendable, Equatable {
        public var envelopesIn: Int
        public var delivered: Int
        public var duplicates: Int
        public var relayed: Int
        public var malformed: Int
        public var refusedKeys: Int
        public var rejectedRelays: Int
        public var rejectedAnnouncements: Int
        public var rejectedSnapshots: Int
        public var keyConflicts: Int
        public var undeliverable: Int
        public var commitFailures: Int

        enum CodingKeys: String, CodingKey, CaseIterable {
            case envelopesIn = "envelopes_in", delivered, duplicates, relayed, malformed, refusedKeys = "refused_keys",
                 rejectedRelays = "rejected_relays", rejectedAnnouncements = "rejected_announcements",
                 rejectedSnapshots = "rejected_snapshots", keyConflicts = "key_conflicts", undeliverable,
                 commitFailures = "commit_failures"
        }

        /// The counters that mean something went wrong, with their JSON names (what `status` puts under "attention").
        public var troubles: [(name: String, value: Int)] {
            [("malformed", malformed), ("refused_keys", refusedKeys), ("rejected_relays", rejectedRelays),
             ("rejected_announcements", rejectedAnnouncements), ("rejected_snapshots", rejectedSnapshots),
             ("key_conflicts", keyConflicts), ("undeliverable", undeliverable), ("commit_failures", commitFailures)]
        }
    }
}

/// The admin `pending` answer (SPEC 15.4): what waits for one peer, metadata only.
public struct PendingStatus: Codable, Sendable, Equatable {
    public var peer: String
    public var pending: [Item]
    public var unroutedDestinations: [String]

    public struct Item: Codable, Sendable, Equatable {
        public var id: String
        public var dest: String
        public var to: String
        public var ageMs: Int
        public var attempts: Int
        /// `sent` (in flight to the peer) or `queued`.
        public var state: String

        enum CodingKeys: String, CodingKey { case id, dest, to, ageMs = "age_ms", attempts, state }
    }

    enum CodingKeys: String, CodingKey { case peer, pending, unroutedDestinations = "unrouted_destinations" }
}

/// A node's SUMMARY (SPEC 15.5), what it tells the federation about itself every few seconds.
/// Every member is optional on decoding: receivers accept any JSON object from another node.
public struct NodeSummary: Codable, Sendable, Equatable {
    public var name: String?
    public var version: String?
    public var uptimeS: Int?
    public var users: Int?
    public var online: Int?
    /// Peer name → link state, as in `status`.
    public var peers: [String: String]?
    public var journal: Int?
    public var waiting: Int?
    public var storage: String?
    public var inLastMinute: Int?
    public var outLastMinute: Int?
    public var relayedLastMinute: Int?

    enum CodingKeys: String, CodingKey {
        case name, version, uptimeS = "uptime_s", users, online, peers, journal, waiting, storage,
             inLastMinute = "in_last_minute", outLastMinute = "out_last_minute", relayedLastMinute = "relayed_last_minute"
    }

    /// Decodes a SUMMARY's JSON; `nil` when it is not a JSON object (members of the wrong type are dropped one by one).
    public static func decode(_ json: [UInt8]) -> NodeSummary? {
        try? JSONDecoder().decode(NodeSummary.self, from: Data(json))
    }

    public init(name: String? = nil, version: String? = nil, uptimeS: Int? = nil, users: Int? = nil, online: Int? = nil,
                peers: [String: String]? = nil, journal: Int? = nil, waiting: Int? = nil, storage: String? = nil,
                inLastMinute: Int? = nil, outLastMinute: Int? = nil, relayedLastMinute: Int? = nil) {
        self.name = name; self.version = version; self.uptimeS = uptimeS; self.users = users; self.online = online
        self.peers = peers; self.journal = journal; self.waiting = waiting; self.storage = storage
        self.inLastMinute = inLastMinute; self.outLastMinute = outLastMinute; self.relayedLastMinute = relayedLastMinute
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func field<T: Decodable>(_ key: CodingKeys) -> T? { (try? c.decodeIfPresent(T.self, forKey: key)) ?? nil }
        self.init(name: field(.name), version: field(.version), uptimeS: field(.uptimeS), users: field(.users),
                  online: field(.online), peers: field(.peers), journal: field(.journal), waiting: field(.waiting),
                  storage: field(.storage), inLastMinute: field(.inLastMinute), outLastMinute: field(.outLastMinute),
                  relayedLastMinute: field(.relayedLastMinute))
    }
}

/// The admin `federation` answer (SPEC 15.5): the latest SUMMARY of every node heard of, itself included.
public struct FederationStatus: Codable, Sendable, Equatable {
    public var nodes: [Node]

    public struct Node: Codable, Sendable, Equatable {
        /// The node's name as its SUMMARY was received under.
        public var node: String
        public var heardMsAgo: Int
        public var summary: NodeSummary

        enum CodingKeys: String, CodingKey { case node, heardMsAgo = "heard_ms_ago" }

        public init(node: String, heardMsAgo: Int, summary: NodeSummary) {
            self.node = node; self.heardMsAgo = heardMsAgo; self.summary = summary
        }

        /// The summary's members and `node`, `heard_ms_ago` in one object.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            node = try c.decode(String.self, forKey: .node)
            heardMsAgo = try c.decode(Int.self, forKey: .heardMsAgo)
            summary = try NodeSummary(from: decoder)
        }

        public func encode(to encoder: Encoder) throws {
            try summary.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(node, forKey: .node)
            try c.encode(heardMsAgo, forKey: .heardMsAgo)
        }
    }
}

/// An optional member that is written as JSON `null` when absent (Swift's synthesized
/// `Codable` would leave the key out) and read as `nil` when `null` or missing.
@propertyWrapper
public struct Nullable<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try c.decode(Value.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A `Nullable` member may also be missing.
    public func decode<Value>(_ type: Nullable<Value>.Type, forKey key: Key) throws -> Nullable<Value> {
        try decodeIfPresent(type, forKey: key) ?? Nullable(wrappedValue: nil)
    }
}

extension JSONEncoder {
    /// Sorted keys, slashes kept: how the node and `sealpost-node --json` write admin answers.
    public static var admin: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
