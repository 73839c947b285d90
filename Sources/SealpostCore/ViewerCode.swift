import Sodium

/// The short code a watermark carries (protocol/SPEC.md 11.7.4): `NODE-XXXX-XXXX`, where NODE
/// is the viewer's node, which issued the code and logged it in its audit log, and the eight
/// characters are 40 random bits in Crockford's base32 (no I, L, O or U: read off a photo
/// without guessing). Only that node can say whom a code names.
public struct ViewerCode: Sendable, Hashable, CustomStringConvertible {
    public let node: String
    /// The eight characters, without the dash.
    public let token: String

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A fresh code of `node` (the node checks it is not one it issued before).
    public static func random(node: String) -> ViewerCode {
        let bytes = Sodium.randomBytes(5)
        var bits: UInt64 = 0
        for b in bytes { bits = bits << 8 | UInt64(b) }
        var token = ""
        for i in stride(from: 35, through: 0, by: -5) { token.append(alphabet[Int((bits >> UInt64(i)) & 31)]) }
        return ViewerCode(node: node, token: token)
    }

    init(node: String, token: String) {
        self.node = node
        self.token = token
    }

    /// Parses a code as a person types it: case and the look-alikes O/0, I/L/1 do not matter.
    /// - Returns: nil when it is not `NODE-XXXX-XXXX` with a valid node name.
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: " \t\r\n").split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        let groups = parts.suffix(2).map { String($0).uppercased() }
        var token = ""
        for group in groups {
            guard group.count == 4 else { return nil }
            for c in group {
                let mapped: Character = c == "O" ? "0" : (c == "I" || c == "L") ? "1" : c
                guard Self.alphabet.contains(mapped) else { return nil }
                token.append(mapped)
            }
        }
        let node = parts.dropLast(2).joined(separator: "-").lowercased()
        guard Name.isValid(node) else { return nil }
        self.node = node
        self.token = token
    }

    public var description: String { "\(node)-\(token.prefix(4))-\(token.suffix(4))" }
}
