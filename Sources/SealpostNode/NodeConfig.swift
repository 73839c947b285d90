import Foundation
import SealpostCore
import Yams

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
    /// How long the node remembers message ids to drop retransmitted duplicates, in hours.
    public var dedupeWindowHours: Int

    public static let defaultListen = "tcp://127.0.0.1:7400"
    public static let defaultPublish = "tcp://127.0.0.1:7401"

    enum CodingKeys: String, CodingKey {
        case name, listen, publish, advertise
        case inviteTTLHours = "invite_ttl_hours"
        case dedupeWindowHours = "dedupe_window_hours"
    }

    public init(name: String, listen: String = defaultListen, publish: String = defaultPublish,
                inviteTTLHours: Int = 24, dedupeWindowHours: Int = 168) {
        self.name = name
        self.listen = listen
        self.publish = publish
        self.inviteTTLHours = inviteTTLHours
        self.dedupeWindowHours = dedupeWindowHours
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? Self.defaultListen
        publish = try c.decodeIfPresent(String.self, forKey: .publish) ?? Self.defaultPublish
        advertise = try c.decodeIfPresent(String.self, forKey: .advertise)
        inviteTTLHours = try c.decodeIfPresent(Int.self, forKey: .inviteTTLHours) ?? 24
        dedupeWindowHours = try c.decodeIfPresent(Int.self, forKey: .dedupeWindowHours) ?? 168
    }

    /// Checks every field; the error says which one is wrong and why.
    public func validate() throws {
        guard Name.isValid(name) else { throw NodeError.config("name '\(name)' is not valid: \(Name.rule)") }
        try Self.validateEndpoint(listen, field: "listen")
        try Self.validateEndpoint(publish, field: "publish")
        if let advertise { try Self.validateEndpoint(advertise, field: "advertise") }
        guard (1...24 * 365).contains(inviteTTLHours) else { throw NodeError.config("invite_ttl_hours must be 1...8760") }
        guard (1...24 * 365).contains(dedupeWindowHours) else { throw NodeError.config("dedupe_window_hours must be 1...8760") }
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
        "# Sealpost node configuration. Restart the node after editing.\n" + (try YAMLEncoder().encode(self))
    }

    public static func parse(yaml text: String, file: String) throws -> NodeConfig {
        let config: NodeConfig
        do {
            config = try YAMLDecoder().decode(NodeConfig.self, from: text)
        } catch {
            throw NodeError.config("cannot read \(file): \(Self.describe(error))")
        }
        try config.validate()
        return config
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? ctx.debugDescription : "\(path): \(ctx.debugDescription)"
        default: return "\(error)"
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
