/// A contact passed from one person to another (protocol/SPEC.md, "Contact card").
///
/// Content of a `card` envelope (inside the end-to-end body):
/// `variant:u8` then, for 1 (a person of the federation):
/// `entry:longstr home_sign_key:octets[32]` — the contact's directory entry,
/// signed by the contact's home node, and the key the sender's node holds for
/// that home node; for 2 (an external contact, not reachable by chat):
/// `name:string phone:string org:string email:string`.
public enum ContactCard: Sendable, Equatable {
    case member(entry: [UInt8], homeSignKey: [UInt8])
    case external(name: String, phone: String, org: String, email: String)

    public func encode() -> [UInt8] {
        var w = WireWriter()
        switch self {
        case let .member(entry, homeSignKey):
            w.u8(1); w.longstr(entry); w.octets(homeSignKey)
        case let .external(name, phone, org, email):
            w.u8(2); w.string(name); w.string(phone); w.string(org); w.string(email)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> ContactCard {
        var r = WireReader(bytes)
        let card: ContactCard
        switch try r.u8("variant") {
        case 1:
            card = .member(entry: try r.longstr("entry", max: 4096), homeSignKey: try r.octets(32, "home_sign_key"))
        case 2:
            card = .external(name: try r.string("name"), phone: try r.string("phone"), org: try r.string("org"), email: try r.string("email"))
        case let other:
            throw WireError.invalid(field: "variant", reason: "unknown card variant \(other)")
        }
        try r.expectEnd()
        return card
    }
}
