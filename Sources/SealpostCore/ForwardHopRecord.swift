import Sodium

/// What a node writes in its audit log when it handles a forward (the `hop` bytes of a
/// `forward_hop` record, protocol/SPEC.md 11.7.2): enough for a trace to rebuild and check the
/// hop without the node's word — the origin record and the hop record as their signers signed
/// them, and what this node saw (the envelope's `to`, its role, the chain's state here).
///
/// `version:u8=1 role:u8 chain:u8 to:string hops:u8 origin hop`, where `origin` and `hop` are
/// encoded as in section 7.9.1. The node's countersignature covers
/// `"sealpost-fwd-countersign-v1" ||` these bytes.
public struct ForwardHopRecord: Sendable, Equatable {
    public enum Role: UInt8, Sendable, CaseIterable {
        /// The forwarder's own node (it accepted the forward).
        case forwarder = 0
        case relay = 1
        case groupHome = 2
        case destination = 3

        public var name: String {
            switch self {
            case .forwarder: return "forwarder"
            case .relay: return "relay"
            case .groupHome: return "group_home"
            case .destination: return "destination"
            }
        }
    }

    public var role: Role
    /// The chain as this node checked it: 0 verified, 1 forged, 2 could not be checked here.
    public var chain: UInt8
    /// The envelope's recipient at this node (a person or a group).
    public var to: String
    /// How many hops the forward carried.
    public var hops: UInt8
    public var origin: ForwardOrigin
    /// The last hop: the forward this envelope is.
    public var hop: ForwardHop

    public static let version: UInt8 = 1
    public static let countersignContext = Array("sealpost-fwd-countersign-v1".utf8)

    public init(role: Role, chain: UInt8, to: String, hops: UInt8, origin: ForwardOrigin, hop: ForwardHop) {
        self.role = role
        self.chain = chain
        self.to = to
        self.hops = hops
        self.origin = origin
        self.hop = hop
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 400)
        w.u8(Self.version); w.u8(role.rawValue); w.u8(chain); w.string(to); w.u8(hops)
        origin.encode(into: &w)
        hop.encode(into: &w)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> ForwardHopRecord {
        var r = WireReader(bytes)
        guard try r.u8("version") == version else { throw WireError.invalid(field: "version", reason: "unsupported forward hop record") }
        let rawRole = try r.u8("role")
        guard let role = Role(rawValue: rawRole) else { throw WireError.invalid(field: "role", reason: "\(rawRole) is not 0-3") }
        let chain = try r.u8("chain")
        guard chain <= 2 else { throw WireError.invalid(field: "chain", reason: "\(chain) is not 0-2") }
        let to = try r.string("to")
        guard Address.isValid(to) else { throw WireError.invalid(field: "to", reason: "not an address") }
        let hops = try r.u8("hops")
        let origin = try ForwardOrigin.decode(from: &r)
        let hop = try ForwardHop.decode(from: &r)
        try r.expectEnd()
        return ForwardHopRecord(role: role, chain: chain, to: to, hops: hops, origin: origin, hop: hop)
    }

    /// This node's countersignature over the record.
    public static func countersign(_ bytes: [UInt8], with key: SignKeyPair) -> [UInt8] {
        key.sign(countersignContext + bytes)
    }

    public static func verifyCountersignature(_ signature: [UInt8], bytes: [UInt8], nodeKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: signature, message: countersignContext + bytes, publicKey: nodeKey)
    }
}
