import Foundation
import SealpostCore
import Yams
import ZeroMQ

/// The operator's settings for one node, kept in `node.yaml` in the data dir.
public struct NodeConfig: Codable, Sendable, Equatable {
    /// The node's name, unique in the federation: the part after `@` in addresses.
    public var name: String
    /// Where clients (and later peer nodes) connect: the ROUTER socket.
    public var listen: String
    /// Where subscribers receive directory, route and status announcements: the PUB socket.
    public var publish: String
    /// The endpoint invites tell clients to connect to, when it differs from
    /// `listen` (a node listening on `tcp://0.0.0.0:7400` advertises its real address).
    public var advertise: String?
    /// How long an invite code stays valid, in hours.
    public var inviteTTLHours: Int
    /// Neighbouring nodes this node talks to, each identified by its CURVE key.
    public var peers: [PeerConfig]
    /// How long the node remembers message ids to drop retransmitted duplicates, in hours.
    public var dedupeWindowHours: Int
    /// How long the node keeps an unviewed burn message for its users, in hours (a sender may ask for less).
    public var burnTTLHours: Int
    /// Benchmarks only (`sealpost-bench burn` measures its cost): never read from `node.yaml`,
    /// so no operator can turn off the zeroing of deleted content.
    public var secureDelete = true
    /// File store policy: quota, retention, free space.
    public var files: FilesConfig
    /// Per-user quotas and rate limits, the free-space floor and the WAL bound.
    public var limits: LimitsConfig
    /// Whom this node answers trace queries, and how its own traces run.
    public var trace = TraceConfig()
    /// Classification labels: the set, default, ceiling and accreditations (protocol/SPEC.md 7.11).
    public var labels = LabelsConfig()
    /// The audit log: how often its head is signed.
    public var audit = AuditConfig()
    /// Forward policy: default scope, most recipients and hops per forward.
    public var forwarding = ForwardingConfig()
    /// How long envelopes passed to a peer are kept after its RELAYED, in hours, so that a
    /// peer restored from a backup gets back what crossed the link since (0: not kept).
    public var relayRetentionHours = 24
    /// The Prometheus listener (`metrics: { listen: "127.0.0.1:9464" }`); nil: no listener.
    public var metrics: MetricsConfig?
    /// Tests only (never read from `node.yaml`): how long a restored node waits for a gap
    /// in a stream to be filled before it gives the missing envelopes up.
    public var restoreGapGraceMs: UInt64 = 30_000
    /// Tests only (never read from `node.yaml`): the protocol timers; deployed nodes use `.standard`.
    public var timers = NodeTimers.standard
    /// Tests only (never read from `node.yaml`: delivery receipts are a fact of every node,
    /// protocol/SPEC.md 7.10.2): off in tests of other concerns, so that receipts do not
    /// change the mailboxes and journals they count (`TestNode.deliveredReceipts`).
    public var deliveredReceipts = true

    public static let defaultListen = "tcp://127.0.0.1:7400"
    public static let defaultPublish = "tcp://127.0.0.1:7401"

    enum CodingKeys: String, CodingKey {
        case name, listen, publish, advertise
        case peers, files, limits, metrics, trace, labels, audit, forwarding
        case inviteTTLHours = "invite_ttl_hours"
        case dedupeWindowHours = "dedupe_window_hours"
        case burnTTLHours = "burn_ttl_hours"
        case relayRetentionHours = "relay_retention_hours"
    }

    public init(name: String, listen: String = defaultListen, publish: String = defaultPublish,
                inviteTTLHours: Int = 24, dedupeWindowHours: Int = 168, burnTTLHours: Int = 24, peers: [PeerConfig] = [],
                files: FilesConfig = FilesConfig(), limits: LimitsConfig = LimitsConfig()) {
        self.name = name
        self.files = files
        self.limits = limits
        self.peers = peers
        self.listen = listen
        self.publish = publish
        self.inviteTTLHours = inviteTTLHours
        self.dedupeWindowHours = dedupeWindowHours
        self.burnTTLHours = burnTTLHours
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? Self.defaultListen
        publish = try c.decodeIfPresent(String.self, forKey: .publish) ?? Self.defaultPublish
        advertise = try c.decodeIfPresent(String.self, forKey: .advertise)
        peers = try c.decodeIfPresent([PeerConfig].self, forKey: .peers) ?? []
        inviteTTLHours = try c.decodeIfPresent(Int.self, forKey: .inviteTTLHours) ?? 24
        dedupeWindowHours = try c.decodeIfPresent(Int.self, forKey: .dedupeWindowHours) ?? 168
        burnTTLHours = try c.decodeIfPresent(Int.self, forKey: .burnTTLHours) ?? 24
        files = try c.decodeIfPresent(FilesConfig.self, forKey: .files) ?? FilesConfig()
        limits = try c.decodeIfPresent(LimitsConfig.self, forKey: .limits) ?? LimitsConfig()
        trace = try c.decodeIfPresent(TraceConfig.self, forKey: .trace) ?? TraceConfig()
        audit = try c.decodeIfPresent(AuditConfig.self, forKey: .audit) ?? AuditConfig()
        relayRetentionHours = try c.decodeIfPresent(Int.self, forKey: .relayRetentionHours) ?? 24
        metrics = try c.decodeIfPresent(MetricsConfig.self, forKey: .metrics)
        labels = try c.decodeIfPresent(LabelsConfig.self, forKey: .labels) ?? LabelsConfig()
        forwarding = try c.decodeIfPresent(ForwardingConfig.self, forKey: .forwarding) ?? ForwardingConfig()
    }

    /// Checks every field; the error says which one is wrong and why.
    public func validate() throws {
        guard Name.isValid(name) else { throw NodeError.config("name '\(name)' is not valid: \(Name.rule)") }
        try Self.validateEndpoint(listen, field: "listen")
        try Self.validateEndpoint(publish, field: "publish")
        if let advertise { try Self.validateEndpoint(advertise, field: "advertise") }
        var names = Set<String>()
        for peer in peers {
            try peer.validate()
            guard peer.name != name else { throw NodeError.config("peer '\(peer.name)' has this node's own name") }
            guard names.insert(peer.name).inserted else { throw NodeError.config("peer '\(peer.name)' is listed twice") }
        }
        guard Set(peers.map(\.publicKey)).count == peers.count else { throw NodeError.config("two peers have the same public key") }
        guard (1...24 * 365).contains(inviteTTLHours) else { throw NodeError.config("invite_ttl_hours must be 1...8760") }
        guard (1...24 * 365).contains(dedupeWindowHours) else { throw NodeError.config("dedupe_window_hours must be 1...8760") }
        guard (1...24 * 7).contains(burnTTLHours) else { throw NodeError.config("burn_ttl_hours must be 1...168 (a week at most)") }
        guard (0...24 * 30).contains(relayRetentionHours) else { throw NodeError.config("relay_retention_hours must be 0...720 (30 days at most)") }
        try files.validate()
        try limits.validate()
        try metrics?.validate()
        try trace.validate()
        let policy = try labels.policy(node: name)
        for peer in peers {
            if let c = peer.ceiling { _ = try LabelsConfig.rank(c, in: policy.set, field: "peer \(peer.name) ceiling") }
        }
        try audit.validate()
        try forwarding.validate()
    }

    /// Accepts `tcp://HOST:PORT` (PORT 1–65535, or `*` for any free port) and `ipc://PATH`.
    public static func validateEndpoint(_ endpoint: String, field: String) throws {
        if endpoint.hasPrefix("ipc://"), endpoint.count > 6 { return }
        guard endpoint.hasPrefix("tcp://") else {
            throw NodeError.config("\(field) endpoint '\(endpoint)' must look like tcp://HOST:PORT")
        }
        let rest = endpoint.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex else {
            throw NodeError.config("\(field) endpoint '\(endpoint)' has no port (tcp://HOST:PORT)")
        }
        let port = rest[rest.index(after: colon)...]
        if port == "*" { return }
        guard let p = Int(port), (1...65535).contains(p) else {
            throw NodeError.config("\(field) endpoint '\(endpoint)' has an invalid port '\(port)'")
        }
    }

    public var advertisedEndpoint: String { advertise ?? listen }

    public func yaml() throws -> String {
        "# Sealpost node configuration. A running node applies peer changes within a second;\n# name, listen, publish, advertise and metrics take effect after a restart.\n" + (try YAMLEncoder().encode(self))
    }

    static let knownKeys: Set<String> = ["name", "listen", "publish", "advertise", "peers", "invite_ttl_hours", "dedupe_window_hours",
                                         "burn_ttl_hours", "files", "limits", "relay_retention_hours", "metrics", "trace", "labels", "audit", "forwarding"]

    public static func parse(yaml text: String, file: String) throws -> NodeConfig {
        // Syntax first: an error names the line and column (as editors count them, from 1).
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw NodeError.config("cannot read \(file): \(Self.describe(error))")
        }
        // A misspelt key would otherwise be ignored without a word.
        if let top = root?.mapping {
            for (key, _) in top {
                guard let name = key.string, !knownKeys.contains(name) else { continue }
                throw NodeError.config("cannot read \(file)\(Self.at(key.mark)): unknown key '\(name)' (known: \(knownKeys.sorted().joined(separator: ", ")))")
            }
            for (section, known) in [("limits", Set(LimitsConfig.knownKeys)), ("audit", AuditConfig.knownKeys), ("trace", TraceConfig.knownKeys), ("labels", LabelsConfig.knownKeys),
                                     ("forwarding", ForwardingConfig.knownKeys)] {
                guard let mapping = top.first(where: { $0.key.string == section })?.value.mapping else { continue }
                for (key, _) in mapping {
                    guard let name = key.string, !known.contains(name) else { continue }
                    throw NodeError.config("cannot read \(file)\(Self.at(key.mark)): unknown key '\(section).\(name)' (known: \(known.sorted().joined(separator: ", ")))")
                }
            }
            if let metrics = top.first(where: { $0.key.string == "metrics" })?.value.mapping {
                for (key, _) in metrics where key.string != "listen" {
                    throw NodeError.config("cannot read \(file)\(Self.at(key.mark)): unknown key 'metrics.\(key.string ?? "")' (known: listen)")
                }
            }
        }
        let config: NodeConfig
        do {
            config = try YAMLDecoder().decode(NodeConfig.self, from: text)
        } catch {
            throw NodeError.config("cannot read \(file)\(Self.at(Self.mark(of: Self.codingPath(of: error), in: root))): \(Self.describe(error))")
        }
        try config.validate()
        return config
    }

    /// `, line L column C` for an error message, or nothing when the place is unknown.
    static func at(_ mark: Mark?) -> String {
        mark.map { ", line \($0.line) column \($0.column)" } ?? ""
    }

    /// Where the value at `path` stands in the document: the deepest node of the path that exists.
    static func mark(of path: [CodingKey], in root: Yams.Node?) -> Mark? {
        var node = root
        var mark = root?.mark
        for key in path {
            if let index = key.intValue, let sequence = node?.sequence, index < sequence.count {
                node = sequence[index]
            } else if let mapping = node?.mapping, let pair = mapping.first(where: { $0.key.string == key.stringValue }) {
                node = pair.value
            } else {
                break
            }
            mark = node?.mark ?? mark
        }
        return mark
    }

    static func codingPath(of error: Error) -> [CodingKey] {
        switch error {
        case DecodingError.keyNotFound(_, let ctx), DecodingError.typeMismatch(_, let ctx),
             DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
            return ctx.codingPath
        default: return []
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let YamlError.scanner(context, problem, mark, _), let YamlError.parser(context, problem, mark, _),
             let YamlError.composer(context, problem, mark, _):
            let while_ = context.map { " (\($0.text))" } ?? ""
            return "line \(mark.line) column \(mark.column): \(problem)\(while_)"
        case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case DecodingError.typeMismatch(let type, let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path) must be \(type == Int.self ? "a whole number" : type == String.self ? "text" : "\(type)")"
        case DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? ctx.debugDescription : "\(path): \(ctx.debugDescription)"
        default: return "\(error)"
        }
    }
}

/// A neighbouring node: where to reach it and the CURVE key it must prove.
public struct PeerConfig: Codable, Sendable, Equatable {
    public var name: String
    /// Its ROUTER endpoint (envelopes, acknowledgements).
    public var router: String
    /// Its PUB endpoint (routes, directory versions, status summaries).
    public var publish: String
    /// Its CurveZMQ public key, Z85 (40 characters), as `sealpost-node info` prints it.
    public var publicKey: String
    /// The highest label this unit lets leave to this neighbour (absent: the node's ceiling).
    public var ceiling: String?
    /// The operator's explicit opt-in for a neighbour that predates labels (its HELLO has no label
    /// digest, SPEC 7.11.2): without it such a HELLO is a mismatch; with it the link is up and its
    /// ceiling is the node's default label at most.
    public var unlabelled: Bool?

    enum CodingKeys: String, CodingKey {
        case name, router, publish, ceiling, unlabelled
        case publicKey = "public_key"
    }

    public init(name: String, router: String, publish: String, publicKey: String, ceiling: String? = nil, unlabelled: Bool? = nil) {
        self.name = name
        self.router = router
        self.publish = publish
        self.publicKey = publicKey
        self.ceiling = ceiling
        self.unlabelled = unlabelled
    }

    /// The 32-byte key, once `validate()` passed.
    public var keyBytes: [UInt8] { Z85.decode(publicKey) ?? [] }

    public func validate() throws {
        guard Name.isValid(name) else { throw NodeError.config("peer name '\(name)' is not valid: \(Name.rule)") }
        try NodeConfig.validateEndpoint(router, field: "peer \(name) router")
        try NodeConfig.validateEndpoint(publish, field: "peer \(name) publish")
        guard router.hasPrefix("ipc://") || !router.hasSuffix(":*") else {
            throw NodeError.config("peer \(name) router endpoint needs a real port, not '*'")
        }
        guard publicKey.count == 40, let key = Z85.decode(publicKey), key.count == 32 else {
            throw NodeError.config("peer \(name) public_key must be the 40-character Z85 key that 'sealpost-node info' prints")
        }
    }
}

/// Errors an operator can cause; each says what to do.
public enum NodeError: Error, CustomStringConvertible, Equatable {
    case config(String)
    case dataDir(String)
    case storage(String)
    case bind(String)
    case usage(String)

    public var description: String {
        switch self {
        case .config(let m), .dataDir(let m), .storage(let m), .bind(let m), .usage(let m): return m
        }
    }
}
