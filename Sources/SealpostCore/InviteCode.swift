import Sodium

/// A one-time invite: everything a client needs to reach its node and enrol.
///
/// Text form `sp1-` + base64url(no padding) of
/// `version:u8=1 node:string user:string endpoint:string node_curve_key:octets[32]
/// node_sign_key:octets[32] invite_secret:octets[32] expires_at:u64 check:octets[4]`
/// where `check` is the first 4 bytes of BLAKE2b-256 of everything before it
/// (catches a mistyped or cut code). `invite_secret` is the CURVE secret key the
/// client uses for the enrolment connection only; the node admits its public key
/// until the invite is used or expires.
public struct InviteCode: Sendable {
    public var node: String
    public var user: String
    public var endpoint: String
    public var nodeCurveKey: [UInt8]
    public var nodeSignKey: [UInt8]
    public var secret: [UInt8]
    /// Seconds since the Unix epoch.
    public var expiresAt: UInt64

    public static let prefix = "sp1-"

    public init(node: String, user: String, endpoint: String, nodeCurveKey: [UInt8], nodeSignKey: [UInt8], secret: [UInt8], expiresAt: UInt64) {
        self.node = node
        self.user = user
        self.endpoint = endpoint
        self.nodeCurveKey = nodeCurveKey
        self.nodeSignKey = nodeSignKey
        self.secret = secret
        self.expiresAt = expiresAt
    }

    public var text: String {
        var w = WireWriter()
        w.u8(1)
        w.string(node)
        w.string(user)
        w.string(endpoint)
        w.octets(nodeCurveKey)
        w.octets(nodeSignKey)
        w.octets(secret)
        w.u64(expiresAt)
        let check = Array(Sodium.genericHash(w.bytes, outputLength: 32).prefix(4))
        w.octets(check)
        return Self.prefix + Sodium.base64(w.bytes)
    }

    public enum ParseError: Error, CustomStringConvertible {
        case notAnInvite
        case damaged
        public var description: String {
            switch self {
            case .notAnInvite: return "this is not a Sealpost invite code (it should start with \(InviteCode.prefix))"
            case .damaged: return "the invite code is damaged or incomplete: copy the whole line again"
            }
        }
    }

    public init(text: String) throws {
        let trimmed = text.trimmingCharacters(in: " \t\r\n")
        guard trimmed.hasPrefix(Self.prefix) else { throw ParseError.notAnInvite }
        guard let bytes = Sodium.fromBase64(String(trimmed.dropFirst(Self.prefix.count))), bytes.count > 4 else {
            throw ParseError.damaged
        }
        let check = Array(Sodium.genericHash(Array(bytes.dropLast(4)), outputLength: 32).prefix(4))
        guard check == Array(bytes.suffix(4)) else { throw ParseError.damaged }
        var r = WireReader(Array(bytes.dropLast(4)))
        do {
            guard try r.u8("version") == 1 else { throw ParseError.damaged }
            node = try r.string("node")
            user = try r.string("user")
            endpoint = try r.string("endpoint")
            nodeCurveKey = try r.octets(32, "node_curve_key")
            nodeSignKey = try r.octets(32, "node_sign_key")
            secret = try r.octets(32, "secret")
            expiresAt = try r.u64("expires_at")
            try r.expectEnd()
        } catch {
            throw ParseError.damaged
        }
        guard Name.isValid(node), Name.isValid(user) else { throw ParseError.damaged }
    }
}

extension String {
    /// Trims by Unicode scalars (a Character set would treat "\r\n" as one and miss a lone "\n").
    func trimmingCharacters(in set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        var s = Substring(self).unicodeScalars[...]
        while let f = s.first, scalars.contains(f) { s = s.dropFirst() }
        while let l = s.last, scalars.contains(l) { s = s.dropLast() }
        return String(String.UnicodeScalarView(s))
    }
}
